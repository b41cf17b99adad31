import { CH_D, CH_I, CH_L, type BencodeReader, type Span } from './bencode-reader.js';
import { MetainfoError } from './metainfo-error.js';
import type { TorrentFile } from './metainfo.js';

/**
 * A multi-file torrent's `info.files`, read straight from the bytes.
 *
 * The generic decoder would build a Map per file and a list per path, all
 * alive until the parse ends, then turned into TorrentFiles: for a torrent
 * of 10,000 files, ~6 MB of objects the young-generation collector copied
 * twice, and most of a 110 ms parse. The decoding of the torrent steps over
 * this list (checking it by the same rules) and this walks it, keeping only
 * what a TorrentFile holds. The rules and the errors are those the parse
 * of the generic form had: duplicate keys, the last wins; a wrong type, a
 * missing key or a bad segment names the field. `depth` is the list's, as
 * the decoding that stepped over it counted (1 in an info dictionary
 * alone, 2 in a torrent).
 */
export function readFiles(r: BencodeReader, span: Span, maxFiles: number, depth: number): TorrentFile[] {
  const buf = r.buf;
  const text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  r.pos = span.start;
  if (buf[r.pos] !== CH_L) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a list', 'info.files');
  r.pos++;
  const files: TorrentFile[] = [];
  let offset = 0;
  for (let i = 0; !r.atEnd('inside a list'); i++) {
    if (i >= maxFiles) throw new MetainfoError('METAINFO_TOO_LARGE', `has more than the ${maxFiles} files allowed`, 'info.files');
    const entryAt = r.pos;
    if (buf[entryAt] !== CH_D) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a dictionary', fileField(i));
    r.pos++;
    // Where each value we read stands; the last of duplicate keys wins.
    let lengthAt = -1;
    let pathAt = -1;
    let utf8At = -1;
    let attrAt = -1;
    for (let n = 0; !r.atEnd('inside a dictionary'); n++) {
      r.dictKeyStart(n);
      const key = r.key();
      const at = r.pos;
      r.skip(depth + 2);
      if (key === 'length') lengthAt = at;
      else if (key === 'path') pathAt = at;
      else if (key === 'path.utf-8') utf8At = at;
      else if (key === 'attr') attrAt = at;
    }
    const end = r.pos;

    if (lengthAt < 0) throw missing(`${fileField(i)}.length`);
    if (buf[lengthAt] !== CH_I) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not an integer', `${fileField(i)}.length`);
    r.pos = lengthAt;
    const length = r.integer();
    if (length < 0) throw new MetainfoError('METAINFO_BAD_LENGTH', `${length} is negative`, `${fileField(i)}.length`);
    const raw = requirePath(r, pathAt, i);
    const utf8 = utf8PathAlternative(r, utf8At);
    if (utf8) {
      for (let j = 0; j < utf8.length; j += 2) checkSegment(buf, utf8[j]!, utf8[j + 1]!, () => `${fileField(i)}.path.utf-8[${j / 2}]`);
    }
    const padding = attrAt >= 0 && isPaddingAttr(r, attrAt);
    const bounds = utf8 ?? raw;
    const path: string[] = [];
    for (let j = 0; j < bounds.length; j += 2) path.push(text.toString('utf8', bounds[j], bounds[j + 1]));
    files.push({ path, length, offset, padding });
    offset += length;
    if (!Number.isSafeInteger(offset)) throw new MetainfoError('METAINFO_BAD_LENGTH', 'the file lengths add up to more than 2^53', `${fileField(i)}.length`);
    r.pos = end;
  }
  if (files.length === 0) throw new MetainfoError('METAINFO_NO_FILES', 'is an empty list', 'info.files');
  return files;
}

/** A field's name is made only for an error: 10,000 files need none. */
function fileField(i: number): string {
  return `info.files[${i}]`;
}

