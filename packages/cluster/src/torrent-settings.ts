/**
 * What an operator sets on a torrent and on the whole fleet, as the fleet's
 * state stores it (the registry entry, the config record): the controls
 * qBittorrent and Transmission give, in one model both of their APIs map
 * onto.
 *
 * Share limits follow qBittorrent's numbers, because its WebAPI and every
 * tool written against it (Sonarr, qbit_manage, autobrr) already speak
 * them: USE_GLOBAL (-2) defers to the fleet's config, NO_LIMIT (-1) is
 * none, and 0 or more is the limit. Speed limits are bytes per second, 0
 * meaning none, as both APIs have it.
 */

export const USE_GLOBAL = -2;
export const NO_LIMIT = -1;

export type FilePriority = 'skip' | 'normal' | 'high';
export const FILE_PRIORITIES: readonly FilePriority[] = ['skip', 'normal', 'high'];

/** What to do when a seeding rule is reached. */
export type ShareAction = 'pause' | 'remove' | 'remove-with-data';
export const SHARE_ACTIONS: readonly ShareAction[] = ['pause', 'remove', 'remove-with-data'];

/**
 * Message stream encryption (MSE/PE), as libtorrent, qBittorrent and
 * Transmission have it: `prefer` tries the encrypted handshake and falls
 * back to plain, `require` takes RC4-encrypted connections only, `disable`
 * plain ones only. The peer-worker's encryption-policy.ts says what each
 * does on the wire.
 */
export const ENCRYPTION_MODES = ['prefer', 'require', 'disable'] as const;
export type EncryptionMode = (typeof ENCRYPTION_MODES)[number];

export interface SpeedLimits {
  /** Bytes per second; 0 for none. */
  download: number;
  upload: number;
}

export interface ShareLimits {
  /** Uploaded over downloaded. USE_GLOBAL, NO_LIMIT or >= 0. */
  ratio: number;
  /** Minutes of seeding. USE_GLOBAL, NO_LIMIT or >= 0. */
  seedingMinutes: number;
  /** Minutes of seeding with nothing uploaded. USE_GLOBAL, NO_LIMIT or >= 0. */
  inactiveMinutes: number;
}

/** One torrent's settings, kept in its registry entry. */
export interface TorrentSettings {
  /** '' for none; else a name in the config's categories. */
  category: string;
  tags: string[];
  /**
   * The folder the torrent's content goes in, relative to the data
   * folder ('' is the data folder itself). Undefined: a folder of its own
   * named by the info hash, the layout of a torrent added without one.
   */
  savePath?: string | undefined;
  limits: SpeedLimits;
  share: ShareLimits;
  /** Order in the queue: lower goes first. New torrents take their add time, so they queue last. */
  queueKey: number;
  /** Runs whatever the queue says. */
  forceStart: boolean;
  sequential: boolean;
  firstLastPiece: boolean;
  /** One per file; empty for all `normal`. */
  filePriorities: FilePriority[];
}

export function defaultTorrentSettings(addedAt: number): TorrentSettings {
  return {
    category: '',
    tags: [],
    limits: { download: 0, upload: 0 },
    share: { ratio: USE_GLOBAL, seedingMinutes: USE_GLOBAL, inactiveMinutes: USE_GLOBAL },
    queueKey: addedAt,
    forceStart: false,
    sequential: false,
    firstLastPiece: false,
    filePriorities: [],
  };
}

export interface QueueConfig {
  /** Off: every running torrent is active. */
  enabled: boolean;
  /** Most torrents active of each kind; -1 for no limit. */
  maxActiveDownloads: number;
  maxActiveSeeds: number;
  maxActiveTorrents: number;
  /** A torrent slower than the thresholds below for `slowSeconds` does not count against the limits. */
  ignoreSlow: boolean;
  slowDownloadRate: number;
  slowUploadRate: number;
  slowSeconds: number;
}

/** The fleet's config: one record every replica and restart reads. */
export interface FleetConfig {
  speed: SpeedLimits;
  /** The "alternative speeds" pair, in force while `altSpeedEnabled`. */
  altSpeed: SpeedLimits;
  altSpeedEnabled: boolean;
  queue: QueueConfig;
  /** Global share limits: NO_LIMIT or >= 0 (USE_GLOBAL has no meaning here). */
  share: ShareLimits;
  shareAction: ShareAction;
  /** Category name -> its save folder, relative to the data folder ('' for the data folder itself). */
  categories: Record<string, { savePath: string }>;
  /**
   * The encryption policy of every worker's new connections. Absent: each
   * process keeps its own SEEDBOX_ENCRYPTION (--encryption), so a fleet
   * that never set it behaves as configured at start.
   */
  encryption?: EncryptionMode | undefined;
  /**
   * Whether the tracker-clients look up and announce public torrents on
   * the DHT (BEP 5; never private ones). Absent: each process keeps its
   * own SEEDBOX_DHT (--dht). Off, no torrent is looked up or announced,
   * but a running DHT node keeps answering other nodes: only SEEDBOX_DHT
   * at start decides whether there is a node at all.
   */
  dht?: boolean | undefined;
  /**
   * How many peer-workers seed each complete public torrent (0: every
   * one), chosen by rendezvous hashing as downloads are, so the fleet's
   * seeding capacity grows with its workers. Absent: 2
   * (DEFAULT_SEED_REPLICAS).
   */
  seedReplicas?: number | undefined;
  /**
   * The same for private torrents: by default one worker, since a private
   * tracker counts each announcing peer id against the user. Absent: 1.
   */
  privateSeedReplicas?: number | undefined;
}

