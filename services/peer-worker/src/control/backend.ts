import type { Metainfo, PeerAddress } from '@seedbox/protocol';
import type { DesiredState, FleetConfig, FleetConfigPatch, PeerInfo, ShareRule, TorrentSettings, TorrentSettingsPatch, TorrentTotals, TrackerStatus } from '@seedbox/cluster';

/**
 * What the gRPC control API needs from the fleet. The peer-worker's real
 * backend keeps the registry in a NATS JetStream key-value bucket, so any
 * replica answers; the gRPC layer (control-service.ts) only maps this
 * interface to `seedbox.v1.SeedboxControl` and back.
 */

export type { DesiredState, PeerInfo, TrackerStatus };

/**
 * A registered torrent. A magnet link is registered at once, before its
 * metadata is in (as qBittorrent and Transmission keep a torrent
 * "downloading metadata"): its record has no metainfo but the link
 * (`magnet`) until the fleet has fetched the info dictionary, then it is
 * a torrent like any other. `metainfo` tells the two apart.
 */
export type TorrentRecord = ResolvedTorrentRecord | PendingTorrentRecord;

export interface ResolvedTorrentRecord extends TorrentRecordBase {
  /** The .torrent file as added (or as made from a magnet's metadata). */
  torrentFile: Uint8Array;
  metainfo: Metainfo;
  magnet?: undefined;
}

/** A magnet link whose metadata the fleet is fetching. */
export interface PendingTorrentRecord extends TorrentRecordBase {
  torrentFile?: undefined;
  metainfo: undefined;
  magnet: PendingMagnet;
}

export interface PendingMagnet {
  uri: string;
  /** The link's `dn`, else the info hash: what a client shows until the metadata names it. */
  name: string;
  /** The link's `tr` URLs. */
  trackers: string[];
  /** Why the last attempt at the metadata failed; the fleet tries again. */
  error?: string | undefined;
}

export interface TorrentRecordBase {
  infoHashHex: string;
  /** The fleet's small number for it (Transmission's torrent id); 0 only if the store could not give one. */
  id: number;
  desired: DesiredState;
  /** ms since the epoch. */
  addedAt: number;
  /** Set when the fleet cannot run the torrent (e.g. its files cannot be created). */
  error?: string;
  settings: TorrentSettings;
  /** The save folder, absolute (the data folder's path as this process sees it). */
  savePath: string;
  /** The seeding rule that paused it, if one did. */
  limitReached?: ShareRule | undefined;
  /** A move of its data is under way, to this folder (absolute). */
  movingTo?: string | undefined;
  /** The last move of its data failed (`to` absolute): the data stayed, and runs, where it was. */
  moveError?: { to: string; message: string; at: number } | undefined;
  /** Running, but waiting for its turn in the queue. */
  queued: boolean;
  /**
   * 1-based place in the queue order (every torrent has one; lower starts
   * first). 0 in what `add` and `addMagnet` answer when the backend did not
   * work it out: that takes the whole registry, too much to read per add.
   */
  queuePosition: number;
  totals: TorrentTotals;
  /** Uploaded over downloaded (see shareRatio). */
  ratio: number;
}

/** The record has its metainfo (it was added from a file, or its magnet's metadata is in). */
export function isResolved(r: TorrentRecord): r is ResolvedTorrentRecord {
  return r.metainfo !== undefined;
}

/** The torrent's name: the metainfo's, else the magnet link's. */
export function recordName(r: TorrentRecord): string {
  return r.metainfo ? r.metainfo.name : r.magnet.name;
}

/** What a torrent is added with, beside its file or magnet. */
export interface AddOptions {
  paused: boolean;
  /** A save folder, absolute inside the data folder or relative to it; default: the category's, else a folder of its own. */
  savePath?: string | undefined;
  /** Settings to start with (category, tags, limits, share limits, file priorities, sequential...). */
  settings?: TorrentSettingsPatch | undefined;
}

