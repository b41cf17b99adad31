import { formatIpv4, formatIpv6, parseIpv4, parseIpv6, type PeerAddress } from './address.js';
import { KrpcError } from './krpc-error.js';
import { isUnspecified } from './tracker-checks.js';

/**
 * The compact forms KRPC carries (BEP 5, BEP 32, BEP 42): node lists
 * (`nodes`, `nodes6`) and compact addresses (the entries of `values`, and
 * the `ip` a response reports). krpc.ts re-exports the public part.
 *
 *     nodes    20-byte node id, 4-byte IPv4 address, 2-byte port: 26 bytes each
 *     nodes6   20-byte node id, 16-byte IPv6 address, 2-byte port: 38 bytes each
 *     values   one string per peer: 4 + 2 bytes (IPv4) or 16 + 2 (IPv6)
 */

/** A node id, a find_node target and an info hash are all this long (BEP 5). */
export const NODE_ID_LENGTH = 20;

/** A DHT node: its id and the UDP address it answers on. */
export interface CompactNode {
  id: Uint8Array;
  /** An IPv4 dotted quad or an RFC 5952 IPv6 address, as PeerAddress in address.ts. */
  host: string;
  port: number;
}

const nodeEntryLength = (family: 4 | 6): number => NODE_ID_LENGTH + (family === 4 ? 4 : 16) + 2;

/**
 * A compact node list: `nodes` (family 4) or `nodes6` (family 6). Hosts
 * must be IP literals of the list's family (an IPv4-mapped IPv6 address is
 * refused in `nodes6`: it is an IPv4 node and belongs in `nodes`), ports
 * 1..65535 and ids NODE_ID_LENGTH bytes; anything else is a KrpcError
 * 'krpc-bad-field', since a node list we send is our own doing.
 */
export function encodeCompactNodes(nodes: readonly CompactNode[], family: 4 | 6): Buffer {
  const entry = nodeEntryLength(family);
  const out = Buffer.alloc(nodes.length * entry);
  nodes.forEach((n, i) => {
    if (!(n.id instanceof Uint8Array) || n.id.length !== NODE_ID_LENGTH) {
      throw new KrpcError('krpc-bad-field', `node id must be ${NODE_ID_LENGTH} bytes, got ${n.id instanceof Uint8Array ? n.id.length : typeof n.id}`, { key: 'id' });
    }
    const ip = family === 4 ? parseIpv4(n.host) : parseIpv6(n.host);
    if (!ip || (family === 6 && !formatIpv6(ip).includes(':'))) {
      throw new KrpcError('krpc-bad-field', `${n.host} is not an IPv${family} address, so it cannot go in '${family === 4 ? 'nodes' : 'nodes6'}'`, { key: 'host' });
    }
    checkPort('node port', n.port, 1);
    const at = i * entry;
    out.set(n.id, at);
    out.set(ip, at + NODE_ID_LENGTH);
    out.writeUInt16BE(n.port, at + NODE_ID_LENGTH + ip.length);
  });
  return out;
}

/**
 * Reads a compact node list. Never throws: every byte string is a list.
 *
 * - A trailing partial entry is ignored, as libtorrent does: the list is a
 *   hint about whom to ask next, and dropping a whole response (with its
 *   token and values) over a stray byte would cost more than it protects.
 * - Entries that cannot be contacted (port 0, address 0.0.0.0 or ::) are
 *   left out, as are IPv4-mapped addresses in `nodes6`, so every host in a
 *   family-6 list is IPv6 text.
 *
 * No separate count bound: a datagram is at most MAX_KRPC_DATAGRAM bytes,
 * which holds at most 2,520 entries. Ids are copies, so a routing table
 * that keeps them does not pin the datagram's buffer.
 */
export function decodeCompactNodes(buf: Uint8Array, family: 4 | 6): CompactNode[] {
  const entry = nodeEntryLength(family);
  const addrLen = entry - NODE_ID_LENGTH - 2;
  const out: CompactNode[] = [];
  for (let at = 0; at + entry <= buf.length; at += entry) {
    const ipAt = at + NODE_ID_LENGTH;
    const port = (buf[ipAt + addrLen]! << 8) | buf[ipAt + addrLen + 1]!;
    if (port === 0 || isUnspecified(buf, ipAt, addrLen)) continue;
    const host = family === 4 ? formatIpv4(buf, ipAt) : formatIpv6(buf, ipAt);
    if (family === 6 && !host.includes(':')) continue;
    out.push({ id: new Uint8Array(buf.subarray(at, ipAt)), host, port });
  }
  return out;
}

// ---- compact addresses: `values` entries and BEP 42 `ip` (internal; krpc.ts does not re-export them) ----

/** 4 + 2 or 16 + 2 bytes for an IP literal and port; `minPort` is 0 where port 0 is meaningful. */
export function encodeCompactAddress(p: PeerAddress, key: string, minPort: number): Uint8Array {
  const ip = parseIpv4(p.host) ?? parseIpv6(p.host);
  if (!ip) throw new KrpcError('krpc-bad-field', `${key}: ${p.host} is not an IPv4 or IPv6 address`, { key });
  checkPort(`${key} port`, p.port, minPort);
  const out = new Uint8Array(ip.length + 2);
  out.set(ip);
  out[ip.length] = p.port >> 8;
  out[ip.length + 1] = p.port & 0xff;
  return out;
}

/** The address in a 6- or 18-byte compact string; undefined for any other length. */
export function decodeCompactAddress(b: Uint8Array): PeerAddress | undefined {
  if (b.length !== 6 && b.length !== 18) return undefined;
  const addrLen = b.length - 2;
  return { host: addrLen === 4 ? formatIpv4(b) : formatIpv6(b), port: (b[addrLen]! << 8) | b[addrLen + 1]! };
}

/** Whether a compact address can be dialled: not port 0, not 0.0.0.0 or ::. */
export function isDialable(b: Uint8Array): boolean {
  const addrLen = b.length - 2;
  return ((b[addrLen]! << 8) | b[addrLen + 1]!) !== 0 && !isUnspecified(b, 0, addrLen);
}

function checkPort(field: string, port: number, min: number): void {
  if (!Number.isInteger(port) || port < min || port > 0xffff) {
    throw new KrpcError('krpc-bad-field', `${field} must be an integer in ${min}..65535, got ${port}`, { key: 'port' });
  }
}
