import type { StatsSource, StatsTick, TorrentStatsView } from '../control/backend.js';
import type { EngineTick } from '../engine.js';
import type { TorrentSnapshot } from '../torrent.js';
import { statsOf, viewFromStats } from './figures.js';

/**
 * The figures of the one engine in this process: `seedbox serve`.
 *
 * Fed by the FleetRunner's ticks rather than the engine's: the runner
 * also ticks at once when a torrent completes, and the figures must say
 * so before the queue (which reads the same bitfield) starts the next
 * one, or a client would see two downloads at once for up to a second.
 *
 * A tick costs what changed (EngineTick.changed and `gone`): an idle
 * torrent's view is kept as it is, and the time it shows is the board's
 * last tick, set as it is read rather than written into every view every
 * second. Listeners get the changes too (StatsTick), with the sums of
 * the rates kept up to date from them.
 */
export class LocalStatsBoard implements StatsSource {
  private readonly listeners = new Set<(t: StatsTick) => void>();
  /** Each torrent's view, with the snapshot it was made from. */
  private readonly latest = new Map<string, { snap: TorrentSnapshot; view: TorrentStatsView }>();
  /** The last tick's time: every torrent's figures hold as of then. */
  private time = 0;
  private downloadRate = 0;
  private uploadRate = 0;

  record(t: EngineTick): void {
    this.time = t.time;
    const removed: string[] = [];
    for (const hex of t.gone) {
      const had = this.latest.get(hex);
      if (!had) continue;
      this.latest.delete(hex);
      this.count(had.view, -1);
      removed.push(hex);
    }
    const changed: TorrentStatsView[] = [];
    for (const x of t.changed) {
      const had = this.latest.get(x.infoHash);
      // Shown already (an early tick's, seen again).
      if (had?.snap === x) continue;
      const view = viewFromStats(statsOf(x, t.time));
      if (had) this.count(had.view, -1);
      this.count(view, 1);
      this.latest.set(x.infoHash, { snap: x, view });
      changed.push(view);
    }
    if (this.listeners.size === 0) return;
    const tick: StatsTick = { changed, removed, downloadRate: this.downloadRate, uploadRate: this.uploadRate, all: () => this.all() };
    for (const l of [...this.listeners]) {
      try {
        l(tick);
      } catch {
        // A listener's failure (a closed stream) is its own.
      }
    }
  }

  get(infoHashHex: string): TorrentStatsView | undefined {
    const had = this.latest.get(infoHashHex);
    return had && this.shown(had.view);
  }

  /** Every torrent's figures. */
  all(): TorrentStatsView[] {
    return Array.from(this.latest.values(), (l) => this.shown(l.view));
  }

  onTick(listener: (t: StatsTick) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.listeners.clear();
  }

  /** The view as of the last tick (an unchanged torrent's figures hold at every tick). */
  private shown(view: TorrentStatsView): TorrentStatsView {
    view.time = this.time;
    return view;
  }

  private count(view: TorrentStatsView, n: number): void {
    this.downloadRate += n * view.downloadRate;
    this.uploadRate += n * view.uploadRate;
  }
}
