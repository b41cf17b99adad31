import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { encodeBencode } from '../src/bencode.js';
import { MetainfoError, parseMetainfo, pieceHash } from '../src/metainfo.js';

const fixtures = join(import.meta.dirname, '../../../test/fixtures/torrents');
const load = (name: string) => parseMetainfo(readFileSync(join(fixtures, name)));

const info = (extra: Record<string, unknown> = {}) => ({ name: 'x', 'piece length': 16384, pieces: Buffer.alloc(20), length: 100, ...extra });
const codeAndField = (bytes: Uint8Array | string) => {
  try {
    parseMetainfo(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  } catch (e) {
    if (e instanceof MetainfoError) return [e.code, e.field];
    throw e;
  }
  return undefined;
};

describe('parseMetainfo on fixtures', () => {
  it('reads a single-file torrent with a short last piece', () => {
    const m = load('mk-single.torrent');
    expect(m.name).toBe('single.bin');
    expect(m.multiFile).toBe(false);
    expect(m.totalLength).toBe(100000);
    expect(m.pieceLength).toBe(32768);
    expect(m.pieceCount).toBe(4);
    expect(m.files).toEqual([expect.objectContaining({ path: ['single.bin'], length: 100000, offset: 0, padding: false })]);
    expect(m.announce).toEqual([['http://tracker.example/announce']]);
    expect(m.private).toBe(false);
    expect(pieceHash(m, 3)).toHaveLength(20);
  });

  it('reads a multi-file torrent with nested folders, a zero-length file and tiers', () => {
    const m = load('mk-multi-tiers.torrent');
    expect(m.multiFile).toBe(true);
    const byPath = Object.fromEntries(m.files.map((f) => [f.path.join('/'), f]));
    expect(byPath['empty.txt']!.length).toBe(0);
    expect(byPath['b/d/e.bin']!.length).toBe(7000);
    // Offsets are cumulative in file order.
    let at = 0;
    for (const f of m.files) {
      expect(f.offset).toBe(at);
      at += f.length;
    }
    expect(at).toBe(m.totalLength);
    expect(m.announce).toEqual([['http://a.example/announce', 'http://b.example/announce'], ['udp://c.example:6969/announce']]);
  });

  it('reads unicode names from both makers', () => {
    for (const name of ['mk-unicode.torrent', 'tr-unicode.torrent']) {
      const paths = load(name).files.map((f) => f.path.join('/'));
      expect(paths).toContain('naïve/日本語.txt');
      expect(paths).toContain('Ελληνικά.bin');
    }
  });

  it('reads the private flag', () => {
    expect(load('mk-private.torrent').private).toBe(true);
    expect(load('tr-private.torrent').private).toBe(true);
  });

  it('hashes the raw info bytes of every fixture', () => {
    for (const f of readdirSync(fixtures)) {
      const m = load(f);
      expect(m.infoHashHex).toBe(createHash('sha1').update(m.infoBytes).digest('hex'));
    }
  });

  it('hashes the raw bytes, not a re-encoding', () => {
    // Keys out of order: a re-encoder would sort them and get another hash.
    const rawInfo = 'd6:lengthi100e4:name1:x6:pieces20:' + '\0'.repeat(20) + '12:piece lengthi16384ee';
    const unsorted = 'd12:piece lengthi16384e6:lengthi100e4:name1:x6:pieces20:' + '\0'.repeat(20) + 'e';
    const m1 = parseMetainfo(Buffer.from(`d4:info${rawInfo}e`, 'latin1'));
    const m2 = parseMetainfo(Buffer.from(`d4:info${unsorted}e`, 'latin1'));
    expect(m1.infoHashHex).toBe(createHash('sha1').update(Buffer.from(rawInfo, 'latin1')).digest('hex'));
    expect(m2.infoHashHex).toBe(createHash('sha1').update(Buffer.from(unsorted, 'latin1')).digest('hex'));
    expect(m1.infoHashHex).not.toBe(m2.infoHashHex);
  });
});

describe('parseMetainfo refuses malformed torrents with a typed error naming the field', () => {
  const multi = (files: unknown[]) => encodeBencode({ info: { name: 'x', 'piece length': 16384, pieces: Buffer.alloc(20), files } as never });
  const cases: [string, Uint8Array | string, string, string | undefined][] = [
    ['not bencode', 'hello', 'METAINFO_BENCODE', undefined],
    ['a list at the top', 'le', 'METAINFO_NOT_A_DICT', undefined],
    ['no info', encodeBencode({ announce: 'x' }), 'METAINFO_MISSING_KEY', 'info'],
    ['info not a dict', encodeBencode({ info: 5 }), 'METAINFO_WRONG_TYPE', 'info'],
    ['no piece length', encodeBencode({ info: { name: 'x', pieces: Buffer.alloc(20), length: 1 } }), 'METAINFO_MISSING_KEY', 'info'],
    ['piece length a string', encodeBencode({ info: info({ 'piece length': 'x' }) }), 'METAINFO_WRONG_TYPE', 'info.piece length'],
    ['piece length zero', encodeBencode({ info: info({ 'piece length': 0 }) }), 'METAINFO_BAD_PIECE_LENGTH', 'info.piece length'],
    ['pieces not /20', encodeBencode({ info: info({ pieces: Buffer.alloc(21) }) }), 'METAINFO_BAD_PIECES_LENGTH', 'info.pieces'],
    ['too few hashes', encodeBencode({ info: info({ length: 16385 }) }), 'METAINFO_PIECE_COUNT_MISMATCH', 'info.pieces'],
    ['too many hashes', encodeBencode({ info: info({ pieces: Buffer.alloc(40) }) }), 'METAINFO_PIECE_COUNT_MISMATCH', 'info.pieces'],
    ['negative length', encodeBencode({ info: info({ length: -5 }) }), 'METAINFO_BAD_LENGTH', 'info.length'],
    ['zero total', encodeBencode({ info: info({ length: 0, pieces: Buffer.alloc(0) }) }), 'METAINFO_BAD_LENGTH', 'info'],
    ['both length and files', encodeBencode({ info: info({ files: [] }) }), 'METAINFO_BOTH_LENGTH_AND_FILES', 'info'],
    ['empty files', multi([]), 'METAINFO_NO_FILES', 'info.files'],
    ['file not a dict', multi([1]), 'METAINFO_WRONG_TYPE', 'info.files[0]'],
    ['empty path list', multi([{ length: 5, path: [] }]), 'METAINFO_BAD_PATH', 'info.files[0].path'],
    ['empty segment', multi([{ length: 5, path: ['a', ''] }]), 'METAINFO_BAD_PATH', 'info.files[0].path[1]'],
    ['dot segment', multi([{ length: 5, path: ['.'] }]), 'METAINFO_BAD_PATH', 'info.files[0].path[0]'],
    ['dot-dot segment', multi([{ length: 5, path: ['..', 'etc'] }]), 'METAINFO_BAD_PATH', 'info.files[0].path[0]'],
    ['slash in segment', multi([{ length: 5, path: ['a/b'] }]), 'METAINFO_BAD_PATH', 'info.files[0].path[0]'],
    ['backslash in segment', multi([{ length: 5, path: ['a\\b'] }]), 'METAINFO_BAD_PATH', 'info.files[0].path[0]'],
    ['NUL in segment', multi([{ length: 5, path: ['a\0b'] }]), 'METAINFO_BAD_PATH', 'info.files[0].path[0]'],
    ['absolute name', encodeBencode({ info: info({ name: '/etc' }) }), 'METAINFO_BAD_PATH', 'info.name'],
    ['drive-letter segment', multi([{ length: 5, path: ['C:', 'x'] }]), 'METAINFO_BAD_PATH', 'info.files[0].path[0]'],
    ['path segment not bytes', multi([{ length: 5, path: [1] }]), 'METAINFO_WRONG_TYPE', 'info.files[0].path[0]'],
    ['nesting bomb', 'l'.repeat(100_000), 'METAINFO_BENCODE', undefined],
    ['string length bomb', 'd4:info999999999:x', 'METAINFO_BENCODE', undefined],
  ];
  for (const [label, bytes, code, field] of cases) {
    it(label, () => {
      expect(codeAndField(bytes)).toEqual([code, field]);
    });
  }

  it('refuses an oversize file before decoding it', () => {
    expect(() => parseMetainfo(new Uint8Array(100), { maxBytes: 10 })).toThrow(expect.objectContaining({ code: 'METAINFO_TOO_LARGE' }));
  });

  it('keeps raw bytes of names that are not UTF-8', () => {
    const raw = Buffer.from([0x66, 0xff, 0x6f]);
    const m = parseMetainfo(encodeBencode({ info: info({ name: raw }) }));
    expect(Buffer.from(m.nameBytes).equals(raw)).toBe(true);
    expect(m.name).toContain('\ufffd');
  });

  it('answers random and mutated input only with MetainfoError (property)', () => {
    const valid = readFileSync(join(fixtures, 'mk-multi-tiers.torrent'));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((muts) => {
            const b = Buffer.from(valid);
            for (const [at, v] of muts) b[at] = v;
            return b;
          }),
          fc.nat(valid.length).map((n) => valid.subarray(0, n)),
        ),
        (bytes) => {
          try {
            parseMetainfo(bytes);
          } catch (e) {
            expect(e).toBeInstanceOf(MetainfoError);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });
});
