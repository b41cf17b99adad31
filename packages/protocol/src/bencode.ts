import bencode from 'bencode';
import { ProtocolError } from './errors.js';

/**
 * Bencode (BEP 3).
 *
 * Decoding is our own strict, bounded decoder rather than the `bencode`
 * package's: that decoder recurses without a depth bound (a torrent of a
 * million `l` bytes overflows the stack), accepts non-canonical integers and
 * floats, and builds dictionaries as plain objects, so a `__proto__` key
 * rewrites the prototype. Peers and trackers send us arbitrary bytes, so the
 * decoder must reject all of that with a typed error. Encoding is the
 * package's: it sorts keys bytewise as the spec asks and takes Maps and
 * Uint8Arrays, which is all we need.
 */

/** A decoded bencode value. Byte strings stay bytes; dict keys are latin1 strings (lossless). */
export type BValue = number | Uint8Array | BValue[] | BDict;
export type BDict = Map<string, BValue>;

export type BencodeErrorCode =
  | 'BENCODE_TRUNCATED'
  | 'BENCODE_SYNTAX'
  | 'BENCODE_BAD_INTEGER'
  | 'BENCODE_INTEGER_RANGE'
  | 'BENCODE_TOO_DEEP'
  | 'BENCODE_TOO_LARGE'
  | 'BENCODE_TRAILING_DATA'
  | 'BENCODE_KEY_ORDER';

export class BencodeError extends ProtocolError {
  override name = 'BencodeError';
  declare readonly code: BencodeErrorCode;
  /** Byte offset in the input where the rule was broken. */
  readonly offset: number;

  constructor(code: BencodeErrorCode, message: string, offset: number) {
    super(code, `${message} (at byte ${offset})`);
    this.offset = offset;
  }
}

export interface BencodeLimits {
  /** Deepest nesting of lists and dicts; a torrent needs about 5. */
  maxDepth?: number;
  /** Largest input accepted at all. */
  maxBytes?: number;
  /** Most items in one list or dict, so a small input can't make a huge array. */
  maxItems?: number;
  /** Reject dicts whose keys are not in strictly ascending order. */
  strictKeyOrder?: boolean;
}

const DEFAULT_LIMITS: Required<BencodeLimits> = {
  maxDepth: 64,
  maxBytes: 64 * 1024 * 1024,
  maxItems: 1_000_000,
  strictKeyOrder: false,
};

const CH_I = 0x69;
const CH_L = 0x6c;
const CH_D = 0x64;
const CH_E = 0x65;
const CH_COLON = 0x3a;
const CH_MINUS = 0x2d;
const CH_0 = 0x30;
const CH_9 = 0x39;

/** Where a value stands in the input: bytes [start, end). */
export interface Span {
  start: number;
  end: number;
}

