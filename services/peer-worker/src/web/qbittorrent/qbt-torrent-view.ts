import { join } from 'node:path';
import { effectiveShare, type FleetConfig, type ShareLimits } from '@seedbox/cluster';
import type { Metainfo } from '@seedbox/protocol';
import type { PendingTorrentRecord, ResolvedTorrentRecord, TorrentRecord, TorrentStatsView, TrackerStatus } from '../../control/backend.js';
import { visibleFiles } from '../../control/control-mapping.js';
import type { Progress } from './qbt-progress.js';
import { secondsToNextAnnounce, swarmCounts, workingTracker } from './qbt-trackers.js';

/**
 * A torrent as qBittorrent 5.1's WebAPI serializes it (torrents/info,
 * sync/maindata; src/webui/api/serialize/serialize_torrent.cpp), from a
 * record, its figures and the fleet's config. Pure: the clock comes in
 * as `now`.
 *
 * The swarm's counts, the working tracker and the next announce come
 * from what the trackers last answered (qbt-trackers.ts). Where the fleet
 * has no such figure the value is qBittorrent's own "unknown" (-1 for a
 * time or a distributed-copies count, 0 for an announce not scheduled),
 * never a plausible-looking number.
 */

/** qBittorrent's "infinite" ETA (MAX_ETA in src/base/global.h: 100 days). */
export const MAX_ETA = 8_640_000;
/** std::chrono::months, which qBittorrent's popularity divides by: 1/12 of 365.2425 days, in seconds. */
const MONTH_SECONDS = 2_629_746;

/** Torrent states of WebAPI 2.11 (qBittorrent 5): `stoppedUP`/`stoppedDL` replaced 4.x's `pausedUP`/`pausedDL`. */
export type QbtState =
  | 'error'
  | 'missingFiles'
  | 'uploading'
  | 'stoppedUP'
  | 'queuedUP'
  | 'stalledUP'
  | 'checkingUP'
  | 'forcedUP'
  | 'downloading'
  | 'metaDL'
  | 'forcedMetaDL'
  | 'stoppedDL'
  | 'queuedDL'
  | 'stalledDL'
  | 'checkingDL'
  | 'forcedDL'
  | 'checkingResumeData'
  | 'moving';

export interface QbtTorrent {
  hash: string;
  infohash_v1: string;
  infohash_v2: string;
  name: string;
  magnet_uri: string;
  size: number;
  progress: number;
  dlspeed: number;
  upspeed: number;
  priority: number;
  num_seeds: number;
  num_complete: number;
  num_leechs: number;
  num_incomplete: number;
  state: QbtState;
  eta: number;
  seq_dl: boolean;
  f_l_piece_prio: boolean;
  category: string;
  tags: string;
  super_seeding: boolean;
  force_start: boolean;
  save_path: string;
  download_path: string;
  content_path: string;
  root_path: string;
  added_on: number;
  completion_on: number;
  tracker: string;
  trackers_count: number;
  dl_limit: number;
  up_limit: number;
  downloaded: number;
  uploaded: number;
  downloaded_session: number;
  uploaded_session: number;
  amount_left: number;
  completed: number;
  max_ratio: number;
  max_seeding_time: number;
  max_inactive_seeding_time: number;
  ratio: number;
  ratio_limit: number;
  popularity: number;
  seeding_time_limit: number;
  inactive_seeding_time_limit: number;
  seen_complete: number;
  auto_tmm: boolean;
  time_active: number;
  seeding_time: number;
  last_activity: number;
  availability: number;
  reannounce: number;
  comment: string;
  private: boolean | null;
  total_size: number;
  has_metadata: boolean;
}

/**
 * qBittorrent's TorrentImpl::updateState, first rule that holds, over
 * what the fleet knows: a move under way; an error (the fleet's, or the
 * worker's while running: a paused torrent's last figures may be stale);
 * a check; then the finished (UP) or unfinished (DL) family: stopped,
 * queued, forced, moving data, or stalled.
 */
