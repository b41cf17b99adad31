import type { NatsConnection, Subscription } from 'nats';
import { WORKER_STATS_ALL } from '@seedbox/cluster';
import { WatchTorrentsResponse, type TorrentStats } from '@seedbox/proto';
import type { StatsSource, StatsTick, TorrentStatsView } from '../control/backend.js';
import { stateFromProto } from '../control/state-codes.js';
import { sameFigures } from '../control/watch-changes.js';
import { viewFromStats } from './figures.js';

/** One worker's figures as the board holds them. */
interface WorkerFigures {
  /** When its last message came (this process's clock). */
  time: number;
  stats: Map<string, TorrentStats>;
}

/**
 * The fleet's per-tick figures, as every peer-worker sees them: each worker
 * publishes its torrents' figures once a second on `seedbox.stats.<id>`
 * (what changed, and all of them every FULL_FIGURES_EVERY_TICKS: see
 * FiguresPublisher), and every worker keeps the latest from each. A
 * torrent run by several workers (a seeding fleet) is summed over them.
 * This is what lets any replica answer list, get and watch.
 *
 * The sums are kept, not worked out again: a message marks the torrents
 * whose figures it changed, and only those are summed again (over the
 * workers), before a read and at each tick, which tells its listeners
 * those changes. A worker's message of every torrent replaces what it
 * said before; one older than this board's sends only those (every
 * message is `full`), and costs a comparison per torrent.
 */
export class StatsBoard implements StatsSource {
  /** Each worker's figures, by subject. */
  private readonly workers = new Map<string, WorkerFigures>();
  private readonly listeners = new Set<(t: StatsTick) => void>();
  private readonly sub: Subscription;
  private readonly timer: NodeJS.Timeout;
  /** The summed figures, up to date but for `dirty`. */
  private readonly sums = new Map<string, TorrentStatsView>();
  /** Torrents whose figures a message changed since they were last summed. */
  private readonly dirty = new Set<string>();
  /** What changed in `sums` since the last tick told the listeners. */
  private readonly changedSince = new Map<string, TorrentStatsView>();
  private readonly removedSince = new Set<string>();
  private downloadRate = 0;
  private uploadRate = 0;
  /** When figures last came from any worker: the time every torrent's figures are shown as of. */
  private heardAt = 0;

  constructor(
    nc: NatsConnection,
    /** Figures older than this are a worker that is gone. */
    private readonly staleMs = 5000,
  ) {
    this.sub = nc.subscribe(WORKER_STATS_ALL, {
      callback: (_err, msg) => {
        let r: WatchTorrentsResponse;
        try {
          r = WatchTorrentsResponse.decode(msg.data);
        } catch {
          // One worker's garbled figures: skip them, keep the others.
          return;
        }
        this.take(msg.subject, r, Date.now());
      },
    });
    this.timer = setInterval(() => this.emit(), 1000);
    this.timer.unref();
  }

  /** Every torrent's summed figures now. */
  all(): TorrentStatsView[] {
    this.refresh(Date.now());
    return Array.from(this.sums.values(), (v) => this.shown(v));
  }

  get(infoHashHex: string): TorrentStatsView | undefined {
    this.refresh(Date.now());
    const v = this.sums.get(infoHashHex);
    return v && this.shown(v);
  }

  /** How many workers reported the torrent in their last figures: those running it, whose peers a peer list asks for. */
  runners(infoHashHex: string): number {
    const now = Date.now();
    let n = 0;
    for (const w of this.workers.values()) if (now - w.time <= this.staleMs && w.stats.has(infoHashHex)) n++;
    return n;
  }

  onTick(listener: (t: StatsTick) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    clearInterval(this.timer);
    this.sub.unsubscribe();
    this.listeners.clear();
  }

