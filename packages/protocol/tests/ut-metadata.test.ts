import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeBencode } from '../src/bencode.js';
import { MetainfoError } from '../src/metainfo-error.js';
import { parseInfoDictionary, parseMetainfo } from '../src/metainfo.js';
import {
  MAX_METADATA_SIZE,
  METADATA_PIECE_LENGTH,
  MetadataAssembler,
  UtMetadataError,
  checkMetadataSize,
  decodeUtMetadata,
  encodeUtMetadata,
  metadataPiece,
  metadataPieceCount,
  metadataPieceSize,
  type UtMetadataErrorCode,
  type UtMetadataMessage,
} from '../src/ut-metadata.js';
import { encodeMessage } from '../src/wire-encode.js';
import { decodeMessage } from '../src/wire.js';

const fixtureDir = join(import.meta.dirname, '../../../test/fixtures/torrents');
const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
const sha1 = (b: Uint8Array): Buffer => createHash('sha1').update(b).digest();

function codeOf(fn: () => unknown): UtMetadataErrorCode {
  try {
    fn();
  } catch (e) {
    if (e instanceof UtMetadataError) return e.code;
    throw e;
  }
  throw new Error('no error was thrown');
}

/** Metadata of `size` pseudo-random bytes and its "info hash". */
function metadataOf(size: number, seed = 1): { bytes: Uint8Array; infoHash: Uint8Array } {
  const bytes = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return { bytes, infoHash: new Uint8Array(sha1(bytes)) };
}

describe('ut_metadata geometry', () => {
  it('cuts the metadata into 16 KiB pieces, the last one shorter', () => {
    expect(metadataPieceCount(1)).toBe(1);
    expect(metadataPieceCount(16384)).toBe(1);
    expect(metadataPieceCount(16385)).toBe(2);
    expect(metadataPieceSize(16385, 0)).toBe(16384);
    expect(metadataPieceSize(16385, 1)).toBe(1);
    expect(metadataPieceSize(32768, 1)).toBe(16384);
    expect(codeOf(() => metadataPieceSize(16385, 2))).toBe('UT_METADATA_BAD_PIECE');
    expect(codeOf(() => metadataPieceSize(16385, -1))).toBe('UT_METADATA_BAD_PIECE');
    const { bytes } = metadataOf(40_000);
    expect(Buffer.from(metadataPiece(bytes, 2)).equals(Buffer.from(bytes.subarray(32768)))).toBe(true);
  });

  it('bounds the metadata size before anything is allocated for it', () => {
    expect(checkMetadataSize(1)).toBe(1);
    expect(checkMetadataSize(MAX_METADATA_SIZE)).toBe(MAX_METADATA_SIZE);
    for (const bad of [0, -1, 1.5, MAX_METADATA_SIZE + 1, 2 ** 53, NaN]) expect(codeOf(() => checkMetadataSize(bad))).toBe('UT_METADATA_BAD_SIZE');
    expect(codeOf(() => checkMetadataSize(1025, 1024))).toBe('UT_METADATA_BAD_SIZE');
    // A peer claiming 2 GiB costs nothing: the assembler refuses before allocating.
    expect(codeOf(() => new MetadataAssembler(new Uint8Array(20), 2 ** 31))).toBe('UT_METADATA_BAD_SIZE');
  });
});

