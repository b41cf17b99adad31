import { describe, expect, it } from 'vitest';
import { BencodeError } from '../src/bencode.js';
import { decodeExtendedHandshake, encodeExtendedHandshake } from '../src/extended.js';
import { BLOCK_LENGTH } from '../src/geometry.js';
import { HANDSHAKE_LENGTH, PROTOCOL_STRING, decodeHandshake, encodeHandshake } from '../src/handshake.js';
import { encodeHaveBatch, encodeMessage, encodePieceHeader, encodeRequest, encodeRequestBatch } from '../src/wire-encode.js';
import { WireError, type WireErrorCode } from '../src/wire-error.js';
import { MessageId, decodeMessage } from '../src/wire.js';
import type { DecodeLimits, Message, MessageType } from '../src/wire.js';

// ---- helpers ----

/**
 * The smallest honest stream reader: append each chunk, then decode while
 * whole messages are buffered. Appending makes a fresh buffer, so messages
 * already returned (views into the old one) stay valid, which is the
 * contract decodeMessage asks of its callers.
 */
class Reader {
  private pending: Uint8Array = new Uint8Array(0);
  constructor(private readonly limits?: DecodeLimits) {}

  push(chunk: Uint8Array): Message[] {
    const joined = new Uint8Array(this.pending.length + chunk.length);
    joined.set(this.pending, 0);
    joined.set(chunk, this.pending.length);
    this.pending = joined;
    const out: Message[] = [];
    for (;;) {
      const r = decodeMessage(this.pending, this.limits);
      if (r.kind === 'need-more') return out;
      out.push(r.value);
      this.pending = this.pending.subarray(r.used);
    }
  }

  get buffered(): number {
    return this.pending.length;
  }
}

/** Bytes become plain arrays: encode gives Buffers, decode gives views, and diffs are readable. */
function plain(m: Message): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) out[k] = v instanceof Uint8Array ? Array.from(v) : v;
  return out;
}

function errorOf(fn: () => unknown): WireError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WireError);
    return err as WireError;
  }
  throw new Error('expected a WireError, but nothing was thrown');
}

function expectWireError(
  fn: () => unknown,
  code: WireErrorCode,
  fields: { messageId?: number; received?: number; expected?: number } = {},
): WireError {
  const err = errorOf(fn);
  expect(err.code).toBe(code);
  expect(err.name).toBe('WireError');
  for (const [k, v] of Object.entries(fields)) expect(err[k as keyof typeof fields], k).toBe(v);
  return err;
}

/** A length prefix and an id, without the body the length promises. */
function frameHead(length: number, id: number): Uint8Array {
  const b = Buffer.alloc(5);
  b.writeUInt32BE(length, 0);
  b[4] = id;
  return b;
}

/** A whole frame with a zeroed body of length - 1 bytes. */
function frame(length: number, id: number): Uint8Array {
  const b = Buffer.alloc(4 + length);
  b.writeUInt32BE(length, 0);
  b[4] = id;
  return b;
}

const bytes = (...xs: number[]): Uint8Array => new Uint8Array(xs);

