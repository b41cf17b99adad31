import { WireError } from './wire-error.js';

/**
 * Helpers shared by the peer wire codecs. Internal to the package: index.ts
 * does not re-export this file.
 */

/** The one need-more answer, so that a decoder waiting for bytes allocates nothing. */
export const NEED_MORE = Object.freeze({ kind: 'need-more' }) as { kind: 'need-more' };

// Buffer's writers throw a bare RangeError (or silently truncate, for a byte
// store); a typed error names the field instead.
export function checkUint(field: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new WireError('WIRE_BAD_FIELD', `${field} must be an integer in 0..${max}, got ${value}`);
  }
}

export function checkBytesLength(field: string, value: Uint8Array, expected: number): void {
  if (!(value instanceof Uint8Array) || value.length !== expected) {
    throw new WireError('WIRE_BAD_FIELD', `${field} must be ${expected} bytes, got ${value instanceof Uint8Array ? value.length : typeof value}`, {
      received: value instanceof Uint8Array ? value.length : undefined,
      expected,
    });
  }
}
