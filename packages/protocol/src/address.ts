/**
 * Peer and tracker addresses as text: strict IPv4 and IPv6 parsing, one
 * canonical spelling per address (normalizeHost), and HOST:PORT with
 * brackets around IPv6 (formatPeerAddress, parseHostPort).
 */

/** A peer's address: an IP address or DNS name, and a TCP port. */
export interface PeerAddress {
  host: string;
  port: number;
}

const IPV4_PART = /^(0|[1-9][0-9]{0,2})$/;

/** Parses a strict dotted quad (no leading zeros, which some parsers read as octal). */
export function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!IPV4_PART.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/** Parses an IPv6 literal (RFC 4291 text forms, with `::` and a trailing dotted quad; no zone id). */
export function parseIpv6(text: string): Uint8Array | undefined {
  let s = text;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (s.length < 2 || s.length > 45) return undefined;
  const groups: number[] = [];
  let tailV4: Uint8Array | undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parseHalf = (half: string, isLast: boolean): number[] | undefined => {
    if (half === '') return [];
    const parts = half.split(':');
    const out: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (isLast && i === parts.length - 1 && p.includes('.')) {
        tailV4 = parseIpv4(p);
        if (!tailV4) return undefined;
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
      out.push(parseInt(p, 16));
    }
    return out;
  };
  const head = parseHalf(halves[0]!, halves.length === 1);
  if (!head) return undefined;
  const tail = halves.length === 2 ? parseHalf(halves[1]!, true) : [];
  if (!tail) return undefined;
  const v4Groups = tailV4 ? 2 : 0;
  const explicit = head.length + tail.length + v4Groups;
  if (halves.length === 1) {
    if (explicit !== 8) return undefined;
    groups.push(...head);
  } else {
    // `::` stands for at least one group of zeros.
    if (explicit > 7) return undefined;
    groups.push(...head, ...new Array<number>(8 - explicit).fill(0), ...tail);
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < groups.length; i++) {
    out[2 * i] = groups[i]! >> 8;
    out[2 * i + 1] = groups[i]! & 0xff;
  }
  if (tailV4) out.set(tailV4, 12);
  return out;
}

export function formatIpv4(b: Uint8Array, offset = 0): string {
  return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`;
}

/**
 * RFC 5952 text of a 16-byte address: lower case, no leading zeros, the
 * longest run of zero groups as `::`. An IPv4-mapped address (::ffff:a.b.c.d)
 * is given as the IPv4 address, so the same peer reached over either family
 * is recognised as one.
 */
export function formatIpv6(b: Uint8Array, offset = 0): string {
  let mapped = true;
  for (let i = 0; i < 10; i++) if (b[offset + i] !== 0) mapped = false;
  if (mapped && b[offset + 10] === 0xff && b[offset + 11] === 0xff) return formatIpv4(b, offset + 12);
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[offset + 2 * i]! << 8) | b[offset + 2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 1; // a single zero group is not compressed (RFC 5952 4.2.2)
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * One spelling per address, so that peers and our own workers' addresses can
 * be compared as strings: IPv4 as a dotted quad, IPv6 in RFC 5952 form
 * (IPv4-mapped ones as IPv4), DNS names in lower case. Undefined for text
 * that is none of these.
 */
export function normalizeHost(host: string): string | undefined {
  const v4 = parseIpv4(host);
  if (v4) return formatIpv4(v4);
  const v6 = parseIpv6(host);
  if (v6) return formatIpv6(v6);
  // A name whose last label is all digits is a malformed address (`010.0.0.1`,
  // `1.2.3`), which other parsers read as octal or short forms: not a name.
  if (HOSTNAME.test(host) && !/(^|\.)[0-9]+$/.test(host)) return host.toLowerCase();
  return undefined;
}

/**
 * `host:port`, with brackets around IPv6 addresses (`[::1]:6881`): the one
 * spelling of a peer address, for logs, `x.pe` and the keys our peer sets
 * use. parseHostPort reads it back.
 */
export function formatPeerAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The key our peer sets use: formatPeerAddress under its older name. */
export const peerKey = formatPeerAddress;

/**
 * Reads HOST:PORT, with [v6]:PORT for IPv6 (as `x.pe`, `--peer` and
 * trackers' logs write peers, and formatPeerAddress writes them), with a
 * port in 1..65535; undefined when it is not one. The host is not
 * normalized: pass it through normalizeHost to compare addresses.
 */
export function parseHostPort(s: string): PeerAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]/]+)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}
