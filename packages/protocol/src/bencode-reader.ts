import { ProtocolError } from './errors.js';

/**
 * The bencode (BEP 3) reader under every decoding: bounded, strict, and
 * able to step over a value without building it.
 *
 * Decoding is our own rather than the `bencode` package's: that decoder
 * recurses without a depth bound (a torrent of a million `l` bytes
 * overflows the stack), accepts non-canonical integers and floats, and
 * builds dictionaries as plain objects, so a `__proto__` key rewrites the
 * prototype. Peers and trackers send us arbitrary bytes, so the reader must
 * reject all of that with a typed error.
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

/** Where a value stands in the input: bytes [start, end). */
export interface Span {
  start: number;
  end: number;
}

export const CH_I = 0x69;
export const CH_L = 0x6c;
export const CH_D = 0x64;
const CH_E = 0x65;
const CH_COLON = 0x3a;
const CH_MINUS = 0x2d;
const CH_0 = 0x30;
const CH_9 = 0x39;

/** Keys kept per reader: a torrent or a message uses a few dozen distinct ones. */
const KEY_CACHE_SIZE = 64;

/**
 * One pass over one input. `value` builds what it reads; `skip` checks a
 * value by the same rules and builds nothing; the rest lets a parser walk a
 * structure it knows (a torrent's file list) without the Maps and arrays of
 * the generic form.
 */
export class BencodeReader {
  pos = 0;
  readonly limits: Required<BencodeLimits>;
  /** The input as a Buffer (the same memory), so a key is read without a Buffer of its own. */
  private readonly text: Buffer;
  /**
   * The keys read so far, by a hash of their bytes. A torrent of 10,000
   * files has 20,000 dictionary keys and three distinct ones: each string is
   * made once.
   */
  private readonly keys = new Map<number, string>();
  /** Top-level keys whose values' spans are recorded (the value is still built). */
  private readonly spanKeys: ReadonlySet<string>;
  readonly spans = new Map<string, Span>();
  /** Key paths whose values are stepped over, not built; their spans land in `skipped`, by index. */
  private readonly skipPaths: readonly (readonly string[])[];
  readonly skipped: (Span | undefined)[] = [];
  private readonly deepestSkip: number;
  /** The keys leading to the value being read, while that is no deeper than the deepest skip path. */
  private readonly trail: string[] = [];

  constructor(
    readonly buf: Uint8Array,
    limits?: BencodeLimits,
    options: { spanKeys?: readonly string[]; skipPaths?: readonly (readonly string[])[] } = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    if (buf.length > this.limits.maxBytes) {
      throw new BencodeError('BENCODE_TOO_LARGE', `input is ${buf.length} bytes, more than the ${this.limits.maxBytes} allowed`, 0);
    }
    this.text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    this.spanKeys = new Set(options.spanKeys);
    this.skipPaths = options.skipPaths ?? [];
    this.deepestSkip = Math.max(0, ...this.skipPaths.map((path) => path.length));
  }

  fail(code: BencodeErrorCode, message: string, at = this.pos): never {
    throw new BencodeError(code, message, at);
  }

  /** The byte at the reading position; an error where the input ends. */
  peek(where: string): number {
    if (this.pos >= this.buf.length) this.fail('BENCODE_TRUNCATED', `input ended ${where}`);
    return this.buf[this.pos]!;
  }

  /** At an `e`: steps over it and says so. */
  atEnd(where: string): boolean {
    if (this.peek(where) !== CH_E) return false;
    this.pos++;
    return true;
  }

  value(depth: number): BValue {
    const c = this.peek('where a value was expected');
    if (c === CH_I) return this.integer();
    if (c >= CH_0 && c <= CH_9) return this.bytes();
    if (c === CH_L || c === CH_D) {
      this.deeper(depth);
      return c === CH_L ? this.list(depth + 1) : this.dict(depth + 1);
    }
    return this.fail('BENCODE_SYNTAX', `unexpected byte 0x${c.toString(16)} where a value was expected`);
  }

  /** Steps over one value, checking it by every rule `value` checks, and builds nothing. */
  skip(depth: number): void {
    const c = this.peek('where a value was expected');
    if (c === CH_I) {
      this.integer();
    } else if (c >= CH_0 && c <= CH_9) {
      this.stringLength();
    } else if (c === CH_L) {
      this.deeper(depth);
      this.pos++;
      for (let n = 0; !this.atEnd('inside a list'); n++) {
        if (n >= this.limits.maxItems) this.fail('BENCODE_TOO_LARGE', `list has more than ${this.limits.maxItems} items`);
        this.skip(depth + 1);
      }
    } else if (c === CH_D) {
      this.deeper(depth);
      this.pos++;
      let previousAt = -1;
      let previousLen = 0;
      for (let n = 0; !this.atEnd('inside a dictionary'); n++) {
        const keyAt = this.dictKeyStart(n);
        const len = this.stringLength();
        const at = this.pos - len;
        this.checkKeyOrder(previousAt, previousLen, at, len, keyAt);
        previousAt = at;
        previousLen = len;
        this.skip(depth + 1);
      }
    } else {
      this.fail('BENCODE_SYNTAX', `unexpected byte 0x${c.toString(16)} where a value was expected`);
    }
  }

