import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BencodeError, decodeBencode, encodeBencode, type BEncodable } from '../src/bencode.js';
import { MetainfoError, type MetainfoErrorCode } from '../src/metainfo-error.js';
import { parseMetainfo, pieceHash, type Metainfo } from '../src/metainfo.js';

const root = join(import.meta.dirname, '../../..');
const fixtureDir = join(root, 'test/fixtures/torrents');
const dataDir = join(root, 'test/fixtures/data');
const load = (name: string): Metainfo => parseMetainfo(readFileSync(join(fixtureDir, name)));
const sha1 = (b: Uint8Array): string => createHash('sha1').update(b).digest('hex');
const latin1 = (s: string): Uint8Array => Buffer.from(s, 'latin1');

/** The error parseMetainfo throws, failing the test if it throws anything else or nothing. */
function errorOf(input: Uint8Array | string, limits?: Parameters<typeof parseMetainfo>[1]): MetainfoError {
  try {
    parseMetainfo(typeof input === 'string' ? latin1(input) : input, limits);
  } catch (e) {
    if (e instanceof MetainfoError) return e;
    throw e;
  }
  throw new Error('parseMetainfo accepted the input');
}

// ---------------------------------------------------------------- fixtures

type FileRow = [path: string, length: number, offset: number, padding?: boolean];

interface Expected {
  name: string;
  multiFile: boolean;
  pieceLength: number;
  pieceCount: number;
  totalLength: number;
  private: boolean;
  announce: string[][];
  files: FileRow[];
  /** The data the torrent was made from, under test/fixtures/data. */
  data: string;
  urlList?: string[];
  comment?: string;
  createdBy: RegExp;
  hasCreationDate: boolean;
}

const TRACKER = 'http://tracker.example/announce';
const PRIVATE_TRACKER = 'http://private.example/announce/secret';
const A = 'http://a.example/announce';
const B = 'http://b.example/announce';
const C = 'udp://c.example:6969/announce';
const SINGLE: FileRow[] = [['single.bin', 65537, 0]];
/** mktorrent sorts paths bytewise and keeps the zero-length file. */
const MK_TREE: FileRow[] = [
  ['README.txt', 1000, 0],
  ['empty.dat', 0, 1000],
  ['naïve/日本語.txt', 5000, 1000],
  ['src/lib/deep/x.bin', 30000, 6000],
  ['src/main.bin', 40000, 36000],
  ['Ελληνικά.bin', 4000, 76000],
];
/** transmission-create sorts case-insensitively on signed chars (so non-ASCII first) and leaves out empty files. */
const TR_TREE: FileRow[] = [
  ['Ελληνικά.bin', 4000, 0],
  ['naïve/日本語.txt', 5000, 4000],
  ['README.txt', 1000, 9000],
  ['src/lib/deep/x.bin', 30000, 10000],
  ['src/main.bin', 40000, 40000],
];
/** libtorrent (canonical_files) pads every file but empty ones to a piece boundary (BEP 47). */
const LT_TREE: FileRow[] = [
  ['README.txt', 1000, 0],
  ['.pad/15384', 15384, 1000, true],
  ['empty.dat', 0, 16384],
  ['naïve/日本語.txt', 5000, 16384],
  ['.pad/11384', 11384, 21384, true],
  ['src/lib/deep/x.bin', 30000, 32768],
  ['.pad/2768', 2768, 62768, true],
  ['src/main.bin', 40000, 65536],
  ['.pad/9152', 9152, 105536, true],
  ['Ελληνικά.bin', 4000, 114688],
  ['.pad/12384', 12384, 118688, true],
];
const MKTORRENT = /^mktorrent 1\./;
const TRANSMISSION = /^Transmission\//;
const LIBTORRENT = /^libtorrent /;

