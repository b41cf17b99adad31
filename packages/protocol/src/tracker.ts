import { BencodeError, decodeBencode, isBytes, isDict, isInt, isList, utf8OrUndefined } from './bencode.js';
import type { BDict, BValue } from './bencode.js';
import { ProtocolError } from './errors.js';

/**
 * Tracker protocols: HTTP announces (BEP 3) with compact peer lists (BEP 23),
 * IPv6 peers (BEP 7), `tracker id`, `min interval`, `warning message`, the
 * external IP (BEP 24) and `retry in` (BEP 31); and the UDP tracker protocol
 * (BEP 15) with URL data (BEP 41).
 *
 * Pure functions, as the rest of this package: they build the bytes of a
 * request and turn the bytes of a reply into values or a TrackerError. The
 * tracker-client service owns the sockets, the timers and the retries.
 *
 * A tracker is an untrusted remote party: every decoder checks a length
 * before it reads or allocates, and every rule a reply can break has an
 * error code, so a bad tracker costs us a warning and a failover, never a
 * crash.
 */

// ---- errors ----

export type TrackerErrorCode =
  /** The tracker answered with `failure reason` (HTTP) or an error packet (UDP action 3). `failureReason` holds its text. */
  | 'TRACKER_FAILURE'
  /** The HTTP body is not bencode, not a dictionary, or a key has the wrong type or range. */
  | 'TRACKER_BAD_RESPONSE'
  /** A compact `peers`/`peers6` string whose length is not a multiple of 6/18, or a peer list that is neither a string nor a list. */
  | 'TRACKER_BAD_PEERS'
  /** A UDP packet of the wrong length for its action (truncated, or with stray bytes). */
  | 'TRACKER_BAD_LENGTH'
  /** A UDP packet whose action is not the one the request asked for. */
  | 'TRACKER_BAD_ACTION'
  /** A UDP reply whose transaction id is not the one we sent (BEP 15: "check whether the transaction ID is equal"). */
  | 'TRACKER_TRANSACTION_MISMATCH'
  /** An announce URL we cannot use: not http/https/udp, or unparseable. */
  | 'TRACKER_BAD_URL'
  /** Our own caller asked to encode a value the protocol cannot carry (a 19-byte hash, port 0...). */
  | 'TRACKER_BAD_FIELD'
  // The codes below are raised by the transports in the tracker-client
  // service, not by this module; they live here so that one error type and
  // one union of codes describe everything an announce can run into.
  /** No (matching) answer before the deadline, after every retransmit. */
  | 'TRACKER_TIMEOUT'
  /** DNS, connect, send or read failed. */
  | 'TRACKER_NETWORK'
  /** An HTTP status other than 200 with no bencoded failure in the body. */
  | 'TRACKER_HTTP_STATUS'
  /** The reply is larger than the cap we accept. */
  | 'TRACKER_TOO_LARGE'
  /** The announce was cancelled by us (shutdown). */
  | 'TRACKER_ABORTED';

export class TrackerError extends ProtocolError {
  override name = 'TrackerError';
  declare readonly code: TrackerErrorCode;
  /** For TRACKER_FAILURE: the tracker's own words, control characters replaced. */
  readonly failureReason?: string;
  /** For TRACKER_FAILURE over HTTP: BEP 31 `retry in`, in minutes, or 'never'. */
  readonly retryIn?: number | 'never';
  /** A length or value that was received, when one was. */
  readonly received?: number;
  /** The length or value the rule demands. */
  readonly expected?: number;

  constructor(
    code: TrackerErrorCode,
    message: string,
    details: {
      failureReason?: string;
      retryIn?: number | 'never';
      received?: number;
      expected?: number;
      cause?: unknown;
    } = {},
  ) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    if (details.failureReason !== undefined) this.failureReason = details.failureReason;
    if (details.retryIn !== undefined) this.retryIn = details.retryIn;
    if (details.received !== undefined) this.received = details.received;
    if (details.expected !== undefined) this.expected = details.expected;
  }
}

// ---- shared types ----

/** BEP 3 announce events. 'none' is the regular re-announce (no `event` key). */
export type AnnounceEvent = 'none' | 'completed' | 'started' | 'stopped';

