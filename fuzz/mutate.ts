import type { Rng } from './rng.js';

/**
 * Byte-level mutations, the classic set (AFL's havoc stage, more or less):
 * bit flips, bytes and integers replaced with values that sit on
 * boundaries, ranges inserted, deleted, duplicated and spliced from
 * another seed, truncation, and the two that matter most for length-
 * prefixed formats: a bencode length or integer rewritten (huge, negative,
 * off by one, leading zero) and a binary length field overwritten with a
 * boundary value.
 */

export interface MutateContext {
  /** The target's seeds, for splicing. */
  seeds: readonly Uint8Array[];
  /** The target's tokens and the shared ones, as bytes. */
  tokens: readonly Uint8Array[];
  maxLength: number;
}

/** Bytes that mean something to one of the formats fuzzed: bencode, URLs, forms, JSON, HTTP. */
export const INTERESTING_BYTES = [
  0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x13, 0x14,
  ...Buffer.from('-e:ildi0123456789%&=+;,|"{}[]\\/.\n\r \t', 'latin1'),
];

/** Values on the edges of 8/16/32/64-bit fields, and the sizes the wire format is built on (16 KiB blocks, 68-byte handshakes). */
const INTERESTING_INTS = [
  0n, 1n, 2n, 3n, 4n, 5n, 9n, 13n, 16n, 17n, 19n, 20n, 32n, 64n, 68n, 100n, 127n, 128n, 255n, 256n, 512n, 1000n, 1024n,
  4095n, 4096n, 0x3fffn, 0x4000n, 0x4001n, 0x4009n, 0x7fffn, 0x8000n, 0xffffn, 0x10000n, 0x100000n, 0x100001n, 0x7fffffffn,
  0x80000000n, 0x80000001n, 0xfffffffen, 0xffffffffn, 0x41727101980n, 0x7fffffffffffffffn, 0x8000000000000000n,
  0xffffffffffffffffn,
];

/** What a decimal length or integer in bencode (or a form, or JSON) is rewritten to. */
const INTERESTING_NUMBERS = [
  '0', '00', '-0', '-1', '01', '1', '2', '9', '10', '19', '20', '255', '256', '16384', '16385', '65535', '65536',
  '2147483647', '2147483648', '4294967295', '4294967296', '9007199254740991', '9007199254740992', '9007199254740993',
  '99999999999999999999', '1e3', '0x10', '1.5', '', '-',
];

/** Shared tokens: bencode, URL, form and JSON syntax, and the keys every bencoded format here uses. */
export const SHARED_TOKENS = [
  'e', 'i', 'l', 'd', ':', '-', 'i0e', 'i-1e', 'i-0e', 'i01e', 'ie', '0:', '1:', 'le', 'de', 'lee', 'dee', 'd1:ai1ee', 'l'.repeat(8), 'd1:a'.repeat(4),
  '%', '%%', '%0', '%00', '%ff', '%FF', '%zz', '%C3%A9', '%ED%A0%80', '&', '&&', '=', '==', '+', '?', '#', ';', '|', ',',
  '\r\n', '\n', '\r\n\r\n', '\0', '\xff', '"', '\\', '\\u0000', '{', '}', '[', ']', 'null', 'true', 'false', '-0', '1e999',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty',
];

export function tokenBytes(tokens: readonly string[]): Uint8Array[] {
  return tokens.map((t) => new Uint8Array(Buffer.from(t, 'latin1')));
}

/** A range length: mostly a few bytes, sometimes up to 256. */
function spanLength(rng: Rng, available: number): number {
  if (available <= 0) return 0;
  const max = rng.chance(0.8) ? 8 : 256;
  return 1 + rng.below(Math.min(max, available));
}

