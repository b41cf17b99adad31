import { ProtocolError } from './errors.js';

export type BitfieldErrorCode = 'BITFIELD_LENGTH' | 'BITFIELD_SPARE_BITS' | 'BITFIELD_INDEX';

export class BitfieldError extends ProtocolError {
  override name = 'BitfieldError';
  declare readonly code: BitfieldErrorCode;
  constructor(code: BitfieldErrorCode, message: string) {
    super(code, message);
  }
}

/**
 * A set of piece indices, stored as BEP 3 sends it: the high bit of the
 * first byte is piece 0.
 */
export class Bitfield {
  readonly length: number;
  private readonly bytes: Uint8Array;
  private ones = 0;

  constructor(length: number) {
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new BitfieldError('BITFIELD_LENGTH', `bitfield length ${length} is not a non-negative integer`);
    }
    this.length = length;
    this.bytes = new Uint8Array(Math.ceil(length / 8));
  }

  /**
   * Reads a BITFIELD message body for `length` pieces. BEP 3: the byte count
   * must be exactly ceil(length/8) and the spare bits at the end must be
   * clear; a peer that breaks either rule is dropped.
   */
  static fromBytes(bytes: Uint8Array, length: number): Bitfield {
    const bf = new Bitfield(length);
    if (bytes.length !== bf.bytes.length) {
      throw new BitfieldError(
        'BITFIELD_LENGTH',
        `bitfield has ${bytes.length} bytes; ${length} pieces need exactly ${bf.bytes.length}`,
      );
    }
    const spare = bf.bytes.length * 8 - length;
    if (spare > 0 && (bytes[bytes.length - 1]! & ((1 << spare) - 1)) !== 0) {
      throw new BitfieldError('BITFIELD_SPARE_BITS', `bitfield sets spare bits past piece ${length - 1}`);
    }
    bf.bytes.set(bytes);
    bf.ones = popcount(bf.bytes);
    return bf;
  }

  static full(length: number): Bitfield {
    const bf = new Bitfield(length);
    bf.bytes.fill(0xff);
    const spare = bf.bytes.length * 8 - length;
    if (spare > 0) bf.bytes[bf.bytes.length - 1] = (0xff << spare) & 0xff;
    bf.ones = length;
    return bf;
  }

  has(index: number): boolean {
    if (index < 0 || index >= this.length) return false;
    return (this.bytes[index >>> 3]! & (0x80 >>> (index & 7))) !== 0;
  }

  /** Sets the bit; answers whether it was newly set. */
  set(index: number): boolean {
    this.check(index);
    const mask = 0x80 >>> (index & 7);
    const i = index >>> 3;
    if ((this.bytes[i]! & mask) !== 0) return false;
    this.bytes[i]! |= mask;
    this.ones++;
    return true;
  }

  /** Clears the bit; answers whether it was set. */
  clear(index: number): boolean {
    this.check(index);
    const mask = 0x80 >>> (index & 7);
    const i = index >>> 3;
    if ((this.bytes[i]! & mask) === 0) return false;
    this.bytes[i]! &= ~mask;
    this.ones--;
    return true;
  }

  get count(): number {
    return this.ones;
  }

  get isComplete(): boolean {
    return this.ones === this.length;
  }

  get isEmpty(): boolean {
    return this.ones === 0;
  }

  /** A copy of the wire bytes. */
  toBytes(): Uint8Array {
    return this.bytes.slice();
  }

  clone(): Bitfield {
    return Bitfield.fromBytes(this.bytes, this.length);
  }

  /** Indices of set bits, ascending. */
  *setIndices(): IterableIterator<number> {
    for (let i = 0; i < this.length; i++) if (this.has(i)) yield i;
  }

  private check(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new BitfieldError('BITFIELD_INDEX', `piece ${index} is outside 0..${this.length - 1}`);
    }
  }
}

function popcount(bytes: Uint8Array): number {
  let n = 0;
  for (const b of bytes) {
    let x = b;
    x = x - ((x >>> 1) & 0x55);
    x = (x & 0x33) + ((x >>> 2) & 0x33);
    n += (x + (x >>> 4)) & 0x0f;
  }
  return n;
}