export function qbtState(
  record: Pick<TorrentRecord, 'desired' | 'error' | 'queued' | 'movingTo' | 'settings'>,
  stats: Pick<TorrentStatsView, 'state' | 'downloadRate' | 'uploadRate'> | undefined,
  finished: boolean,
): QbtState {
  const stopped = record.desired === 'paused';
  if (record.movingTo !== undefined) return 'moving';
  if (record.error !== undefined || (!stopped && stats?.state === 'error')) return 'error';
  if (!stopped && stats?.state === 'checking') return finished ? 'checkingUP' : 'checkingDL';
  if (finished) {
    if (stopped) return 'stoppedUP';
    if (record.queued) return 'queuedUP';
    if (record.settings.forceStart) return 'forcedUP';
    return (stats?.uploadRate ?? 0) > 0 ? 'uploading' : 'stalledUP';
  }
  if (stopped) return 'stoppedDL';
  if (record.queued) return 'queuedDL';
  if (record.settings.forceStart) return 'forcedDL';
  return (stats?.downloadRate ?? 0) > 0 ? 'downloading' : 'stalledDL';
}

/** A magnet link of the torrent, as libtorrent's make_magnet_uri writes one: hash, name, every tracker, every web seed. */
export function magnetUri(m: Pick<Metainfo, 'infoHashHex' | 'name' | 'announce' | 'urlList'>): string {
  const parts = [`xt=urn:btih:${m.infoHashHex}`, `dn=${encodeURIComponent(m.name)}`];
  for (const tier of m.announce) for (const url of tier) parts.push(`tr=${encodeURIComponent(url)}`);
  for (const url of m.urlList) parts.push(`ws=${encodeURIComponent(url)}`);
  return `magnet:?${parts.join('&')}`;
}

/** Where the content is: the one real file's path, else the torrent's folder (qBittorrent's contentPath with the Original layout). */
export function contentPath(record: Pick<ResolvedTorrentRecord, 'savePath' | 'metainfo'>): string {
  const m = record.metainfo;
  const real = visibleFiles(m);
  if (real.length === 1) return join(record.savePath, ...(m.multiFile ? [m.name, ...m.files[real[0]!]!.path] : [m.name]));
  return join(record.savePath, m.name);
}

/** Seconds since the epoch, or qBittorrent's -1 for "never". */
function seconds(ms: number): number {
  return ms > 0 ? Math.floor(ms / 1000) : -1;
}

function whole(n: number | undefined): number {
  return n !== undefined && Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
}

/**
 * TorrentImpl::eta: stopped is "infinite"; a finished torrent counts down
 * to the first share limit it will reach (ratio at the current upload
 * rate, seeding time, inactive time); a downloading one is the figures'
 * estimate.
 */
export function etaOf(
  record: Pick<TorrentRecord, 'desired' | 'totals' | 'addedAt'>,
  stats: Pick<TorrentStatsView, 'eta' | 'uploadRate'> | undefined,
  progress: Pick<Progress, 'finished' | 'wanted'>,
  limits: ShareLimits,
  now: number,
): number {
  if (record.desired === 'paused') return MAX_ETA;
  if (!progress.finished) return stats?.eta === undefined ? MAX_ETA : Math.min(MAX_ETA, Math.ceil(Math.max(0, stats.eta)));
  if (limits.ratio < 0 && limits.seedingMinutes < 0 && limits.inactiveMinutes < 0) return MAX_ETA;
  let eta = MAX_ETA;
  const upRate = stats?.uploadRate ?? 0;
  if (upRate > 0 && limits.ratio >= 0) {
    const base = record.totals.downloaded > 0 ? record.totals.downloaded : progress.wanted;
    eta = Math.min(eta, Math.max(0, Math.floor((base * limits.ratio - record.totals.uploaded) / upRate)));
  }
  if (limits.seedingMinutes >= 0) eta = Math.min(eta, Math.max(0, limits.seedingMinutes * 60 - Math.floor(record.totals.seedingMs / 1000)));
  if (limits.inactiveMinutes >= 0) {
    const since = Math.floor((now - (record.totals.lastActivityAt > 0 ? record.totals.lastActivityAt : record.addedAt)) / 1000);
    eta = Math.min(eta, Math.max(0, limits.inactiveMinutes * 60 - since));
  }
  return eta;
}

