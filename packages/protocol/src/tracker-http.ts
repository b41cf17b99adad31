import { BencodeError, decodeBencode, isBytes, isDict, isInt, isList, utf8OrUndefined } from './bencode.js';
import type { BDict, BValue } from './bencode.js';
import { formatIpv4, formatIpv6, normalizeHost } from './address.js';
import { checkAnnounceParams, isUnspecified, kindOf, trackerFailure, trackerText } from './tracker-checks.js';
import { TrackerError } from './tracker-error.js';
import { decodeCompactPeers, trackerUrlKind, type AnnounceParams, type AnnounceResponse, type TrackerPeer } from './tracker.js';

/**
 * HTTP announces (BEP 3): the GET URL of an announce, and the bencoded
 * reply, with compact peers (BEP 23), IPv6 peers (BEP 7), the external IP
 * (BEP 24) and `retry in` (BEP 31).
 */

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

function bad(message: string, cause?: unknown): TrackerError {
  return new TrackerError('TRACKER_BAD_RESPONSE', message, cause === undefined ? {} : { cause });
}

function optionalCount(d: BDict, key: string): number | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (!isInt(v) || v < 0) throw bad(`'${key}' is ${kindOf(v)}, not a non-negative integer`);
  return v;
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

  const failure = trackerFailure(value, 'announce');
  if (failure) throw failure;

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
  // Not in BEP 3, but opentracker and others send it, as in a scrape:
  // taken when it is a count, ignored otherwise (it is no reason to fail an announce).
  const downloaded = value.get('downloaded');
  if (downloaded !== undefined && isInt(downloaded) && downloaded >= 0) out.downloaded = downloaded;

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