export type QueueMove = 'top' | 'bottom' | 'up' | 'down';

/** Which records `list` answers. */
export interface ListOptions {
  /** Only these torrents (lower-case hex; unknown ones skipped): a client's selection, without making a record of every other torrent. */
  infoHashes?: readonly string[] | undefined;
}

/** The fleet's latest figures for a torrent, summed over every worker that runs it. */
export interface TorrentStatsView {
  infoHashHex: string;
  downloadRate: number;
  uploadRate: number;
  downloaded: number;
  uploaded: number;
  peers: number;
  seeds: number;
  /** Peers that sent us block bytes, and peers we sent some to, in the last tick. */
  peersSending: number;
  peersGetting: number;
  piecesVerified: number;
  piecesFailed: number;
  pieceCount: number;
  left: number;
  /** Seconds; undefined when unknown. */
  eta: number | undefined;
  complete: boolean;
  /** The tick these figures are from (ms since the epoch). */
  time: number;
  /** The engine's state of the torrent, when the worker reported one. */
  state?: 'checking' | 'downloading' | 'seeding' | 'paused' | 'stopped' | 'error' | undefined;
  /** Why, in the error state. */
  error?: string | undefined;
  /** Bytes in verified pieces, per file of the metainfo (padding files included); absent when the worker does not say. */
  fileDone?: number[] | undefined;
}

/** Where the backend reads figures: the fleet's StatsBoard (NATS), or the engine of this process. */
export interface StatsSource {
  get(infoHashHex: string): TorrentStatsView | undefined;
  /** Called once a tick with what changed; answers an unsubscribe. */
  onTick(listener: (tick: StatsTick) => void): () => void;
}

/**
 * One tick's figures as a StatsSource tells them: what changed since the
 * last tick, not every torrent's again (a seedbox of 10,000 idle torrents
 * has nearly nothing to say each second). A torrent missing from both
 * lists has the figures it had.
 */
export interface StatsTick {
  /** Figures that changed, those of torrents new to the source included; one may come again unchanged. */
  changed: readonly TorrentStatsView[];
  /** Torrents with no figures any more (removed, paused, or their worker gone); one back in `changed` left first. */
  removed: readonly string[];
  /** Every torrent's rates, summed. */
  downloadRate: number;
  uploadRate: number;
  /** Every torrent's figures: O(torrents), for the listeners that need them all (a watch). */
  all(): TorrentStatsView[];
}

/**
 * Where the backend reads what the trackers answered and asks for a
 * reannounce: the tracker-client over NATS (its `seedbox_trackers` bucket,
 * a request on `seedbox.tracker.reannounce`), or EmbeddedTrackers in this
 * process.
 */
export interface TrackerSource {
  /** What each tracker of the torrent last answered; those never heard from are absent. */
  status(infoHashHex: string): TrackerStatus[];
  /** Asks for an announce now; answers how many announces (one per worker running it) were brought forward. Throws when nobody announces. */
  reannounce(infoHashHex: string): Promise<number>;
}

/** Where the backend reads a torrent's connected peers: every worker running it, over NATS, or the engine of this process. */
export interface PeerSource {
  peers(infoHashHex: string): Promise<PeerInfo[]>;
  /** Hands peers to whoever runs the torrent (every worker running it, or this engine), to be dialled as a tracker's would. */
  addPeers(infoHashHex: string, peers: readonly PeerAddress[]): Promise<void>;
}

export type ControlErrorCode = 'invalid-argument' | 'not-found' | 'already-exists' | 'unavailable' | 'unimplemented';

