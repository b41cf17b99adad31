import { normalizeHost, peerKey } from '@seedbox/protocol';

/**
 * Where the peers the trackers give us go: to the peer-workers. In embedded
 * mode that is a function call into the in-process worker; in the fleet it
 * will be a publish on `seedbox.peers.<infohash>`. The tracker-client only
 * sees this interface.
 */
export interface PeerFeed {
  peersFound(infoHashHex: string, peers: { host: string; port: number }[], source: string): void;
}

export interface PeerCandidate {
  host: string;
  port: number;
  /** Known for peers from non-compact HTTP replies only. */
  peerId?: Uint8Array;
}

export interface FilteringPeerFeedOptions {
  /** True for our own workers (their announced host:port, or their peer id). */
  isOwn?: (peer: { host: string; port: number; peerId?: Uint8Array }) => boolean;
  /** How long a peer sent once is not sent again for the same torrent. Default 10 min. */
  recentTtlMs?: number;
  /** Peers remembered per torrent; the oldest go first. Default 10,000. */
  maxRecentPerTorrent?: number;
  now?: () => number;
}

/**
 * The wrapper every found peer passes through on its way to the workers:
 *
 * - Our own workers are dropped. Trackers list every peer of the swarm, us
 *   included (opentracker returns the announcer itself), and a fleet of N
 *   workers is N entries of us: dialling them would only end in each worker's
 *   "connected to ourselves" check, after a TCP handshake each.
 * - Duplicates are dropped: within one reply, and peers already sent for the
 *   torrent within `recentTtlMs`. Every worker announces every torrent, so
 *   without this each peer would go out N times per interval. After the TTL
 *   a peer may go out again, for a worker that has since forgotten it.
 * - Addresses are normalised first (one spelling for IPv6, IPv4-mapped as
 *   IPv4), so the comparisons above are plain string compares.
 */
export class FilteringPeerFeed implements PeerFeed {
  private readonly recent = new Map<string, Map<string, number>>();
  private readonly ttl: number;
  private readonly max: number;
  private readonly now: () => number;
  /** What happened to the peers that came in, for metrics. */
  readonly counts = { forwarded: 0, own: 0, duplicate: 0, invalid: 0 };

  constructor(
    private readonly downstream: PeerFeed,
    private readonly options: FilteringPeerFeedOptions = {},
  ) {
    this.ttl = options.recentTtlMs ?? 10 * 60_000;
    this.max = options.maxRecentPerTorrent ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  peersFound(infoHashHex: string, peers: PeerCandidate[], source: string): void {
    const now = this.now();
    let recent = this.recent.get(infoHashHex);
    if (!recent) {
      recent = new Map();
      this.recent.set(infoHashHex, recent);
    }
    const out: { host: string; port: number }[] = [];
    for (const peer of peers) {
      const host = normalizeHost(peer.host);
      if (host === undefined || !Number.isInteger(peer.port) || peer.port < 1 || peer.port > 65535) {
        this.counts.invalid++;
        continue;
      }
      const normalized = { host, port: peer.port, ...(peer.peerId ? { peerId: peer.peerId } : {}) };
      if (this.options.isOwn?.(normalized)) {
        this.counts.own++;
        continue;
      }
      const key = peerKey(host, peer.port);
      const until = recent.get(key);
      if (until !== undefined && until > now) {
        this.counts.duplicate++;
        continue;
      }
      // Delete first so the re-insert moves the peer to the young end.
      recent.delete(key);
      recent.set(key, now + this.ttl);
      out.push({ host, port: peer.port });
    }
    while (recent.size > this.max) recent.delete(recent.keys().next().value!);
    if (out.length === 0) return;
    this.counts.forwarded += out.length;
    this.downstream.peersFound(infoHashHex, out, source);
  }

  /** Drops what was remembered for a torrent (it was removed). */
  forget(infoHashHex: string): void {
    this.recent.delete(infoHashHex);
  }
}