const FIXTURES: Record<string, Expected> = {
  // 64 KiB + 1 byte in 32 KiB pieces: the last piece is one byte.
  'mktorrent-single.torrent': {
    name: 'single.bin', multiFile: false, pieceLength: 32768, pieceCount: 3, totalLength: 65537, private: false,
    announce: [[TRACKER]], files: SINGLE, data: 'single.bin', createdBy: MKTORRENT, hasCreationDate: false,
  },
  'mktorrent-multi.torrent': {
    name: 'tree', multiFile: true, pieceLength: 32768, pieceCount: 3, totalLength: 80000, private: false,
    announce: [[A, B], [C]], files: MK_TREE, data: 'tree', urlList: ['http://seed.example/files/'],
    comment: 'multi-file fixture', createdBy: MKTORRENT, hasCreationDate: false,
  },
  'mktorrent-private.torrent': {
    name: 'single.bin', multiFile: false, pieceLength: 32768, pieceCount: 3, totalLength: 65537, private: true,
    announce: [[PRIVATE_TRACKER]], files: SINGLE, data: 'single.bin', createdBy: MKTORRENT, hasCreationDate: false,
  },
  // A folder holding one file is still a multi-file torrent, named after the folder.
  'mktorrent-unicode.torrent': {
    name: 'naïve', multiFile: true, pieceLength: 32768, pieceCount: 1, totalLength: 5000, private: false,
    announce: [[TRACKER]], files: [['日本語.txt', 5000, 0]], data: 'tree/naïve', createdBy: MKTORRENT, hasCreationDate: false,
  },
  // 16 KiB pieces; the last piece is one byte.
  'transmission-single.torrent': {
    name: 'single.bin', multiFile: false, pieceLength: 16384, pieceCount: 5, totalLength: 65537, private: false,
    announce: [[TRACKER]], files: SINGLE, data: 'single.bin', createdBy: TRANSMISSION, hasCreationDate: true,
  },
  'transmission-multi.torrent': {
    name: 'tree', multiFile: true, pieceLength: 32768, pieceCount: 3, totalLength: 80000, private: false,
    announce: [[A], [C]], files: TR_TREE, data: 'tree', createdBy: TRANSMISSION, hasCreationDate: true,
  },
  'transmission-private.torrent': {
    name: 'tree', multiFile: true, pieceLength: 16384, pieceCount: 5, totalLength: 80000, private: true,
    announce: [[PRIVATE_TRACKER]], files: TR_TREE, data: 'tree', createdBy: TRANSMISSION, hasCreationDate: true,
  },
  'libtorrent-padded.torrent': {
    name: 'tree', multiFile: true, pieceLength: 16384, pieceCount: 8, totalLength: 131072, private: false,
    announce: [[TRACKER]], files: LT_TREE, data: 'tree', createdBy: LIBTORRENT, hasCreationDate: false,
  },
  // v1+v2 hybrid: `file tree`, `meta version` and `piece layers` are ignored, the v1 hash still covers the whole info dict.
  'libtorrent-hybrid.torrent': {
    name: 'tree', multiFile: true, pieceLength: 16384, pieceCount: 8, totalLength: 131072, private: false,
    announce: [[TRACKER]], files: LT_TREE, data: 'tree', createdBy: LIBTORRENT, hasCreationDate: false,
  },
};

/** The torrent's concatenated data, rebuilt from the source files (zeros for padding). */
function contentOf(meta: Metainfo, dataPath: string): Buffer {
  const parts = meta.files.map((f) => {
    if (f.padding) return Buffer.alloc(f.length);
    return readFileSync(meta.multiFile ? join(dataDir, dataPath, ...f.path) : join(dataDir, dataPath));
  });
  return Buffer.concat(parts);
}