/** A refusal the gRPC layer turns into the matching status code. */
export class ControlError extends Error {
  override readonly name = 'ControlError';
  constructor(
    readonly code: ControlErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface ControlBackend {
  /**
   * Registers a torrent for the fleet. Throws ControlError invalid-argument
   * for a malformed file (the message names the rule, from MetainfoError),
   * and answers the existing record, unchanged, when it is already there.
   */
  add(torrentFile: Uint8Array, options: AddOptions): Promise<{ record: TorrentRecord; created: boolean }>;
  /**
   * Registers a magnet link at once, its metadata to be fetched by the
   * fleet: the record answered is pending (no metainfo) until then, or
   * the existing one. Throws ControlError invalid-argument for a link that
   * is malformed or names nowhere to fetch the metadata from.
   */
  addMagnet(uri: string, options: AddOptions): Promise<{ record: TorrentRecord; created: boolean }>;
  /**
   * Waits until the torrent's metadata is in (at most `timeoutMs`) and
   * answers its record then, or as it stands at the deadline (still
   * pending); undefined when it is removed meanwhile or unknown.
   */
  waitForMetadata(infoHashHex: string, timeoutMs: number): Promise<TorrentRecord | undefined>;
  /** Every registered torrent, or those `options` names; in no particular order. */
  list(options?: ListOptions): Promise<TorrentRecord[]>;
  get(infoHashHex: string): Promise<TorrentRecord | undefined>;
  /** False when there was no such torrent. */
  remove(infoHashHex: string, options: { deleteData: boolean }): Promise<boolean>;
  /** False when there was no such torrent. */
  setDesired(infoHashHex: string, desired: DesiredState): Promise<boolean>;
  /** Asks for the torrent's data to be checked again (every piece hashed); false when there is no such torrent. */
  recheck(infoHashHex: string): Promise<boolean>;
  /** Changes a torrent's settings; undefined when there is no such torrent; ControlError invalid-argument naming the rule a value breaks. */
  update(infoHashHex: string, patch: TorrentSettingsPatch): Promise<TorrentRecord | undefined>;
  /** Moves the torrent's data to another save folder (it keeps seeding, from the new place); false when there is no such torrent. */
  move(infoHashHex: string, savePath: string): Promise<boolean>;
  /** Moves torrents in the queue order. */
  moveInQueue(infoHashHexes: string[], move: QueueMove): Promise<void>;
  config(): Promise<FleetConfig>;
  updateConfig(patch: FleetConfigPatch): Promise<FleetConfig>;
  /** Creates (`create`), changes (`edit`) or sets (`upsert`) a category and its save folder. */
  putCategory(name: string, savePath: string, mode: 'create' | 'edit' | 'upsert'): Promise<FleetConfig>;
  removeCategories(names: string[]): Promise<FleetConfig>;
  /** The latest figures, or undefined before any worker reported the torrent. */
  stats(infoHashHex: string): TorrentStatsView | undefined;
  /**
   * The verified pieces as the fleet records them: a BEP 3 bitfield (piece
   * 0 the high bit of byte 0), possibly shorter than the piece count when
   * nothing is recorded past it; undefined for an unknown torrent.
   */
  pieces(infoHashHex: string): Uint8Array | undefined;
  /**
   * What each tracker of the torrent last answered (see TrackerStatus),
   * whichever worker's announce it was; a tracker never contacted is
   * absent, and so is every one of an unknown torrent.
   */
  trackers(infoHashHex: string): TrackerStatus[];
  /**
   * Asks for an announce to the torrent's trackers now, for every worker
   * running it (one that runs nowhere, paused or queued, has none to
   * make). False when there is no such torrent; ControlError unavailable
   * when nothing that announces can be reached.
   */
  reannounce(infoHashHex: string): Promise<boolean>;
  /** The peers connected to the torrent now, from every worker running it; undefined for an unknown torrent. */
  peers(infoHashHex: string): Promise<PeerInfo[] | undefined>;
  /** Peers to dial for the torrent (qBittorrent's addPeers); false for an unknown torrent. */
  addPeers(infoHashHex: string, peers: readonly PeerAddress[]): Promise<boolean>;
  /** Called once per fleet tick with every torrent's figures; answers an unsubscribe. */
  onTick(listener: (stats: TorrentStatsView[]) => void): () => void;
}
