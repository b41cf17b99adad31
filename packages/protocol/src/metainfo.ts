import { createHash } from 'node:crypto';
import {
  BencodeError,
  decodeBencode,
  decodeBencodeWithSpans,
  isBytes,
  isDict,
  isInt,
  isList,
  utf8OrUndefined,
  type BDict,
  type BValue,
} from './bencode.js';
import { MetainfoError } from './metainfo-error.js';

/**
 * Torrent metainfo (BEP 3), with announce tiers (BEP 12), the private flag
 * (BEP 27), web seeds (BEP 19 `url-list`) and padding files (BEP 47).
 *
 * The info hash is the SHA-1 of the `info` dictionary's bytes exactly as they
 * stand in the file. A torrent whose info dict is not canonical (keys out of
 * order, say) would hash differently if we re-encoded what we parsed, and no
 * peer or tracker would know the torrent by that hash.
 *
 * Names and paths: a torrent carries raw bytes, which BEP 3 says should be
 * UTF-8 but old clients wrote in the creator's locale. We keep the raw bytes
 * (`nameBytes`, `pathBytes`) and give a string form that is UTF-8 from
 * `name.utf-8` / `path.utf-8` when those are present and valid UTF-8, else
 * from the raw bytes, decoded lossily (invalid sequences become U+FFFD) when
 * they are not UTF-8. The string form can therefore map two different raw
 * names to one string; anything that needs exact names must use the bytes.
 *
 * Every path segment (and the name) becomes a file or folder name under the
 * download folder, so segments that could climb out of it or mean something
 * else to a file system are refused, in every form we hand out.
 */

export interface TorrentFile {
  /** Path segments below the torrent's folder (a single-file torrent: `[name]`). See the file comment for the encoding. */
  path: string[];
  /** The raw segments of `path` (or of `name` for a single-file torrent) as they stand in the file. */
  pathBytes: Uint8Array[];
  length: number;
  /** Where the file starts in the torrent's concatenated data. */
  offset: number;
  /** A BEP 47 padding file (`attr` contains 'p'): zeros that belong to no real file, but that still take up offsets. */
  padding: boolean;
}

export interface Metainfo {
  /** SHA-1 of `infoBytes`. */
  infoHash: Uint8Array;
  infoHashHex: string;
  name: string;
  /** The raw `name` bytes. */
  nameBytes: Uint8Array;
  pieceLength: number;
  pieceCount: number;
  /** The 20-byte SHA-1 of every piece, concatenated; see pieceHash. */
  pieceHashes: Uint8Array;
  /** Sum of all file lengths, padding files included. */
  totalLength: number;
  files: TorrentFile[];
  /** True when the info dict has `files`: the data lives in a folder named `name`, even with only one file. */
  multiFile: boolean;
  private: boolean;
  /** Tracker tiers: `announce-list` when it has any usable URL, else `[[announce]]`, else none. */
  announce: string[][];
  urlList: string[];
  comment?: string;
  createdBy?: string;
  /** Seconds since the Unix epoch. */
  creationDate?: number;
  /** The raw bytes of the info dictionary, as they stand in the file. */
  infoBytes: Uint8Array;
}

export interface MetainfoLimits {
  /** Largest .torrent accepted; default 16 MiB. */
  maxBytes?: number;
  /** Most entries in `info.files`; default 1,000,000. */
  maxFiles?: number;
}

/**
 * Pieces of more than 1 GiB are refused: no client makes them, the piece
 * buffers would be absurd, and BEP 3 leaves the upper bound to us. Anything
 * positive below that is accepted; BEP 3 does not ask for a power of two.
 */
const MAX_PIECE_LENGTH = 2 ** 30;
/** A torrent needs depth 5 (root, info, files, file, path); 32 leaves room for extensions and stops nesting bombs early. */
const MAX_DEPTH = 32;
const HASH_LENGTH = 20;

/** The 20-byte hash of piece `index`, a view into pieceHashes. */
export function pieceHash(meta: Pick<Metainfo, 'pieceHashes'>, index: number): Uint8Array {
  return meta.pieceHashes.subarray(index * HASH_LENGTH, (index + 1) * HASH_LENGTH);
}

/** The largest .torrent file taken by default (every caller that reads one caps it here). */
export const MAX_METAINFO_BYTES = 16 * 1024 * 1024;

/**
 * Parses and validates a .torrent file. Throws MetainfoError, and nothing
 * else, for any input. The byte arrays in the result are views into a private
 * copy of `bytes`, so the caller may reuse its buffer.
 */
