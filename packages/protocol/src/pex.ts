import { formatIpv4, formatIpv6, parseIpv4, parseIpv6, type PeerAddress } from './address.js';
import { BencodeError, decodeBencode, encodeBencode, isBytes, isDict, type BDict, type BValue } from './bencode.js';
import { ProtocolError } from './errors.js';

/**
 * Peer exchange (BEP 11, `ut_pex`): the payload of the extended message in
 * which a peer tells another which peers it connected to and dropped since
 * its last message. A bencoded dictionary of compact entries:
 *
 *     added     IPv4 peers, 6 bytes each (address, port, big-endian)
 *     added.f   one flags byte per entry of `added`
 *     added6    IPv6 peers, 18 bytes each
 *     added6.f  one flags byte per entry of `added6`
 *     dropped   IPv4 peers gone, 6 bytes each
 *     dropped6  IPv6 peers gone, 18 bytes each
 *
 * Framing and the id the peer wants ut_pex under are the wire codec's and
 * the session's job; these functions take and answer the payload only.
 */

/** The extension's name in the BEP 10 `m` dictionary. */
export const UT_PEX = 'ut_pex';

/** The flags byte of an added peer (BEP 11). */
export const PexFlag = {
  /** Prefers encrypted connections (MSE). */
  encryption: 0x01,
  /** A seed, or an upload-only peer. */
  seed: 0x02,
  /** Speaks uTP. */
  utp: 0x04,
  /** Speaks the holepunch extension (BEP 55). */
  holepunch: 0x08,
  /** Reachable: the sender connected to it (not only it to the sender). */
  reachable: 0x10,
} as const;

/**
 * The most peers we take in one list (added, or dropped). libtorrent sends
 * at most 50 added; four times that leaves room for other clients and
 * still bounds what one message can make us hold.
 */
export const MAX_PEX_PEERS = 200;

/** No message within the caps is larger: 2 × 200 IPv6 entries, their flags and the keys. */
export const MAX_PEX_PAYLOAD = 16 * 1024;

export type PexErrorCode =
  /** The payload is larger than MAX_PEX_PAYLOAD: refused before it is parsed. */
  | 'PEX_TOO_LARGE'
  /** The payload is not valid bencode; `cause` is the BencodeError. */
  | 'PEX_BENCODE'
  /** The bencoded value is not a dictionary, or a peer list in it is not a byte string. */
  | 'PEX_NOT_A_DICT'
  /** A peer list's length is not a multiple of its entry size (6 or 18). */
  | 'PEX_BAD_LENGTH'
  /** More than MAX_PEX_PEERS added, or dropped. */
  | 'PEX_TOO_MANY_PEERS'
  /** Our own caller asked to encode a peer the message cannot carry (not an IP literal, a port out of range). */
  | 'PEX_BAD_FIELD';

export class PexError extends ProtocolError {
  override name = 'PexError';
  declare readonly code: PexErrorCode;
  /** The key concerned, when there is one. */
  readonly key: string | undefined;
  /** The length or count the peer sent. */
  readonly received: number | undefined;

  constructor(code: PexErrorCode, message: string, details: { key?: string; received?: number; cause?: unknown } = {}) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.key = details.key;
    this.received = details.received;
  }
}

/** A peer in `added`: its address and what the sender knows of it. */
export interface PexPeer extends PeerAddress {
  /** PexFlag bits; 0 when the sender gave none. */
  flags: number;
}

export interface PexMessage {
  added: PexPeer[];
  dropped: PeerAddress[];
}

const V4 = 6;
const V6 = 18;

// ---- encoding ----

interface Compact {
  bytes: Uint8Array;
  family: 4 | 6;
}