describe('parseMetainfo on fixtures from mktorrent, transmission-create and libtorrent', () => {
  it('has an expectation for every fixture file', () => {
    expect(readdirSync(fixtureDir).filter((f) => f.endsWith('.torrent')).sort()).toEqual(Object.keys(FIXTURES).sort());
  });

  for (const [file, want] of Object.entries(FIXTURES)) {
    describe(file, () => {
      const meta = load(file);

      it('reads name, geometry, flags and trackers', () => {
        expect(meta.name).toBe(want.name);
        expect(Buffer.from(meta.nameBytes).toString('utf8')).toBe(want.name);
        expect(meta.multiFile).toBe(want.multiFile);
        expect(meta.pieceLength).toBe(want.pieceLength);
        expect(meta.pieceCount).toBe(want.pieceCount);
        expect(meta.pieceHashes).toHaveLength(want.pieceCount * 20);
        expect(meta.totalLength).toBe(want.totalLength);
        expect(meta.private).toBe(want.private);
        expect(meta.announce).toEqual(want.announce);
        expect(meta.urlList).toEqual(want.urlList ?? []);
        expect(meta.comment).toBe(want.comment);
        expect(meta.createdBy).toMatch(want.createdBy);
        expect(typeof meta.creationDate === 'number').toBe(want.hasCreationDate);
      });

      it('lists files with lengths, offsets and padding', () => {
        const rows = meta.files.map((f): FileRow => (f.padding ? [f.path.join('/'), f.length, f.offset, true] : [f.path.join('/'), f.length, f.offset]));
        expect(rows).toEqual(want.files);
      });

      it('has the SHA-1 of the raw info dict as its info hash', () => {
        expect(meta.infoHashHex).toBe(sha1(meta.infoBytes));
        expect(Buffer.from(meta.infoHash).toString('hex')).toBe(meta.infoHashHex);
        const raw = readFileSync(join(fixtureDir, file));
        expect(raw.indexOf(Buffer.from(meta.infoBytes))).toBeGreaterThan(0);
      });

      it('has piece hashes that match the source data', () => {
        const content = contentOf(meta, want.data);
        expect(content.length).toBe(meta.totalLength);
        for (let i = 0; i < meta.pieceCount; i++) {
          const piece = content.subarray(i * meta.pieceLength, (i + 1) * meta.pieceLength);
          expect(Buffer.from(pieceHash(meta, i)).toString('hex'), `piece ${i}`).toBe(sha1(piece));
        }
        // The last piece is short in every fixture but the padded ones.
        const lastLength = meta.totalLength - (meta.pieceCount - 1) * meta.pieceLength;
        expect(lastLength < meta.pieceLength).toBe(!file.startsWith('libtorrent-'));
      });
    });
  }
});

// ---------------------------------------------------------------- hand-built torrents

const HASH = Buffer.alloc(20, 0xab);
/** A valid single-file info dict (100 bytes, one piece), with keys replaced or removed (undefined). */
const info = (over: Record<string, BEncodable | undefined> = {}): Record<string, BEncodable | undefined> => ({
  name: 'x', 'piece length': 16384, pieces: HASH, length: 100, ...over,
});
const torrent = (infoDict: BEncodable, top: Record<string, BEncodable> = {}): Uint8Array => encodeBencode({ ...top, info: infoDict });
/** A multi-file torrent whose files fit one piece. */
const multi = (files: BEncodable, over: Record<string, BEncodable | undefined> = {}): Uint8Array =>
  torrent(info({ length: undefined, files, ...over }));
const file = (path: BEncodable, length = 5, extra: Record<string, BEncodable> = {}) => ({ length, path, ...extra });
/** Four good files, then `bad` at index 3 (the brief's `info.files[3]...` shape). */
const fourth = (bad: BEncodable): Uint8Array => multi([file(['a']), file(['b']), file(['c']), bad]);

