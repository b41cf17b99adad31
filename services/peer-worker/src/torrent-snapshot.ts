import type { Bitfield, Metainfo } from '@seedbox/protocol';
import type { FileSelectionState } from './file-selection.js';
import type { CloseReason } from './peer-connection.js';
import type { PeerSession } from './peer-session.js';
import type { TorrentCounters } from './torrent-counters.js';
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
  /** Peers that sent us block bytes, and peers we sent some to, in the last tick (Transmission's peersSendingToUs, peersGettingFromUs). */
  peersSending: number;
  peersGetting: number;
  piecesVerified: number;
  piecesFailed: number;
  pieceCount: number;
  /** Bytes of the pieces not verified, skipped files' included: what trackers hear. */
  left: number;
  totalLength: number;
  /**
   * Bytes of the pieces to fetch: those of the files not skipped (a piece
   * shared with a skipped file counts whole). `totalLength` without skips.
   */
  wanted: number;
  /** Bytes of those pieces not verified yet (libtorrent's total_wanted - total_wanted_done). */
  wantedLeft: number;
  /** Seconds until `wantedLeft` is 0 at the current rate; undefined when unknown. */
  eta: number | undefined;
  /** Every piece is verified. */
  complete: boolean;
  /** Every wanted piece is verified: nothing more to download. Equals `complete` when no file is skipped. */
  done: boolean;
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
  wanted: number;
  wantedLeft: number;
  complete: boolean;
  done: boolean;
  peers: number;
  seeds: number;
  sending: number;
  getting: number;
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
    peersSending: f.sending,
    peersGetting: f.getting,
    piecesVerified: f.verified,
    piecesFailed: f.failed,
    pieceCount: f.meta.pieceCount,
    left: f.left,
    totalLength: f.meta.totalLength,
    wanted: f.wanted,
    wantedLeft: f.wantedLeft,
    eta: f.wantedLeft === 0 ? 0 : downloadRate > 0 ? f.wantedLeft / downloadRate : undefined,
    complete: f.complete,
    done: f.done,
    closed: { ...f.last.closed },
    refused: { ...f.last.refused },
  };
}

/** The connected peers as the snapshot counts them: all, seeds, and those that moved blocks either way in the last tick. */
export function peerCounts(live: Iterable<PeerSession>): Pick<TorrentFigures, 'peers' | 'seeds' | 'sending' | 'getting'> {
  const n = { peers: 0, seeds: 0, sending: 0, getting: 0 };
  for (const s of live) {
    n.peers++;
    if (s.peerPieces.isComplete) n.seeds++;
    if (s.download.rate > 0) n.sending++;
    if (s.upload.rate > 0) n.getting++;
  }
  return n;
}

/**
 * The parts of a torrent its snapshot is made from that stay the same
 * objects for the torrent's life (read in place: no allocation, no calls).
 */
export interface SnapshotParts {
  meta: Metainfo;
  have: Pick<Bitfield, 'isComplete'>;
  selection: Pick<FileSelectionState, 'left' | 'wanted' | 'wantedLeft'>;
  counters: TorrentCounters;
  live: ReadonlySet<PeerSession>;
}

/**
 * A torrent's snapshot, answered again while nothing in it changed: a
 * torrent without peers (the thousands a seedbox seeds while no one asks)
 * hands its consumers the very same object tick after tick, so they can
 * tell nothing changed by identity (===), and nothing is built for it.
 * Snapshots are never changed once made.
 */
export class SnapshotCache {
  private cached: TorrentSnapshot | undefined;
  /** What `cached` was made from that is replaced rather than changed: compared by identity. */
  private last: object | undefined;
  private checked: object | undefined;

  constructor(private readonly parts: SnapshotParts) {}

  /** The snapshot with the torrent's state now, and its check's progress (replaced, never changed, as a check goes). */
  get(state: TorrentState, error: string | undefined, checked: { done: number; total: number }): TorrentSnapshot {
    if (this.cached && this.holds(this.cached, state, error, checked)) return this.cached;
    const { meta, have, selection, counters, live } = this.parts;
    const last = counters.last;
    this.cached = snapshotOf({
      meta,
      state,
      error,
      checked,
      ...counters.totals(),
      left: selection.left,
      wanted: selection.wanted,
      wantedLeft: selection.wantedLeft,
      complete: have.isComplete,
      done: selection.wantedLeft === 0,
      ...peerCounts(live),
      last,
    });
    this.last = last;
    this.checked = checked;
    return this.cached;
  }

  /**
   * Whether `s` still holds: no peers (their counts change without a
   * tick), the same closed tick and check progress, and the same state,
   * pieces and totals (answers from the disk-writer, a file selection and
   * adopted pieces change those with no peer and no tick). `done` follows
   * from `wantedLeft`.
   */
  private holds(s: TorrentSnapshot, state: TorrentState, error: string | undefined, checked: object): boolean {
    const { have, selection, counters, live } = this.parts;
    return (
      live.size === 0 &&
      s.peers === 0 &&
      this.last === counters.last &&
      this.checked === checked &&
      s.state === state &&
      s.error === error &&
      s.left === selection.left &&
      s.wanted === selection.wanted &&
      s.wantedLeft === selection.wantedLeft &&
      s.complete === have.isComplete &&
      counters.sameTotals(s)
    );
  }
}
