import { TorrentState } from '@seedbox/proto';
import type { TorrentStatsView } from './backend.js';

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