/** What an announce says about us; the same for HTTP and UDP. */
export interface AnnounceParams {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** The port our peers connect to. */
  port: number;
  /** Bytes sent and received since the `started` event, and bytes still missing. */
  uploaded: number;
  downloaded: number;
  left: number;
  event: AnnounceEvent;
  /** How many peers we want; omitted = the tracker's default (UDP sends -1). */
  numWant?: number;
  /**
   * A random 32-bit value that stays the same across announces, so a tracker
   * can tell it is still us after our address changed.
   */
  key?: number;
  /** The `tracker id` this tracker gave us last time (HTTP only). */
  trackerId?: Uint8Array;
  /**
   * Our address, when it is not the one the tracker sees the request come
   * from (a fleet worker behind the tracker-client). Omit it and the tracker
   * uses the source address of the request.
   */
  ip?: string;
}

export interface TrackerPeer {
  /** An IPv4 dotted quad, a compressed lower-case IPv6 address, or (non-compact lists only) a DNS name. */
  host: string;
  port: number;
  /** Only non-compact HTTP lists carry peer ids. */
  peerId?: Uint8Array;
}

export interface AnnounceResponse {
  /** Seconds until the next regular announce. */
  interval: number;
  /** Seconds we must at least wait before announcing again. */
  minInterval?: number;
  /** Echo this back as `trackerid` in the next announce to this tracker. */
  trackerId?: Uint8Array;
  /** Seeders and leechers, when the tracker says. */
  complete?: number;
  incomplete?: number;
  peers: TrackerPeer[];
  /** Entries of the peer lists that were dropped: port 0, address 0.0.0.0, unusable `ip`. */
  invalidPeers: number;
  /** `warning message`: the announce worked, but the tracker has something to say. */
  warning?: string;
  /** BEP 24: the address the tracker saw our request come from. */
  externalIp?: string;
}

// ---- addresses ----

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

/** 0.0.0.0 and :: name no host; a peer list entry with one is useless. */
function isUnspecified(b: Uint8Array, offset: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (b[offset + i] !== 0) return false;
  return true;
}

/** `host:port`, with brackets around IPv6 addresses: the key our peer sets use. */
export function peerKey(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Compact peers (BEP 23 for IPv4: 4 address bytes + 2 port bytes; BEP 7 for
 * IPv6: 16 + 2). The length must be an exact multiple, checked before
 * anything is read: a string that is not was cut or is not a peer list.
 */
export function decodeCompactPeers(
  bytes: Uint8Array,
  family: 4 | 6,
  what = family === 4 ? 'peers' : 'peers6',
): { peers: TrackerPeer[]; invalid: number } {
  const addrLen = family === 4 ? 4 : 16;
  const entry = addrLen + 2;
  if (bytes.length % entry !== 0) {
    throw new TrackerError(
      'TRACKER_BAD_PEERS',
      `compact ${what} is ${bytes.length} bytes, not a multiple of ${entry} (${addrLen}-byte address + 2-byte port)`,
      { received: bytes.length, expected: entry },
    );
  }
  const peers: TrackerPeer[] = [];
  let invalid = 0;
  for (let off = 0; off < bytes.length; off += entry) {
    const port = (bytes[off + addrLen]! << 8) | bytes[off + addrLen + 1]!;
    if (port === 0 || isUnspecified(bytes, off, addrLen)) {
      invalid++;
      continue;
    }
    peers.push({ host: family === 4 ? formatIpv4(bytes, off) : formatIpv6(bytes, off), port });
  }
  return { peers, invalid };
}

// ---- HTTP (BEP 3) ----

/** The query keys we set; the same keys in the announce URL's own query are replaced, not repeated. */
const OUR_KEYS = new Set([
  'info_hash',
  'peer_id',
  'port',
  'uploaded',
  'downloaded',
  'left',
  'compact',
  'event',
  'numwant',
  'key',
  'trackerid',
  'ip',
  'ipv6',
]);

/** Percent-encodes raw bytes: RFC 3986 unreserved characters stay, every other byte is %XX. */
export function percentEncodeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    const unreserved =
      (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e;
    out += unreserved ? String.fromCharCode(b) : `%${b < 16 ? '0' : ''}${b.toString(16).toUpperCase()}`;
  }
  return out;
}

