import type { Metainfo } from '@seedbox/protocol';
import type { FleetStore, SpeedLimits } from '@seedbox/cluster';
import type { Logger } from '@seedbox/runtime';
import type { StatsSource } from '../control/backend.js';
import type { Engine, EngineTick } from '../engine.js';
import type { FleetTorrentData } from './fleet-run.js';

/** What a FleetRunner is made with and what it reports; the class is in fleet-runner.ts. */

export interface FleetRunnerOptions {
  state: FleetStore;
  engine: Engine;
  /** The data of a torrent this worker runs, in its save folder (undefined: a folder of its own). */
  data: (meta: Metainfo, recorded: () => Uint8Array | undefined, savePath: string | undefined) => FleetTorrentData | Promise<FleetTorrentData>;
  /** Moves a torrent's content from one save folder to another (the fleet: a disk-writer does it). */
  moveData: (meta: Metainfo, from: string | undefined, to: string) => Promise<void>;
  /** Removes a torrent from the fleet, and its data with `deleteData` (a seeding rule's action). */
  removeTorrent: (infoHashHex: string, deleteData: boolean) => Promise<void>;
  /** Every torrent's figures, this worker's and the others' (for the queue's slow torrents). */
  stats?: StatsSource | undefined;
  /**
   * The global speed limits in force changed (the config, or its
   * alternative pair switched). Default: this engine's limits; in the fleet,
   * FleetBandwidth shares them among the workers.
   */
  speedLimits?: ((limits: SpeedLimits) => void) | undefined;
  /**
   * After each tick's bitfields are handed over (the fleet: heartbeat and
   * figures). A tick dropped because a later one's flush ended first has
   * its changes carried in the next one given here (mergeTicks).
   */
  onTick?: (t: EngineTick) => void;
  /** After the engine stopped (the fleet: the last heartbeat, with no torrents). */
  onStop?: () => void;
  workerId: string;
  /** What trackers should give out for this worker. */
  announce: { host?: string | undefined; port: number };
  grpcEndpoint?: string;
  log: Logger;
  /** How often the live workers are read. Default 2 s. */
  membershipMs?: number;
  /** One attempt at a magnet's metadata gives up after this long. Default 2 min. */
  metadataTimeoutMs?: number;
  /** A failed attempt is made again this long after. Default 60 s. */
  metadataRetryMs?: number;
}

/** What the runner's sync has done so far: with nothing changing, none of it grows. */
export interface SyncFigures {
  passes: number;
  /** Torrents reconciled, over every pass. */
  reconciled: number;
  /** Rendezvous rankings worked out (the rest came from RendezvousCache). */
  ranked: number;
}
