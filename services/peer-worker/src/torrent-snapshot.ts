import type { Metainfo } from '@seedbox/protocol';
import type { CloseReason } from './peer-connection.js';
import type { RefusedRequest } from './upload-server.js';

/** Where a torrent is in its life; the transitions are drawn in torrent.ts and docs/ARCHITECTURE.md. */
export type TorrentState = 'checking' | 'downloading' | 'seeding' | 'paused' | 'stopped' | 'error';

/**
 * One torrent's figures: the single source for the progress bar, the JSON
 * lines, the metrics and the control API. Rates and the per-tick counts
 * are those of the last closed one-second window; totals and the state are
 * as of the call.
 */
export interface TorrentSnapshot {
  infoHash: string;
  name: string;
  state: TorrentState;
  /** Why the torrent is in `error`. */
  error: string | undefined;
  /** While checking: pieces checked of the total. */
  checked: { done: number; total: number };
  /** Bytes per second of block payload over the last tick. */
  downloadRate: number;
  uploadRate: number;
  downloaded: number;
  uploaded: number;
  /** Block bytes that were not needed (endgame duplicates, late blocks). */
  wasted: number;
  /** Uploaded over downloaded; over the torrent's size for data we never downloaded (a seed). */
  ratio: number;
  peers: number;
  seeds: number;
  piecesVerified: number;
  piecesFailed: number;
  pieceCount: number;
  left: number;
  totalLength: number;
  /** Seconds to completion at the current rate; undefined when unknown. */
  eta: number | undefined;
  complete: boolean;
  /** Sessions closed during the last tick, by reason. */
  closed: Partial<Record<CloseReason, number>>;
  /** Peer requests refused during the last tick, by reason. */
  refused: Partial<Record<RefusedRequest, number>>;
}

/** What the torrent hands over to be turned into a snapshot. */
export interface TorrentFigures {
  meta: Metainfo;
  state: TorrentState;
  error: string | undefined;
  checked: { done: number; total: number };
  downloaded: number;
  uploaded: number;
  wasted: number;
  verified: number;
  failed: number;
  left: number;
  complete: boolean;
  peers: number;
  seeds: number;
  /** Closed at the last tick. */
  last: {
    downloadRate: number;
    uploadRate: number;
    closed: Partial<Record<CloseReason, number>>;
    refused: Partial<Record<RefusedRequest, number>>;
  };
}

export function snapshotOf(f: TorrentFigures): TorrentSnapshot {
  const { downloadRate, uploadRate } = f.last;
  return {
    infoHash: f.meta.infoHashHex,
    name: f.meta.name,
    state: f.state,
    error: f.error,
    checked: { ...f.checked },
    downloadRate,
    uploadRate,
    downloaded: f.downloaded,
    uploaded: f.uploaded,
    wasted: f.wasted,
    ratio: f.uploaded / Math.max(1, f.downloaded > 0 ? f.downloaded : f.meta.totalLength),
    peers: f.peers,
    seeds: f.seeds,
    piecesVerified: f.verified,
    piecesFailed: f.failed,
    pieceCount: f.meta.pieceCount,
    left: f.left,
    totalLength: f.meta.totalLength,
    eta: f.left === 0 ? 0 : downloadRate > 0 ? f.left / downloadRate : undefined,
    complete: f.complete,
    closed: { ...f.last.closed },
    refused: { ...f.last.refused },
  };
}