function checkAnnounceParams(p: AnnounceParams): void {
  checkBytes('infoHash', p.infoHash, 20);
  checkBytes('peerId', p.peerId, 20);
  checkInt('port', p.port, 1, 65535);
  checkInt('uploaded', p.uploaded, 0, Number.MAX_SAFE_INTEGER);
  checkInt('downloaded', p.downloaded, 0, Number.MAX_SAFE_INTEGER);
  checkInt('left', p.left, 0, Number.MAX_SAFE_INTEGER);
  if (p.numWant !== undefined) checkInt('numWant', p.numWant, 0, 0x7fffffff);
  if (p.key !== undefined) checkInt('key', p.key, 0, 0xffffffff);
  if (p.ip !== undefined && normalizeHost(p.ip) === undefined) {
    throw new TrackerError('TRACKER_BAD_FIELD', `ip '${p.ip}' is not an IP address or host name`);
  }
}

/**
 * Kinds of announce URL we can use. BEP 12 lists may also hold ws:// (WebRTC)
 * trackers and typos; those are skipped with a warning, not tried.
 */
export function trackerUrlKind(url: string): 'http' | 'udp' | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol === 'http:' || u.protocol === 'https:') return u.hostname ? 'http' : undefined;
  if (u.protocol === 'udp:') return u.hostname && u.port ? 'udp' : undefined;
  return undefined;
}

/**
 * The GET URL of an HTTP announce. info_hash, peer_id and trackerid are raw
 * bytes, percent-encoded byte by byte (not UTF-8 text). The announce URL's
 * own query (a private tracker's passkey, say) is kept as it stands; only
 * keys we set ourselves are dropped from it. `compact=1` is always sent:
 * some trackers answer nothing else, and it is 6 bytes a peer instead of ~50.
 */
export function buildHttpAnnounceUrl(announceUrl: string, p: AnnounceParams): string {
  if (trackerUrlKind(announceUrl) !== 'http') {
    throw new TrackerError('TRACKER_BAD_URL', `'${announceUrl}' is not an http(s) announce URL`);
  }
  checkAnnounceParams(p);
  const hash = announceUrl.indexOf('#');
  const noFragment = hash >= 0 ? announceUrl.slice(0, hash) : announceUrl;
  const q = noFragment.indexOf('?');
  const base = q >= 0 ? noFragment.slice(0, q) : noFragment;
  const kept = (q >= 0 ? noFragment.slice(q + 1).split('&') : []).filter((part) => {
    if (part === '') return false;
    const name = part.split('=')[0]!;
    let decoded: string;
    try {
      decoded = decodeURIComponent(name);
    } catch {
      decoded = name;
    }
    return !OUR_KEYS.has(decoded);
  });
  const params = [
    `info_hash=${percentEncodeBytes(p.infoHash)}`,
    `peer_id=${percentEncodeBytes(p.peerId)}`,
    `port=${p.port}`,
    `uploaded=${p.uploaded}`,
    `downloaded=${p.downloaded}`,
    `left=${p.left}`,
    'compact=1',
  ];
  if (p.event !== 'none') params.push(`event=${p.event}`);
  if (p.numWant !== undefined) params.push(`numwant=${p.numWant}`);
  // Hex, as libtorrent sends it: trackers compare it as an opaque string.
  if (p.key !== undefined) params.push(`key=${p.key.toString(16).padStart(8, '0')}`);
  if (p.trackerId !== undefined) params.push(`trackerid=${percentEncodeBytes(p.trackerId)}`);
  if (p.ip !== undefined) {
    const host = normalizeHost(p.ip)!;
    // BEP 7: an IPv6 address goes in `ipv6`; `ip` is for IPv4 or a DNS name.
    params.push(`${host.includes(':') ? 'ipv6' : 'ip'}=${percentEncodeBytes(Buffer.from(host, 'utf8'))}`);
  }
  return `${base}?${[...kept, ...params].join('&')}`;
}

export interface HttpResponseLimits {
  /** Largest body parsed at all; the transport should stop reading earlier. Default 2 MiB. */
  maxBytes?: number;
}

const DEFAULT_HTTP_MAX_BYTES = 2 * 1024 * 1024;
/** How much of a tracker's text we keep in errors and warnings. */
const MAX_TEXT = 1024;