describe('parseMetainfo accepts', () => {
  it('a piece length that is not a power of two, and the largest one', () => {
    expect(parseMetainfo(torrent(info({ 'piece length': 1000 }))).pieceLength).toBe(1000);
    expect(parseMetainfo(torrent(info({ 'piece length': 2 ** 30 }))).pieceLength).toBe(2 ** 30);
  });

  it('private only when it is exactly 1', () => {
    expect(parseMetainfo(torrent(info({ private: 1 }))).private).toBe(true);
    expect(parseMetainfo(torrent(info({ private: 0 }))).private).toBe(false);
    expect(parseMetainfo(torrent(info({ private: '1' }))).private).toBe(false);
    expect(parseMetainfo(torrent(info())).private).toBe(false);
  });

  it('name.utf-8 and path.utf-8 over the raw bytes, keeping the raw bytes of the name', () => {
    const rawName = Buffer.from([0x6e, 0x61, 0xef, 0x76, 0x65]); // "naïve" in Latin-1
    const rawSeg = Buffer.from([0xe9, 0x74, 0xe9]); // "été" in Latin-1
    const m = parseMetainfo(multi([file([rawSeg], 5, { 'path.utf-8': ['été'] })], { name: rawName, 'name.utf-8': 'naïve' }));
    expect(m.name).toBe('naïve');
    expect(Buffer.from(m.nameBytes).equals(rawName)).toBe(true);
    expect(m.files[0]!.path).toEqual(['été']);
  });

  it('raw bytes that are not UTF-8, with a lossy string form', () => {
    const raw = Buffer.from([0x66, 0xff, 0x6f]);
    const m = parseMetainfo(multi([file([raw])], { name: raw }));
    expect(m.name).toBe('f\ufffdo');
    expect(Buffer.from(m.nameBytes).equals(raw)).toBe(true);
    expect(m.files[0]!.path).toEqual(['f\ufffdo']);
  });

  it('ignores name.utf-8 / path.utf-8 that are not valid UTF-8 or not the right type', () => {
    const bad = Buffer.from([0xff]);
    const m = parseMetainfo(multi([file(['a'], 5, { 'path.utf-8': [bad] }), file(['b'], 5, { 'path.utf-8': 7 })], { 'name.utf-8': bad }));
    expect(m.name).toBe('x');
    expect(m.files.map((f) => f.path)).toEqual([['a'], ['b']]);
  });

  it("a file's unknown keys, whatever they hold, and its duplicate keys, of which the last wins", () => {
    const entry = 'd6:length5:three4:pathl1:ae6:lengthi5e5:extrad1:xli1eee4:pathl1:be4:attr1:p4:attri0ee';
    const bytes = Buffer.concat([Buffer.from(`d4:infod5:filesl${entry}e4:name1:n12:piece lengthi16384e6:pieces20:`), HASH, Buffer.from('ee')]);
    expect(parseMetainfo(bytes).files).toEqual([{ path: ['b'], length: 5, offset: 0, padding: false }]);
  });

  it('BEP 47 padding files, which take up offsets', () => {
    const m = parseMetainfo(
      multi([file(['a'], 10), file(['.pad', '6'], 6, { attr: 'p' }), file(['b'], 4, { attr: 'xp' }), file(['c'], 4, { attr: 'x' })]),
    );
    expect(m.files.map((f) => [f.offset, f.padding])).toEqual([[0, false], [10, true], [16, true], [20, false]]);
    expect(m.totalLength).toBe(24);
  });

  it('a single-file torrent whose one file is the name', () => {
    const m = parseMetainfo(torrent(info({ name: 'movie.mkv' })));
    expect(m.multiFile).toBe(false);
    expect(m.files).toEqual([{ path: ['movie.mkv'], length: 100, offset: 0, padding: false }]);
  });

  it('announce tiers: announce-list over announce, dropping empty tiers and unusable URLs', () => {
    const tiers = (top: Record<string, BEncodable>) => parseMetainfo(torrent(info(), top)).announce;
    expect(tiers({})).toEqual([]);
    expect(tiers({ announce: 'http://t/a' })).toEqual([['http://t/a']]);
    expect(tiers({ announce: 'http://t/a', 'announce-list': [['http://t/b', 'http://t/c'], ['http://t/d']] })).toEqual([
      ['http://t/b', 'http://t/c'],
      ['http://t/d'],
    ]);
    expect(tiers({ announce: 'http://t/a', 'announce-list': [[], ['', '  ', Buffer.from([0xff]), 5, 'http://t/b'], 'not a tier'] })).toEqual([['http://t/b']]);
    // Nothing usable in announce-list: fall back to announce (BEP 12).
    expect(tiers({ announce: 'http://t/a', 'announce-list': [[''], []] })).toEqual([['http://t/a']]);
    expect(tiers({ announce: 'http://t/a', 'announce-list': 'http://t/b' })).toEqual([['http://t/a']]);
    expect(tiers({ announce: '' })).toEqual([]);
  });

  it('url-list as one URL or a list; ignores advisory keys of the wrong type', () => {
    expect(parseMetainfo(torrent(info(), { 'url-list': 'http://w/' })).urlList).toEqual(['http://w/']);
    expect(parseMetainfo(torrent(info(), { 'url-list': ['http://w/', '', 3] })).urlList).toEqual(['http://w/']);
    const m = parseMetainfo(torrent(info(), { comment: 5, 'created by': ['x'], 'creation date': 'yesterday' }));
    expect([m.comment, m.createdBy, m.creationDate]).toEqual([undefined, undefined, undefined]);
  });

  it('pieceHash is a view of the nth 20 bytes', () => {
    const pieces = Buffer.concat([Buffer.alloc(20, 1), Buffer.alloc(20, 2), Buffer.alloc(20, 3)]);
    const m = parseMetainfo(torrent(info({ 'piece length': 40, pieces })));
    expect(m.pieceCount).toBe(3);
    expect([0, 1, 2].map((i) => pieceHash(m, i)[0])).toEqual([1, 2, 3]);
    expect(pieceHash(m, 1)).toHaveLength(20);
  });

  it('results that do not change when the caller reuses its buffer', () => {
    const bytes = torrent(info({ name: 'keep' }));
    const m = parseMetainfo(bytes);
    const hashBefore = m.infoHashHex;
    bytes.fill(0x21);
    expect(m.name).toBe('keep');
    expect(Buffer.from(m.nameBytes).toString()).toBe('keep');
    expect(sha1(m.infoBytes)).toBe(hashBefore);
  });
});

