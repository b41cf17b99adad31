import type { AnnouncePolicy } from './announce-plan.js';
import type { AnnounceIdentity, Announcer, AnnounceSuccess, AnnounceTiming, TrackerWarning } from './announcer.js';
import type { TrackerTiers } from './tiers.js';
import type { TrackerStatus } from '@seedbox/cluster';
import type { DhtSwarmsLike } from './dht-membership.js';
import type { PeerFeed } from './peer-feed.js';
import type { ScrapeTiming } from './scraper.js';
import type { RetryLaterOptions } from './tracker-backoff.js';
import type { NetworkTransportOptions, TrackerTransport } from './transport.js';
import type { WorkerIdentity } from './worker-identity.js';

/** What a TrackerClient (tracker-client.ts) is told: its options, the workers' heartbeats and the torrents. */

export interface WorkerTorrentStats {
  /** Bytes uploaded and downloaded for this torrent since the worker started it. */
  uploaded: number;
  downloaded: number;
  /** Bytes still missing. */
  left: number;
  /** Defaults to `left === 0`. */
  complete?: boolean;
}

export type TorrentStatsList = ReadonlyMap<string, WorkerTorrentStats> | Readonly<Record<string, WorkerTorrentStats>>;

/** A full heartbeat: it (re)establishes the worker. */
export interface WorkerHeartbeat extends WorkerIdentity {
  /** Every torrent the worker serves, by hex info hash. */
  torrents: TorrentStatsList;
  /** Where the worker's heartbeats stand: changes that follow must carry seq + 1, + 2... */
  seq?: number;
}

/** A partial heartbeat: only what changed since the worker's last one (TrackerClient.heartbeatChanges). */
export interface WorkerHeartbeatChanges extends WorkerIdentity {
  /** The torrents that joined or whose figures changed, by hex info hash, with their figures now. */
  torrents: TorrentStatsList;
  /** The torrents the worker no longer serves. */
  gone?: Iterable<string>;
  /** Its place among the worker's heartbeats; omitted by a caller that hands them over in order itself (in one process). */
  seq?: number;
}

/**
 * What became of a partial heartbeat: applied; stale (its seq is at or
 * below one already applied: a full that came after it covers it); or
 * out of step (an unknown worker, another identity, or a heartbeat missed
 * in between): only the worker's next full heartbeat brings it back.
 */
export type ChangesVerdict = 'applied' | 'stale' | 'out-of-step';

/** The torrent's own policy (announceToAllTiers...) wins over the client's. */
export interface TrackerTorrent extends AnnouncePolicy {
  infoHash: Uint8Array;
  /** BEP 12 tiers, as Metainfo.announce. */
  announce: readonly (readonly string[])[];
  /** BEP 27: trackers only, never the DHT. */
  private?: boolean;
}

/** The AnnouncePolicy here is every torrent's default (BEP 12's when unset). */
export interface TrackerClientOptions extends AnnouncePolicy {
  /** Where found peers go (after filtering). */
  peerFeed: PeerFeed;
  /** Defaults to HTTP(S) and UDP over the network, configured by `network`. */
  transport?: TrackerTransport;
  network?: NetworkTransportOptions;
  timing?: AnnounceTiming;
  /** Every tracker problem, as one typed warning each. Default: console.warn. */
  onWarning?: (warning: TrackerWarning) => void;
  /** Every successful announce (for metrics and logs). */
  onAnnounce?: (success: AnnounceSuccess) => void;
  /** A torrent's tracker statuses changed (after each announce outcome); an empty list when it was forgotten. */
  onTrackerStatus?: (infoHashHex: string, list: TrackerStatus[]) => void;
  /**
   * Our own addresses, for recognising a worker without an explicit host in
   * peer lists (the tracker lists it under our source address). Default:
   * every address of every local interface.
   */
  localAddresses?: () => Iterable<string>;
  /** See FilteringPeerFeedOptions.recentTtlMs. */
  recentPeerTtlMs?: number;
  /**
   * A worker not heard from for this long is taken for dead and its
   * announces are stopped, so trackers stop sending peers to an address
   * nobody listens on. Default: never (the caller calls removeWorker).
   */
  workerTimeoutMs?: number;
  /**
   * Requests in flight to one tracker at most, across every torrent and
   * worker (tracker-gate.ts), and the size of its HTTP connection pool.
   * Default 4.
   */
  perTrackerLimit?: number;
  /** How long a tracker that asks us to come back later is left alone (tracker-backoff.ts). */
  retryLater?: RetryLaterOptions;
  /** Scrape every torrent at its trackers at a slow cadence (scraper.ts); false: never. Default on, every 30 min. */
  scrape?: ScrapeTiming | false;
  /** For the BEP 12 shuffle and the announce and scrape jitter; injectable for deterministic tests. */
  random?: () => number;
  /** Also find peers on the DHT (BEP 5) for every public torrent a worker serves, announcing each worker's port. */
  dht?: DhtSwarmsLike;
  now?: () => number;
}

/** The client's own state (tracker-client.ts), per worker, per (torrent, worker) and per torrent. */
export interface WorkerState {
  identity: WorkerIdentity;
  announceAs: WorkerAnnounceAs;
  torrents: Map<string, WorkerTorrentStats>;
  lastSeen: number;
  /** The seq of the last heartbeat applied (undefined: the last full carried none). */
  seq: number | undefined;
  /** False once a partial heartbeat could not be applied: the following ones are ignored until a full one. */
  inStep: boolean;
}

/** What every announcer of one worker identity shares: one of each per identity, not per announcer. */
export interface WorkerAnnounceAs {
  /** Who its announces say it is, with its BEP 3 `key`, the same for all of them. */
  identity: AnnounceIdentity;
  /** What each answer tells the client (the status book, our external address, the caller). */
  onAnnounce: (success: AnnounceSuccess) => void;
}

export interface AnnouncerEntry {
  announcer: Announcer;
  workerId: string;
  infoHashHex: string;
  /** The worker was seen incomplete, so finishing is news (`completed`). */
  sawIncomplete: boolean;
  completedSent: boolean;
  /** The figures announces use: the worker's latest, until the entry is stopped. */
  last: WorkerTorrentStats;
  /**
   * Set when the entry is stopped: `stopped` then reports the figures of the
   * identity that is leaving, not those of a worker that restarted under the
   * same id (or zeros, once the worker is gone).
   */
  frozen: boolean;
}

export interface TorrentState {
  infoHash: Uint8Array;
  private: boolean;
  tiers: TrackerTiers;
  policy: AnnouncePolicy;
}