/**
 * A tracker's text for our logs: decoded as UTF-8 (latin1 when it is not),
 * cut to 1 KiB, control characters replaced, so a hostile tracker cannot
 * forge log lines or fill them.
 */
function trackerText(bytes: Uint8Array): string {
  const text = utf8OrUndefined(bytes) ?? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > MAX_TEXT ? `${clean.slice(0, MAX_TEXT)}...` : clean;
}

function bad(message: string, cause?: unknown): TrackerError {
  return new TrackerError('TRACKER_BAD_RESPONSE', message, cause === undefined ? {} : { cause });
}

function optionalCount(d: BDict, key: string): number | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (!isInt(v) || v < 0) throw bad(`'${key}' is ${kindOf(v)}, not a non-negative integer`);
  return v;
}

function kindOf(v: BValue): string {
  if (isInt(v)) return `the integer ${v}`;
  if (isBytes(v)) return `a ${v.length}-byte string`;
  if (isList(v)) return 'a list';
  return 'a dictionary';
}

/**
 * Parses the body of an HTTP announce reply. Throws TrackerError:
 * TRACKER_FAILURE when the tracker refused us (`failure reason`),
 * TRACKER_BAD_RESPONSE / TRACKER_BAD_PEERS when the reply breaks BEP 3.
 * Individual unusable peers (port 0, address 0.0.0.0, a non-address `ip`)
 * are dropped and counted in `invalidPeers` rather than failing the reply:
 * one bad entry should not cost us the other 49.
 */
export function parseHttpAnnounceResponse(body: Uint8Array, limits: HttpResponseLimits = {}): AnnounceResponse {
  const maxBytes = limits.maxBytes ?? DEFAULT_HTTP_MAX_BYTES;
  if (body.length > maxBytes) {
    throw new TrackerError('TRACKER_TOO_LARGE', `reply is ${body.length} bytes, more than the ${maxBytes} accepted`, {
      received: body.length,
      expected: maxBytes,
    });
  }
  let value: BValue;
  try {
    // Depth 4 is enough for the deepest legal shape (dict > list > dict > string).
    value = decodeBencode(body, { maxBytes, maxDepth: 4, maxItems: 500_000 });
  } catch (e) {
    if (e instanceof BencodeError) {
      const head = trackerText(body.subarray(0, 64));
      throw bad(`reply is not bencode (${e.message}); it starts with '${head}'`, e);
    }
    throw e;
  }
  if (!isDict(value)) throw bad(`reply is ${kindOf(value)}, not a dictionary`);

  const failure = value.get('failure reason');
  if (failure !== undefined) {
    if (!isBytes(failure)) throw bad(`'failure reason' is ${kindOf(failure)}, not a string`);
    const reason = trackerText(failure);
    const retry = value.get('retry in');
    let retryIn: number | 'never' | undefined;
    if (isInt(retry) && retry >= 0) retryIn = retry;
    else if (isBytes(retry) && Buffer.from(retry).toString('latin1') === 'never') retryIn = 'never';
    throw new TrackerError('TRACKER_FAILURE', `tracker refused the announce: ${reason}`, {
      failureReason: reason,
      ...(retryIn === undefined ? {} : { retryIn }),
    });
  }

  const interval = value.get('interval');
  if (interval === undefined) throw bad("reply has no 'interval'");
  if (!isInt(interval) || interval < 0) throw bad(`'interval' is ${kindOf(interval)}, not a non-negative integer`);

  const out: AnnounceResponse = { interval, peers: [], invalidPeers: 0 };
  const minInterval = optionalCount(value, 'min interval');
  if (minInterval !== undefined) out.minInterval = minInterval;
  const complete = optionalCount(value, 'complete');
  if (complete !== undefined) out.complete = complete;
  const incomplete = optionalCount(value, 'incomplete');
  if (incomplete !== undefined) out.incomplete = incomplete;

  const trackerId = value.get('tracker id');
  if (trackerId !== undefined) {
    if (!isBytes(trackerId)) throw bad(`'tracker id' is ${kindOf(trackerId)}, not a string`);
    if (trackerId.length > 1024) throw bad(`'tracker id' is ${trackerId.length} bytes; more than 1024 is not an id`);
    out.trackerId = Uint8Array.from(trackerId); // a copy: the body buffer is not ours to keep
  }
  const warning = value.get('warning message');
  if (warning !== undefined) {
    if (!isBytes(warning)) throw bad(`'warning message' is ${kindOf(warning)}, not a string`);
    out.warning = trackerText(warning);
  }
  const external = value.get('external ip');
  if (isBytes(external) && external.length === 4) out.externalIp = formatIpv4(external);
  else if (isBytes(external) && external.length === 16) out.externalIp = formatIpv6(external);
  // Any other `external ip` is ignored: it is advice (BEP 24), not part of the announce.

  const peers = value.get('peers');
  const peers6 = value.get('peers6');
  if (peers === undefined && peers6 === undefined) throw bad("reply has neither 'peers' nor 'peers6'");
  if (peers !== undefined) {
    if (isBytes(peers)) {
      const r = decodeCompactPeers(peers, 4);
      out.peers.push(...r.peers);
      out.invalidPeers += r.invalid;
    } else if (isList(peers)) {
      for (const entry of peers) {
        const peer = dictPeer(entry);
        if (peer) out.peers.push(peer);
        else out.invalidPeers++;
      }
    } else {
      throw new TrackerError('TRACKER_BAD_PEERS', `'peers' is ${kindOf(peers)}, neither a compact string nor a list`);
    }
  }
  if (peers6 !== undefined) {
    if (!isBytes(peers6)) throw new TrackerError('TRACKER_BAD_PEERS', `'peers6' is ${kindOf(peers6)}, not a compact string`);
    const r = decodeCompactPeers(peers6, 6);
    out.peers.push(...r.peers);
    out.invalidPeers += r.invalid;
  }
  return out;
}