describe('the info hash is the SHA-1 of the raw info bytes', () => {
  it('differs from a re-encoding when the info keys are not sorted', () => {
    // "pieces" before "name" and "length" last: valid bencode, not canonical.
    const rawInfo = `d12:piece lengthi16384e6:pieces20:${'\u00ab'.repeat(20)}4:name1:x6:lengthi100ee`;
    const bytes = latin1(`d8:announce10:http://t/a4:info${rawInfo}e`);
    const m = parseMetainfo(bytes);

    expect(Buffer.from(m.infoBytes).toString('latin1')).toBe(rawInfo);
    expect(m.infoHashHex).toBe(sha1(latin1(rawInfo)));
    const reencoded = encodeBencode(decodeBencode(latin1(rawInfo)) as BEncodable);
    expect(Buffer.from(reencoded).equals(Buffer.from(latin1(rawInfo)))).toBe(false);
    expect(m.infoHashHex).not.toBe(sha1(reencoded));
  });
});

describe('parseMetainfo refuses malformed torrents with a typed error naming the field', () => {
  const cases: [label: string, input: Uint8Array | string, code: MetainfoErrorCode, field: string | undefined][] = [
    // The file as a whole
    ['empty input', '', 'METAINFO_BENCODE', undefined],
    ['not bencode', 'hello world', 'METAINFO_BENCODE', undefined],
    ['truncated', 'd4:infod4:name1:x', 'METAINFO_BENCODE', undefined],
    ['trailing bytes', `${Buffer.from(torrent(info())).toString('latin1')}junk`, 'METAINFO_BENCODE', undefined],
    ['a list at the top', 'le', 'METAINFO_NOT_A_DICT', undefined],
    ['an integer at the top', 'i5e', 'METAINFO_NOT_A_DICT', undefined],
    ['no info', encodeBencode({ announce: 'http://t/a' }), 'METAINFO_MISSING_KEY', 'info'],
    ['info not a dict', encodeBencode({ info: 5 }), 'METAINFO_WRONG_TYPE', 'info'],
    ['info a list', encodeBencode({ info: [] }), 'METAINFO_WRONG_TYPE', 'info'],
    // piece length
    ['no piece length', torrent(info({ 'piece length': undefined })), 'METAINFO_MISSING_KEY', 'info.piece length'],
    ['piece length a string', torrent(info({ 'piece length': '16384' })), 'METAINFO_WRONG_TYPE', 'info.piece length'],
    ['piece length 0', torrent(info({ 'piece length': 0 })), 'METAINFO_BAD_PIECE_LENGTH', 'info.piece length'],
    ['piece length negative', torrent(info({ 'piece length': -16384 })), 'METAINFO_BAD_PIECE_LENGTH', 'info.piece length'],
    ['piece length over 2^30', torrent(info({ 'piece length': 2 ** 30 + 1 })), 'METAINFO_BAD_PIECE_LENGTH', 'info.piece length'],
    // pieces
    ['no pieces', torrent(info({ pieces: undefined })), 'METAINFO_MISSING_KEY', 'info.pieces'],
    ['pieces a list', torrent(info({ pieces: [HASH] })), 'METAINFO_WRONG_TYPE', 'info.pieces'],
    ['pieces not a multiple of 20', torrent(info({ pieces: Buffer.alloc(21) })), 'METAINFO_BAD_PIECES_LENGTH', 'info.pieces'],
    ['pieces of 19 bytes', torrent(info({ pieces: Buffer.alloc(19) })), 'METAINFO_BAD_PIECES_LENGTH', 'info.pieces'],
    ['too few hashes', torrent(info({ length: 16385 })), 'METAINFO_PIECE_COUNT_MISMATCH', 'info.pieces'],
    ['too many hashes', torrent(info({ pieces: Buffer.alloc(40) })), 'METAINFO_PIECE_COUNT_MISMATCH', 'info.pieces'],
    ['no hashes for data', torrent(info({ pieces: Buffer.alloc(0) })), 'METAINFO_PIECE_COUNT_MISMATCH', 'info.pieces'],
    // name
    ['no name', torrent(info({ name: undefined })), 'METAINFO_MISSING_KEY', 'info.name'],
    ['name an integer', torrent(info({ name: 5 })), 'METAINFO_WRONG_TYPE', 'info.name'],
    ['empty name', torrent(info({ name: '' })), 'METAINFO_BAD_PATH', 'info.name'],
    ['name .', torrent(info({ name: '.' })), 'METAINFO_BAD_PATH', 'info.name'],
    ['name ..', torrent(info({ name: '..' })), 'METAINFO_BAD_PATH', 'info.name'],
    ['absolute name', torrent(info({ name: '/etc' })), 'METAINFO_BAD_PATH', 'info.name'],
    ['name with a slash', torrent(info({ name: 'a/b' })), 'METAINFO_BAD_PATH', 'info.name'],
    ['name with a backslash', torrent(info({ name: 'a\\b' })), 'METAINFO_BAD_PATH', 'info.name'],
    ['name with NUL', torrent(info({ name: 'a\0b' })), 'METAINFO_BAD_PATH', 'info.name'],
    ['name a drive', torrent(info({ name: 'C:' })), 'METAINFO_BAD_PATH', 'info.name'],
    ['name drive-relative', torrent(info({ name: 'c:windows' })), 'METAINFO_BAD_PATH', 'info.name'],
    ['name.utf-8 climbing out', torrent(info({ 'name.utf-8': '..' })), 'METAINFO_BAD_PATH', 'info.name.utf-8'],
    // single-file length
    ['neither length nor files', torrent(info({ length: undefined })), 'METAINFO_MISSING_KEY', 'info'],
    ['length a string', torrent(info({ length: '100' })), 'METAINFO_WRONG_TYPE', 'info.length'],
    ['negative length', torrent(info({ length: -5 })), 'METAINFO_BAD_LENGTH', 'info.length'],
    ['zero length', torrent(info({ length: 0, pieces: Buffer.alloc(0) })), 'METAINFO_NO_DATA', 'info'],
    ['both length and files', torrent(info({ files: [file(['a'])] })), 'METAINFO_BOTH_LENGTH_AND_FILES', 'info'],
    // files
    ['files not a list', multi(file(['a'])), 'METAINFO_WRONG_TYPE', 'info.files'],
    ['files empty', multi([]), 'METAINFO_NO_FILES', 'info.files'],
    ['a file not a dict', fourth(['a']), 'METAINFO_WRONG_TYPE', 'info.files[3]'],
    ['a file without length', fourth({ path: ['d'] }), 'METAINFO_MISSING_KEY', 'info.files[3].length'],
    ['a file length a string', fourth(file(['d'], '5' as unknown as number)), 'METAINFO_WRONG_TYPE', 'info.files[3].length'],
    ['a negative file length', fourth(file(['d'], -1)), 'METAINFO_BAD_LENGTH', 'info.files[3].length'],
    ['lengths past 2^53', multi([file(['a'], 2 ** 53 - 1), file(['b'], 2)]), 'METAINFO_BAD_LENGTH', 'info.files[1].length'],
    ['only empty files', multi([file(['a'], 0), file(['b'], 0)], { pieces: Buffer.alloc(0) }), 'METAINFO_NO_DATA', 'info'],
    // paths
    ['a file without path', fourth({ length: 5 }), 'METAINFO_MISSING_KEY', 'info.files[3].path'],
    ['path a string', fourth(file('d')), 'METAINFO_WRONG_TYPE', 'info.files[3].path'],
    ['path empty', fourth(file([])), 'METAINFO_BAD_PATH', 'info.files[3].path'],
    ['segment an integer', fourth(file(['d', 1])), 'METAINFO_WRONG_TYPE', 'info.files[3].path[1]'],
    ['segment empty', fourth(file(['d', ''])), 'METAINFO_BAD_PATH', 'info.files[3].path[1]'],
    ['segment .', fourth(file(['d', '.'])), 'METAINFO_BAD_PATH', 'info.files[3].path[1]'],
    ['segment ..', fourth(file(['d', '..'])), 'METAINFO_BAD_PATH', 'info.files[3].path[1]'],
    ['segment .. first', fourth(file(['..', 'etc', 'passwd'])), 'METAINFO_BAD_PATH', 'info.files[3].path[0]'],
    ['segment absolute', fourth(file(['/etc', 'passwd'])), 'METAINFO_BAD_PATH', 'info.files[3].path[0]'],
    ['segment with a slash', fourth(file(['d', 'a/b'])), 'METAINFO_BAD_PATH', 'info.files[3].path[1]'],
    ['segment with a backslash', fourth(file(['d', '..\\..\\x'])), 'METAINFO_BAD_PATH', 'info.files[3].path[1]'],
    ['segment with NUL', fourth(file(['d', 'x\0.txt'])), 'METAINFO_BAD_PATH', 'info.files[3].path[1]'],
    ['segment a drive', fourth(file(['C:', 'x'])), 'METAINFO_BAD_PATH', 'info.files[3].path[0]'],
    ['segment drive-relative', fourth(file(['d', 'z:x'])), 'METAINFO_BAD_PATH', 'info.files[3].path[1]'],
    ['path.utf-8 climbing out', fourth(file(['d'], 5, { 'path.utf-8': ['ok', '..'] })), 'METAINFO_BAD_PATH', 'info.files[3].path.utf-8[1]'],
    ['raw path bad though path.utf-8 is fine', fourth(file(['..'], 5, { 'path.utf-8': ['ok'] })), 'METAINFO_BAD_PATH', 'info.files[3].path[0]'],
    // bombs
    ['nesting bomb', 'l'.repeat(100_000), 'METAINFO_BENCODE', undefined],
    ['nesting bomb inside info', `d4:info${'l'.repeat(100_000)}`, 'METAINFO_BENCODE', undefined],
    ['claimed string length past the end', 'd4:info999999999999:x', 'METAINFO_BENCODE', undefined],
    ['claimed string length past 2^53', 'd4:info99999999999999999999:x', 'METAINFO_BENCODE', undefined],
  ];

  for (const [label, input, code, field] of cases) {
    it(label, () => {
      const e = errorOf(input);
      expect([e.code, e.field]).toEqual([code, field]);
      expect(e.name).toBe('MetainfoError');
      // One line that names the field first, so a CLI can print it as is.
      expect(e.message).not.toContain('\n');
      if (field !== undefined) expect(e.message.startsWith(`${field}: `)).toBe(true);
    });
  }

  it('keeps the BencodeError as the cause', () => {
    const e = errorOf('d4:infoi1');
    expect(e.cause).toBeInstanceOf(BencodeError);
    expect((e.cause as BencodeError).code).toBe('BENCODE_TRUNCATED');
  });

  it('stops a nesting bomb by depth and a string-length bomb before allocating, quickly', () => {
    const started = performance.now();
    expect((errorOf('l'.repeat(1_000_000)).cause as BencodeError).code).toBe('BENCODE_TOO_DEEP');
    expect((errorOf('d'.repeat(1_000_000)).cause as BencodeError).code).toBe('BENCODE_SYNTAX');
    expect((errorOf('d4:info9007199254740991:x').cause as BencodeError).code).toBe('BENCODE_TRUNCATED');
    expect((errorOf('d4:info99999999999999999999:x').cause as BencodeError).code).toBe('BENCODE_INTEGER_RANGE');
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('refuses a file over maxBytes before decoding it', () => {
    const e = errorOf(new Uint8Array(1000).fill(0x6c), { maxBytes: 999 });
    expect([e.code, e.field]).toEqual(['METAINFO_TOO_LARGE', undefined]);
    expect(e.message).toMatch(/1000 bytes.*999/);
    expect(() => parseMetainfo(torrent(info()), { maxBytes: 1000 })).not.toThrow();
  });

  it('refuses more files than maxFiles', () => {
    const files = Array.from({ length: 11 }, (_, i) => file([`f${i}`], 1));
    const e = errorOf(multi(files), { maxFiles: 10 });
    expect([e.code, e.field]).toEqual(['METAINFO_TOO_LARGE', 'info.files']);
    expect(parseMetainfo(multi(files), { maxFiles: 11 }).files).toHaveLength(11);
  });
});

// ---------------------------------------------------------------- properties

/** Throws unless parseMetainfo either succeeds with a consistent result or throws a MetainfoError. */
function parsesOrRefuses(bytes: Uint8Array): void {
  let meta: Metainfo;
  try {
    meta = parseMetainfo(bytes);
  } catch (e) {
    if (e instanceof MetainfoError) return;
    throw e;
  }
  let at = 0;
  for (const f of meta.files) {
    expect(f.offset).toBe(at);
    at += f.length;
  }
  expect(meta.totalLength).toBe(at);
  expect(meta.pieceCount).toBe(Math.ceil(meta.totalLength / meta.pieceLength));
  expect(meta.infoHashHex).toBe(sha1(meta.infoBytes));
}

/** Any bencode value, biased to the shapes torrents use. */
const bvalue: fc.Arbitrary<BEncodable> = fc.letrec<{ v: BEncodable }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: -3, max: 70_000 }),
    fc.constantFrom<BEncodable>('', '.', '..', 'a', 'a/b', 'C:', 'p', Buffer.from([0xff, 0xfe]), HASH, Buffer.alloc(40)),
    fc.uint8Array({ maxLength: 45 }),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom('length', 'path', 'path.utf-8', 'attr', 'name', 'x'), tie('v'), { maxKeys: 4 }),
  ),
})).v;