// One sample of every kind; the Record makes the compiler name any kind that is missing.
const SAMPLE_BY_TYPE: { [T in MessageType]: Extract<Message, { type: T }>[] } = {
  'keep-alive': [{ type: 'keep-alive' }],
  choke: [{ type: 'choke' }],
  unchoke: [{ type: 'unchoke' }],
  interested: [{ type: 'interested' }],
  'not-interested': [{ type: 'not-interested' }],
  have: [{ type: 'have', index: 0xdeadbeef }],
  bitfield: [
    { type: 'bitfield', bits: bytes(0xff, 0xc0) },
    { type: 'bitfield', bits: bytes() },
  ],
  request: [{ type: 'request', index: 1, begin: BLOCK_LENGTH, length: BLOCK_LENGTH }],
  piece: [
    { type: 'piece', index: 0xffffffff, begin: 0x80000000, block: bytes(1, 2, 3, 4, 5, 6, 7) },
    { type: 'piece', index: 2, begin: 0, block: bytes(0xaa) },
  ],
  cancel: [{ type: 'cancel', index: 4, begin: 32768, length: 1 }],
  port: [{ type: 'port', port: 6881 }],
  suggest: [{ type: 'suggest', index: 9 }],
  'have-all': [{ type: 'have-all' }],
  'have-none': [{ type: 'have-none' }],
  reject: [{ type: 'reject', index: 0x7fffffff, begin: 0xffffffff, length: 0xffffffff }],
  'allowed-fast': [{ type: 'allowed-fast', index: 0 }],
  extended: [
    { type: 'extended', extendedId: 0, payload: encodeExtendedHandshake({ m: new Map([['ut_metadata', 3]]) }) },
    { type: 'extended', extendedId: 255, payload: bytes() },
  ],
};
const SAMPLES: Message[] = Object.values(SAMPLE_BY_TYPE).flat();

// ---- messages ----

describe('encodeMessage', () => {
  it('writes the bytes BEP 3, 5, 6 and 10 specify', () => {
    const hex = (m: Message) => encodeMessage(m).toString('hex');
    expect(hex({ type: 'keep-alive' })).toBe('00000000');
    expect(hex({ type: 'choke' })).toBe('0000000100');
    expect(hex({ type: 'not-interested' })).toBe('0000000103');
    expect(hex({ type: 'have', index: 1 })).toBe('000000050400000001');
    expect(hex({ type: 'bitfield', bits: bytes(0xff, 0xc0) })).toBe('0000000305ffc0');
    expect(hex({ type: 'request', index: 1, begin: 0x4000, length: 0x4000 })).toBe('0000000d06000000010000400000004000');
    expect(hex({ type: 'piece', index: 1, begin: 2, block: bytes(0xab, 0xcd) })).toBe('0000000b070000000100000002abcd');
    expect(hex({ type: 'cancel', index: 1, begin: 2, length: 3 })).toBe('0000000d08000000010000000200000003');
    expect(hex({ type: 'port', port: 6881 })).toBe('00000003091ae1');
    expect(hex({ type: 'suggest', index: 5 })).toBe('000000050d00000005');
    expect(hex({ type: 'have-all' })).toBe('000000010e');
    expect(hex({ type: 'have-none' })).toBe('000000010f');
    expect(hex({ type: 'reject', index: 1, begin: 2, length: 3 })).toBe('0000000d10000000010000000200000003');
    expect(hex({ type: 'allowed-fast', index: 5 })).toBe('000000051100000005');
    expect(hex({ type: 'extended', extendedId: 3, payload: bytes(0x64, 0x65) })).toBe('0000000414036465');
  });

  it('has hot-path helpers that agree with encodeMessage', () => {
    expect(encodeRequest(7, 16384, 16384)).toEqual(encodeMessage({ type: 'request', index: 7, begin: 16384, length: 16384 }));
    const block = new Uint8Array(BLOCK_LENGTH).fill(0x5a);
    const whole = encodeMessage({ type: 'piece', index: 7, begin: 32768, block });
    const head = encodePieceHeader(7, 32768, block.length);
    expect(head.length).toBe(13);
    expect(head).toEqual(whole.subarray(0, 13));
    const haves = [0, 7, 2 ** 32 - 1];
    expect(encodeHaveBatch(haves)).toEqual(Buffer.concat(haves.map((index) => encodeMessage({ type: 'have', index }))));
    expect(encodeHaveBatch([])).toHaveLength(0);
    const requests = [
      { index: 1, begin: 0, length: 16384 },
      { index: 9, begin: 16384, length: 100 },
    ];
    expect(encodeRequestBatch(requests)).toEqual(Buffer.concat(requests.map((r) => encodeMessage({ type: 'request', ...r }))));
  });

  it('refuses values the wire cannot carry, naming the field', () => {
    expect(expectWireError(() => encodeRequest(-1, 0, 1), 'WIRE_BAD_FIELD').message).toMatch(/index/);
    expect(expectWireError(() => encodeRequest(0, 2 ** 32, 1), 'WIRE_BAD_FIELD').message).toMatch(/begin/);
    expect(expectWireError(() => encodeRequest(0, 0, 1.5), 'WIRE_BAD_FIELD').message).toMatch(/length/);
    expectWireError(() => encodeMessage({ type: 'have', index: Number.NaN }), 'WIRE_BAD_FIELD');
    expect(expectWireError(() => encodeHaveBatch([1, -1]), 'WIRE_BAD_FIELD').message).toMatch(/index/);
    expectWireError(() => encodeMessage({ type: 'port', port: 65536 }), 'WIRE_BAD_FIELD');
    expectWireError(() => encodeMessage({ type: 'extended', extendedId: 256, payload: bytes() }), 'WIRE_BAD_FIELD');
    // We refuse what we would not accept.
    expectWireError(() => encodePieceHeader(0, 0, 0), 'WIRE_EMPTY_BLOCK');
    expectWireError(() => encodeMessage({ type: 'piece', index: 0, begin: 0, block: bytes() }), 'WIRE_EMPTY_BLOCK');
  });
});

