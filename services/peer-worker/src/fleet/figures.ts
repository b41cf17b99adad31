import type { NatsConnection } from 'nats';
import { workerStatsSubject } from '@seedbox/cluster';
import { WatchTorrentsResponse, type TorrentStats } from '@seedbox/proto';
import { stateToProto } from '../control/state-codes.js';
import type { StatsSource, TorrentStatsView } from '../control/backend.js';
import type { Engine, EngineTick } from '../engine.js';
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
    nc.publish(workerStatsSubject(workerId), WatchTorrentsResponse.encode({ stats: t.torrents.map((x) => statsOf(x, t.time)) }).finish());
  } catch {
    // A closed connection during shutdown: nobody to tell.
  }
}

function viewOf(x: TorrentSnapshot, time: number): TorrentStatsView {
  return {
    infoHashHex: x.infoHash,
    downloadRate: x.downloadRate,
    uploadRate: x.uploadRate,
    downloaded: x.downloaded,
    uploaded: x.uploaded,
    peers: x.peers,
    seeds: x.seeds,
    piecesVerified: x.piecesVerified,
    piecesFailed: x.piecesFailed,
    pieceCount: x.pieceCount,
    left: x.left,
    eta: x.eta === undefined ? undefined : Math.ceil(x.eta),
    complete: x.complete,
    time,
    state: x.state,
    error: x.error,
  };
}

/** The figures of the one engine in this process: `seedbox serve`. */
export class LocalStatsBoard implements StatsSource {
  private readonly listeners = new Set<(s: TorrentStatsView[]) => void>();
  private latest = new Map<string, TorrentStatsView>();
  private readonly onTickFn = (t: EngineTick): void => {
    this.latest = new Map(t.torrents.map((x) => [x.infoHash, viewOf(x, t.time)]));
    const all = [...this.latest.values()];
    for (const l of [...this.listeners]) {
      try {
        l(all);
      } catch {
        // A listener's failure (a closed stream) is its own.
      }
    }
  };

  constructor(private readonly engine: Engine) {
    engine.on('tick', this.onTickFn);
  }

  get(infoHashHex: string): TorrentStatsView | undefined {
    return this.latest.get(infoHashHex);
  }

  onTick(listener: (s: TorrentStatsView[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.engine.off('tick', this.onTickFn);
    this.listeners.clear();
  }
}