/** Where each segment of a file's `path` stands: start and end, by turns. */
function requirePath(r: BencodeReader, at: number, i: number): number[] {
  const field = (): string => `${fileField(i)}.path`;
  if (at < 0) throw missing(field());
  if (r.buf[at] !== CH_L) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a list', field());
  r.pos = at + 1;
  const bounds: number[] = [];
  for (let j = 0; !r.atEnd('inside a list'); j++) {
    if (!isStringStart(r.buf[r.pos]!)) throw new MetainfoError('METAINFO_WRONG_TYPE', 'is not a byte string', `${field()}[${j}]`);
    const len = r.stringLength();
    const end = r.pos;
    const start = end - len;
    checkSegment(r.buf, start, end, () => `${field()}[${j}]`);
    bounds.push(start, end);
  }
  if (bounds.length === 0) throw new MetainfoError('METAINFO_BAD_PATH', 'is an empty list', field());
  return bounds;
}

/** `path.utf-8`, where its segments stand, when it is a non-empty list of valid UTF-8 byte strings; else ignored. */
function utf8PathAlternative(r: BencodeReader, at: number): number[] | undefined {
  if (at < 0 || r.buf[at] !== CH_L) return undefined;
  r.pos = at + 1;
  const bounds: number[] = [];
  while (!r.atEnd('inside a list')) {
    if (!isStringStart(r.buf[r.pos]!)) return undefined;
    const seg = r.bytes();
    if (!isUtf8(seg)) return undefined;
    const start = seg.byteOffset - r.buf.byteOffset;
    bounds.push(start, start + seg.length);
  }
  return bounds.length > 0 ? bounds : undefined;
}

/** BEP 47: `attr` is a byte string, and 'p' in it marks a padding file. */
function isPaddingAttr(r: BencodeReader, at: number): boolean {
  if (!isStringStart(r.buf[at]!)) return false;
  r.pos = at;
  return r.bytes().includes(0x70); // 'p'
}

function isStringStart(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function missing(field: string): MetainfoError {
  const dot = field.lastIndexOf('.');
  return new MetainfoError('METAINFO_MISSING_KEY', `required key '${field.slice(dot + 1)}' is missing`, field);
}

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
const COLON = 0x3a;

/**
 * One path segment must name one entry inside the torrent's folder: '/' and
 * '\\' would split it (Windows takes both), '.' and '..' would climb, NUL ends
 * a C string early, and 'C:' starts an absolute (or drive-relative) Windows
 * path. A leading '/' is caught by the '/' rule. The segment is bytes
 * [start, end) of `buf`; `field` is called only to name a bad one.
 */
export function checkSegment(buf: Uint8Array, start: number, end: number, field: () => string): void {
  const len = end - start;
  let problem: string | undefined;
  if (len === 0) problem = 'is empty';
  else if (buf[start] === DOT && (len === 1 || (len === 2 && buf[start + 1] === DOT))) problem = 'is a relative folder reference';
  else if (len >= 2 && buf[start + 1] === COLON && isAsciiLetter(buf[start]!)) problem = 'starts with a Windows drive letter';
  else {
    for (let i = start; i < end && !problem; i++) {
      const c = buf[i];
      if (c === SLASH) problem = "contains '/'";
      else if (c === BACKSLASH) problem = "contains '\\'";
      else if (c === 0) problem = 'contains a NUL byte';
    }
  }
  if (problem) {
    throw new MetainfoError('METAINFO_BAD_PATH', `path segment ${JSON.stringify(textOf(buf.subarray(start, end)))} ${problem}`, field());
  }
}

function isAsciiLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** UTF-8 when valid; otherwise lossy (U+FFFD for each bad sequence). The raw bytes are kept beside it. */
export function textOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

const UTF8_STRICT = new TextDecoder('utf-8', { fatal: true });

function isUtf8(bytes: Uint8Array): boolean {
  try {
    UTF8_STRICT.decode(bytes);
    return true;
  } catch {
    return false;
  }
}
