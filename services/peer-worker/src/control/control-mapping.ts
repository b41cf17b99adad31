import type { FilePriority as SettingsFilePriority, FleetConfig as Config, ShareAction as SettingsShareAction, ShareRule } from '@seedbox/cluster';
import { effectiveSeedReplicas } from '@seedbox/cluster';
import {
  FilePriority,
  ShareAction,
  ShareLimitReached,
  type Category,
  type FileInfo,
  type FleetConfig,
  type Torrent,
  type TorrentStats,
} from '@seedbox/proto';
import type { Metainfo } from '@seedbox/protocol';
import { recordName, type ResolvedTorrentRecord, type TorrentRecord, type TorrentStatsView } from './backend.js';
import { stateToProto, torrentState } from './state-codes.js';

/**
 * Records, figures and the fleet's config as proto messages. Pure: the
 * gRPC layer (control-service.ts) calls these and nothing here does I/O.
 */

const UINT32_MAX = 2 ** 32 - 1;

/** proto uint64/uint32 fields take whole non-negative numbers only; rates are averages and come fractional. */
export function whole(n: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isFinite(n) || n <= 0) return 0;
  return Math.min(Math.round(n), max);
}

export function toTorrentStats(view: TorrentStatsView): TorrentStats {
  return {
    infoHash: view.infoHashHex,
    downloadRate: whole(view.downloadRate),
    uploadRate: whole(view.uploadRate),
    downloadedBytes: whole(view.downloaded),
    uploadedBytes: whole(view.uploaded),
    peers: whole(view.peers, UINT32_MAX),
    seeds: whole(view.seeds, UINT32_MAX),
    peersSending: whole(view.peersSending, UINT32_MAX),
    peersGetting: whole(view.peersGetting, UINT32_MAX),
    piecesVerified: whole(view.piecesVerified, UINT32_MAX),
    piecesFailed: whole(view.piecesFailed, UINT32_MAX),
    pieceCount: whole(view.pieceCount, UINT32_MAX),
    leftBytes: whole(view.left),
    // The proto has no "unknown": 0 stands for both unknown and done.
    etaSeconds: view.eta === undefined ? 0 : whole(view.eta, UINT32_MAX),
    tickTimeMs: whole(view.time),
    state: stateToProto(view.state),
    error: view.error ?? '',
  };
}

export const PRIORITY_TO_PROTO: Record<SettingsFilePriority, FilePriority> = {
  skip: FilePriority.FILE_PRIORITY_SKIP,
  normal: FilePriority.FILE_PRIORITY_NORMAL,
  high: FilePriority.FILE_PRIORITY_HIGH,
};

const LIMIT_TO_PROTO: Record<ShareRule, ShareLimitReached> = {
  ratio: ShareLimitReached.SHARE_LIMIT_REACHED_RATIO,
  'seeding-time': ShareLimitReached.SHARE_LIMIT_REACHED_SEEDING_TIME,
  'inactive-time': ShareLimitReached.SHARE_LIMIT_REACHED_INACTIVE_TIME,
};

export const SHARE_ACTION_TO_PROTO: Record<SettingsShareAction, ShareAction> = {
  pause: ShareAction.SHARE_ACTION_PAUSE,
  remove: ShareAction.SHARE_ACTION_REMOVE,
  'remove-with-data': ShareAction.SHARE_ACTION_REMOVE_WITH_DATA,
};

/**
 * The metainfo index of each file the API shows. BEP 47 padding files are
 * filler between real files, not something a user has or wants, so
 * Torrent.files leaves them out and its indices (what a client sends in a
 * file priority change) skip them; the settings keep one entry per
 * metainfo file.
 */
export function visibleFiles(m: Pick<Metainfo, 'files'>): number[] {
  const out: number[] = [];
  m.files.forEach((f, i) => {
    if (!f.padding) out.push(i);
  });
  return out;
}

function toFiles(record: ResolvedTorrentRecord, stats: TorrentStatsView | undefined): FileInfo[] {
  const m = record.metainfo;
  const priorities = record.settings.filePriorities;
  const done = stats?.fileDone;
  return visibleFiles(m).map((i) => {
    const f = m.files[i]!;
    const bytesDone = done?.[i];
    return {
      path: f.path.join('/'),
      length: f.length,
      priority: PRIORITY_TO_PROTO[priorities[i] ?? 'normal'],
      bytesDone: bytesDone === undefined ? undefined : whole(Math.min(bytesDone, f.length)),
    };
  });
}

