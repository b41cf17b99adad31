import type { PeerAddress } from '@seedbox/protocol';

/**
 * How the engine finds peers, whatever finds them: one interface that the
 * torrents (and magnet links' metadata fetches) join, the way webtorrent's
 * torrent-discovery turns trackers, DHT and LSD into one stream of peers.
 * In one process it is the tracker-client itself (`EmbeddedTrackers`); in
 * the fleet it is the tracker-client service over NATS
 * (`NatsPeerDiscovery`), which announces for every worker.
 */

/** A swarm to join: a torrent, or a magnet link whose metadata is being fetched. */
export interface SwarmInfo {
  infoHash: Uint8Array;
  infoHashHex: string;
  /** BEP 12 tiers; a magnet link's `tr` are one per tier. */
  announce: readonly (readonly string[])[];
  /** BEP 27: found through its trackers only (no DHT, no PEX), whatever else discovery can do. */
  private: boolean;
  /** Not in any registry yet (a magnet link being resolved): discovery must be told where to announce. */
  unregistered?: boolean;
}

/** What announces report for us. */
export interface TransferTotals {
  uploaded: number;
  downloaded: number;
  /** Bytes still missing; see LEFT_WHILE_FETCHING_METADATA while the size is unknown. */
  left: number;
  complete: boolean;
}

/** The joiner's side: its figures for announces, and where found peers go. */
export interface SwarmMember {
  totals(): TransferTotals;
  peersFound(peers: readonly PeerAddress[]): void;
  /**
   * While the member's totals cannot move (a dormant torrent: no peers,
   * nothing pending), an object that stays the same until they can;
   * undefined while they may. A discovery that polls totals every second
   * reads a quiet member once, not 10,000 of them every second.
   */
  quiet?(): object | undefined;
}

export interface SwarmHandle {
  /** Ask for peers now (as soon as trackers' min interval allows): the joiner ran out. */
  requestPeers(): void;
  /** Leave the swarm (trackers hear `stopped`); resolves once announced or given up. */
  leave(): Promise<void>;
}

export interface PeerDiscovery {
  /** Whether this discovery can find peers for the swarm at all (e.g. it lists trackers). */
  canFind(swarm: SwarmInfo): boolean;
  join(swarm: SwarmInfo, member: SwarmMember): SwarmHandle;
}