/** A BEP 3 non-compact entry: `{ip, port, peer id}`; undefined when unusable. */
function dictPeer(entry: BValue): TrackerPeer | undefined {
  if (!isDict(entry)) return undefined;
  const ip = entry.get('ip');
  const port = entry.get('port');
  if (!isBytes(ip) || ip.length === 0 || ip.length > 253) return undefined;
  if (!isInt(port) || port < 1 || port > 65535) return undefined;
  // Some trackers put the 4 or 16 raw address bytes here instead of text.
  let host: string | undefined;
  const text = utf8OrUndefined(ip);
  if (text !== undefined) host = normalizeHost(text);
  if (host === undefined && ip.length === 4 && !isUnspecified(ip, 0, 4)) host = formatIpv4(ip);
  if (host === undefined && ip.length === 16 && !isUnspecified(ip, 0, 16)) host = formatIpv6(ip);
  if (host === undefined || host === '0.0.0.0' || host === '::') return undefined;
  const peer: TrackerPeer = { host, port };
  const id = entry.get('peer id');
  if (isBytes(id) && id.length === 20) peer.peerId = Uint8Array.from(id);
  return peer;
}

// ---- UDP (BEP 15) ----

/** The magic constant of a connect request. */
export const UDP_PROTOCOL_ID = 0x41727101980n;

export const UdpAction = { connect: 0, announce: 1, scrape: 2, error: 3 } as const;
export type UdpActionValue = (typeof UdpAction)[keyof typeof UdpAction];

const UDP_EVENT_CODE: Record<AnnounceEvent, number> = { none: 0, completed: 1, started: 2, stopped: 3 };

export const UDP_CONNECT_REQUEST_LENGTH = 16;
export const UDP_CONNECT_RESPONSE_LENGTH = 16;
/** An announce request without BEP 41 options. */
export const UDP_ANNOUNCE_REQUEST_LENGTH = 98;
/** action, transaction id, interval, leechers, seeders; then the peers. */
export const UDP_ANNOUNCE_RESPONSE_HEADER = 20;
const UDP_HEADER = 8;

export function encodeUdpConnectRequest(transactionId: number): Uint8Array {
  checkInt('transactionId', transactionId, 0, 0xffffffff);
  const out = Buffer.alloc(UDP_CONNECT_REQUEST_LENGTH);
  out.writeBigUInt64BE(UDP_PROTOCOL_ID, 0);
  out.writeUInt32BE(UdpAction.connect, 8);
  out.writeUInt32BE(transactionId, 12);
  return out;
}

