import type { PeerAddress } from '@seedbox/protocol';
import { addressFamily, addressKey, idToHex } from './node-id.js';

/**
 * The peers other nodes announced to us (announce_peer), which we hand out
 * in get_peers answers: our share of the DHT's "tracker".
 *
 * Bounded on both axes, since anyone with a valid token may announce: at
 * most `maxTorrents` info hashes and `maxPeersPerTorrent` peers each. When
 * full, the oldest goes first: the peer announced longest ago within a
 * torrent, and the torrent whose latest announce is oldest. Both orders are
 * Map insertion order (an announce deletes and re-inserts), so eviction and
 * expiry are O(1) per entry with no sorting.
 *
 * A peer is forgotten `ttlMs` after its last announce (BEP 5 clients
 * re-announce every 15 to 30 minutes; libtorrent keeps peers 30 minutes).
 */

export interface PeerStoreOptions {
  maxTorrents?: number;
  maxPeersPerTorrent?: number;
  ttlMs?: number;
  now?: () => number;
}

export const PEER_STORE_DEFAULTS = { maxTorrents: 2_000, maxPeersPerTorrent: 100, ttlMs: 30 * 60_000 } as const;

interface StoredPeer {
  peer: PeerAddress;
  announcedAt: number;
}

export class PeerStore {
  private readonly opts: Required<Omit<PeerStoreOptions, 'now'>>;
  private readonly now: () => number;
  /** Hex info hash → peer key → peer; both maps oldest announce first. */
  private readonly torrents = new Map<string, Map<string, StoredPeer>>();
  private peers = 0;

  constructor(options: PeerStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.opts = {
      maxTorrents: options.maxTorrents ?? PEER_STORE_DEFAULTS.maxTorrents,
      maxPeersPerTorrent: options.maxPeersPerTorrent ?? PEER_STORE_DEFAULTS.maxPeersPerTorrent,
      ttlMs: options.ttlMs ?? PEER_STORE_DEFAULTS.ttlMs,
    };
  }

  get torrentCount(): number {
    return this.torrents.size;
  }

  get peerCount(): number {
    return this.peers;
  }

  /** Records (or refreshes) an announce. */
  add(infoHash: Uint8Array, peer: PeerAddress): void {
    const hex = idToHex(infoHash);
    let list = this.torrents.get(hex);
    if (list) {
      this.torrents.delete(hex);
    } else {
      list = new Map();
      if (this.torrents.size >= this.opts.maxTorrents) this.dropTorrent(this.torrents.keys().next().value!);
    }
    this.torrents.set(hex, list);
    const key = addressKey(peer.host, peer.port);
    if (list.delete(key)) this.peers--;
    else if (list.size >= this.opts.maxPeersPerTorrent) {
      list.delete(list.keys().next().value!);
      this.peers--;
    }
    list.set(key, { peer: { host: peer.host, port: peer.port }, announcedAt: this.now() });
    this.peers++;
  }

  /**
   * Up to `max` live peers of a torrent, most recently announced first;
   * `family` keeps only IPv4 or IPv6 ones (BEP 32: values in the asker's family).
   */
  get(infoHash: Uint8Array, options: { max?: number; family?: 4 | 6 } = {}): PeerAddress[] {
    const hex = idToHex(infoHash);
    const list = this.torrents.get(hex);
    if (!list) return [];
    this.expireList(hex, list, this.now() - this.opts.ttlMs);
    const max = options.max ?? 50;
    const out: PeerAddress[] = [];
    const all = [...list.values()];
    for (let i = all.length - 1; i >= 0 && out.length < max; i--) {
      const p = all[i]!.peer;
      if (options.family === undefined || addressFamily(p.host) === options.family) out.push({ ...p });
    }
    return out;
  }

  /** Forgets every peer past its time; the DHT node calls it once a minute or so. */
  expire(): void {
    const cutoff = this.now() - this.opts.ttlMs;
    for (const [hex, list] of [...this.torrents]) this.expireList(hex, list, cutoff);
  }

  private expireList(hex: string, list: Map<string, StoredPeer>, cutoff: number): void {
    for (const [key, stored] of list) {
      if (stored.announcedAt > cutoff) break; // oldest first: the rest are newer
      list.delete(key);
      this.peers--;
    }
    if (list.size === 0) this.torrents.delete(hex);
  }

  private dropTorrent(hex: string): void {
    this.peers -= this.torrents.get(hex)?.size ?? 0;
    this.torrents.delete(hex);
  }
}
