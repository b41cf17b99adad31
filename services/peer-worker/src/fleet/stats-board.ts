import type { NatsConnection, Subscription } from 'nats';
import { WORKER_STATS_ALL } from '@seedbox/cluster';
import { WatchTorrentsResponse, type TorrentStats } from '@seedbox/proto';
import type { StatsSource, TorrentStatsView } from '../control/backend.js';
import { stateFromProto } from '../control/state-codes.js';
import { viewFromStats } from './figures.js';

/**
 * The fleet's per-tick figures, as every peer-worker sees them: each worker
 * publishes its torrents' figures once a second on `seedbox.stats.<id>`,
 * and every worker keeps the latest from each. A torrent run by several
 * workers (a seeding fleet) is summed over them. This is what lets any
 * replica answer list, get and watch.
 */
export class StatsBoard implements StatsSource {
  private readonly latest = new Map<string, { time: number; stats: TorrentStats[] }>();
  private readonly listeners = new Set<(s: TorrentStatsView[]) => void>();
  private readonly sub: Subscription;
  private readonly timer: NodeJS.Timeout;

  constructor(
    nc: NatsConnection,
    /** Figures older than this are a worker that is gone. */
    private readonly staleMs = 5000,
  ) {
    this.sub = nc.subscribe(WORKER_STATS_ALL, {
      callback: (_err, msg) => {
        try {
          const r = WatchTorrentsResponse.decode(msg.data);
          this.latest.set(msg.subject, { time: Date.now(), stats: r.stats });
          this.summed = undefined;
        } catch {
          // One worker's garbled figures: skip them, keep the others.
        }
      },
    });
    this.timer = setInterval(() => this.emit(), 1000);
    this.timer.unref();
  }

  /** The sums as last computed; dropped when figures arrive (and read again at most a second later, for staleness). */
  private summed: { at: number; by: Map<string, TorrentStatsView> } | undefined;

  /** Every torrent's summed figures now. */
  all(): TorrentStatsView[] {
    return [...this.sums().values()];
  }

  get(infoHashHex: string): TorrentStatsView | undefined {
    return this.sums().get(infoHashHex);
  }

  /** A list of N torrents asks for N torrents' figures: they are summed once, not N times. */
  private sums(): Map<string, TorrentStatsView> {
    const now = Date.now();
    if (this.summed && now - this.summed.at < 1000) return this.summed.by;
    const by = new Map<string, TorrentStatsView>();
    for (const [key, w] of this.latest) {
      if (now - w.time > this.staleMs) {
        this.latest.delete(key);
        continue;
      }
      for (const s of w.stats) {
        const prev = by.get(s.infoHash);
        if (!prev) {
          by.set(s.infoHash, viewFromStats(s));
          continue;
        }
        // Trouble on any worker is news; else checking until every worker has checked.
        const state = stateFromProto(s.state);
        if (state === 'error' && prev.state !== 'error') {
          prev.state = 'error';
          prev.error = s.error || undefined;
        } else if (state === 'checking' && prev.state !== 'error') prev.state = 'checking';
        prev.downloadRate += s.downloadRate;
        prev.uploadRate += s.uploadRate;
        prev.downloaded += s.downloadedBytes;
        prev.uploaded += s.uploadedBytes;
        prev.peers += s.peers;
        prev.seeds += s.seeds;
        prev.peersSending += s.peersSending;
        prev.peersGetting += s.peersGetting;
        prev.piecesFailed += s.piecesFailed;
        // Pieces live on the shared volume: the fleet has what its furthest worker has.
        prev.piecesVerified = Math.max(prev.piecesVerified, s.piecesVerified);
        prev.left = Math.min(prev.left, s.leftBytes);
        prev.complete ||= s.pieceCount > 0 && s.leftBytes === 0;
        prev.time = Math.max(prev.time, s.tickTimeMs);
      }
    }
    for (const v of by.values()) v.eta = v.left === 0 ? 0 : v.downloadRate > 0 ? Math.ceil(v.left / v.downloadRate) : undefined;
    this.summed = { at: now, by };
    return by;
  }

  /** How many workers reported the torrent in their last figures: those running it, whose peers a peer list asks for. */
  runners(infoHashHex: string): number {
    const now = Date.now();
    let n = 0;
    for (const w of this.latest.values()) if (now - w.time <= this.staleMs && w.stats.some((s) => s.infoHash === infoHashHex)) n++;
    return n;
  }

  onTick(listener: (s: TorrentStatsView[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    clearInterval(this.timer);
    this.sub.unsubscribe();
    this.listeners.clear();
  }

  private emit(): void {
    if (this.listeners.size === 0) return;
    const all = this.all();
    for (const l of [...this.listeners]) {
      try {
        l(all);
      } catch {
        // A listener's failure (a closed stream) is its own.
      }
    }
  }
}
