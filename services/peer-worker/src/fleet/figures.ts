import type { NatsConnection } from 'nats';
import { workerStatsSubject } from '@seedbox/cluster';
import { WatchTorrentsResponse, type TorrentStats } from '@seedbox/proto';
import type { PeerWorkerMetrics } from '@seedbox/runtime';
import { stateFromProto, stateToProto } from '../control/state-codes.js';
import type { StatsSource, TorrentStatsView } from '../control/backend.js';
import type { EngineTick } from '../engine.js';
import type { TorrentSnapshot } from '../torrent.js';

/**
 * A torrent's figures on their way to the control API: over NATS to every
 * peer-worker of a fleet (whose StatsBoard sums them), or straight from
 * the engine in one process (`LocalStatsBoard`).
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

/** This worker's figures, once a tick, on `seedbox.stats.<worker>`. */
export function publishFigures(nc: NatsConnection, workerId: string, t: EngineTick): void {
  try {
    // Every torrent this worker runs, each tick: a full message (`removed` is a WatchTorrents stream's).
    nc.publish(workerStatsSubject(workerId), WatchTorrentsResponse.encode({ stats: t.torrents.map((x) => statsOf(x, t.time)), removed: [], full: true }).finish());
  } catch {
    // A closed connection during shutdown: nobody to tell.
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

/** Each tick's per-torrent metrics and the count of torrents by state, the same in the fleet and in serve. */
export function recordTick(m: PeerWorkerMetrics, t: EngineTick, pausedInRegistry: number): void {
  m.observeTick(t);
  const count = { downloading: 0, seeding: 0, paused: pausedInRegistry };
  for (const x of t.torrents) {
    if (x.state === 'paused') count.paused++;
    else if (x.complete) count.seeding++;
    else count.downloading++;
  }
  m.setTorrentStates(count);
}

/** A peer-worker's figures for the fleet view, from the engine's last tick: what it runs and moves (serve reports the same). */
export function engineFigures(t: EngineTick | undefined): { torrents: number; downloadRate: number; uploadRate: number; peers: number } {
  const out = { torrents: 0, downloadRate: 0, uploadRate: 0, peers: 0 };
  for (const x of t?.torrents ?? []) {
    if (x.state !== 'paused') out.torrents++;
    out.downloadRate += x.downloadRate;
    out.uploadRate += x.uploadRate;
    out.peers += x.peers;
  }
  out.downloadRate = Math.round(out.downloadRate);
  out.uploadRate = Math.round(out.uploadRate);
  return out;
}

/** The figures of the one engine in this process: `seedbox serve`. */
export class LocalStatsBoard implements StatsSource {
  private readonly listeners = new Set<(s: TorrentStatsView[]) => void>();
  /** Each torrent's view, with the snapshot it was made from and the last tick that had it. */
  private readonly latest = new Map<string, { snap: TorrentSnapshot; view: TorrentStatsView; tick: number }>();
  private ticks = 0;

  /**
   * Fed by the FleetRunner's ticks rather than the engine's: the runner
   * also ticks at once when a torrent completes, and the figures must say
   * so before the queue (which reads the same bitfield) starts the next
   * one, or a client would see two downloads at once for up to a second.
   *
   * An idle torrent hands the same snapshot tick after tick: its view is
   * kept (only its time moves), so thousands of idle torrents cost a map
   * lookup each.
   */
  record(t: EngineTick): void {
    const now = ++this.ticks;
    for (const x of t.torrents) {
      const had = this.latest.get(x.infoHash);
      if (had?.snap === x) {
        had.view.time = t.time;
        had.tick = now;
      } else this.latest.set(x.infoHash, { snap: x, view: viewFromStats(statsOf(x, t.time)), tick: now });
    }
    if (this.latest.size > t.torrents.length) for (const [hex, l] of this.latest) if (l.tick !== now) this.latest.delete(hex);
    if (this.listeners.size === 0) return;
    const all = Array.from(this.latest.values(), (l) => l.view);
    for (const l of [...this.listeners]) {
      try {
        l(all);
      } catch {
        // A listener's failure (a closed stream) is its own.
      }
    }
  }

  get(infoHashHex: string): TorrentStatsView | undefined {
    return this.latest.get(infoHashHex)?.view;
  }

  onTick(listener: (s: TorrentStatsView[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.listeners.clear();
  }
}