/** The first 8 bytes of every reply: what the transport routes on. */
export function readUdpHeader(buf: Uint8Array): { action: number; transactionId: number } {
  if (buf.length < UDP_HEADER) {
    throw new TrackerError('TRACKER_BAD_LENGTH', `UDP reply is ${buf.length} bytes, shorter than the 8-byte header`, {
      received: buf.length,
      expected: UDP_HEADER,
    });
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return { action: view.getUint32(0), transactionId: view.getUint32(4) };
}

/**
 * The checks every reply goes through, in the order BEP 15 gives them: at
 * least the header, our transaction id, then the action. An error packet
 * (action 3) with our transaction id becomes TRACKER_FAILURE whatever we
 * asked for.
 */
function checkUdpReply(buf: Uint8Array, transactionId: number, action: UdpActionValue): DataView {
  const header = readUdpHeader(buf);
  if (header.transactionId !== transactionId) {
    throw new TrackerError(
      'TRACKER_TRANSACTION_MISMATCH',
      `UDP reply has transaction id ${header.transactionId}, but we sent ${transactionId}`,
      { received: header.transactionId, expected: transactionId },
    );
  }
  if (header.action === UdpAction.error) {
    const { message } = decodeUdpErrorResponse(buf, transactionId);
    throw new TrackerError('TRACKER_FAILURE', `tracker refused the request: ${message}`, { failureReason: message });
  }
  if (header.action !== action) {
    throw new TrackerError('TRACKER_BAD_ACTION', `UDP reply has action ${header.action}, but we asked for action ${action}`, {
      received: header.action,
      expected: action,
    });
  }
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function decodeUdpConnectResponse(buf: Uint8Array, transactionId: number): { connectionId: bigint } {
  const view = checkUdpReply(buf, transactionId, UdpAction.connect);
  if (buf.length !== UDP_CONNECT_RESPONSE_LENGTH) {
    throw new TrackerError(
      'TRACKER_BAD_LENGTH',
      `UDP connect reply is ${buf.length} bytes; BEP 15 defines exactly ${UDP_CONNECT_RESPONSE_LENGTH}`,
      { received: buf.length, expected: UDP_CONNECT_RESPONSE_LENGTH },
    );
  }
  return { connectionId: view.getBigUint64(8) };
}

export interface UdpAnnounceRequest {
  connectionId: bigint;
  transactionId: number;
  params: AnnounceParams;
  /**
   * BEP 41: the path and query of the udp:// URL (`/announce?passkey=...`),
   * sent as URLData options. Omitted when there is none to send.
   */
  urlData?: Uint8Array;
}

export function encodeUdpAnnounceRequest(req: UdpAnnounceRequest): Uint8Array {
  const p = req.params;
  checkAnnounceParams(p);
  checkInt('transactionId', req.transactionId, 0, 0xffffffff);
  if (req.connectionId < 0n || req.connectionId > 0xffffffffffffffffn) {
    throw new TrackerError('TRACKER_BAD_FIELD', 'connectionId does not fit in 64 bits');
  }
  let ip: Uint8Array | undefined;
  if (p.ip !== undefined) {
    // The packet has room for an IPv4 address only; anything else stays 0
    // (the tracker then uses the source address, BEP 15).
    ip = parseIpv4(p.ip);
  }
  const urlData = req.urlData ?? new Uint8Array(0);
  // Each option carries at most 255 bytes; longer data is split across several (BEP 41).
  const chunks = Math.ceil(urlData.length / 255);
  const optionsLength = urlData.length === 0 ? 0 : urlData.length + 2 * chunks + 1;
  const out = Buffer.alloc(UDP_ANNOUNCE_REQUEST_LENGTH + optionsLength);
  out.writeBigUInt64BE(req.connectionId, 0);
  out.writeUInt32BE(UdpAction.announce, 8);
  out.writeUInt32BE(req.transactionId, 12);
  out.set(p.infoHash, 16);
  out.set(p.peerId, 36);
  out.writeBigUInt64BE(BigInt(p.downloaded), 56);
  out.writeBigUInt64BE(BigInt(p.left), 64);
  out.writeBigUInt64BE(BigInt(p.uploaded), 72);
  out.writeUInt32BE(UDP_EVENT_CODE[p.event], 80);
  if (ip) out.set(ip, 84);
  out.writeUInt32BE(p.key ?? 0, 88);
  out.writeInt32BE(p.numWant ?? -1, 92);
  out.writeUInt16BE(p.port, 96);
  if (urlData.length > 0) {
    let off = UDP_ANNOUNCE_REQUEST_LENGTH;
    for (let i = 0; i < urlData.length; i += 255) {
      const chunk = urlData.subarray(i, i + 255);
      out[off++] = 0x2; // URLData
      out[off++] = chunk.length;
      out.set(chunk, off);
      off += chunk.length;
    }
    out[off] = 0x0; // EndOfOptions
  }
  return out;
}

export interface UdpAnnounceResponse {
  interval: number;
  leechers: number;
  seeders: number;
  peers: TrackerPeer[];
  invalidPeers: number;
}

/**
 * An announce reply: 20 header bytes, then 6-byte IPv4 peers, or 18-byte
 * IPv6 peers when the tracker was reached over IPv6 (BEP 15 "IPv6").
 */
export function decodeUdpAnnounceResponse(buf: Uint8Array, transactionId: number, family: 4 | 6 = 4): UdpAnnounceResponse {
  const view = checkUdpReply(buf, transactionId, UdpAction.announce);
  const entry = family === 4 ? 6 : 18;
  if (buf.length < UDP_ANNOUNCE_RESPONSE_HEADER || (buf.length - UDP_ANNOUNCE_RESPONSE_HEADER) % entry !== 0) {
    throw new TrackerError(
      'TRACKER_BAD_LENGTH',
      `UDP announce reply is ${buf.length} bytes; it must be ${UDP_ANNOUNCE_RESPONSE_HEADER} plus a multiple of ${entry}`,
      { received: buf.length, expected: UDP_ANNOUNCE_RESPONSE_HEADER },
    );
  }
  const { peers, invalid } = decodeCompactPeers(buf.subarray(UDP_ANNOUNCE_RESPONSE_HEADER), family, 'peer list');
  return {
    interval: view.getUint32(8),
    leechers: view.getUint32(12),
    seeders: view.getUint32(16),
    peers,
    invalidPeers: invalid,
  };
}

/** An error packet: action 3, the transaction id, and a message (the rest of the packet). */
export function decodeUdpErrorResponse(buf: Uint8Array, transactionId?: number): { transactionId: number; message: string } {
  const header = readUdpHeader(buf);
  if (header.action !== UdpAction.error) {
    throw new TrackerError('TRACKER_BAD_ACTION', `UDP packet has action ${header.action}, not ${UdpAction.error} (error)`, {
      received: header.action,
      expected: UdpAction.error,
    });
  }
  if (transactionId !== undefined && header.transactionId !== transactionId) {
    throw new TrackerError(
      'TRACKER_TRANSACTION_MISMATCH',
      `UDP error has transaction id ${header.transactionId}, but we sent ${transactionId}`,
      { received: header.transactionId, expected: transactionId },
    );
  }
  const text = buf.length > UDP_HEADER ? trackerText(buf.subarray(UDP_HEADER)) : '(no message)';
  return { transactionId: header.transactionId, message: text };
}

/**
 * What an announce to a udp:// URL sends as BEP 41 URLData: its path and
 * query, unless that is empty or the bare conventional `/announce`, which
 * says nothing the tracker needs (and older trackers reject packets with
 * options).
 */
export function udpUrlData(url: string): Uint8Array | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const data = `${u.pathname}${u.search}`;
  if (data === '' || data === '/' || data === '/announce') return undefined;
  return Buffer.from(data, 'latin1');
}

// ---- argument checks for our own callers ----

function checkBytes(field: string, v: Uint8Array, length: number): void {
  if (!(v instanceof Uint8Array) || v.length !== length) {
    throw new TrackerError('TRACKER_BAD_FIELD', `${field} must be ${length} bytes`);
  }
}

function checkInt(field: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new TrackerError('TRACKER_BAD_FIELD', `${field} is ${v}, not an integer in ${min}..${max}`);
  }
}
