import type { Bitfield } from '@seedbox/protocol';
import type { DesiredState, RegistryEntry, WorkerEntry } from './registry-entry.js';
import type { FleetConfig, TorrentTotals } from './torrent-settings.js';

/**
 * The fleet's state, as FleetRunner, FleetBackend and the disk-writer use
 * it: the registry of torrents, each torrent's verified pieces, and the
 * live workers. Two stores have it: `FleetState` (JetStream key-value
 * buckets, for a fleet of processes) and `LocalFleetStore` (files in one
 * folder, for `seedbox serve`), so the code above runs unchanged on both.
 */
export interface FleetStore {
  /** Adds a torrent; answers false (and changes nothing) when it is already there. */
  addTorrent(e: RegistryEntry): Promise<boolean>;
  /** A torrent id never given before in this fleet (1, 2, 3...; see RegistryEntry.id). */
  nextTorrentId(): Promise<number>;
  getTorrent(infoHashHex: string): Promise<RegistryEntry | undefined>;
  /** Every torrent, oldest first. */
  listTorrents(): Promise<RegistryEntry[]>;
  /** False when there is no such torrent. */
  setDesired(infoHashHex: string, desired: DesiredState): Promise<boolean>;
  /** Bumps the entry's `rechecks`; false when there is no such torrent. */
  requestRecheck(infoHashHex: string): Promise<boolean>;
  /**
   * Compare-and-set on one entry: `change` answers the new entry, or
   * undefined for none (it may run more than once, on a race). Answers the
   * entry as it now stands; undefined when there is no such torrent.
   */
  updateTorrent(infoHashHex: string, change: (e: RegistryEntry) => RegistryEntry | undefined): Promise<RegistryEntry | undefined>;
  /** Removes a torrent, its bitfield and its totals; false when there was no such torrent. */
  removeTorrent(infoHashHex: string): Promise<boolean>;
  /** Every entry now, then every change (undefined for a removal), until the answered stop is called. */
  watchTorrents(onChange: (infoHashHex: string, e: RegistryEntry | undefined) => void, onBadEntry?: (key: string, err: Error) => void): Promise<() => void>;

  getBitfield(infoHashHex: string, pieceCount: number): Promise<Bitfield>;
  /** ORs `pieces` into the stored bitfield; answers the merged one. */
  mergeBitfield(infoHashHex: string, pieceCount: number, pieces: Iterable<number>): Promise<Bitfield>;
  /** Sets the stored bitfield to exactly `bits` (after a recheck). */
  replaceBitfield(infoHashHex: string, bits: Bitfield): Promise<void>;
  /** Every stored bitfield now, then every change (undefined for a removal). */
  watchBitfields(onChange: (infoHashHex: string, bytes: Uint8Array | undefined) => void): Promise<() => void>;

  /** The fleet's config (the defaults until one is written). */
  getConfig(): Promise<FleetConfig>;
  /** Compare-and-set on the config; answers the new one. */
  updateConfig(change: (c: FleetConfig) => FleetConfig): Promise<FleetConfig>;
  /** The config now, then on every change. */
  watchConfig(onChange: (c: FleetConfig) => void): Promise<() => void>;

  /** Adds to a torrent's lifetime totals (compare-and-set: every worker adds its own share); answers them as they now stand. */
  addTotals(infoHashHex: string, delta: TorrentTotals): Promise<TorrentTotals>;
  /** Every torrent's totals now, then every change (undefined for a removal). */
  watchTotals(onChange: (infoHashHex: string, t: TorrentTotals | undefined) => void): Promise<() => void>;

  putWorker(w: WorkerEntry): Promise<void>;
  removeWorker(workerId: string): Promise<void>;
  listWorkers(): Promise<WorkerEntry[]>;
}