/** Most seed replicas a setting may ask for; 0 means every worker. */
export const MAX_SEED_REPLICAS = 1000;

/** Workers seeding each complete torrent while the config sets none: two for a public one, one for a private one. */
export const DEFAULT_SEED_REPLICAS = { public: 2, private: 1 } as const;

/**
 * Queueing is off by default: a seedbox keeps hundreds of torrents
 * seeding, and qBittorrent's default of five active would stop all but
 * five of them. The limits are qBittorrent's defaults for whoever turns it on.
 */
export function defaultFleetConfig(): FleetConfig {
  return {
    speed: { download: 0, upload: 0 },
    altSpeed: { download: 10 * 1024 * 1024, upload: 10 * 1024 * 1024 },
    altSpeedEnabled: false,
    queue: { enabled: false, maxActiveDownloads: 3, maxActiveSeeds: 3, maxActiveTorrents: 5, ignoreSlow: true, slowDownloadRate: 2048, slowUploadRate: 2048, slowSeconds: 60 },
    share: { ratio: NO_LIMIT, seedingMinutes: NO_LIMIT, inactiveMinutes: NO_LIMIT },
    shareAction: 'pause',
    categories: {},
  };
}

/** Workers seeding each complete torrent, public and private, as the config says or by default; 0: every worker. */
export function effectiveSeedReplicas(c: FleetConfig): { public: number; private: number } {
  return { public: c.seedReplicas ?? DEFAULT_SEED_REPLICAS.public, private: c.privateSeedReplicas ?? DEFAULT_SEED_REPLICAS.private };
}

/** The speed limits in force: the alternative pair while it is switched on. */
export function effectiveSpeed(c: FleetConfig): SpeedLimits {
  return c.altSpeedEnabled ? c.altSpeed : c.speed;
}

/** A torrent's share limit after the global one is applied: NO_LIMIT or >= 0. */
export function effectiveShare(own: ShareLimits, global: ShareLimits): ShareLimits {
  const pick = (a: number, g: number): number => (a === USE_GLOBAL ? g : a);
  return { ratio: pick(own.ratio, global.ratio), seedingMinutes: pick(own.seedingMinutes, global.seedingMinutes), inactiveMinutes: pick(own.inactiveMinutes, global.inactiveMinutes) };
}

/** Byte counters and clocks of a torrent over its whole life, summed over every worker that ran it. */
export interface TorrentTotals {
  uploaded: number;
  downloaded: number;
  /** ms spent complete and seeding. */
  seedingMs: number;
  /** ms spent downloading or seeding. */
  activeMs: number;
  /** When a payload byte last moved either way (ms since the epoch); 0 for never. */
  lastActivityAt: number;
  /** When it first became complete; 0 while it never was. */
  completedAt: number;
}

export const ZERO_TOTALS: TorrentTotals = { uploaded: 0, downloaded: 0, seedingMs: 0, activeMs: 0, lastActivityAt: 0, completedAt: 0 };

/** Adds `delta` to `t`: counters add up, times take the latest (and the earliest completion). */
export function addTotals(t: TorrentTotals, delta: TorrentTotals): TorrentTotals {
  return {
    uploaded: t.uploaded + delta.uploaded,
    downloaded: t.downloaded + delta.downloaded,
    seedingMs: t.seedingMs + delta.seedingMs,
    activeMs: t.activeMs + delta.activeMs,
    lastActivityAt: Math.max(t.lastActivityAt, delta.lastActivityAt),
    completedAt: t.completedAt === 0 ? delta.completedAt : delta.completedAt === 0 ? t.completedAt : Math.min(t.completedAt, delta.completedAt),
  };
}

/**
 * Uploaded over downloaded. A torrent that came complete (its data
 * already there, almost nothing downloaded) counts what it has as
 * downloaded, as qBittorrent does (below 1% of it), so seeding it once
 * over is a ratio of 1, not infinity.
 */
export function shareRatio(t: TorrentTotals, doneBytes: number): number {
  const base = t.downloaded < doneBytes * 0.01 ? doneBytes : t.downloaded;
  return base > 0 ? t.uploaded / base : 0;
}