  integer(): number {
    this.pos++; // 'i'
    return this.digits(CH_E, true);
  }

  /** A byte string: a view into the input, not a copy. */
  bytes(): Uint8Array {
    const len = this.stringLength();
    return this.buf.subarray(this.pos - len, this.pos);
  }

  /** A dictionary key (the reader is at its length): its latin1 string, the one made for the same bytes before if any. */
  key(): string {
    const len = this.stringLength();
    const at = this.pos - len;
    const buf = this.buf;
    let hash = len;
    for (let i = at; i < at + len; i++) hash = (Math.imul(hash, 31) + buf[i]!) | 0;
    const known = this.keys.get(hash);
    if (known !== undefined && known.length === len) {
      let same = true;
      for (let i = 0; i < len && same; i++) same = known.charCodeAt(i) === buf[at + i];
      if (same) return known;
    }
    const made = this.text.toString('latin1', at, at + len);
    if (known === undefined && this.keys.size < KEY_CACHE_SIZE) this.keys.set(hash, made);
    return made;
  }

  /** Before the `n`th key of a dictionary: checks it is one, and that the dictionary may have another. */
  dictKeyStart(n: number): number {
    const c = this.peek('inside a dictionary');
    if (c < CH_0 || c > CH_9) this.fail('BENCODE_SYNTAX', 'dictionary key is not a byte string');
    if (n >= this.limits.maxItems) this.fail('BENCODE_TOO_LARGE', `dictionary has more than ${this.limits.maxItems} keys`);
    return this.pos;
  }

  private deeper(depth: number): void {
    if (depth >= this.limits.maxDepth) this.fail('BENCODE_TOO_DEEP', `nesting deeper than ${this.limits.maxDepth}`);
  }

  /** Reads a string's length and steps over its bytes; returns the length (the string ends at `pos`). */
  stringLength(): number {
    const at = this.pos;
    const len = this.digits(CH_COLON, false);
    // The length check comes before any view or copy: a claimed length past
    // the end of the input is an error, never an allocation.
    if (len > this.buf.length - this.pos) {
      this.fail('BENCODE_TRUNCATED', `string claims ${len} bytes but only ${this.buf.length - this.pos} remain`, at);
    }
    this.pos += len;
    return len;
  }

  /** Reads digits up to `terminator`, returning the integer. Canonical form only. */
  private digits(terminator: number, allowNegative: boolean): number {
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

  private list(depth: number): BValue[] {
    this.pos++; // 'l'
    const out: BValue[] = [];
    while (!this.atEnd('inside a list')) {
      if (out.length >= this.limits.maxItems) this.fail('BENCODE_TOO_LARGE', `list has more than ${this.limits.maxItems} items`);
      out.push(this.value(depth));
    }
    return out;
  }

  private dict(depth: number): BDict {
    this.pos++; // 'd'
    const out: BDict = new Map();
    let previousAt = -1;
    let previousLen = 0;
    const tracked = depth <= this.deepestSkip;
    for (let n = 0; !this.atEnd('inside a dictionary'); n++) {
      const keyAt = this.dictKeyStart(n);
      const key = this.key();
      // latin1: one character per byte.
      const at = this.pos - key.length;
      this.checkKeyOrder(previousAt, previousLen, at, key.length, keyAt);
      previousAt = at;
      previousLen = key.length;
      const valueStart = this.pos;
      if (tracked) {
        // Cut back to this dictionary's own trail: a list on the way set no
        // key, and leaves a hole there that no skip path matches.
        this.trail.length = depth - 1;
        this.trail.push(key);
        const skip = this.skipIndex();
        if (skip >= 0) {
          this.skip(depth);
          this.skipped[skip] = { start: valueStart, end: this.pos };
          continue;
        }
      }
      const value = this.value(depth);
      if (depth === 1 && this.spanKeys.has(key)) this.spans.set(key, { start: valueStart, end: this.pos });
      // Duplicate keys: the last one wins, as in most decoders.
      out.set(key, value);
    }
    return out;
  }

  /** Which skip path the trail of keys is, or -1. */
  private skipIndex(): number {
    for (let i = 0; i < this.skipPaths.length; i++) {
      const path = this.skipPaths[i]!;
      if (path.length === this.trail.length && path.every((k, j) => k === this.trail[j])) return i;
    }
    return -1;
  }

  /** With strictKeyOrder: the key of `len` bytes at `at` must sort after the one before it (previousAt -1: none). */
  private checkKeyOrder(previousAt: number, previousLen: number, at: number, len: number, keyAt: number): void {
    if (this.limits.strictKeyOrder && previousAt >= 0 && this.compareRanges(previousAt, previousLen, at, len) >= 0) {
      this.fail('BENCODE_KEY_ORDER', 'dictionary keys are not sorted', keyAt);
    }
  }

  private compareRanges(a: number, aLen: number, b: number, bLen: number): number {
    const buf = this.buf;
    for (let i = 0; i < aLen && i < bLen; i++) {
      const d = buf[a + i]! - buf[b + i]!;
      if (d !== 0) return d;
    }
    return aLen - bLen;
  }
}