function join(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function insertAt(data: Uint8Array, at: number, piece: Uint8Array): Uint8Array {
  return join(data.subarray(0, at), piece, data.subarray(at));
}

function overwrite(data: Uint8Array, at: number, piece: Uint8Array): Uint8Array {
  const out = Uint8Array.from(data);
  out.set(piece.subarray(0, Math.max(0, out.length - at)), at);
  return out;
}

function intBytes(value: bigint, width: number, littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(width);
  let v = BigInt.asUintN(width * 8, value);
  for (let i = 0; i < width; i++) {
    out[littleEndian ? i : width - 1 - i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

type Mutator = (data: Uint8Array, rng: Rng, ctx: MutateContext) => Uint8Array;

const flipBit: Mutator = (data, rng) => {
  if (data.length === 0) return data;
  const out = Uint8Array.from(data);
  const at = rng.below(out.length);
  out[at] = out[at]! ^ (1 << rng.below(8));
  return out;
};

const randomByte: Mutator = (data, rng) => {
  if (data.length === 0) return Uint8Array.of(rng.below(256));
  const out = Uint8Array.from(data);
  out[rng.below(out.length)] = rng.below(256);
  return out;
};

const interestingByte: Mutator = (data, rng) => {
  if (data.length === 0) return Uint8Array.of(rng.pick(INTERESTING_BYTES));
  const out = Uint8Array.from(data);
  out[rng.below(out.length)] = rng.pick(INTERESTING_BYTES);
  return out;
};

/** A 1, 2, 4 or 8-byte field overwritten (big-endian mostly, as every binary format here is) with a boundary value, or nudged by a little. */
const interestingInt: Mutator = (data, rng) => {
  const width = rng.pick([1, 2, 4, 4, 4, 8]);
  if (data.length < width) return data;
  const at = rng.below(data.length - width + 1);
  const le = rng.chance(0.1);
  let value: bigint;
  if (rng.chance(0.3)) {
    let current = 0n;
    for (let i = 0; i < width; i++) current = (current << 8n) | BigInt(data[at + (le ? width - 1 - i : i)]!);
    value = current + BigInt(rng.int(-35, 35));
  } else {
    value = rng.pick(INTERESTING_INTS);
  }
  return overwrite(data, at, intBytes(value, width, le));
};

const insertRandom: Mutator = (data, rng) => insertAt(data, rng.below(data.length + 1), rng.bytes(1 + rng.below(16)));

const insertToken: Mutator = (data, rng, ctx) => insertAt(data, rng.below(data.length + 1), rng.pick(ctx.tokens));

const overwriteToken: Mutator = (data, rng, ctx) => (data.length === 0 ? rng.pick(ctx.tokens) : overwrite(data, rng.below(data.length), rng.pick(ctx.tokens)));

const deleteRange: Mutator = (data, rng) => {
  if (data.length === 0) return data;
  const n = spanLength(rng, data.length);
  const at = rng.below(data.length - n + 1);
  return join(data.subarray(0, at), data.subarray(at + n));
};

/** A range copied elsewhere, sometimes many times over: nesting and item bombs come from this. */
const duplicateRange: Mutator = (data, rng, ctx) => {
  if (data.length === 0) return data;
  const n = spanLength(rng, data.length);
  const from = rng.below(data.length - n + 1);
  const piece = data.subarray(from, from + n);
  const times = rng.chance(0.85) ? 1 : 1 + rng.size(rng.chance(0.5) ? 8 : 14);
  const room = Math.max(0, ctx.maxLength - data.length);
  const count = Math.min(times, Math.floor(room / n));
  if (count <= 0) return data;
  const repeated = new Uint8Array(n * count);
  for (let i = 0; i < count; i++) repeated.set(piece, i * n);
  return insertAt(data, rng.below(data.length + 1), repeated);
};

/** One byte repeated: `llll…`, `dddd…`, `0000…`, `%%%%…`. */
const byteRun: Mutator = (data, rng, ctx) => {
  const byte = rng.chance(0.7) ? rng.pick(INTERESTING_BYTES) : rng.below(256);
  const n = Math.min(1 + rng.size(rng.chance(0.7) ? 8 : 17), Math.max(0, ctx.maxLength - data.length));
  if (n <= 0) return data;
  return insertAt(data, rng.below(data.length + 1), new Uint8Array(n).fill(byte));
};

const copyWithin: Mutator = (data, rng) => {
  if (data.length < 2) return data;
  const n = spanLength(rng, data.length);
  const from = rng.below(data.length - n + 1);
  const to = rng.below(data.length - n + 1);
  return overwrite(data, to, data.slice(from, from + n));
};

const truncate: Mutator = (data, rng) => (data.length === 0 ? data : data.slice(0, rng.below(data.length)));

/** Head of this input, tail of another seed (or a range of it inserted). */
const splice: Mutator = (data, rng, ctx) => {
  const other = rng.pick(ctx.seeds);
  if (other.length === 0) return data;
  if (rng.chance(0.5)) return join(data.subarray(0, rng.below(data.length + 1)), other.subarray(rng.below(other.length)));
  const n = spanLength(rng, other.length);
  const from = rng.below(other.length - n + 1);
  return insertAt(data, rng.below(data.length + 1), other.subarray(from, from + n));
};

/** A run of ASCII digits (a bencode length or integer, a port, a form number) rewritten. */
const rewriteNumber: Mutator = (data, rng) => {
  const runs: [number, number][] = [];
  for (let i = 0; i < data.length && runs.length < 256; ) {
    if (data[i]! >= 0x30 && data[i]! <= 0x39) {
      let j = i;
      while (j < data.length && data[j]! >= 0x30 && data[j]! <= 0x39) j++;
      runs.push([i, j]);
      i = j;
    } else i++;
  }
  if (runs.length === 0) return data;
  const [start, end] = rng.pick(runs);
  let text: string;
  if (rng.chance(0.5)) text = rng.pick(INTERESTING_NUMBERS);
  else {
    const current = Number(Buffer.from(data.subarray(start, end)).toString('latin1'));
    text = String(Math.max(0, current + rng.int(-3, 3)));
  }
  return join(data.subarray(0, start), new Uint8Array(Buffer.from(text, 'latin1')), data.subarray(end));
};

/** Weighted: the cheap local changes most often, the structural ones less. */
const MUTATORS: readonly [Mutator, number][] = [
  [flipBit, 6],
  [randomByte, 5],
  [interestingByte, 6],
  [interestingInt, 6],
  [insertRandom, 3],
  [insertToken, 6],
  [overwriteToken, 3],
  [deleteRange, 6],
  [duplicateRange, 4],
  [byteRun, 2],
  [copyWithin, 2],
  [truncate, 3],
  [splice, 3],
  [rewriteNumber, 7],
];
const TABLE: Mutator[] = MUTATORS.flatMap(([m, w]) => Array<Mutator>(w).fill(m));

/** 1 to 8 stacked mutations, mostly 1 to 3. */
export function mutate(input: Uint8Array, rng: Rng, ctx: MutateContext): Uint8Array {
  let data = input;
  const rounds = 1 + (rng.chance(0.6) ? rng.below(2) : rng.below(8));
  for (let i = 0; i < rounds; i++) {
    data = rng.pick(TABLE)(data, rng, ctx);
    if (data.length > ctx.maxLength) data = data.subarray(0, ctx.maxLength);
  }
  return data;
}