export function parseMetainfo(bytes: Uint8Array, limits: MetainfoLimits = {}): Metainfo {
  const maxBytes = limits.maxBytes ?? MAX_METAINFO_BYTES;
  const maxFiles = limits.maxFiles ?? 1_000_000;
  if (bytes.length > maxBytes) {
    throw new MetainfoError('METAINFO_TOO_LARGE', `torrent file is ${bytes.length} bytes, more than the ${maxBytes} allowed`);
  }
  const own = new Uint8Array(bytes);

  let root: BValue;
  let infoSpan;
  try {
    const decoded = decodeBencodeWithSpans(own, ['info'], {
      maxDepth: MAX_DEPTH,
      maxBytes,
      // One more than maxFiles so an over-long file list reaches our own
      // check below and is reported against `info.files`.
      maxItems: Math.max(maxFiles + 1, 4096),
    });
    root = decoded.value;
    infoSpan = decoded.spans.get('info');
  } catch (err) {
    if (err instanceof BencodeError) {
      throw new MetainfoError('METAINFO_BENCODE', `not a valid torrent file: ${err.message}`, undefined, { cause: err });
    }
    throw err;
  }
  if (!isDict(root)) throw new MetainfoError('METAINFO_NOT_A_DICT', 'torrent file is not a bencoded dictionary');
  const info = root.get('info');
  if (info === undefined || infoSpan === undefined) throw missing('info');
  if (!isDict(info)) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a dictionary', 'info');

  const meta = fromInfo(info, own.subarray(infoSpan.start, infoSpan.end), maxFiles, {
    announce: parseTiers(root),
    urlList: parseUrlList(root.get('url-list')),
  });
  // The keys outside `info` are advisory: a wrong type there is ignored
  // rather than fatal, as other clients do.
  const comment = optionalText(root.get('comment'));
  if (comment !== undefined) meta.comment = comment;
  const createdBy = optionalText(root.get('created by'));
  if (createdBy !== undefined) meta.createdBy = createdBy;
  const date = root.get('creation date');
  if (isInt(date)) meta.creationDate = date;
  return meta;
}

/** What a torrent knows besides its info dictionary, when that comes alone (BEP 9). */
export interface InfoDictionaryExtras {
  /** Tracker tiers, e.g. a magnet link's `tr` parameters. */
  announce?: string[][];
  urlList?: string[];
}

/**
 * Parses an info dictionary on its own: the metadata a magnet link fetches
 * from peers (BEP 9), whose SHA-1 is the info hash. The rules are those of
 * parseMetainfo, and errors name the same fields (`info.pieces`, ...); the
 * trackers come from `extras`, since the info dictionary has none. Throws
 * MetainfoError, and nothing else, for any input.
 */
export function parseInfoDictionary(bytes: Uint8Array, extras: InfoDictionaryExtras = {}, limits: MetainfoLimits = {}): Metainfo {
  const maxBytes = limits.maxBytes ?? MAX_METAINFO_BYTES;
  const maxFiles = limits.maxFiles ?? 1_000_000;
  if (bytes.length > maxBytes) {
    throw new MetainfoError('METAINFO_TOO_LARGE', `info dictionary is ${bytes.length} bytes, more than the ${maxBytes} allowed`, 'info');
  }
  const own = new Uint8Array(bytes);
  let info: BValue;
  try {
    // The whole input must be the one dictionary: the info hash is the
    // SHA-1 of all of it, so trailing bytes would be hashed but not parsed.
    info = decodeBencode(own, { maxDepth: MAX_DEPTH, maxBytes, maxItems: Math.max(maxFiles + 1, 4096) });
  } catch (err) {
    if (err instanceof BencodeError) {
      throw new MetainfoError('METAINFO_BENCODE', `not a valid info dictionary: ${err.message}`, 'info', { cause: err });
    }
    throw err;
  }
  if (!isDict(info)) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a dictionary', 'info');
  return fromInfo(info, own, maxFiles, {
    announce: (extras.announce ?? []).map((tier) => tier.filter((u) => u.trim() !== '')).filter((tier) => tier.length > 0),
    urlList: extras.urlList ?? [],
  });
}

