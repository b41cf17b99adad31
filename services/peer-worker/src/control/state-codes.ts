import { TorrentState } from '@seedbox/proto';
import type { TorrentRecord, TorrentStatsView } from './backend.js';

/** A torrent's engine state as the proto names it, and back (for figures that cross NATS and gRPC). */

/** The engine's states as the proto names them, and back. */
const TO_PROTO: Record<NonNullable<TorrentStatsView['state']>, TorrentState> = {
  checking: TorrentState.TORRENT_STATE_CHECKING,
  downloading: TorrentState.TORRENT_STATE_DOWNLOADING,
  seeding: TorrentState.TORRENT_STATE_SEEDING,
  paused: TorrentState.TORRENT_STATE_PAUSED,
  stopped: TorrentState.TORRENT_STATE_PAUSED,
  error: TorrentState.TORRENT_STATE_ERROR,
};

export function stateFromProto(s: TorrentState): TorrentStatsView['state'] {
  switch (s) {
    case TorrentState.TORRENT_STATE_CHECKING:
      return 'checking';
    case TorrentState.TORRENT_STATE_DOWNLOADING:
    case TorrentState.TORRENT_STATE_STALLED:
      return 'downloading';
    case TorrentState.TORRENT_STATE_SEEDING:
      return 'seeding';
    case TorrentState.TORRENT_STATE_PAUSED:
      return 'paused';
    case TorrentState.TORRENT_STATE_ERROR:
      return 'error';
    default:
      return undefined;
  }
}

export function stateToProto(s: TorrentStatsView['state']): TorrentState {
  return s === undefined ? TorrentState.TORRENT_STATE_UNSPECIFIED : TO_PROTO[s];
}

/**
 * The state a client sees, from what the fleet wants (the record) and what
 * the workers last reported (the figures), first rule that holds:
 *
 * - paused: the torrent is not to run, so whatever stopped it is not the news;
 * - metadata: a magnet link whose metadata the fleet is fetching (a failed
 *   attempt is tried again, so it stays so, as in qBittorrent);
 * - error: the fleet cannot run it, or its worker says it failed;
 * - queued: running, but waiting for a slot under the queueing limits;
 * - checking, as the worker says;
 * - seeding once complete;
 * - stalled: the worker says downloading but nothing came in over the tick
 *   (qBittorrent's stalledDL), so a user sees a torrent without sources;
 * - downloading otherwise, also before any worker has reported.
 */
export function torrentState(record: Pick<TorrentRecord, 'desired' | 'error' | 'queued'> & { magnet?: unknown }, stats: Pick<TorrentStatsView, 'state' | 'complete' | 'downloadRate'> | undefined): TorrentState {
  if (record.desired === 'paused') return TorrentState.TORRENT_STATE_PAUSED;
  if (record.magnet !== undefined) return TorrentState.TORRENT_STATE_METADATA;
  if (record.error !== undefined || stats?.state === 'error') return TorrentState.TORRENT_STATE_ERROR;
  if (record.queued) return TorrentState.TORRENT_STATE_QUEUED;
  if (stats?.state === 'checking') return TorrentState.TORRENT_STATE_CHECKING;
  // A torrent with files skipped seeds what it has once its wanted pieces are in: the engine says 'seeding'.
  if (stats?.complete || stats?.state === 'seeding') return TorrentState.TORRENT_STATE_SEEDING;
  if (stats?.state === 'downloading' && !(stats.downloadRate > 0)) return TorrentState.TORRENT_STATE_STALLED;
  return TorrentState.TORRENT_STATE_DOWNLOADING;
}
