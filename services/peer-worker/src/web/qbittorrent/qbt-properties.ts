import type { Metainfo } from '@seedbox/protocol';
import type { ResolvedTorrentRecord, TorrentStatsView } from '../../control/backend.js';
import type { QbtTorrent } from './qbt-torrent-view.js';

/**
 * torrents/properties and torrents/webseeds, from the torrent's list entry
 * (qbt-torrent-view.ts) and what only these endpoints add. Pure. The
 * trackers are in qbt-trackers.ts.
 */

export interface QbtProperties {
  infohash_v1: string;
  infohash_v2: string;
  name: string;
  hash: string;
  time_elapsed: number;
  seeding_time: number;
  eta: number;
  nb_connections: number;
  nb_connections_limit: number;
  total_downloaded: number;
  total_downloaded_session: number;
  total_uploaded: number;
  total_uploaded_session: number;
  dl_speed: number;
  dl_speed_avg: number;
  up_speed: number;
  up_speed_avg: number;
  dl_limit: number;
  up_limit: number;
  total_wasted: number;
  seeds: number;
  seeds_total: number;
  peers: number;
  peers_total: number;
  share_ratio: number;
  popularity: number;
  reannounce: number;
  total_size: number;
  pieces_num: number;
  piece_size: number;
  pieces_have: number;
  created_by: string;
  is_private: boolean;
  private: boolean | null;
  addition_date: number;
  last_seen: number;
  completion_date: number;
  creation_date: number;
  save_path: string;
  download_path: string;
  comment: string;
  has_metadata: boolean;
  progress: number;
}

/**
 * The properties of a listed torrent. `meta` is undefined for a magnet
 * still resolving: sizes and piece counts are then qBittorrent's -1.
 * `piecesHave` is the count of verified pieces.
 */
export function propertiesView(t: QbtTorrent, meta: Pick<Metainfo, 'pieceCount' | 'pieceLength' | 'createdBy' | 'creationDate'> | undefined, stats: Pick<TorrentStatsView, 'peers'> | undefined, piecesHave: number): QbtProperties {
  const downloadingSeconds = t.time_active - t.seeding_time;
  return {
    infohash_v1: t.infohash_v1,
    infohash_v2: t.infohash_v2,
    name: t.name,
    hash: t.hash,
    time_elapsed: t.time_active,
    seeding_time: t.seeding_time,
    eta: t.eta,
    nb_connections: stats?.peers ?? 0,
    // The fleet sets no per-torrent connection cap: qBittorrent's -1, no limit.
    nb_connections_limit: -1,
    total_downloaded: t.downloaded,
    total_downloaded_session: t.downloaded_session,
    total_uploaded: t.uploaded,
    total_uploaded_session: t.uploaded_session,
    dl_speed: t.dlspeed,
    dl_speed_avg: downloadingSeconds > 0 ? Math.floor(t.downloaded / downloadingSeconds) : -1,
    up_speed: t.upspeed,
    up_speed_avg: t.time_active > 0 ? Math.floor(t.uploaded / t.time_active) : -1,
    dl_limit: t.dl_limit > 0 ? t.dl_limit : -1,
    up_limit: t.up_limit > 0 ? t.up_limit : -1,
    // Bytes discarded (failed hashes, duplicates) are counted by each worker and not summed by the fleet.
    total_wasted: 0,
    seeds: t.num_seeds,
    seeds_total: t.num_complete,
    peers: t.num_leechs,
    peers_total: t.num_incomplete,
    share_ratio: t.ratio,
    popularity: t.popularity,
    reannounce: t.reannounce,
    total_size: t.total_size,
    pieces_num: meta?.pieceCount ?? -1,
    piece_size: meta?.pieceLength ?? -1,
    pieces_have: piecesHave,
    created_by: meta?.createdBy ?? '',
    is_private: t.private === true,
    private: t.private,
    addition_date: t.added_on,
    last_seen: t.seen_complete,
    completion_date: t.completion_on,
    creation_date: meta?.creationDate ?? -1,
    save_path: t.save_path,
    download_path: t.download_path,
    comment: t.comment,
    has_metadata: t.has_metadata,
    progress: t.progress,
  };
}

export function webseedsView(m: Pick<Metainfo, 'urlList'>): { url: string }[] {
  return m.urlList.map((url) => ({ url }));
}

/**
 * Verified pieces: the set bits of the fleet's bitfield, its record of
 * what is verified (the files' progress comes from it too), else the
 * figures' count. Either is capped at the piece count.
 */
export function piecesHave(record: Pick<ResolvedTorrentRecord, 'metainfo'>, stats: Pick<TorrentStatsView, 'piecesVerified'> | undefined, bits: Uint8Array | undefined): number {
  let n = 0;
  if (bits === undefined) n = stats?.piecesVerified ?? 0;
  else for (const byte of bits) for (let b = byte; b !== 0; b &= b - 1) n++;
  return Math.min(n, record.metainfo.pieceCount);
}
