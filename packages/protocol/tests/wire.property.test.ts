import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BLOCK_LENGTH } from '../src/geometry.js';
import { HANDSHAKE_LENGTH, PROTOCOL_STRING, decodeHandshake, encodeHandshake } from '../src/handshake.js';
import { encodeMessage } from '../src/wire-encode.js';
import { WireError, type DecodeResult } from '../src/wire-error.js';
import { MessageId, decodeMessage } from '../src/wire.js';
import type { DecodeLimits, Message } from '../src/wire.js';

// ---- arbitraries ----

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const blockRef = fc.record({ index: u32, begin: u32, length: u32 });

const messageArb: fc.Arbitrary<Message> = fc.oneof(
  fc.constantFrom<Message>(
    { type: 'keep-alive' },
    { type: 'choke' },
    { type: 'unchoke' },
    { type: 'interested' },
    { type: 'not-interested' },
    { type: 'have-all' },
    { type: 'have-none' },
  ),
  u32.map((index): Message => ({ type: 'have', index })),
  u32.map((index): Message => ({ type: 'suggest', index })),
  u32.map((index): Message => ({ type: 'allowed-fast', index })),
  fc.uint8Array({ maxLength: 512 }).map((bits): Message => ({ type: 'bitfield', bits })),
  blockRef.map((r): Message => ({ type: 'request', ...r })),
  blockRef.map((r): Message => ({ type: 'cancel', ...r })),
  blockRef.map((r): Message => ({ type: 'reject', ...r })),
  fc
    .record({ index: u32, begin: u32, block: fc.uint8Array({ minLength: 1, maxLength: BLOCK_LENGTH }) })
    .map((p): Message => ({ type: 'piece', ...p })),
  fc.integer({ min: 0, max: 0xffff }).map((port): Message => ({ type: 'port', port })),
  fc
    .record({ extendedId: fc.integer({ min: 0, max: 0xff }), payload: fc.uint8Array({ maxLength: 1024 }) })
    .map((e): Message => ({ type: 'extended', ...e })),
);

const limitsArb: fc.Arbitrary<DecodeLimits | undefined> = fc.option(
  fc.record(
    {
      maxBlockLength: fc.integer({ min: 0, max: 2 * BLOCK_LENGTH }),
      maxBitfieldLength: fc.integer({ min: 0, max: 4096 }),
      maxExtendedLength: fc.integer({ min: 0, max: 4096 }),
    },
    { requiredKeys: [] },
  ),
  { nil: undefined },
);

const KNOWN_IDS = Object.values(MessageId);

/**
 * A complete frame: a length prefix that matches the bytes that follow, a
 * mostly known id, and a random body. Pure random bytes almost always start
 * with a huge length, so this is what reaches the per-kind parsers.
 */
const framedArb = fc
  .record({
    id: fc.oneof({ arbitrary: fc.constantFrom(...KNOWN_IDS), weight: 4 }, { arbitrary: fc.integer({ min: 0, max: 0xff }), weight: 1 }),
    body: fc.oneof(
      // The body sizes of the fixed-size kinds, so that they get past the length check.
      fc.constantFrom(0, 2, 4, 12).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
      fc.uint8Array({ maxLength: 16 }),
      fc.uint8Array({ maxLength: 4096 }),
    ),
  })
  .map(({ id, body }) => {
    const out = Buffer.alloc(5 + body.length);
    out.writeUInt32BE(1 + body.length, 0);
    out[4] = id;
    out.set(body, 5);
    return out;
  });

// ---- helpers ----

function plain(m: Message): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) out[k] = v instanceof Uint8Array ? Array.from(v) : v;
  return out;
}

/** The decoder's answer, with a WireError as a value; any other throw fails the property. */
function attempt(buf: Uint8Array, limits?: DecodeLimits): DecodeResult<Message> | WireError {
  try {
    return decodeMessage(buf, limits);
  } catch (err) {
    if (err instanceof WireError) return err;
    throw err;
  }
}

/** What every successful decode must satisfy, whatever the input. */
function checkOk(buf: Uint8Array, r: { value: Message; used: number }, limits: DecodeLimits | undefined): void {
  const length = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(0);
  expect(r.used).toBe(4 + length);
  expect(r.used).toBeLessThanOrEqual(buf.length);
  const m = r.value;
  if (m.type === 'piece') {
    expect(m.block.length).toBeGreaterThanOrEqual(1);
    expect(m.block.length).toBeLessThanOrEqual(limits?.maxBlockLength ?? BLOCK_LENGTH);
  }
  if (m.type === 'bitfield') expect(m.bits.length).toBeLessThanOrEqual(limits?.maxBitfieldLength ?? 2 ** 20);
  if (m.type === 'extended') expect(m.payload.length).toBeLessThanOrEqual(limits?.maxExtendedLength ?? 2 ** 20);
  // The wire format has one encoding per message, so re-encoding gives the input back.
  expect(Buffer.from(encodeMessage(m)).equals(Buffer.from(buf.subarray(0, r.used)))).toBe(true);
}