/** The Metainfo of a decoded info dictionary whose raw bytes are `infoBytes`. */
function fromInfo(info: BDict, infoBytes: Uint8Array, maxFiles: number, outer: { announce: string[][]; urlList: string[] }): Metainfo {
  const infoHash = new Uint8Array(createHash('sha1').update(infoBytes).digest());

  const pieceLength = requireInt(info, 'piece length', 'info');
  if (pieceLength <= 0 || pieceLength > MAX_PIECE_LENGTH) {
    throw new MetainfoError('METAINFO_BAD_PIECE_LENGTH', `${pieceLength} is not in 1..${MAX_PIECE_LENGTH}`, 'info.piece length');
  }
  const pieces = requireBytes(info, 'pieces', 'info');
  if (pieces.length % HASH_LENGTH !== 0) {
    throw new MetainfoError('METAINFO_BAD_PIECES_LENGTH', `is ${pieces.length} bytes, not a multiple of 20`, 'info.pieces');
  }

  const nameBytes = requireBytes(info, 'name', 'info');
  checkSegment(nameBytes, 'info.name');
  const nameUtf8 = utf8Alternative(info.get('name.utf-8'));
  if (nameUtf8) checkSegment(nameUtf8, 'info.name.utf-8');
  const name = textOf(nameUtf8 ?? nameBytes);

  const multiFile = info.has('files');
  if (multiFile && info.has('length')) {
    throw new MetainfoError('METAINFO_BOTH_LENGTH_AND_FILES', "has both 'length' (single file) and 'files' (multi-file)", 'info');
  }
  let files: TorrentFile[];
  if (multiFile) {
    files = parseFiles(info.get('files'), maxFiles);
  } else if (info.has('length')) {
    const length = requireInt(info, 'length', 'info');
    if (length < 0) throw new MetainfoError('METAINFO_BAD_LENGTH', `${length} is negative`, 'info.length');
    files = [{ path: [name], pathBytes: [nameBytes], length, offset: 0, padding: false }];
  } else {
    throw new MetainfoError('METAINFO_MISSING_KEY', "has neither 'length' (single file) nor 'files' (multi-file)", 'info');
  }
  const last = files[files.length - 1]!;
  const totalLength = last.offset + last.length;
  // Zero bytes would mean zero pieces: nothing to verify and nothing a peer
  // could ever send, which no client handles consistently.
  if (totalLength === 0) throw new MetainfoError('METAINFO_NO_DATA', 'the torrent holds no data (total length 0)', 'info');

  const pieceCount = pieces.length / HASH_LENGTH;
  // BigInt: ceil(total / pieceLength) in floating point can round down when
  // the total is near 2^53.
  const expected = Number((BigInt(totalLength) + BigInt(pieceLength) - 1n) / BigInt(pieceLength));
  if (pieceCount !== expected) {
    throw new MetainfoError(
      'METAINFO_PIECE_COUNT_MISMATCH',
      `has ${pieceCount} hashes but ${totalLength} bytes in pieces of ${pieceLength} need ${expected}`,
      'info.pieces',
    );
  }

  return {
    infoHash,
    infoHashHex: Buffer.from(infoHash).toString('hex'),
    name,
    nameBytes,
    pieceLength,
    pieceCount,
    pieceHashes: pieces,
    totalLength,
    files,
    multiFile,
    private: info.get('private') === 1,
    announce: outer.announce,
    urlList: outer.urlList,
    infoBytes,
  };
}

function parseFiles(list: BValue | undefined, maxFiles: number): TorrentFile[] {
  if (!isList(list)) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a list', 'info.files');
  if (list.length === 0) throw new MetainfoError('METAINFO_NO_FILES', 'is an empty list', 'info.files');
  if (list.length > maxFiles) throw new MetainfoError('METAINFO_TOO_LARGE', `has ${list.length} files, more than the ${maxFiles} allowed`, 'info.files');
  const files: TorrentFile[] = [];
  let offset = 0;
  list.forEach((entry, i) => {
    const field = `info.files[${i}]`;
    if (!isDict(entry)) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a dictionary', field);
    const length = requireInt(entry, 'length', field);
    if (length < 0) throw new MetainfoError('METAINFO_BAD_LENGTH', `${length} is negative`, `${field}.length`);
    const pathBytes = requirePath(entry.get('path'), `${field}.path`);
    const utf8 = utf8PathAlternative(entry.get('path.utf-8'));
    if (utf8) utf8.forEach((seg, j) => checkSegment(seg, `${field}.path.utf-8[${j}]`));
    const attr = entry.get('attr');
    const padding = isBytes(attr) && attr.includes(0x70); // 'p'
    files.push({ path: (utf8 ?? pathBytes).map(textOf), pathBytes, length, offset, padding });
    offset += length;
    if (!Number.isSafeInteger(offset)) throw new MetainfoError('METAINFO_BAD_LENGTH', 'the file lengths add up to more than 2^53', `${field}.length`);
  });
  return files;
}