describe('ut_metadata messages', () => {
  it('encode as BEP 9 spells them', () => {
    expect(latin1('d8:msg_typei0e5:piecei0ee').equals(encodeUtMetadata({ type: 'request', piece: 0 }))).toBe(true);
    expect(latin1('d8:msg_typei2e5:piecei7ee').equals(encodeUtMetadata({ type: 'reject', piece: 7 }))).toBe(true);
    const data = encodeUtMetadata({ type: 'data', piece: 1, totalSize: 16384 + 3, data: latin1('abc') });
    expect(data.toString('latin1')).toBe('d8:msg_typei1e5:piecei1e10:total_sizei16387eeabc');
  });

  it('decode what libtorrent sends, extra keys and all', () => {
    expect(decodeUtMetadata(latin1('d8:msg_typei0e5:piecei3ee'))).toEqual({ type: 'request', piece: 3 });
    expect(decodeUtMetadata(latin1('d8:msg_typei2e5:piecei3ee'))).toEqual({ type: 'reject', piece: 3 });
    const m = decodeUtMetadata(latin1('d8:msg_typei1e5:piecei0e10:total_sizei5e3:zzzi1eehello'));
    expect(m).toMatchObject({ type: 'data', piece: 0, totalSize: 5 });
    expect(Buffer.from((m as { data: Uint8Array }).data).toString()).toBe('hello');
    // BEP 9: an unrecognised msg_type MUST be ignored, so it is not an error.
    expect(decodeUtMetadata(latin1('d8:msg_typei9ee'))).toEqual({ type: 'unknown', msgType: 9 });
  });

  it('refuse each broken rule with its own code', () => {
    const cases: [string, UtMetadataErrorCode][] = [
      ['', 'UT_METADATA_BENCODE'],
      ['d8:msg_typei0e5:piecei0e', 'UT_METADATA_BENCODE'],
      ['i0e', 'UT_METADATA_NOT_A_DICT'],
      ['d5:piecei0ee', 'UT_METADATA_BAD_MSG_TYPE'],
      ['d8:msg_type1:0e', 'UT_METADATA_BAD_MSG_TYPE'],
      ['d8:msg_typei-1e5:piecei0ee', 'UT_METADATA_BAD_MSG_TYPE'],
      ['d8:msg_typei0ee', 'UT_METADATA_BAD_PIECE'],
      ['d8:msg_typei0e5:piecei-1ee', 'UT_METADATA_BAD_PIECE'],
      ['d8:msg_typei0e5:piece1:0e', 'UT_METADATA_BAD_PIECE'],
      ['d8:msg_typei0e5:piecei0eexyz', 'UT_METADATA_TRAILING_DATA'],
      ['d8:msg_typei2e5:piecei0eex', 'UT_METADATA_TRAILING_DATA'],
      ['d8:msg_typei1e5:piecei0eehello', 'UT_METADATA_BAD_TOTAL_SIZE'],
      ['d8:msg_typei1e5:piecei0e10:total_sizei0eee', 'UT_METADATA_BAD_TOTAL_SIZE'],
      [`d8:msg_typei1e5:piecei0e10:total_sizei${MAX_METADATA_SIZE + 1}ee`, 'UT_METADATA_BAD_TOTAL_SIZE'],
      ['d8:msg_typei1e5:piecei1e10:total_sizei5eehello', 'UT_METADATA_BAD_PIECE'],
      ['d8:msg_typei1e5:piecei0e10:total_sizei5eehell', 'UT_METADATA_BAD_DATA_LENGTH'],
      ['d8:msg_typei1e5:piecei0e10:total_sizei5eehello!', 'UT_METADATA_BAD_DATA_LENGTH'],
      ['d8:msg_typei1e5:piecei0e10:total_sizei20000ee' + 'x'.repeat(16383), 'UT_METADATA_BAD_DATA_LENGTH'],
      ['d8:msg_typei1e5:piecei0e10:total_sizei20000ee' + 'x'.repeat(16385), 'UT_METADATA_BAD_DATA_LENGTH'],
      // A nesting bomb in the header is refused by the bencode limits, not by the stack.
      ['d1:x' + 'l'.repeat(10_000), 'UT_METADATA_BENCODE'],
    ];
    for (const [input, code] of cases) expect(codeOf(() => decodeUtMetadata(latin1(input))), input.slice(0, 60)).toBe(code);
    expect(codeOf(() => decodeUtMetadata(latin1('d8:msg_typei1e5:piecei0e10:total_sizei2000eex'), { maxMetadataSize: 1000 }))).toBe(
      'UT_METADATA_BAD_TOTAL_SIZE',
    );
  });

  it('refuse to encode what a peer would refuse', () => {
    expect(codeOf(() => encodeUtMetadata({ type: 'request', piece: -1 }))).toBe('UT_METADATA_BAD_FIELD');
    expect(codeOf(() => encodeUtMetadata({ type: 'data', piece: 0, totalSize: 5, data: latin1('abcd') }))).toBe('UT_METADATA_BAD_FIELD');
    expect(codeOf(() => encodeUtMetadata({ type: 'data', piece: 1, totalSize: 5, data: latin1('abcde') }))).toBe('UT_METADATA_BAD_FIELD');
  });

  it('ride in BEP 10 extended messages, and survive being cut anywhere', () => {
    const { bytes } = metadataOf(40_000);
    const msgs = [0, 1, 2].map((piece) => encodeUtMetadata({ type: 'data', piece, totalSize: bytes.length, data: metadataPiece(bytes, piece) }));
    const stream = Buffer.concat(msgs.map((payload) => encodeMessage({ type: 'extended', extendedId: 3, payload })));
    // Every split point of the framed stream gives back the same pieces.
    for (let cut = 0; cut <= stream.length; cut += 997) {
      const pieces: Buffer[] = [];
      let pending = Buffer.from(stream.subarray(0, cut));
      const feed = (chunk: Buffer): void => {
        pending = Buffer.concat([pending, chunk]);
        for (;;) {
          const r = decodeMessage(pending);
          if (r.kind === 'need-more') return;
          pending = pending.subarray(r.used);
          if (r.value.type !== 'extended') throw new Error('not extended');
          const m = decodeUtMetadata(r.value.payload);
          if (m.type !== 'data') throw new Error('not data');
          pieces.push(Buffer.from(m.data));
        }
      };
      feed(Buffer.alloc(0));
      feed(Buffer.from(stream.subarray(cut)));
      expect(Buffer.concat(pieces).equals(Buffer.from(bytes))).toBe(true);
    }
  });
});