describe('decodeMessage', () => {
  it('round-trips every message kind fed whole', () => {
    for (const m of SAMPLES) {
      const enc = encodeMessage(m);
      const r = decodeMessage(enc);
      expect(r.kind, m.type).toBe('ok');
      if (r.kind !== 'ok') continue;
      expect(r.used).toBe(enc.length);
      expect(plain(r.value)).toEqual(plain(m));
    }
  });

  it('answers need-more for every proper prefix, then decodes the two halves', () => {
    for (const m of SAMPLES) {
      const enc = encodeMessage(m);
      for (let i = 0; i <= enc.length; i++) {
        if (i < enc.length) expect(decodeMessage(enc.subarray(0, i)), `${m.type} cut at ${i}`).toEqual({ kind: 'need-more' });
        const reader = new Reader();
        const first = reader.push(enc.subarray(0, i));
        const second = reader.push(enc.subarray(i));
        expect([...first, ...second].map(plain), `${m.type} split at ${i}`).toEqual([plain(m)]);
        expect(reader.buffered).toBe(0);
      }
    }
  });

  it('decodes every message kind fed one byte at a time', () => {
    for (const m of SAMPLES) {
      const enc = encodeMessage(m);
      const reader = new Reader();
      for (let i = 0; i < enc.length - 1; i++) expect(reader.push(enc.subarray(i, i + 1))).toEqual([]);
      expect(reader.push(enc.subarray(enc.length - 1)).map(plain)).toEqual([plain(m)]);
    }
  });

  it('handles a full-size block split at every position and byte by byte', () => {
    const block = Uint8Array.from({ length: BLOCK_LENGTH }, (_, i) => (i * 31) & 0xff);
    const m: Message = { type: 'piece', index: 12, begin: 3 * BLOCK_LENGTH, block };
    const enc = encodeMessage(m);
    expect(enc.length).toBe(13 + BLOCK_LENGTH);
    for (let i = 0; i < enc.length; i++) expect(decodeMessage(enc.subarray(0, i)).kind).toBe('need-more');
    for (let i = 0; i <= enc.length; i += 97) {
      const reader = new Reader();
      expect([...reader.push(enc.subarray(0, i)), ...reader.push(enc.subarray(i))].map(plain)).toEqual([plain(m)]);
    }
    const reader = new Reader();
    const got: Message[] = [];
    for (let i = 0; i < enc.length; i++) got.push(...reader.push(enc.subarray(i, i + 1)));
    expect(got.map(plain)).toEqual([plain(m)]);
  });

  it('decodes several messages back to back, whole and in odd-sized chunks', () => {
    const stream = Buffer.concat(SAMPLES.map(encodeMessage));
    const want = SAMPLES.map(plain);

    let offset = 0;
    const direct: Message[] = [];
    while (offset < stream.length) {
      const r = decodeMessage(stream.subarray(offset));
      if (r.kind !== 'ok') throw new Error(`need-more at ${offset} inside a complete stream`);
      direct.push(r.value);
      offset += r.used;
    }
    expect(direct.map(plain)).toEqual(want);

    for (const size of [1, 3, 7, 64]) {
      const reader = new Reader();
      const got: Message[] = [];
      for (let i = 0; i < stream.length; i += size) got.push(...reader.push(stream.subarray(i, i + size)));
      expect(got.map(plain), `chunks of ${size}`).toEqual(want);
      expect(reader.buffered).toBe(0);
    }
  });

  it('returns views into the input, not copies', () => {
    const enc = encodeMessage({ type: 'piece', index: 0, begin: 0, block: bytes(1, 2, 3) });
    const r = decodeMessage(enc);
    if (r.kind !== 'ok' || r.value.type !== 'piece') throw new Error('expected a piece');
    expect(r.value.block.buffer).toBe(enc.buffer);
    enc[13] = 99;
    expect(r.value.block[0]).toBe(99);
  });

  it('reads a message that starts inside a larger buffer', () => {
    const backing = Buffer.concat([Buffer.from([0xee, 0xee, 0xee]), encodeMessage({ type: 'have', index: 0x01020304 })]);
    const r = decodeMessage(backing.subarray(3));
    expect(r).toEqual({ kind: 'ok', used: 9, value: { type: 'have', index: 0x01020304 } });
  });

  describe('length rules, checked before the body arrives', () => {
    const FIXED: [string, number, number][] = [
      ['choke', MessageId.choke, 1],
      ['unchoke', MessageId.unchoke, 1],
      ['interested', MessageId.interested, 1],
      ['not-interested', MessageId.notInterested, 1],
      ['have', MessageId.have, 5],
      ['request', MessageId.request, 13],
      ['cancel', MessageId.cancel, 13],
      ['port', MessageId.port, 3],
      ['suggest', MessageId.suggest, 5],
      ['have-all', MessageId.haveAll, 1],
      ['have-none', MessageId.haveNone, 1],
      ['reject', MessageId.reject, 13],
      ['allowed-fast', MessageId.allowedFast, 5],
    ];

    it.each(FIXED)('%s (id %i) must have length exactly %i', (name, id, expected) => {
      // Length 0 is a keep-alive, so a 1-byte message cannot be too short.
      const wrong = expected > 1 ? [expected - 1, expected + 1] : [expected + 1];
      for (const length of wrong) {
        const fields = { messageId: id, received: length, expected };
        // Five bytes are enough to know, and so is the whole frame.
        const err = expectWireError(() => decodeMessage(frameHead(length, id)), 'WIRE_BAD_LENGTH', fields);
        expect(err.message).toContain(name);
        expectWireError(() => decodeMessage(frame(length, id)), 'WIRE_BAD_LENGTH', fields);
      }
      expect(decodeMessage(frameHead(expected, id)).kind).toBe(expected === 1 ? 'ok' : 'need-more');
    });

    it('reports an error as soon as the deciding byte arrives, not before', () => {
      const bad = frame(6, MessageId.have);
      for (let i = 0; i < 5; i++) expect(decodeMessage(bad.subarray(0, i))).toEqual({ kind: 'need-more' });
      for (let i = 5; i <= bad.length; i++) expectWireError(() => decodeMessage(bad.subarray(0, i)), 'WIRE_BAD_LENGTH');
    });

    it('refuses ids no BEP defines', () => {
      for (const id of [10, 11, 12, 18, 19, 21, 0x7f, 0xff]) {
        expectWireError(() => decodeMessage(frameHead(1, id)), 'WIRE_UNKNOWN_MESSAGE', { messageId: id, received: 1 });
        expectWireError(() => decodeMessage(frameHead(100, id)), 'WIRE_UNKNOWN_MESSAGE', { messageId: id, received: 100 });
      }
    });

    it('bounds a piece by maxBlockLength and refuses an empty one', () => {
      expect(decodeMessage(frameHead(9 + BLOCK_LENGTH, MessageId.piece)).kind).toBe('need-more');
      expectWireError(() => decodeMessage(frameHead(10 + BLOCK_LENGTH, MessageId.piece)), 'WIRE_MESSAGE_TOO_LARGE', {
        messageId: MessageId.piece,
        received: 10 + BLOCK_LENGTH,
        expected: 9 + BLOCK_LENGTH,
      });
      expect(decodeMessage(frameHead(10 + BLOCK_LENGTH, MessageId.piece), { maxBlockLength: 2 * BLOCK_LENGTH }).kind).toBe('need-more');
      expectWireError(() => decodeMessage(frameHead(9, MessageId.piece)), 'WIRE_EMPTY_BLOCK', { messageId: MessageId.piece, received: 9 });
      expectWireError(() => decodeMessage(frameHead(8, MessageId.piece)), 'WIRE_BAD_LENGTH', {
        messageId: MessageId.piece,
        received: 8,
        expected: 9,
      });
    });

    it('bounds a bitfield by maxBitfieldLength', () => {
      expect(decodeMessage(frameHead(1 + 2 ** 20, MessageId.bitfield)).kind).toBe('need-more');
      expectWireError(() => decodeMessage(frameHead(2 + 2 ** 20, MessageId.bitfield)), 'WIRE_MESSAGE_TOO_LARGE', {
        messageId: MessageId.bitfield,
        expected: 1 + 2 ** 20,
      });
      // A torrent of 10 pieces: ceil(10 / 8) = 2 bytes.
      const limits = { maxBitfieldLength: 2 };
      expect(decodeMessage(frame(3, MessageId.bitfield), limits).kind).toBe('ok');
      const err = expectWireError(() => decodeMessage(frameHead(4, MessageId.bitfield), limits), 'WIRE_MESSAGE_TOO_LARGE', {
        received: 4,
        expected: 3,
      });
      expect(err.message).toContain('maxBitfieldLength');
    });

    it('bounds an extended message by maxExtendedLength and needs its id byte', () => {
      expectWireError(() => decodeMessage(frame(1, MessageId.extended)), 'WIRE_BAD_LENGTH', {
        messageId: MessageId.extended,
        received: 1,
        expected: 2,
      });
      expect(decodeMessage(frameHead(2 + 2 ** 20, MessageId.extended)).kind).toBe('need-more');
      expectWireError(() => decodeMessage(frameHead(3 + 2 ** 20, MessageId.extended)), 'WIRE_MESSAGE_TOO_LARGE', {
        messageId: MessageId.extended,
      });
      expectWireError(() => decodeMessage(frameHead(100, MessageId.extended), { maxExtendedLength: 97 }), 'WIRE_MESSAGE_TOO_LARGE', {
        received: 100,
        expected: 99,
      });
    });

    it('reads 0x80000001 as a large unsigned length and refuses it with 5 bytes in (webtorrent took it for a keep-alive)', () => {
      for (let id = 0; id <= 0xff; id++) {
        const err = errorOf(() => decodeMessage(frameHead(0x80000001, id)));
        expect(err.received).toBe(0x80000001);
        expect(err.messageId).toBe(id);
      }
      expectWireError(() => decodeMessage(frameHead(0x80000001, MessageId.piece)), 'WIRE_MESSAGE_TOO_LARGE', {
        messageId: MessageId.piece,
        received: 0x80000001,
      });
      // The prefix alone already exceeds every message kind's maximum.
      expectWireError(() => decodeMessage(bytes(0x80, 0, 0, 1)), 'WIRE_MESSAGE_TOO_LARGE', { received: 0x80000001 });
    });

    it('refuses a length prefix of 0xFFFFFFFF', () => {
      expectWireError(() => decodeMessage(bytes(0xff, 0xff, 0xff, 0xff)), 'WIRE_MESSAGE_TOO_LARGE', { received: 0xffffffff });
      expectWireError(() => decodeMessage(frameHead(0xffffffff, MessageId.bitfield)), 'WIRE_MESSAGE_TOO_LARGE', {
        messageId: MessageId.bitfield,
        received: 0xffffffff,
      });
      expectWireError(() => decodeMessage(frameHead(0xffffffff, MessageId.have)), 'WIRE_BAD_LENGTH', { received: 0xffffffff, expected: 5 });
    });

    it('waits for the id byte when the prefix is plausible', () => {
      expect(decodeMessage(bytes(0, 0, 0, 13))).toEqual({ kind: 'need-more' });
      expect(decodeMessage(bytes(0, 0x10, 0, 2))).toEqual({ kind: 'need-more' }); // 1 MiB + 2: an extended message might fit
    });
  });
});

