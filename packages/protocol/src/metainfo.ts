import { createHash } from 'node:crypto';
import {
  BencodeError,
  decodeBencodeWithSpans,
  isBytes,
  isDict,
  isInt,
  isList,
  utf8OrUndefined,
  type BDict,
  type BValue,
  type Span,
} from './bencode.js';
import { BencodeReader } from './bencode-reader.js';
import { checkSegment, readFiles, textOf } from './metainfo-files.js';
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
 * UTF-8 but old clients wrote in the creator's locale. We give a string form
 * that is UTF-8 from `name.utf-8` / `path.utf-8` when those are present and
 * valid UTF-8, else from the raw bytes, decoded lossily (invalid sequences
 * become U+FFFD) when they are not UTF-8. The string form can therefore map
 * two different raw names to one string (storage refuses two files on one
 * path). The name's raw bytes are kept (`nameBytes`); the files' raw path
 * segments are left in `infoBytes`, not viewed one by one: nothing reads
 * them, and a view per segment was a third of the parse of a torrent of
 * 10,000 files.
 *
 * Every path segment (and the name) becomes a file or folder name under the
 * download folder, so segments that could climb out of it or mean something
 * else to a file system are refused, in every form we hand out.
 */

export interface TorrentFile {
  /** Path segments below the torrent's folder (a single-file torrent: `[name]`). See the file comment for the encoding. */
  path: string[];
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
  let filesSpan;
  try {
    // info.files is checked here, and read by readFiles without the Maps
    // and lists of the generic form.
    const decoded = decodeBencodeWithSpans(own, ['info'], decodeLimits(maxBytes, maxFiles), [['info', 'files']]);
    root = decoded.value;
    infoSpan = decoded.spans.get('info');
    filesSpan = decoded.skipped[0];
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

  const files = filesSpan && { span: filesSpan, depth: 2, reader: new BencodeReader(own, decodeLimits(maxBytes, maxFiles)) };
  const meta = fromInfo(info, own.subarray(infoSpan.start, infoSpan.end), maxFiles, files, {
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
  let filesSpan;
  try {
    // The whole input must be the one dictionary: the info hash is the
    // SHA-1 of all of it, so trailing bytes would be hashed but not parsed.
    const decoded = decodeBencodeWithSpans(own, [], decodeLimits(maxBytes, maxFiles), [['files']]);
    info = decoded.value;
    filesSpan = decoded.skipped[0];
  } catch (err) {
    if (err instanceof BencodeError) {
      throw new MetainfoError('METAINFO_BENCODE', `not a valid info dictionary: ${err.message}`, 'info', { cause: err });
    }
    throw err;
  }
  if (!isDict(info)) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a dictionary', 'info');
  const files = filesSpan && { span: filesSpan, depth: 1, reader: new BencodeReader(own, decodeLimits(maxBytes, maxFiles)) };
  return fromInfo(info, own, maxFiles, files, {
    announce: (extras.announce ?? []).map((tier) => tier.filter((u) => u.trim() !== '')).filter((tier) => tier.length > 0),
    urlList: extras.urlList ?? [],
  });
}

function decodeLimits(maxBytes: number, maxFiles: number) {
  // One more item than maxFiles, so an over-long file list reaches
  // readFiles' own check and is reported against `info.files`.
  return { maxDepth: MAX_DEPTH, maxBytes, maxItems: Math.max(maxFiles + 1, 4096) };
}

/**
 * readFiles, whose bytes the decoding checked already: a BencodeError from
 * it would be a bug of ours, and is still answered as parseMetainfo's one
 * error type.
 */
function readFilesChecked(filesAt: FilesAt, maxFiles: number): TorrentFile[] {
  try {
    return readFiles(filesAt.reader, filesAt.span, maxFiles, filesAt.depth);
  } catch (err) {
    if (err instanceof BencodeError) throw new MetainfoError('METAINFO_BENCODE', `not a valid file list: ${err.message}`, 'info.files', { cause: err });
    throw err;
  }
}

/** Where `info.files` stands, stepped over by the decoding, and a reader to walk it. */
interface FilesAt {
  span: Span;
  depth: number;
  reader: BencodeReader;
}

/** The Metainfo of a decoded info dictionary whose raw bytes are `infoBytes`. */
function fromInfo(
  info: BDict,
  infoBytes: Uint8Array,
  maxFiles: number,
  filesAt: FilesAt | undefined,
  outer: { announce: string[][]; urlList: string[] },
): Metainfo {
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
  checkSegment(nameBytes, 0, nameBytes.length, () => 'info.name');
  const nameUtf8 = utf8Alternative(info.get('name.utf-8'));
  if (nameUtf8) checkSegment(nameUtf8, 0, nameUtf8.length, () => 'info.name.utf-8');
  const name = textOf(nameUtf8 ?? nameBytes);

  const multiFile = filesAt !== undefined;
  if (multiFile && info.has('length')) {
    throw new MetainfoError('METAINFO_BOTH_LENGTH_AND_FILES', "has both 'length' (single file) and 'files' (multi-file)", 'info');
  }
  let files: TorrentFile[];
  if (multiFile) {
    files = readFilesChecked(filesAt, maxFiles);
  } else if (info.has('length')) {
    const length = requireInt(info, 'length', 'info');
    if (length < 0) throw new MetainfoError('METAINFO_BAD_LENGTH', `${length} is negative`, 'info.length');
    files = [{ path: [name], length, offset: 0, padding: false }];
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

/** `name.utf-8` when it is a byte string of valid UTF-8; anything else is ignored, as BEP 3 does not define the key. */
function utf8Alternative(v: BValue | undefined): Uint8Array | undefined {
  return isBytes(v) && utf8OrUndefined(v) !== undefined ? v : undefined;
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