export interface TorrentViewInput {
  record: ResolvedTorrentRecord;
  stats: TorrentStatsView | undefined;
  progress: Progress;
  config: FleetConfig;
  now: number;
  /** What its trackers last answered (the backend's trackers()); none known when left out. */
  trackers?: readonly TrackerStatus[] | undefined;
}

export function torrentView({ record, stats, progress, config, now, trackers: statuses = [] }: TorrentViewInput): QbtTorrent {
  const m = record.metainfo;
  const s = record.settings;
  const limits = effectiveShare(s.share, config.share);
  const stopped = record.desired === 'paused';
  const trackers = m.announce.flat();
  const ratio = Number.isFinite(record.ratio) ? Math.max(0, record.ratio) : -1;
  const activeSeconds = Math.floor(record.totals.activeMs / 1000);
  const seeds = stats?.seeds ?? 0;
  const leechers = Math.max(0, (stats?.peers ?? 0) - seeds);
  const swarm = swarmCounts(statuses);
  const lastActivity = record.totals.lastActivityAt > 0 ? record.totals.lastActivityAt : record.addedAt;
  return {
    hash: record.infoHashHex,
    infohash_v1: record.infoHashHex,
    // This engine speaks BitTorrent v1 only: a torrent has no v2 hash here.
    infohash_v2: '',
    name: m.name,
    magnet_uri: magnetUri(m),
    size: progress.wanted,
    progress: progress.wanted > 0 ? progress.completed / progress.wanted : progress.finished ? 1 : 0,
    // qBittorrent suppresses the rates of a stopped torrent: its last figures are stale.
    dlspeed: stopped ? 0 : whole(stats?.downloadRate),
    upspeed: stopped ? 0 : whole(stats?.uploadRate),
    // The queue position shows only while queueing is on, as libtorrent's is -1 (shown 0) otherwise.
    priority: config.queue.enabled ? record.queuePosition : 0,
    num_seeds: seeds,
    // The swarm as the trackers count it; until one has said, the peers connected now.
    num_complete: swarm.complete ?? seeds,
    num_leechs: leechers,
    num_incomplete: swarm.incomplete ?? leechers,
    state: qbtState(record, stats, progress.finished),
    eta: etaOf(record, stats, progress, limits, now),
    seq_dl: s.sequential,
    f_l_piece_prio: s.firstLastPiece,
    category: s.category,
    tags: s.tags.join(', '),
    // The engine has no super-seeding mode.
    super_seeding: false,
    force_start: s.forceStart,
    save_path: record.savePath,
    // No separate folder for incomplete downloads: data goes straight to the save folder.
    download_path: '',
    content_path: contentPath(record),
    root_path: m.multiFile ? join(record.savePath, m.name) : '',
    added_on: seconds(record.addedAt),
    completion_on: seconds(record.totals.completedAt),
    // The tracker working now; while none is, the first, so that tools grouping torrents by tracker still can.
    tracker: workingTracker(statuses) ?? trackers[0] ?? '',
    trackers_count: trackers.length,
    dl_limit: s.limits.download,
    up_limit: s.limits.upload,
    downloaded: whole(record.totals.downloaded),
    uploaded: whole(record.totals.uploaded),
    downloaded_session: whole(stats?.downloaded),
    uploaded_session: whole(stats?.uploaded),
    amount_left: progress.wanted - progress.completed,
    completed: progress.completed,
    max_ratio: limits.ratio,
    max_seeding_time: limits.seedingMinutes,
    max_inactive_seeding_time: limits.inactiveMinutes,
    ratio,
    ratio_limit: s.share.ratio,
    popularity: activeSeconds > 0 && ratio > 0 ? ratio / (activeSeconds / MONTH_SECONDS) : 0,
    seeding_time_limit: s.share.seedingMinutes,
    inactive_seeding_time_limit: s.share.inactiveMinutes,
    // A complete copy is seen when we hold one or a connected peer does (as of the figures' tick); unknown otherwise.
    seen_complete: stats !== undefined && (progress.finished || seeds > 0) ? seconds(stats.time) : -1,
    auto_tmm: false,
    time_active: activeSeconds,
    seeding_time: Math.floor(record.totals.seedingMs / 1000),
    last_activity: seconds(lastActivity),
    // Distributed copies need every peer's bitfield, which the fleet does not gather: unknown, as libtorrent says -1.
    availability: -1,
    // Seconds to the next announce; a stopped torrent announces nothing.
    reannounce: stopped ? 0 : secondsToNextAnnounce(statuses, now),
    comment: m.comment ?? '',
    private: m.private,
    total_size: progress.totalSize,
    has_metadata: true,
  };
}