function requirePath(v: BValue | undefined, field: string): Uint8Array[] {
  if (v === undefined) throw missing(field);
  if (!isList(v)) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a list', field);
  if (v.length === 0) throw new MetainfoError('METAINFO_BAD_PATH', 'is an empty list', field);
  return v.map((seg, j) => {
    if (!isBytes(seg)) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a byte string', `${field}[${j}]`);
    checkSegment(seg, `${field}[${j}]`);
    return seg;
  });
}

/** `name.utf-8` when it is a byte string of valid UTF-8; anything else is ignored, as BEP 3 does not define the key. */
function utf8Alternative(v: BValue | undefined): Uint8Array | undefined {
  return isBytes(v) && utf8OrUndefined(v) !== undefined ? v : undefined;
}

/** `path.utf-8` when it is a non-empty list of valid UTF-8 byte strings; else ignored. */
function utf8PathAlternative(v: BValue | undefined): Uint8Array[] | undefined {
  if (!isList(v) || v.length === 0) return undefined;
  const segs: Uint8Array[] = [];
  for (const seg of v) {
    const ok = utf8Alternative(seg);
    if (!ok) return undefined;
    segs.push(ok);
  }
  return segs;
}

function missing(field: string): MetainfoError {
  const dot = field.lastIndexOf('.');
  const key = field.slice(dot + 1);
  return new MetainfoError('METAINFO_MISSING_KEY', `required key '${key}' is missing`, field);
}

function requireInt(d: BDict, key: string, parent: string): number {
  const v = d.get(key);
  if (v === undefined) throw missing(`${parent}.${key}`);
  if (!isInt(v)) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not an integer', `${parent}.${key}`);
  return v;
}

function requireBytes(d: BDict, key: string, parent: string): Uint8Array {
  const v = d.get(key);
  if (v === undefined) throw missing(`${parent}.${key}`);
  if (!isBytes(v)) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a byte string', `${parent}.${key}`);
  return v;
}

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
const COLON = 0x3a;

/**
 * One path segment must name one entry inside the torrent's folder: '/' and
 * '\\' would split it (Windows takes both), '.' and '..' would climb, NUL ends
 * a C string early, and 'C:' starts an absolute (or drive-relative) Windows
 * path. A leading '/' is caught by the '/' rule.
 */
function checkSegment(seg: Uint8Array, field: string): void {
  let problem: string | undefined;
  if (seg.length === 0) problem = 'is empty';
  else if ((seg.length === 1 && seg[0] === DOT) || (seg.length === 2 && seg[0] === DOT && seg[1] === DOT)) problem = 'is a relative folder reference';
  else if (seg.includes(SLASH)) problem = "contains '/'";
  else if (seg.includes(BACKSLASH)) problem = "contains '\\'";
  else if (seg.includes(0)) problem = 'contains a NUL byte';
  else if (seg.length >= 2 && seg[1] === COLON && isAsciiLetter(seg[0]!)) problem = 'starts with a Windows drive letter';
  if (problem) {
    throw new MetainfoError('METAINFO_BAD_PATH', `path segment ${JSON.stringify(textOf(seg))} ${problem}`, field);
  }
}

function isAsciiLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** UTF-8 when valid; otherwise lossy (U+FFFD for each bad sequence). The raw bytes are kept beside it. */
function textOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

function optionalText(v: BValue | undefined): string | undefined {
  return isBytes(v) ? utf8OrUndefined(v) : undefined;
}

/** A tracker or web-seed URL: valid UTF-8 and not blank; others are dropped, not fatal. */
function url(v: BValue | undefined): string | undefined {
  if (!isBytes(v)) return undefined;
  const s = utf8OrUndefined(v)?.trim();
  return s ? s : undefined;
}

function urls(list: BValue[]): string[] {
  return list.map(url).filter((u): u is string => u !== undefined);
}

function parseTiers(root: BDict): string[][] {
  const list = root.get('announce-list');
  if (isList(list)) {
    const tiers = list.map((tier) => (isList(tier) ? urls(tier) : [])).filter((tier) => tier.length > 0);
    // BEP 12: a client that understands announce-list ignores announce.
    if (tiers.length > 0) return tiers;
  }
  const single = url(root.get('announce'));
  return single ? [[single]] : [];
}

/** BEP 19 allows one URL or a list. */
function parseUrlList(v: BValue | undefined): string[] {
  if (isBytes(v)) return urls([v]);
  if (isList(v)) return urls(v);
  return [];
}
