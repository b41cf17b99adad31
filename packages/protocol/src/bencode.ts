import bencode from 'bencode';
import { BencodeReader, type BDict, type BValue, type BencodeLimits, type Span } from './bencode-reader.js';

/**
 * Bencode (BEP 3): decoding by our strict, bounded reader (bencode-reader.ts
 * says why it is our own), encoding by the `bencode` package, which sorts
 * keys bytewise as the spec asks and takes Maps and Uint8Arrays, which is
 * all we need.
 */

export { BencodeError, type BDict, type BValue, type BencodeErrorCode, type BencodeLimits, type Span } from './bencode-reader.js';

/**
 * Decodes exactly one bencoded value that fills the whole input. Byte strings
 * in the result are views into `buf`, not copies.
 */
export function decodeBencode(buf: Uint8Array, limits?: BencodeLimits): BValue {
  return decodeBencodeWithSpans(buf, [], limits).value;
}

/**
 * Like decodeBencode, and also reports where the values of the given keys of
 * the top-level dictionary stand in the input. The info hash is the SHA-1 of
 * exactly those bytes for `info`, never of a re-encoding.
 *
 * `skip` names values by their key paths (`['info', 'files']`) to be checked
 * but not built: they are left out of their dictionaries, and `skipped[i]`
 * is where the value of `skip[i]` stands (undefined when absent), for a
 * parser that reads it straight from the bytes with a BencodeReader.
 */
export function decodeBencodeWithSpans(
  buf: Uint8Array,
  keys: readonly string[],
  limits?: BencodeLimits,
  skip: readonly (readonly string[])[] = [],
): { value: BValue; spans: Map<string, Span>; skipped: (Span | undefined)[] } {
  const r = new BencodeReader(buf, limits, { spanKeys: keys, skipPaths: skip });
  const value = r.value(0);
  if (r.pos !== buf.length) r.fail('BENCODE_TRAILING_DATA', `${buf.length - r.pos} bytes after the value`);
  return { value, spans: r.spans, skipped: r.skipped };
}

/**
 * Decodes one value from the front of `buf` and says how many bytes it used,
 * for formats where bencode is followed by other data (BEP 9 metadata pieces).
 */
export function decodeBencodePrefix(buf: Uint8Array, limits?: BencodeLimits): { value: BValue; used: number } {
  const r = new BencodeReader(buf, limits);
  const value = r.value(0);
  return { value, used: r.pos };
}

/** A value that can be encoded: numbers must be integers. Strings are UTF-8. */
export type BEncodable = number | string | Uint8Array | readonly BEncodable[] | ReadonlyMap<string, BEncodable> | { readonly [key: string]: BEncodable | undefined };

/** Encodes with keys sorted bytewise, as BEP 3 requires. */
export function encodeBencode(value: BEncodable): Uint8Array {
  return bencode.encode(value) as Uint8Array;
}

// ---- typed accessors, used by every parser of bencoded structures ----

export function isDict(v: BValue | undefined): v is BDict {
  return v instanceof Map;
}

export function isBytes(v: BValue | undefined): v is Uint8Array {
  return v instanceof Uint8Array;
}

export function isList(v: BValue | undefined): v is BValue[] {
  return Array.isArray(v);
}

export function isInt(v: BValue | undefined): v is number {
  return typeof v === 'number';
}

/** UTF-8 text of a byte string, or undefined when the bytes are not valid UTF-8. */
export function utf8OrUndefined(bytes: Uint8Array): string | undefined {
  try {
    return UTF8_STRICT.decode(bytes);
  } catch {
    return undefined;
  }
}

const UTF8_STRICT = new TextDecoder('utf-8', { fatal: true });
