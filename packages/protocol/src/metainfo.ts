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
} from './bencode.js';
import { ProtocolError } from './errors.js';

/**
 * Torrent metainfo (BEP 3), with announce tiers (BEP 12), the private flag
 * (BEP 27), padding files (BEP 47) and web seeds (BEP 19 `url-list`, kept).
 *
 * The info hash is the SHA-1 of the `info` dictionary's bytes exactly as
 * they stand in the file: a torrent whose info dict is not in canonical
 * order (unsorted keys, say) would get a different hash from a re-encoding,
 * and no peer would recognise it.
 */

export type MetainfoErrorCode =
  | 'METAINFO_BENCODE'
  | 'METAINFO_TOO_LARGE'
  | 'METAINFO_NOT_A_DICT'
  | 'METAINFO_MISSING_KEY'
  | 'METAINFO_WRONG_TYPE'
  | 'METAINFO_BAD_PIECE_LENGTH'
  | 'METAINFO_BAD_PIECES_LENGTH'
  | 'METAINFO_PIECE_COUNT_MISMATCH'
  | 'METAINFO_BAD_LENGTH'
  | 'METAINFO_BAD_PATH'
  | 'METAINFO_BOTH_LENGTH_AND_FILES'
  | 'METAINFO_NO_FILES'
  | 'METAINFO_EMPTY';

export class MetainfoError extends ProtocolError {
  override name = 'MetainfoError';
  declare readonly code: MetainfoErrorCode;
  /** The key path that broke the rule, e.g. `info.files[3].path[1]`. */
  readonly field: string | undefined;

  constructor(code: MetainfoErrorCode, message: string, field?: string, options?: { cause?: unknown }) {
    super(code, field ? `${field}: ${message}` : message, options);
    this.field = field;
  }
}

export interface TorrentFile {
  /** Path segments, UTF-8 (from `path.utf-8` when present and valid). Lossy where the raw bytes are not UTF-8. */
  path: string[];
  /** The raw segments as they stand in the file. */
  pathBytes: Uint8Array[];
  length: number;
  /** Where the file starts in the torrent's concatenated data. */
  offset: number;
  /** A BEP 47 padding file: zeros that belong to no real file. */
  padding: boolean;
}

export interface Metainfo {
  infoHash: Uint8Array;
  infoHashHex: string;
  name: string;
  nameBytes: Uint8Array;
  pieceLength: number;
  pieceCount: number;
  /** The 20-byte SHA-1 of every piece, concatenated. */
  pieceHashes: Uint8Array;
  totalLength: number;
  files: TorrentFile[];
  multiFile: boolean;
  private: boolean;
  /** Tracker tiers: `announce-list` when present and non-empty, else `[[announce]]`, else none. */
  announce: string[][];
  urlList: string[];
  comment?: string;
  createdBy?: string;
  creationDate?: number;
  /** The raw bytes of the info dictionary. */
  infoBytes: Uint8Array;
}

export interface MetainfoLimits {
  maxBytes?: number;
  maxFiles?: number;
}

/** Pieces of more than 1 GiB are refused: no client makes them, and block indices must fit 16 bits. */
const MAX_PIECE_LENGTH = 1 << 30;

/** The 20-byte hash of piece `index`, a view into pieceHashes. */
export function pieceHash(meta: Pick<Metainfo, 'pieceHashes'>, index: number): Uint8Array {
  return meta.pieceHashes.subarray(index * 20, index * 20 + 20);
}