/**
 * A magnet link whose metadata the fleet is fetching, as qBittorrent shows
 * a torrent without metadata: `metaDL` (`forcedMetaDL` when forced) for as
 * long as it tries, a failed attempt included (qBittorrent keeps trying
 * too), `stoppedDL` when stopped; sizes 0 and the total -1.
 */
export function pendingView(record: PendingTorrentRecord, config: FleetConfig, trackers: readonly TrackerStatus[] = []): QbtTorrent {
  const s = record.settings;
  const share = effectiveShare(s.share, config.share);
  const stopped = record.desired === 'paused';
  const links = record.magnet.trackers;
  return {
    hash: record.infoHashHex,
    infohash_v1: record.infoHashHex,
    infohash_v2: '',
    name: record.magnet.name,
    magnet_uri: record.magnet.uri,
    size: 0,
    progress: 0,
    dlspeed: 0,
    upspeed: 0,
    priority: config.queue.enabled ? record.queuePosition : 0,
    num_seeds: 0,
    num_complete: swarmCounts(trackers).complete ?? 0,
    num_leechs: 0,
    num_incomplete: swarmCounts(trackers).incomplete ?? 0,
    state: stopped ? 'stoppedDL' : s.forceStart ? 'forcedMetaDL' : 'metaDL',
    eta: MAX_ETA,
    seq_dl: s.sequential,
    f_l_piece_prio: s.firstLastPiece,
    category: s.category,
    tags: s.tags.join(', '),
    super_seeding: false,
    force_start: s.forceStart,
    save_path: record.savePath,
    download_path: '',
    content_path: '',
    root_path: '',
    added_on: seconds(record.addedAt),
    completion_on: -1,
    tracker: workingTracker(trackers) ?? links[0] ?? '',
    trackers_count: links.length,
    dl_limit: s.limits.download,
    up_limit: s.limits.upload,
    downloaded: 0,
    uploaded: 0,
    downloaded_session: 0,
    uploaded_session: 0,
    amount_left: 0,
    completed: 0,
    max_ratio: share.ratio,
    max_seeding_time: share.seedingMinutes,
    max_inactive_seeding_time: share.inactiveMinutes,
    ratio: 0,
    ratio_limit: s.share.ratio,
    popularity: 0,
    seeding_time_limit: s.share.seedingMinutes,
    inactive_seeding_time_limit: s.share.inactiveMinutes,
    seen_complete: -1,
    auto_tmm: false,
    time_active: 0,
    seeding_time: 0,
    last_activity: seconds(record.addedAt),
    availability: -1,
    reannounce: 0,
    comment: '',
    // Unknown until the metadata says: qBittorrent sends null.
    private: null,
    // TorrentInfo::totalSize of a torrent without metadata.
    total_size: -1,
    has_metadata: false,
  };
}