/** A share limit as the proto carries it: -2 and -1 pass through, a count of minutes stays whole. */
function minutes(n: number): number {
  return Number.isFinite(n) ? Math.round(n) : -1;
}

/**
 * A record as the proto carries it. A magnet awaiting its metadata has
 * state METADATA (PAUSED when paused), the link's name, sizes 0 and no
 * files, and in `error` why the last attempt at the metadata failed.
 * `omitFiles` leaves `files` empty (a listing that shows none).
 */
export function toTorrent(record: TorrentRecord, stats: TorrentStatsView | undefined, options: { omitFiles?: boolean } = {}): Torrent {
  const m = record.metainfo;
  const s = record.settings;
  return {
    infoHash: record.infoHashHex,
    name: recordName(record),
    state: torrentState(record, stats),
    totalLength: m?.totalLength ?? 0,
    pieceLength: m?.pieceLength ?? 0,
    pieceCount: m?.pieceCount ?? 0,
    private: m?.private ?? false,
    files: record.metainfo && !options.omitFiles ? toFiles(record, stats) : [],
    // Absent, not zeroed, until a worker has reported: zeros would claim "no progress".
    stats: stats === undefined ? undefined : toTorrentStats(stats),
    error: record.error ?? (stats?.state === 'error' ? (stats.error ?? '') : (record.magnet?.error ?? '')),
    addedAt: Math.floor(record.addedAt / 1000),
    category: s.category,
    tags: [...s.tags],
    savePath: record.savePath,
    downloadLimit: whole(s.limits.download),
    uploadLimit: whole(s.limits.upload),
    ratioLimit: Number.isFinite(s.share.ratio) ? s.share.ratio : -1,
    seedingTimeLimit: minutes(s.share.seedingMinutes),
    inactiveSeedingTimeLimit: minutes(s.share.inactiveMinutes),
    queuePosition: whole(record.queuePosition, UINT32_MAX),
    forceStart: s.forceStart,
    sequential: s.sequential,
    firstLastPiece: s.firstLastPiece,
    limitReached: record.limitReached === undefined ? ShareLimitReached.SHARE_LIMIT_REACHED_NONE : LIMIT_TO_PROTO[record.limitReached],
    movingTo: record.movingTo ?? '',
    moveErrorTo: record.moveError?.to ?? '',
    moveError: record.moveError?.message ?? '',
    ratio: Number.isFinite(record.ratio) && record.ratio > 0 ? record.ratio : 0,
    seedingSeconds: whole(Math.floor(record.totals.seedingMs / 1000)),
    activeSeconds: whole(Math.floor(record.totals.activeMs / 1000)),
    uploadedTotal: whole(record.totals.uploaded),
    downloadedTotal: whole(record.totals.downloaded),
  };
}

/** Categories by name, so every replica lists them in one order. */
export function toCategories(c: Config): Category[] {
  return Object.entries(c.categories)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, { savePath }]) => ({ name, savePath }));
}

export function toFleetConfig(c: Config): FleetConfig {
  return {
    downloadLimit: whole(c.speed.download),
    uploadLimit: whole(c.speed.upload),
    altDownloadLimit: whole(c.altSpeed.download),
    altUploadLimit: whole(c.altSpeed.upload),
    altSpeedEnabled: c.altSpeedEnabled,
    queueingEnabled: c.queue.enabled,
    maxActiveDownloads: c.queue.maxActiveDownloads,
    maxActiveSeeds: c.queue.maxActiveSeeds,
    maxActiveTorrents: c.queue.maxActiveTorrents,
    ignoreSlowTorrents: c.queue.ignoreSlow,
    slowDownloadRate: whole(c.queue.slowDownloadRate),
    slowUploadRate: whole(c.queue.slowUploadRate),
    slowSeconds: whole(c.queue.slowSeconds, UINT32_MAX),
    ratioLimit: Number.isFinite(c.share.ratio) ? c.share.ratio : -1,
    seedingTimeLimit: minutes(c.share.seedingMinutes),
    inactiveSeedingTimeLimit: minutes(c.share.inactiveMinutes),
    shareAction: SHARE_ACTION_TO_PROTO[c.shareAction],
    categories: toCategories(c),
    seedReplicas: effectiveSeedReplicas(c).public,
    privateSeedReplicas: effectiveSeedReplicas(c).private,
  };
}