export function parseMetainfo(bytes: Uint8Array, limits: MetainfoLimits = {}): Metainfo {
  const maxBytes = limits.maxBytes ?? 16 * 1024 * 1024;
  const maxFiles = limits.maxFiles ?? 1_000_000;
  if (bytes.length > maxBytes) {
    throw new MetainfoError('METAINFO_TOO_LARGE', `torrent file is ${bytes.length} bytes, more than the ${maxBytes} allowed`);
  }
  if (bytes.length === 0) throw new MetainfoError('METAINFO_EMPTY', 'torrent file is empty');
  let root: BValue;
  let infoSpan;
  try {
    const r = decodeBencodeWithSpans(bytes, ['info'], { maxDepth: 32, maxBytes, maxItems: maxFiles * 2 + 64 });
    root = r.value;
    infoSpan = r.spans.get('info');
  } catch (err) {
    if (err instanceof BencodeError) {
      throw new MetainfoError('METAINFO_BENCODE', `not a valid torrent file: ${err.message}`, undefined, { cause: err });
    }
    throw err;
  }
  if (!isDict(root)) throw new MetainfoError('METAINFO_NOT_A_DICT', 'torrent file is not a bencoded dictionary');
  const info = root.get('info');
  if (info === undefined || infoSpan === undefined) throw new MetainfoError('METAINFO_MISSING_KEY', "no 'info' dictionary", 'info');
  if (!isDict(info)) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a dictionary', 'info');

  const infoBytes = bytes.subarray(infoSpan.start, infoSpan.end);
  const infoHash = new Uint8Array(createHash('sha1').update(infoBytes).digest());

  const pieceLength = requireInt(info, 'piece length', 'info');
  if (pieceLength <= 0 || pieceLength > MAX_PIECE_LENGTH) {
    throw new MetainfoError('METAINFO_BAD_PIECE_LENGTH', `piece length ${pieceLength} is not in 1..${MAX_PIECE_LENGTH}`, 'info.piece length');
  }
  const pieces = requireBytes(info, 'pieces', 'info');
  if (pieces.length % 20 !== 0) {
    throw new MetainfoError('METAINFO_BAD_PIECES_LENGTH', `is ${pieces.length} bytes, not a multiple of 20`, 'info.pieces');
  }

  const rawName = requireBytes(info, 'name', 'info');
  const nameUtf8 = info.get('name.utf-8');
  const nameBytes = isBytes(nameUtf8) && utf8OrUndefined(nameUtf8) !== undefined ? nameUtf8 : rawName;
  checkSegment(nameBytes, 'info.name');
  const name = textOf(nameBytes);

  const hasLength = info.has('length');
  const hasFiles = info.has('files');
  if (hasLength && hasFiles) {
    throw new MetainfoError('METAINFO_BOTH_LENGTH_AND_FILES', "has both 'length' and 'files'", 'info');
  }
  const files: TorrentFile[] = [];
  let total = 0;
  if (hasFiles) {
    const list = info.get('files');
    if (!isList(list)) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a list', 'info.files');
    if (list.length === 0) throw new MetainfoError('METAINFO_NO_FILES', 'is an empty list', 'info.files');
    if (list.length > maxFiles) throw new MetainfoError('METAINFO_TOO_LARGE', `has more than ${maxFiles} files`, 'info.files');
    list.forEach((entry, i) => {
      const field = `info.files[${i}]`;
      if (!isDict(entry)) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a dictionary', field);
      const length = requireInt(entry, 'length', field);
      if (length < 0) throw new MetainfoError('METAINFO_BAD_LENGTH', `length ${length} is negative`, `${field}.length`);
      const utf8Path = entry.get('path.utf-8');
      const usable = isList(utf8Path) && utf8Path.length > 0 && utf8Path.every((s) => isBytes(s) && utf8OrUndefined(s) !== undefined);
      const pathKey = usable ? 'path.utf-8' : 'path';
      const rawPath = entry.get(pathKey);
      if (rawPath === undefined) throw new MetainfoError('METAINFO_MISSING_KEY', "no 'path'", field);
      if (!isList(rawPath)) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a list', `${field}.${pathKey}`);
      if (rawPath.length === 0) throw new MetainfoError('METAINFO_BAD_PATH', 'is an empty list', `${field}.${pathKey}`);
      const pathBytes = rawPath.map((seg, j) => {
        const segField = `${field}.${pathKey}[${j}]`;
        if (!isBytes(seg)) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a byte string', segField);
        checkSegment(seg, segField);
        return seg;
      });
      const attr = entry.get('attr');
      const padding = isBytes(attr) && Buffer.from(attr).includes(0x70); // 'p'
      files.push({ path: pathBytes.map(textOf), pathBytes, length, offset: total, padding });
      total += length;
      if (!Number.isSafeInteger(total)) throw new MetainfoError('METAINFO_BAD_LENGTH', 'total length overflows', field);
    });
  } else if (hasLength) {
    const length = requireInt(info, 'length', 'info');
    if (length < 0) throw new MetainfoError('METAINFO_BAD_LENGTH', `length ${length} is negative`, 'info.length');
    files.push({ path: [name], pathBytes: [nameBytes], length, offset: 0, padding: false });
    total = length;
  } else {
    throw new MetainfoError('METAINFO_MISSING_KEY', "has neither 'length' nor 'files'", 'info');
  }
  if (total === 0) throw new MetainfoError('METAINFO_BAD_LENGTH', 'the torrent holds no data (total length 0)', 'info');

  const pieceCount = pieces.length / 20;
  const expected = Math.ceil(total / pieceLength);
  if (pieceCount !== expected) {
    throw new MetainfoError(
      'METAINFO_PIECE_COUNT_MISMATCH',
      `has ${pieceCount} hashes but ${total} bytes in pieces of ${pieceLength} need ${expected}`,
      'info.pieces',
    );
  }

  const meta: Metainfo = {
    infoHash,
    infoHashHex: Buffer.from(infoHash).toString('hex'),
    name,
    nameBytes,
    pieceLength,
    pieceCount,
    pieceHashes: pieces,
    totalLength: total,
    files,
    multiFile: hasFiles,
    private: info.get('private') === 1,
    announce: parseTiers(root),
    urlList: parseUrlList(root.get('url-list')),
    infoBytes,
  };
  const comment = optionalText(root, 'comment');
  if (comment !== undefined) meta.comment = comment;
  const createdBy = optionalText(root, 'created by');
  if (createdBy !== undefined) meta.createdBy = createdBy;
  const date = root.get('creation date');
  if (isInt(date)) meta.creationDate = date;
  return meta;
}

