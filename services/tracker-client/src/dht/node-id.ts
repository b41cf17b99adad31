import { randomBytes } from 'node:crypto';
import { normalizeHost } from '@seedbox/protocol';

/**
 * Node ids and the XOR metric (BEP 5): ids and info hashes share one 160-bit
 * space, and "closer" means a smaller XOR read as an unsigned number. These
 * helpers compare distances byte by byte instead of building big integers,
 * since sorting candidates is the hot path of every lookup.
 */

/** Bytes in a node id or info hash (BEP 5: 160 bits). */
export const ID_BYTES = 20;
export const ID_BITS = ID_BYTES * 8;

/** A DHT node as we know it: its id and its UDP address. */
export interface NodeContact {
  id: Uint8Array;
  host: string;
  port: number;
}

export function randomNodeId(): Uint8Array {
  return new Uint8Array(randomBytes(ID_BYTES));
}

export function idToHex(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex');
}

export function idFromHex(hex: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F]{40}$/.test(hex)) return undefined;
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function sameId(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Negative when `a` is closer to `target` than `b`, positive when farther, 0 when equal. */
export function compareDistance(a: Uint8Array, b: Uint8Array, target: Uint8Array): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const da = a[i]! ^ target[i]!;
    const db = b[i]! ^ target[i]!;
    if (da !== db) return da - db;
  }
  return 0;
}

/** How many leading bits `a` and `b` share (160 when equal). */
export function commonPrefixLength(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return ID_BITS;
}

/**
 * A random id that shares exactly `prefixBits` leading bits with `base` (the
 * bit after them flipped), or at least `prefixBits` when `exact` is false:
 * the target of a refresh lookup for one bucket.
 */
export function randomIdWithPrefix(base: Uint8Array, prefixBits: number, exact: boolean): Uint8Array {
  const out = randomNodeId();
  const whole = Math.floor(prefixBits / 8);
  out.set(base.subarray(0, whole), 0);
  const rest = prefixBits % 8;
  if (whole < ID_BYTES) {
    const keep = (0xff00 >> rest) & 0xff; // the first `rest` bits of this byte
    out[whole] = (base[whole]! & keep) | (out[whole]! & ~keep & 0xff);
  }
  if (exact && prefixBits < ID_BITS) {
    const byte = Math.floor(prefixBits / 8);
    const mask = 0x80 >> prefixBits % 8;
    out[byte] = (out[byte]! & ~mask & 0xff) | (~base[byte]! & mask);
  }
  return out;
}

/** `host:port` with the host in its one canonical spelling: the key of every address map here. */
export function addressKey(host: string, port: number): string {
  const h = normalizeHost(host) ?? host;
  return h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
}

/** 4 or 6, by the shape of an IP address literal. */
export function addressFamily(host: string): 4 | 6 {
  return (normalizeHost(host) ?? host).includes(':') ? 6 : 4;
}