describe('ut_metadata properties', () => {
  const outgoing = fc.oneof(
    fc.nat().map((piece) => ({ type: 'request' as const, piece })),
    fc.nat().map((piece) => ({ type: 'reject' as const, piece })),
    fc
      .integer({ min: 1, max: 100_000 })
      .chain((totalSize) => fc.record({ totalSize: fc.constant(totalSize), piece: fc.integer({ min: 0, max: metadataPieceCount(totalSize) - 1 }) }))
      .map(({ totalSize, piece }) => ({
        type: 'data' as const,
        piece,
        totalSize,
        data: new Uint8Array(metadataPieceSize(totalSize, piece)).fill(piece & 0xff),
      })),
  );

  it('decode(encode(m)) = m', () => {
    fc.assert(
      fc.property(outgoing, (m) => {
        const back = decodeUtMetadata(encodeUtMetadata(m));
        if (m.type === 'data') {
          expect(back).toMatchObject({ type: 'data', piece: m.piece, totalSize: m.totalSize });
          expect(Buffer.from((back as { data: Uint8Array }).data).equals(Buffer.from(m.data))).toBe(true);
        } else {
          expect(back).toEqual(m);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes and mangled messages give a typed error or a message, never a crash', () => {
    const mangled = fc
      .tuple(outgoing, fc.nat(), fc.uint8Array({ maxLength: 40 }))
      .map(([m, at, junk]) => {
        const b = encodeUtMetadata(m);
        const cut = at % (b.length + 1);
        return Buffer.concat([b.subarray(0, cut), junk, b.subarray(cut)]);
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), mangled), (bytes) => {
        let m: UtMetadataMessage;
        try {
          m = decodeUtMetadata(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(UtMetadataError);
          return;
        }
        // Whatever got through obeys the rules the decoder promises.
        if (m.type === 'data') expect(m.data.length).toBe(metadataPieceSize(m.totalSize, m.piece));
        if (m.type === 'request' || m.type === 'reject') expect(Number.isSafeInteger(m.piece) && m.piece >= 0).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('the assembler gives the metadata back whatever order and duplicates the pieces come in', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70_000 }), fc.array(fc.nat(), { maxLength: 30 }), (size, order) => {
        const { bytes, infoHash } = metadataOf(size, size);
        const a = new MetadataAssembler(infoHash, size);
        const feed = (piece: number): boolean => a.receive({ piece, totalSize: size, data: metadataPiece(bytes, piece) });
        for (const o of order) feed(o % a.pieceCount);
        for (const p of a.missing()) expect(feed(p)).toBe(true);
        expect(a.isComplete).toBe(true);
        expect(feed(0)).toBe(false);
        expect(Buffer.from(a.finish()).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});

describe('MetadataAssembler', () => {
  const { bytes, infoHash } = metadataOf(3 * METADATA_PIECE_LENGTH + 10);

  it('refuses a piece that disagrees with the size already agreed', () => {
    const a = new MetadataAssembler(infoHash, bytes.length);
    expect(codeOf(() => a.receive({ piece: 0, totalSize: bytes.length + 1, data: metadataPiece(bytes, 0) }))).toBe('UT_METADATA_BAD_TOTAL_SIZE');
    expect(codeOf(() => a.receive({ piece: 4, totalSize: bytes.length, data: new Uint8Array(10) }))).toBe('UT_METADATA_BAD_PIECE');
    expect(codeOf(() => a.receive({ piece: 3, totalSize: bytes.length, data: new Uint8Array(11) }))).toBe('UT_METADATA_BAD_DATA_LENGTH');
    expect(codeOf(() => a.receive({ piece: 0, totalSize: bytes.length, data: new Uint8Array(10) }))).toBe('UT_METADATA_BAD_DATA_LENGTH');
    expect(a.receivedCount).toBe(0);
  });

  it('refuses metadata whose SHA-1 is not the info hash, and starts over', () => {
    const a = new MetadataAssembler(infoHash, bytes.length);
    for (let p = 0; p < a.pieceCount; p++) {
      const data = Buffer.from(metadataPiece(bytes, p));
      if (p === 2) data[100]! ^= 1; // one flipped bit in one piece
      a.receive({ piece: p, totalSize: bytes.length, data });
    }
    expect(a.isComplete).toBe(true);
    expect(codeOf(() => a.finish())).toBe('UT_METADATA_HASH_MISMATCH');
    expect(a.receivedCount).toBe(0);
    expect(a.missing()).toEqual([0, 1, 2, 3]);
    expect(codeOf(() => a.finish())).toBe('UT_METADATA_BAD_FIELD');
  });

  it('copies what it is given, so the read buffer may be reused', () => {
    const a = new MetadataAssembler(infoHash, bytes.length);
    const scratch = Buffer.alloc(METADATA_PIECE_LENGTH);
    for (let p = 0; p < a.pieceCount; p++) {
      const piece = metadataPiece(bytes, p);
      scratch.set(piece);
      a.receive({ piece: p, totalSize: bytes.length, data: scratch.subarray(0, piece.length) });
      scratch.fill(0xee);
    }
    expect(Buffer.from(a.finish()).equals(Buffer.from(bytes))).toBe(true);
  });
});

describe('parseInfoDictionary', () => {
  const fixtures = readdirSync(fixtureDir).filter((f) => f.endsWith('.torrent'));

  it('gives what parseMetainfo gives for the info dictionary of every fixture', () => {
    expect(fixtures.length).toBeGreaterThan(5);
    for (const f of fixtures) {
      const whole = parseMetainfo(readFileSync(join(fixtureDir, f)));
      const alone = parseInfoDictionary(whole.infoBytes, { announce: [['http://t.example/announce']] });
      expect(alone.infoHashHex, f).toBe(whole.infoHashHex);
      expect({ ...alone, announce: [], urlList: [], comment: undefined, createdBy: undefined, creationDate: undefined }).toEqual({
        ...whole,
        announce: [],
        urlList: [],
        comment: undefined,
        createdBy: undefined,
        creationDate: undefined,
      });
      expect(alone.announce).toEqual([['http://t.example/announce']]);
      expect(Buffer.from(alone.infoBytes).equals(Buffer.from(whole.infoBytes))).toBe(true);
    }
  });

  it('refuses trailing bytes: they would be hashed but never parsed', () => {
    const info = parseMetainfo(readFileSync(join(fixtureDir, fixtures[0]!))).infoBytes;
    const err = (() => {
      try {
        parseInfoDictionary(Buffer.concat([info, latin1('1:xi0e')]));
      } catch (e) {
        return e as MetainfoError;
      }
      throw new Error('accepted');
    })();
    expect(err).toBeInstanceOf(MetainfoError);
    expect(err.code).toBe('METAINFO_BENCODE');
    expect(err.field).toBe('info');
  });

  it('names the field that broke a rule, as parseMetainfo does', () => {
    const bad = encodeBencode({ name: 'x', 'piece length': 16384, pieces: new Uint8Array(21), length: 5 });
    try {
      parseInfoDictionary(bad);
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(MetainfoError);
      expect((e as MetainfoError).code).toBe('METAINFO_BAD_PIECES_LENGTH');
      expect((e as MetainfoError).field).toBe('info.pieces');
    }
    expect(() => parseInfoDictionary(latin1('le'))).toThrow(MetainfoError);
  });

  it('only ever throws MetainfoError (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          parseInfoDictionary(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(MetainfoError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