function requireInt(d: BDict, key: string, parent: string): number {
  const v = d.get(key);
  if (v === undefined) throw new MetainfoError('METAINFO_MISSING_KEY', `no '${key}'`, parent);
  if (!isInt(v)) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not an integer', `${parent}.${key}`);
  return v;
}

function requireBytes(d: BDict, key: string, parent: string): Uint8Array {
  const v = d.get(key);
  if (v === undefined) throw new MetainfoError('METAINFO_MISSING_KEY', `no '${key}'`, parent);
  if (!isBytes(v)) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a byte string', `${parent}.${key}`);
  return v;
}

/**
 * A path segment becomes a file or folder name under the download folder,
 * so anything that could climb out of it or name something else is refused.
 */
function checkSegment(seg: Uint8Array, field: string): void {
  const text = Buffer.from(seg).toString('latin1');
  let problem: string | undefined;
  if (seg.length === 0) problem = 'is empty';
  else if (text === '.' || text === '..') problem = `is '${text}'`;
  else if (seg.includes(0x2f)) problem = "contains '/'";
  else if (seg.includes(0x5c)) problem = "contains '\\'";
  else if (seg.includes(0)) problem = 'contains a NUL byte';
  else if (/^[A-Za-z]:/.test(text)) problem = 'is an absolute (drive-letter) path';
  if (problem) throw new MetainfoError('METAINFO_BAD_PATH', `path segment ${JSON.stringify(textOf(seg))} ${problem}`, field);
}

/** UTF-8 when valid; otherwise a lossy rendering (the raw bytes are kept beside it). */
function textOf(bytes: Uint8Array): string {
  return utf8OrUndefined(bytes) ?? Buffer.from(bytes).toString('utf8');
}

function optionalText(d: BDict, key: string): string | undefined {
  const v = d.get(key);
  return isBytes(v) ? utf8OrUndefined(v) : undefined;
}

function url(v: BValue | undefined): string | undefined {
  if (!isBytes(v)) return undefined;
  const s = utf8OrUndefined(v)?.trim();
  return s ? s : undefined;
}

function parseTiers(root: BDict): string[][] {
  const list = root.get('announce-list');
  if (isList(list)) {
    const tiers = list
      .map((tier) => (isList(tier) ? tier.map(url).filter((u): u is string => u !== undefined) : []))
      .filter((tier) => tier.length > 0);
    if (tiers.length > 0) return tiers;
  }
  const single = url(root.get('announce'));
  return single ? [[single]] : [];
}

function parseUrlList(v: BValue | undefined): string[] {
  if (isBytes(v)) return [url(v)].filter((u): u is string => u !== undefined);
  if (isList(v)) return v.map(url).filter((u): u is string => u !== undefined);
  return [];
}