function readAll(chunks: Uint8Array[]): Message[] {
  let pending: Uint8Array = new Uint8Array(0);
  const out: Message[] = [];
  for (const chunk of chunks) {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      const r = decodeMessage(pending);
      if (r.kind === 'need-more') break;
      out.push(r.value);
      pending = pending.subarray(r.used);
    }
  }
  expect(pending.length).toBe(0);
  return out;
}

// ---- properties ----

describe('wire codec properties', () => {
  it('decode(encode(m)) is m, for every kind', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        const enc = encodeMessage(m);
        const r = decodeMessage(enc);
        expect(r.kind).toBe('ok');
        if (r.kind !== 'ok') return;
        expect(r.used).toBe(enc.length);
        expect(plain(r.value)).toEqual(plain(m));
      }),
      { numRuns: 2000 },
    );
  });

  it('a stream of messages cut anywhere decodes to the same messages', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }), (messages, cuts) => {
        const stream = Buffer.concat(messages.map(encodeMessage));
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let from = 0;
        for (const p of [...points, stream.length]) {
          chunks.push(stream.subarray(from, p));
          from = p;
        }
        expect(readAll(chunks).map(plain)).toEqual(messages.map(plain));
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes give need-more, a bounded message, or a WireError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), limitsArb, (buf, limits) => {
        const r = attempt(buf, limits);
        if (!(r instanceof WireError) && r.kind === 'ok') checkOk(buf, r, limits);
      }),
      { numRuns: 2000 },
    );
  });

  it('a complete frame of random content is a bounded message or a WireError, never need-more', () => {
    fc.assert(
      fc.property(framedArb, limitsArb, (buf, limits) => {
        const r = attempt(buf, limits);
        if (r instanceof WireError) return;
        expect(r.kind).toBe('ok');
        if (r.kind === 'ok') checkOk(buf, r, limits);
      }),
      { numRuns: 2000 },
    );
  });

  it('a prefix answers need-more or what the whole answers: errors are found early and never unfound', () => {
    fc.assert(
      fc.property(fc.oneof(framedArb, fc.uint8Array({ maxLength: 64 })), fc.nat(), limitsArb, (buf, cut, limits) => {
        const k = cut % (buf.length + 1);
        const whole = attempt(buf, limits);
        const part = attempt(buf.subarray(0, k), limits);
        if (part instanceof WireError) {
          expect(whole).toBeInstanceOf(WireError);
        } else if (part.kind === 'ok') {
          expect(whole).not.toBeInstanceOf(WireError);
          expect(whole).toMatchObject({ kind: 'ok', used: part.used });
        } else if (!(whole instanceof WireError) && whole.kind === 'ok') {
          // need-more is only allowed while the message is still incomplete.
          expect(k).toBeLessThan(whole.used);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('the handshake round-trips and random bytes never crash its decoder', () => {
    const bytes20 = fc.uint8Array({ minLength: 20, maxLength: 20 });
    fc.assert(
      fc.property(bytes20, bytes20, fc.boolean(), fc.boolean(), fc.boolean(), (infoHash, peerId, fast, extended, dht) => {
        const r = decodeHandshake(encodeHandshake({ infoHash, peerId, fast, extended, dht }));
        if (r.kind !== 'ok') throw new Error('expected a handshake');
        expect(r.used).toBe(HANDSHAKE_LENGTH);
        expect(Array.from(r.value.infoHash)).toEqual(Array.from(infoHash));
        expect(Array.from(r.value.peerId)).toEqual(Array.from(peerId));
        expect(r.value).toMatchObject({ supportsFast: fast, supportsExtended: extended, supportsDht: dht });
      }),
      { numRuns: 500 },
    );
    const header = Buffer.concat([Buffer.from([19]), Buffer.from(PROTOCOL_STRING, 'latin1')]);
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 128 }),
      fc.uint8Array({ maxLength: 128 }).map((rest) => Buffer.concat([header, rest])),
    );
    fc.assert(
      fc.property(input, (buf) => {
        let r: DecodeResult<unknown>;
        try {
          r = decodeHandshake(buf);
        } catch (err) {
          expect(err).toBeInstanceOf(WireError);
          return;
        }
        expect(r.kind).toBe(buf.length >= HANDSHAKE_LENGTH ? 'ok' : 'need-more');
      }),
      { numRuns: 1000 },
    );
  });
});