  /** One worker's message: every torrent it runs (`full`), or those whose figures changed and those it no longer runs. */
  private take(subject: string, r: WatchTorrentsResponse, now: number): void {
    let w = this.workers.get(subject);
    if (!w) {
      w = { time: now, stats: new Map() };
      this.workers.set(subject, w);
    }
    w.time = now;
    this.heardAt = now;
    if (r.full) {
      const before = w.stats;
      w.stats = new Map();
      for (const s of r.stats) this.set(w, s, before.get(s.infoHash));
      for (const hex of before.keys()) if (!w.stats.has(hex)) this.dirty.add(hex);
      return;
    }
    for (const hex of r.removed) if (w.stats.delete(hex)) this.dirty.add(hex);
    for (const s of r.stats) this.set(w, s, w.stats.get(s.infoHash));
  }

  private set(w: WorkerFigures, s: TorrentStats, was: TorrentStats | undefined): void {
    w.stats.set(s.infoHash, s);
    if (!was || !sameFigures(was, s)) this.dirty.add(s.infoHash);
  }

  /** Drops the workers gone quiet, and sums again the torrents marked. */
  private refresh(now: number): void {
    for (const [key, w] of this.workers) {
      if (now - w.time <= this.staleMs) continue;
      this.workers.delete(key);
      for (const hex of w.stats.keys()) this.dirty.add(hex);
    }
    if (this.dirty.size === 0) return;
    for (const hex of this.dirty) this.resum(hex);
    this.dirty.clear();
  }

  private resum(hex: string): void {
    const was = this.sums.get(hex);
    if (was) {
      this.downloadRate -= was.downloadRate;
      this.uploadRate -= was.uploadRate;
    }
    const view = this.sum(hex);
    if (!view) {
      if (!was) return;
      this.sums.delete(hex);
      this.changedSince.delete(hex);
      this.removedSince.add(hex);
      return;
    }
    this.downloadRate += view.downloadRate;
    this.uploadRate += view.uploadRate;
    this.sums.set(hex, view);
    this.changedSince.set(hex, view);
  }

  /** The torrent's figures summed over the workers that run it; undefined when none does. */
  private sum(hex: string): TorrentStatsView | undefined {
    let view: TorrentStatsView | undefined;
    for (const w of this.workers.values()) {
      const s = w.stats.get(hex);
      if (!s) continue;
      if (!view) {
        view = viewFromStats(s);
        continue;
      }
      // Trouble on any worker is news; else checking until every worker has checked.
      const state = stateFromProto(s.state);
      if (state === 'error' && view.state !== 'error') {
        view.state = 'error';
        view.error = s.error || undefined;
      } else if (state === 'checking' && view.state !== 'error') view.state = 'checking';
      view.downloadRate += s.downloadRate;
      view.uploadRate += s.uploadRate;
      view.downloaded += s.downloadedBytes;
      view.uploaded += s.uploadedBytes;
      view.peers += s.peers;
      view.seeds += s.seeds;
      view.peersSending += s.peersSending;
      view.peersGetting += s.peersGetting;
      view.piecesFailed += s.piecesFailed;
      // Pieces live on the shared volume: the fleet has what its furthest worker has.
      view.piecesVerified = Math.max(view.piecesVerified, s.piecesVerified);
      view.left = Math.min(view.left, s.leftBytes);
      view.complete ||= s.pieceCount > 0 && s.leftBytes === 0;
      view.time = Math.max(view.time, s.tickTimeMs);
    }
    if (view) view.eta = view.left === 0 ? 0 : view.downloadRate > 0 ? Math.ceil(view.left / view.downloadRate) : undefined;
    return view;
  }

  /** The view as of the latest figures heard (an unchanged torrent's hold at every tick). */
  private shown(v: TorrentStatsView): TorrentStatsView {
    v.time = Math.max(v.time, this.heardAt);
    return v;
  }

  private emit(): void {
    this.refresh(Date.now());
    const tick: StatsTick = {
      changed: [...this.changedSince.values()],
      removed: [...this.removedSince],
      downloadRate: this.downloadRate,
      uploadRate: this.uploadRate,
      all: () => this.all(),
    };
    this.changedSince.clear();
    this.removedSince.clear();
    for (const l of [...this.listeners]) {
      try {
        l(tick);
      } catch {
        // A listener's failure (a closed stream) is its own.
      }
    }
  }
}
