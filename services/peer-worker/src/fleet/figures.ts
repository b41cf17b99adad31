import type { NatsConnection } from 'nats';
import { workerStatsSubject } from '@seedbox/cluster';
import { WatchTorrentsResponse, type TorrentStats } from '@seedbox/proto';
import type { PeerWorkerMetrics } from '@seedbox/runtime';
import { stateFromProto, stateToProto } from '../control/state-codes.js';
import type { TorrentStatsView } from '../control/backend.js';
import type { EngineTick } from '../engine.js';
import type { TorrentSnapshot } from '../torrent.js';

/**
 * A torrent's figures on their way to the control API: over NATS to every
 * peer-worker of a fleet (whose StatsBoard sums them), or straight from
 * the engine in one process (LocalStatsBoard, local-stats-board.ts).
 */

export function statsOf(x: TorrentSnapshot, time: number): TorrentStats {
  return {
    state: stateToProto(x.state),
    error: x.error ?? '',
    infoHash: x.infoHash,
    downloadRate: Math.round(x.downloadRate),
    uploadRate: Math.round(x.uploadRate),
    downloadedBytes: x.downloaded,
    uploadedBytes: x.uploaded,
    peers: x.peers,
    seeds: x.seeds,
    peersSending: x.peersSending,
    peersGetting: x.peersGetting,
    piecesVerified: x.piecesVerified,
    piecesFailed: x.piecesFailed,
    pieceCount: x.pieceCount,
    leftBytes: x.left,
    etaSeconds: x.eta === undefined ? 0 : Math.ceil(x.eta),
    tickTimeMs: time,
  };
}

/**
 * Every torrent's figures go out this often (ticks), the changes in
 * between: NATS drops a message rather than queue it, and a reader may
 * join at any time, so a reader that missed something is right again
 * within 15 s, while an idle worker's figures cost a few bytes a second.
 */
export const FULL_FIGURES_EVERY_TICKS = 15;

/**
 * This worker's figures, once a tick, on `seedbox.stats.<worker>`, as a
 * WatchTorrents stream has them: the torrents whose figures changed and
 * those gone since the last tick (`full: false`), and every torrent's
 * every FULL_FIGURES_EVERY_TICKS ticks (`full: true`, the first one too).
 * A tick with nothing to say still sends its (empty) message: to the
 * readers, it is the sign the worker is alive (StatsBoard's staleMs).
 *
 * A reader older than this takes every message for the whole list: until
 * it is upgraded too, it shows this worker's idle torrents only after a
 * full message (and drops them at the next), with no wrong sum.
 */
export class FiguresPublisher {
  private ticks = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly workerId: string,
  ) {}

  publish(t: EngineTick): void {
    const full = this.ticks++ % FULL_FIGURES_EVERY_TICKS === 0;
    const message = full
      ? { stats: t.torrents.map((x) => statsOf(x, t.time)), removed: [], full: true }
      : { stats: t.changed.map((x) => statsOf(x, t.time)), removed: t.gone, full: false };
    try {
      this.nc.publish(workerStatsSubject(this.workerId), WatchTorrentsResponse.encode(message).finish());
    } catch {
      // A closed connection during shutdown: nobody to tell.
    }
  }
}

/** Figures as the control API's backend reads them, from those a worker publishes (one worker's, not yet summed). */
export function viewFromStats(s: TorrentStats): TorrentStatsView {
  const complete = s.pieceCount > 0 && s.leftBytes === 0;
  return {
    infoHashHex: s.infoHash,
    downloadRate: s.downloadRate,
    uploadRate: s.uploadRate,
    downloaded: s.downloadedBytes,
    uploaded: s.uploadedBytes,
    peers: s.peers,
    seeds: s.seeds,
    peersSending: s.peersSending,
    peersGetting: s.peersGetting,
    piecesVerified: s.piecesVerified,
    piecesFailed: s.piecesFailed,
    pieceCount: s.pieceCount,
    left: s.leftBytes,
    // 0 on the wire stands for both unknown and done.
    eta: complete ? 0 : s.etaSeconds > 0 ? s.etaSeconds : undefined,
    complete,
    time: s.tickTimeMs,
    state: stateFromProto(s.state),
    error: s.error || undefined,
  };
}

/** Each tick's per-torrent metrics (of the torrents that changed) and the count of torrents by state, the same in the fleet and in serve. */
export function recordTick(m: PeerWorkerMetrics, t: EngineTick, pausedInRegistry: number): void {
  m.observeTick(t);
  m.setTorrentStates({ downloading: t.sums.incomplete, seeding: t.sums.complete, paused: t.sums.paused + pausedInRegistry });
}

/** A peer-worker's figures for the fleet view, from the engine's last tick: what it runs and moves (serve reports the same). */
export function engineFigures(t: EngineTick | undefined): { torrents: number; downloadRate: number; uploadRate: number; peers: number } {
  if (!t) return { torrents: 0, downloadRate: 0, uploadRate: 0, peers: 0 };
  const s = t.sums;
  return { torrents: s.complete + s.incomplete, downloadRate: Math.round(s.downloadRate), uploadRate: Math.round(s.uploadRate), peers: s.peers };
}