/** Mostly a plausible value, sometimes anything at all, sometimes absent: deep rules get reached, and every early one too. */
const mostly = (good: fc.Arbitrary<BEncodable>): fc.Arbitrary<BEncodable | undefined> =>
  fc.oneof({ arbitrary: good, weight: 8 }, { arbitrary: bvalue, weight: 1 }, { arbitrary: fc.constant(undefined), weight: 1 });
const rare = (v: fc.Arbitrary<BEncodable>): fc.Arbitrary<BEncodable | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, { arbitrary: v, weight: 1 });

const segment = fc.oneof(
  { arbitrary: fc.constantFrom('a', 'b', 'c', 'naïve', '日本語.txt', '.pad'), weight: 10 },
  { arbitrary: fc.constantFrom('', '.', '..', 'a/b', 'a\\b', 'C:', 'x\0'), weight: 1 },
);
const fileArb = fc.record({
  length: mostly(fc.nat(40)),
  path: mostly(fc.array(segment, { minLength: 1, maxLength: 3 })),
  'path.utf-8': rare(fc.array(segment, { minLength: 1, maxLength: 2 })),
  attr: rare(fc.constantFrom('p', 'x', 'px')),
});
/** Info dicts close to valid: single-file, multi-file, or (rarely) both. */
const infoArb = fc
  .record({
    name: mostly(segment),
    'name.utf-8': rare(segment),
    'piece length': mostly(fc.constantFrom(16384, 16384, 40, 7)),
    pieces: mostly(fc.constantFrom(HASH, HASH, Buffer.alloc(40), Buffer.alloc(0), Buffer.alloc(21))),
    private: rare(fc.constantFrom(0, 1)),
    layout: fc.oneof(
      fc.record({ length: mostly(fc.nat(100)) }),
      fc.record({ files: mostly(fc.array(fileArb, { maxLength: 4 })) }),
      fc.record({ length: fc.nat(100), files: fc.array(fileArb, { maxLength: 2 }) }),
    ),
  })
  .map(({ layout, ...rest }) => ({ ...rest, ...layout }));