// ---- handshake ----

const INFO_HASH = Uint8Array.from({ length: 20 }, (_, i) => i);
const PEER_ID = Buffer.from('-SB0001-abcdefghijkl', 'latin1');

describe('handshake', () => {
  it('round-trips, with the reserved bits of BEP 5, 6 and 10', () => {
    const enc = encodeHandshake({ infoHash: INFO_HASH, peerId: PEER_ID, fast: true, extended: true });
    expect(enc.length).toBe(HANDSHAKE_LENGTH);
    expect(enc[0]).toBe(19);
    expect(enc.subarray(1, 20).toString('latin1')).toBe(PROTOCOL_STRING);
    expect(enc.subarray(20, 28).toString('hex')).toBe('0000000000100004');
    const r = decodeHandshake(enc);
    if (r.kind !== 'ok') throw new Error('expected a handshake');
    expect(r.used).toBe(68);
    expect(Array.from(r.value.infoHash)).toEqual(Array.from(INFO_HASH));
    expect(Buffer.from(r.value.peerId).toString('latin1')).toBe('-SB0001-abcdefghijkl');
    expect(r.value).toMatchObject({ supportsFast: true, supportsExtended: true, supportsDht: false });
  });

  it('sets no reserved bit unless asked', () => {
    const enc = encodeHandshake({ infoHash: INFO_HASH, peerId: PEER_ID });
    expect(enc.subarray(20, 28).toString('hex')).toBe('0000000000000000');
    expect(decodeHandshake(enc)).toMatchObject({ value: { supportsFast: false, supportsExtended: false, supportsDht: false } });
    const dht = encodeHandshake({ infoHash: INFO_HASH, peerId: PEER_ID, dht: true });
    expect(dht.subarray(20, 28).toString('hex')).toBe('0000000000000001');
    expect(decodeHandshake(dht)).toMatchObject({ value: { supportsDht: true, supportsFast: false } });
  });

  it('reads the bits libtorrent sets and keeps ones it does not name', () => {
    // Extension protocol, fast and DHT, plus Azureus messaging in reserved[0].
    const hex =
      '13' + Buffer.from(PROTOCOL_STRING).toString('hex') + '8000000000100005' + Buffer.from(INFO_HASH).toString('hex') + PEER_ID.toString('hex');
    const r = decodeHandshake(Buffer.from(hex, 'hex'));
    if (r.kind !== 'ok') throw new Error('expected a handshake');
    expect(r.value).toMatchObject({ supportsFast: true, supportsExtended: true, supportsDht: true });
    expect(Buffer.from(r.value.reserved).toString('hex')).toBe('8000000000100005');
  });

  it('uses 68 bytes and leaves the messages after it', () => {
    const enc = Buffer.concat([encodeHandshake({ infoHash: INFO_HASH, peerId: PEER_ID }), encodeMessage({ type: 'have-all' })]);
    const r = decodeHandshake(enc);
    expect(r.kind === 'ok' && r.used).toBe(68);
    expect(decodeMessage(enc.subarray(68))).toEqual({ kind: 'ok', used: 5, value: { type: 'have-all' } });
  });

  it('answers need-more for every proper prefix, and decodes byte by byte', () => {
    const enc = encodeHandshake({ infoHash: INFO_HASH, peerId: PEER_ID, extended: true });
    for (let i = 0; i < enc.length; i++) expect(decodeHandshake(enc.subarray(0, i)), `cut at ${i}`).toEqual({ kind: 'need-more' });
    let acc = new Uint8Array(0);
    for (let i = 0; i < enc.length; i++) {
      acc = Buffer.concat([acc, enc.subarray(i, i + 1)]);
      const r = decodeHandshake(acc);
      expect(r.kind).toBe(i === enc.length - 1 ? 'ok' : 'need-more');
    }
  });

  it('refuses a wrong pstrlen after one byte', () => {
    expectWireError(() => decodeHandshake(bytes(20)), 'WIRE_BAD_PROTOCOL_STRING', { received: 20, expected: 19 });
    expectWireError(() => decodeHandshake(bytes(0)), 'WIRE_BAD_PROTOCOL_STRING', { received: 0 });
    // An HTTP client, or an MSE-encrypted stream, is refused just as early.
    expectWireError(() => decodeHandshake(Buffer.from('G')), 'WIRE_BAD_PROTOCOL_STRING');
  });

  it('refuses a wrong protocol string at the first wrong byte', () => {
    const enc = encodeHandshake({ infoHash: INFO_HASH, peerId: PEER_ID });
    enc.write('P', 12, 'latin1'); // "BitTorrent Protocol"
    for (let i = 0; i < 13; i++) expect(decodeHandshake(enc.subarray(0, i))).toEqual({ kind: 'need-more' });
    for (let i = 13; i <= enc.length; i++) {
      expect(expectWireError(() => decodeHandshake(enc.subarray(0, i)), 'WIRE_BAD_PROTOCOL_STRING').message).toContain('byte 12');
    }
  });

  it('refuses to encode hashes and peer ids that are not 20 bytes', () => {
    expectWireError(() => encodeHandshake({ infoHash: new Uint8Array(19), peerId: PEER_ID }), 'WIRE_BAD_FIELD', { received: 19, expected: 20 });
    expectWireError(() => encodeHandshake({ infoHash: INFO_HASH, peerId: new Uint8Array(21) }), 'WIRE_BAD_FIELD', { received: 21 });
    // A v2 (SHA-256) info hash must be truncated by the caller, as BEP 52 says.
    expectWireError(() => encodeHandshake({ infoHash: new Uint8Array(32), peerId: PEER_ID }), 'WIRE_BAD_FIELD');
  });
});

