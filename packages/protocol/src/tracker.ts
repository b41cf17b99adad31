import { formatIpv4, formatIpv6 } from './address.js';
import { isUnspecified } from './tracker-checks.js';
import { TrackerError } from './tracker-error.js';

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
 *
 * Cut by job: this file holds what HTTP and UDP share (the announce and
 * reply types, URL kinds, compact peer lists); tracker-http.ts and
 * tracker-udp.ts the two protocols; tracker-error.ts the TrackerError;
 * address.ts the IP address parsing and formatting.
 */

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
  /** Completed downloads the tracker has counted (HTTP trackers that send a scrape's `downloaded` in the reply). */
  downloaded?: number;
  peers: TrackerPeer[];
  /** Entries of the peer lists that were dropped: port 0, address 0.0.0.0, unusable `ip`. */
  invalidPeers: number;
  /** `warning message`: the announce worked, but the tracker has something to say. */
  warning?: string;
  /** BEP 24: the address the tracker saw our request come from. */
  externalIp?: string;
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
