import type { Rng } from './rng.js';

/**
 * Inputs made from scratch with a format's grammar, so that cases reach
 * past the first syntax check: bencode with the format's own keys, JSON
 * with the RPC's argument names, urlencoded forms with the API's
 * parameters. The encoders here are deliberately not the repo's: they
 * write what ours never would (unsorted and duplicate keys, leading
 * zeros, negative lengths now and then).
 */

const NUMBERS = [0, 1, 2, -1, 3, 6, 18, 20, 255, 256, 16383, 16384, 16385, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, -(2 ** 53)];

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function integer(rng: Rng): string {
  if (rng.chance(0.05)) return rng.pick(['-0', '01', '', '-', '1.5', '99999999999999999999']);
  return String(rng.chance(0.6) ? rng.pick(NUMBERS) : rng.int(-1000, 100_000));
}

function byteString(rng: Rng, keys: readonly string[]): string {
  let body: string;
  const r = rng.below(10);
  if (r < 3) body = rng.pick(keys);
  else if (r < 5) body = latin1(rng.bytes(rng.pick([4, 6, 12, 16, 18, 20, 36, 40, 60])));
  else if (r < 6) body = rng.pick(['http://tracker.example:6969/announce', 'udp://tracker.example:1337', 'magnet:?xt=urn:btih:' + 'ab'.repeat(20), '203.0.113.7', '::1', 'never', 'p', '..', '/etc/passwd', 'C:']);
  else body = latin1(rng.bytes(rng.size(9)));
  // Now and then a length that does not match what follows.
  const length = rng.chance(0.03) ? body.length + rng.int(-2, 2) : body.length;
  return `${length}:${body}`;
}

/** One bencoded value, as latin1 text; dict keys come mostly from `keys`. */
export function bencodeValue(rng: Rng, keys: readonly string[], depth = 0): string {
  const r = rng.below(depth >= 5 ? 2 : 4);
  if (r === 0) return `i${integer(rng)}e`;
  if (r === 1) return byteString(rng, keys);
  const n = rng.size(rng.chance(0.9) ? 3 : 6);
  let out = '';
  if (r === 2) {
    for (let i = 0; i < n; i++) out += bencodeValue(rng, keys, depth + 1);
    return `l${out}e`;
  }
  const entries: [string, string][] = [];
  for (let i = 0; i < n; i++) {
    const key = rng.chance(0.85) ? rng.pick(keys) : latin1(rng.bytes(rng.size(4)));
    entries.push([key, bencodeValue(rng, keys, depth + 1)]);
  }
  // Mostly sorted, as BEP 3 asks; sometimes not, as some clients write.
  if (rng.chance(0.8)) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [k, v] of entries) out += `${k.length}:${k}${v}`;
  return `d${out}e`;
}

/** A bencoded dictionary whose top-level keys are `keys` (each present with probability `p`), values random. */
export function bencodeDict(rng: Rng, keys: readonly string[], p = 0.6): Uint8Array {
  const entries: string[] = [];
  for (const k of [...keys].sort()) if (rng.chance(p)) entries.push(`${k.length}:${k}${bencodeValue(rng, keys, 1)}`);
  return new Uint8Array(Buffer.from(`d${entries.join('')}e`, 'latin1'));
}

export function bencodeBytes(rng: Rng, keys: readonly string[]): Uint8Array {
  return new Uint8Array(Buffer.from(bencodeValue(rng, keys), 'latin1'));
}

/** A JSON value with object keys from `keys`. */
export function jsonValue(rng: Rng, keys: readonly string[], depth = 0): unknown {
  const r = rng.below(depth >= 4 ? 5 : 7);
  switch (r) {
    case 0:
      return rng.chance(0.7) ? rng.pick(NUMBERS) : rng.pick([0.5, -0.5, 1e308, -1e-308, 1.5, Number.MAX_VALUE]);
    case 1:
      return rng.chance(0.5) ? rng.pick(keys) : rng.pick(['', 'recently-active', 'ab'.repeat(20), 'AB'.repeat(20), '/srv/seedbox/x', '../..', 'magnet:?xt=urn:btih:' + '0'.repeat(40), 'https://example.invalid/a.torrent', '\u0000', '\ud800']);
    case 2:
      return rng.chance(0.5);
    case 3:
      return null;
    case 4:
      return latin1(rng.bytes(rng.size(5)));
    case 5: {
      const n = rng.size(3);
      return Array.from({ length: n }, () => jsonValue(rng, keys, depth + 1));
    }
    default: {
      const n = rng.size(3);
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) out[rng.pick(keys)] = jsonValue(rng, keys, depth + 1);
      return out;
    }
  }
}

/** `a=1&b=x|y` with names from `names` and values that are numbers, booleans, hash lists, paths or noise. */
export function formText(rng: Rng, names: readonly string[], values: readonly string[]): string {
  const n = 1 + rng.size(3);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = rng.chance(0.9) ? rng.pick(names) : latin1(rng.bytes(rng.size(3)));
    let value: string;
    const r = rng.below(5);
    if (r === 0) value = String(rng.pick(NUMBERS));
    else if (r === 1) value = rng.pick(['true', 'false', 'True', '1', '0', '', 'all']);
    else if (r === 2) value = rng.pick(values);
    else if (r === 3) value = Array.from({ length: 1 + rng.size(3) }, () => rng.pick(values)).join(rng.pick(['|', ',', '\n', '%7C']));
    else value = encodeURIComponent(latin1(rng.bytes(rng.size(5))));
    parts.push(`${name}=${value}`);
  }
  return parts.join('&');
}