// ---- BEP 10 extended handshake ----

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('extended handshake', () => {
  it('round-trips every field', () => {
    const h = {
      m: new Map([
        ['ut_metadata', 3],
        ['ut_pex', 1],
      ]),
      clientName: 'seedbox/0.1 ✓',
      listenPort: 6881,
      requestQueue: 250,
      metadataSize: 31235,
      yourIp: bytes(192, 0, 2, 1),
    };
    expect(decodeExtendedHandshake(encodeExtendedHandshake(h))).toEqual(h);
  });

  it('encodes canonical bencode with sorted keys, unframed', () => {
    const enc = encodeExtendedHandshake({
      m: new Map([
        ['ut_pex', 2],
        ['ut_metadata', 1],
      ]),
      requestQueue: 500,
    });
    expect(Buffer.isBuffer(enc)).toBe(true);
    expect(enc.toString('latin1')).toBe('d1:md11:ut_metadatai1e6:ut_pexi2ee4:reqqi500ee');
  });

  it('reads the handshake qBittorrent sends', () => {
    const payload = Buffer.concat([
      latin1(
        'd12:complete_agoi1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee' +
          '13:metadata_sizei5361e1:pi51413e4:reqqi500e11:upload_onlyi1e1:v17:qBittorrent/4.6.56:yourip4:',
      ),
      bytes(203, 0, 113, 7),
      latin1('e'),
    ]);
    const h = decodeExtendedHandshake(payload);
    expect(Object.fromEntries(h.m)).toEqual({
      lt_donthave: 7,
      share_mode: 8,
      upload_only: 3,
      ut_holepunch: 4,
      ut_metadata: 2,
      ut_pex: 1,
    });
    expect(h).toMatchObject({ clientName: 'qBittorrent/4.6.5', listenPort: 51413, requestQueue: 500, metadataSize: 5361 });
    expect(Array.from(h.yourIp ?? [])).toEqual([203, 0, 113, 7]);
    // A copy: the receive buffer may be reused.
    payload.fill(0);
    expect(Array.from(h.yourIp ?? [])).toEqual([203, 0, 113, 7]);
  });

  it('drops extensions the peer disables with id 0', () => {
    const h = decodeExtendedHandshake(latin1('d1:md11:ut_metadatai0e6:ut_pexi1eee'));
    expect([...h.m]).toEqual([['ut_pex', 1]]);
  });

  it('ignores unknown keys and leaves out malformed optional ones', () => {
    const payload = Buffer.concat([
      latin1('d1:mde1:pi0e1:v2:'),
      bytes(0xff, 0xfe), // not UTF-8
      latin1('4:reqqi-5e13:metadata_size3:abc6:yourip3:abc5:extrali1ed1:xi2eeee'),
    ]);
    expect(decodeExtendedHandshake(payload)).toEqual({ m: new Map() });
  });

  const MALFORMED: [string, string | Uint8Array][] = [
    ['not bencode', 'hello'],
    ['truncated', 'd1:md'],
    ['trailing data', 'd1:mdeex'],
    ['empty', ''],
    ['a list', 'le'],
    ['an integer', 'i1e'],
    ['no m', 'd1:v3:abce'],
    ['m not a dict', 'd1:mi1ee'],
    ['m as a list', 'd1:mli1eee'],
    ['an m entry that is a string', 'd1:md6:ut_pex3:abcee'],
    ['an m entry over 255', 'd1:md6:ut_pexi256eee'],
    ['a negative m entry', 'd1:md6:ut_pexi-1eee'],
    ['nesting deeper than 8', `d1:md1:a${'l'.repeat(20)}${'e'.repeat(20)}ee`],
  ];

  it.each(MALFORMED)('refuses %s', (_, input) => {
    const payload = typeof input === 'string' ? latin1(input) : input;
    expectWireError(() => decodeExtendedHandshake(payload), 'WIRE_BAD_EXTENDED_HANDSHAKE', { messageId: MessageId.extended });
  });

  it('keeps the bencode error as the cause', () => {
    const err = expectWireError(() => decodeExtendedHandshake(latin1('d1:md')), 'WIRE_BAD_EXTENDED_HANDSHAKE');
    expect(err.cause).toBeInstanceOf(BencodeError);
    expect((err.cause as BencodeError).code).toBe('BENCODE_TRUNCATED');
  });

  it('refuses to encode values BEP 10 cannot carry', () => {
    expectWireError(() => encodeExtendedHandshake({ m: new Map([['ut_pex', 256]]) }), 'WIRE_BAD_FIELD');
    expectWireError(() => encodeExtendedHandshake({ m: new Map(), listenPort: 70000 }), 'WIRE_BAD_FIELD');
    expectWireError(() => encodeExtendedHandshake({ m: new Map(), yourIp: bytes(1, 2, 3, 4, 5) }), 'WIRE_BAD_FIELD');
  });

  it('travels inside an extended message with id 0', () => {
    const payload = encodeExtendedHandshake({ m: new Map([['ut_metadata', 3]]), metadataSize: 1234 });
    const r = decodeMessage(encodeMessage({ type: 'extended', extendedId: 0, payload }));
    if (r.kind !== 'ok' || r.value.type !== 'extended') throw new Error('expected an extended message');
    expect(r.value.extendedId).toBe(0);
    expect(decodeExtendedHandshake(r.value.payload)).toEqual({ m: new Map([['ut_metadata', 3]]), metadataSize: 1234 });
  });
});
