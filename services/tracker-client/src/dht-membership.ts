import type { PeerAddress } from '@seedbox/protocol';

/**
 * Which torrents the DHT node looks up and announces, and for which ports:
 * every public torrent that at least one worker serves, announced once for
 * each distinct port those workers listen on (BEP 5's announce_peer names a
 * port; the address is the one the query comes from). A private torrent
 * (BEP 27) never goes near the DHT. The TrackerClient tells this what
 * changed; this keeps DhtSwarms in step and sends found peers on.
 */

/** What this needs of DhtSwarms (dht/dht-swarms.ts). */
export interface DhtSwarmsLike {
  join(infoHash: Uint8Array, ports: readonly number[], onPeers: (peers: PeerAddress[]) => void): void;
  setPorts(infoHash: Uint8Array, ports: readonly number[]): void;
  leave(infoHash: Uint8Array): void;
}

export class DhtMembership {
  /** Joined torrents by hex, with the ports announced (sorted, joined by commas). */
  private readonly joined = new Map<string, { infoHash: Uint8Array; ports: string }>();

  constructor(
    private readonly swarms: DhtSwarmsLike,
    private readonly peersFound: (infoHashHex: string, peers: PeerAddress[]) => void,
  ) {}

  /** Brings one torrent to `ports`; none (no worker serves it), private or unknown: it leaves. */
  set(hex: string, torrent: { infoHash: Uint8Array; private: boolean } | undefined, ports: Iterable<number>): void {
    const wanted = torrent && !torrent.private ? [...new Set(ports)].sort((a, b) => a - b) : [];
    const was = this.joined.get(hex);
    if (wanted.length === 0) {
      if (was) {
        this.joined.delete(hex);
        this.swarms.leave(was.infoHash);
      }
      return;
    }
    const key = wanted.join(',');
    if (!was) {
      this.joined.set(hex, { infoHash: torrent!.infoHash, ports: key });
      this.swarms.join(torrent!.infoHash, wanted, (peers) => this.peersFound(hex, peers));
    } else if (was.ports !== key) {
      was.ports = key;
      this.swarms.setPorts(was.infoHash, wanted);
    }
  }

  get size(): number {
    return this.joined.size;
  }

  has(hex: string): boolean {
    return this.joined.has(hex);
  }

  joinedHexes(): string[] {
    return [...this.joined.keys()];
  }
}