describe('parseMetainfo only ever throws MetainfoError (properties)', () => {
  const fixtures = Object.keys(FIXTURES).map((f) => readFileSync(join(fixtureDir, f)));

  it('on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => parsesOrRefuses(b)), { numRuns: 2000 });
  });

  it('on fixtures with random bytes changed, inserted or cut off', () => {
    const mutated = fc
      .record({
        which: fc.nat(fixtures.length - 1),
        edits: fc.array(fc.tuple(fc.constantFrom('set', 'insert', 'delete'), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        cut: fc.option(fc.nat()),
      })
      .map(({ which, edits, cut }) => {
        const bytes = [...fixtures[which]!];
        for (const [op, at, v] of edits) {
          const i = at % (bytes.length + 1);
          if (op === 'set' && i < bytes.length) bytes[i] = v;
          else if (op === 'insert') bytes.splice(i, 0, v);
          else bytes.splice(i, 1);
        }
        return Uint8Array.from(cut === null ? bytes : bytes.slice(0, cut % (bytes.length + 1)));
      });
    fc.assert(fc.property(mutated, (b) => parsesOrRefuses(b)), { numRuns: 3000 });
  });

  it('on structurally random torrents', () => {
    const whole = fc.record({ info: fc.oneof({ arbitrary: infoArb, weight: 5 }, { arbitrary: bvalue, weight: 1 }), announce: bvalue, 'announce-list': bvalue, 'url-list': bvalue });
    fc.assert(fc.property(whole, (t) => parsesOrRefuses(encodeBencode(t as BEncodable))), { numRuns: 3000 });
  });
});