class Decoder {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly limits: Required<BencodeLimits>,
    /** Records the raw span of every value under these top-level keys. */
    readonly spanKeys: ReadonlySet<string> | undefined,
    readonly spans: Map<string, Span>,
  ) {}

  fail(code: BencodeErrorCode, message: string, at = this.pos): never {
    throw new BencodeError(code, message, at);
  }

  value(depth: number): BValue {
    if (this.pos >= this.buf.length) this.fail('BENCODE_TRUNCATED', 'input ended where a value was expected');
    const c = this.buf[this.pos]!;
    if (c === CH_I) return this.integer();
    if (c >= CH_0 && c <= CH_9) return this.bytes();
    if (c === CH_L || c === CH_D) {
      if (depth >= this.limits.maxDepth) {
        this.fail('BENCODE_TOO_DEEP', `nesting deeper than ${this.limits.maxDepth}`);
      }
      return c === CH_L ? this.list(depth + 1) : this.dict(depth + 1);
    }
    return this.fail('BENCODE_SYNTAX', `unexpected byte 0x${c.toString(16)} where a value was expected`);
  }

  /** Reads digits up to `terminator`, returning the integer. Canonical form only. */
  digits(terminator: number, allowNegative: boolean): number {
    const start = this.pos;
    const buf = this.buf;
    let negative = false;
    if (allowNegative && buf[this.pos] === CH_MINUS) {
      negative = true;
      this.pos++;
    }
    const digitsStart = this.pos;
    let value = 0;
    while (this.pos < buf.length && buf[this.pos] !== terminator) {
      const d = buf[this.pos]!;
      if (d < CH_0 || d > CH_9) this.fail('BENCODE_BAD_INTEGER', 'integer has a non-digit');
      value = value * 10 + (d - CH_0);
      if (value > Number.MAX_SAFE_INTEGER) this.fail('BENCODE_INTEGER_RANGE', 'integer is larger than 2^53', start);
      this.pos++;
    }
    if (this.pos >= buf.length) this.fail('BENCODE_TRUNCATED', 'input ended inside an integer');
    const n = this.pos - digitsStart;
    if (n === 0) this.fail('BENCODE_BAD_INTEGER', 'integer has no digits', start);
    if (n > 1 && buf[digitsStart] === CH_0) this.fail('BENCODE_BAD_INTEGER', 'integer has a leading zero', start);
    if (negative && value === 0) this.fail('BENCODE_BAD_INTEGER', 'negative zero', start);
    this.pos++; // terminator
    return negative ? -value : value;
  }

  integer(): number {
    this.pos++; // 'i'
    return this.digits(CH_E, true);
  }

  bytes(): Uint8Array {
    const at = this.pos;
    const len = this.digits(CH_COLON, false);
    // The length check comes before the slice: a claimed length past the end
    // of the input is an error, never an allocation.
    if (len > this.buf.length - this.pos) {
      this.fail('BENCODE_TRUNCATED', `string claims ${len} bytes but only ${this.buf.length - this.pos} remain`, at);
    }
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  list(depth: number): BValue[] {
    this.pos++; // 'l'
    const out: BValue[] = [];
    for (;;) {
      if (this.pos >= this.buf.length) this.fail('BENCODE_TRUNCATED', 'input ended inside a list');
      if (this.buf[this.pos] === CH_E) {
        this.pos++;
        return out;
      }
      if (out.length >= this.limits.maxItems) this.fail('BENCODE_TOO_LARGE', `list has more than ${this.limits.maxItems} items`);
      out.push(this.value(depth));
    }
  }

  dict(depth: number): BDict {
    this.pos++; // 'd'
    const out: BDict = new Map();
    let previous: Uint8Array | undefined;
    for (;;) {
      if (this.pos >= this.buf.length) this.fail('BENCODE_TRUNCATED', 'input ended inside a dictionary');
      const c = this.buf[this.pos]!;
      if (c === CH_E) {
        this.pos++;
        return out;
      }
      if (c < CH_0 || c > CH_9) this.fail('BENCODE_SYNTAX', 'dictionary key is not a byte string');
      if (out.size >= this.limits.maxItems) this.fail('BENCODE_TOO_LARGE', `dictionary has more than ${this.limits.maxItems} keys`);
      const keyAt = this.pos;
      const keyBytes = this.bytes();
      if (this.limits.strictKeyOrder && previous && compareBytes(previous, keyBytes) >= 0) {
        this.fail('BENCODE_KEY_ORDER', 'dictionary keys are not sorted', keyAt);
      }
      previous = keyBytes;
      const key = Buffer.from(keyBytes.buffer, keyBytes.byteOffset, keyBytes.byteLength).toString('latin1');
      const valueStart = this.pos;
      const value = this.value(depth);
      if (depth === 1 && this.spanKeys?.has(key)) this.spans.set(key, { start: valueStart, end: this.pos });
      // Duplicate keys: the last one wins, as in most decoders.
      out.set(key, value);
    }
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

function makeDecoder(buf: Uint8Array, limits: BencodeLimits | undefined, spanKeys?: ReadonlySet<string>): Decoder {
  const merged = { ...DEFAULT_LIMITS, ...limits };
  if (buf.length > merged.maxBytes) {
    throw new BencodeError('BENCODE_TOO_LARGE', `input is ${buf.length} bytes, more than the ${merged.maxBytes} allowed`, 0);
  }
  return new Decoder(buf, merged, spanKeys, new Map());
}

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
 */
export function decodeBencodeWithSpans(
  buf: Uint8Array,
  keys: readonly string[],
  limits?: BencodeLimits,
): { value: BValue; spans: Map<string, Span> } {
  const d = makeDecoder(buf, limits, new Set(keys));
  const value = d.value(0);
  if (d.pos !== buf.length) d.fail('BENCODE_TRAILING_DATA', `${buf.length - d.pos} bytes after the value`);
  return { value, spans: d.spans };
}

/**
 * Decodes one value from the front of `buf` and says how many bytes it used,
 * for formats where bencode is followed by other data (BEP 9 metadata pieces).
 */
export function decodeBencodePrefix(buf: Uint8Array, limits?: BencodeLimits): { value: BValue; used: number } {
  const d = makeDecoder(buf, limits);
  const value = d.value(0);
  return { value, used: d.pos };
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