function compact(p: PeerAddress): Compact {
  if (!Number.isInteger(p.port) || p.port < 1 || p.port > 0xffff) {
    throw new PexError('PEX_BAD_FIELD', `port of ${p.host} must be in 1..65535, got ${p.port}`);
  }
  const v4 = parseIpv4(p.host);
  const ip = v4 ?? parseIpv6(p.host);
  if (!ip) throw new PexError('PEX_BAD_FIELD', `${p.host} is not an IPv4 or IPv6 address`);
  const bytes = new Uint8Array(ip.length + 2);
  bytes.set(ip);
  bytes[ip.length] = p.port >> 8;
  bytes[ip.length + 1] = p.port & 0xff;
  return { bytes, family: v4 ? 4 : 6 };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The payload of a ut_pex message. Addresses must be IP literals (an
 * IPv4-mapped IPv6 address goes into `added6` as given); a flags byte is
 * sent for every added peer. Throws a PexError for a peer the message
 * cannot carry, or for more than MAX_PEX_PEERS in either list.
 */
export function encodePex(m: PexMessage): Buffer {
  if (m.added.length > MAX_PEX_PEERS) throw new PexError('PEX_TOO_MANY_PEERS', `${m.added.length} added peers, at most ${MAX_PEX_PEERS}`, { key: 'added', received: m.added.length });
  if (m.dropped.length > MAX_PEX_PEERS) throw new PexError('PEX_TOO_MANY_PEERS', `${m.dropped.length} dropped peers, at most ${MAX_PEX_PEERS}`, { key: 'dropped', received: m.dropped.length });
  const added: Record<4 | 6, Uint8Array[]> = { 4: [], 6: [] };
  const flags: Record<4 | 6, number[]> = { 4: [], 6: [] };
  for (const p of m.added) {
    if (!Number.isInteger(p.flags) || p.flags < 0 || p.flags > 0xff) throw new PexError('PEX_BAD_FIELD', `flags of ${p.host} must be a byte, got ${p.flags}`);
    const c = compact(p);
    added[c.family].push(c.bytes);
    flags[c.family].push(p.flags);
  }
  const dropped: Record<4 | 6, Uint8Array[]> = { 4: [], 6: [] };
  for (const p of m.dropped) {
    const c = compact(p);
    dropped[c.family].push(c.bytes);
  }
  const dict = new Map<string, Uint8Array>([
    ['added', concat(added[4])],
    ['added.f', Uint8Array.from(flags[4])],
    ['dropped', concat(dropped[4])],
  ]);
  // The IPv6 keys only when used: IPv4-only clients never see them.
  if (added[6].length > 0) {
    dict.set('added6', concat(added[6]));
    dict.set('added6.f', Uint8Array.from(flags[6]));
  }
  if (dropped[6].length > 0) dict.set('dropped6', concat(dropped[6]));
  const bytes = encodeBencode(dict);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---- decoding ----

/** A peer list under `key`: absent is empty; its length must be a multiple of `size`. */
function list(root: BDict, key: string, size: number): Uint8Array {
  const v: BValue | undefined = root.get(key);
  if (v === undefined) return new Uint8Array(0);
  if (!isBytes(v)) throw new PexError('PEX_NOT_A_DICT', `'${key}' is not a byte string`, { key });
  if (v.length % size !== 0) {
    throw new PexError('PEX_BAD_LENGTH', `'${key}' is ${v.length} bytes, not a multiple of ${size}`, { key, received: v.length });
  }
  return v;
}

function peersOf(bytes: Uint8Array, size: number, flags: Uint8Array | undefined): PexPeer[] {
  const out: PexPeer[] = [];
  const ipLength = size - 2;
  for (let at = 0, i = 0; at < bytes.length; at += size, i++) {
    const port = (bytes[at + ipLength]! << 8) | bytes[at + ipLength + 1]!;
    // Port 0 cannot be dialled: such an entry is left out, not an error.
    if (port === 0) continue;
    const host = ipLength === 4 ? formatIpv4(bytes, at) : formatIpv6(bytes, at);
    out.push({ host, port, flags: flags?.[i] ?? 0 });
  }
  return out;
}

/**
 * Decodes a ut_pex payload. The length of every list is checked before
 * any entry is read, and more than MAX_PEX_PEERS added (or dropped) is an
 * error: a PexError, never a crash, for any input. A flags list of the
 * wrong length is ignored (the peers count, their flags are 0), and
 * unknown keys are ignored, as BEP 10 asks.
 *
 * The result does not refer to `payload`.
 */
export function decodePex(payload: Uint8Array): PexMessage {
  if (payload.length > MAX_PEX_PAYLOAD) {
    throw new PexError('PEX_TOO_LARGE', `ut_pex message is ${payload.length} bytes, more than ${MAX_PEX_PAYLOAD}`, { received: payload.length });
  }
  let root: BValue;
  try {
    root = decodeBencode(payload, { maxDepth: 4, maxItems: 64 });
  } catch (err) {
    if (!(err instanceof BencodeError)) throw err;
    throw new PexError('PEX_BENCODE', `ut_pex message is not valid bencode: ${err.message}`, { cause: err });
  }
  if (!isDict(root)) throw new PexError('PEX_NOT_A_DICT', 'ut_pex message is not a dictionary');

  const added4 = list(root, 'added', V4);
  const added6 = list(root, 'added6', V6);
  const dropped4 = list(root, 'dropped', V4);
  const dropped6 = list(root, 'dropped6', V6);
  const addedCount = added4.length / V4 + added6.length / V6;
  if (addedCount > MAX_PEX_PEERS) throw new PexError('PEX_TOO_MANY_PEERS', `${addedCount} added peers, at most ${MAX_PEX_PEERS}`, { key: 'added', received: addedCount });
  const droppedCount = dropped4.length / V4 + dropped6.length / V6;
  if (droppedCount > MAX_PEX_PEERS) throw new PexError('PEX_TOO_MANY_PEERS', `${droppedCount} dropped peers, at most ${MAX_PEX_PEERS}`, { key: 'dropped', received: droppedCount });

  const flagsFor = (key: string, count: number): Uint8Array | undefined => {
    const f = root.get(key);
    return isBytes(f) && f.length === count ? f : undefined;
  };
  return {
    added: [...peersOf(added4, V4, flagsFor('added.f', added4.length / V4)), ...peersOf(added6, V6, flagsFor('added6.f', added6.length / V6))],
    dropped: [...peersOf(dropped4, V4, undefined), ...peersOf(dropped6, V6, undefined)].map(({ host, port }) => ({ host, port })),
  };
}
