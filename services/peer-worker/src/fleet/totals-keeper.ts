import { addTotals, ZERO_TOTALS, type FleetStore, type TorrentTotals } from '@seedbox/cluster';
import type { Logger } from '@seedbox/runtime';
import type { TorrentSnapshot } from '../torrent.js';

/**
 * Each torrent's lifetime totals (bytes each way, seeding and active
 * time, last activity, completion), which ratio and the seeding rules are
 * judged on and which must outlive any one process.
 *
 * Every worker adds what its own runs moved, as deltas from one tick to
 * the next, and hands them to the store now and then (compare-and-set, so
 * the workers' shares add up). Time is different: every worker seeds a
 * complete torrent at once, so only the one the caller names (the
 * torrent's owner) counts its clock, or the fleet's seeding time would be
 * the wall time times the workers.
 */

interface LastSeen {
  uploaded: number;
  downloaded: number;
  time: number;
}

/** A tick further apart than this (a stall, a suspended process) counts as this long. */
const MAX_TICK_MS = 5000;

export class TotalsKeeper {
  private readonly stored = new Map<string, TorrentTotals>();
  private readonly pending = new Map<string, TorrentTotals>();
  private readonly last = new Map<string, LastSeen>();
  private stopWatch: (() => void) | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: FleetStore,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.stopWatch = await this.store.watchTotals((hex, t) => {
      if (t) this.stored.set(hex, t);
      else this.stored.delete(hex);
    });
  }

  /** What the fleet knows plus what this worker has not handed over yet. */
  get(infoHashHex: string): TorrentTotals {
    const stored = this.stored.get(infoHashHex) ?? ZERO_TOTALS;
    const pending = this.pending.get(infoHashHex);
    return pending ? addTotals(stored, pending) : stored;
  }

  /** One tick's figures of a torrent this worker runs; `countTime` for the one worker that keeps its clock. */
  record(s: TorrentSnapshot, time: number, countTime: boolean): void {
    // A run's counters start at zero, so its first tick's counters are all it moved so far: a
    // download done within one tick is counted whole. Its clock starts at that first tick.
    const last = this.last.get(s.infoHash) ?? { uploaded: 0, downloaded: 0, time };
    this.last.set(s.infoHash, { uploaded: s.uploaded, downloaded: s.downloaded, time });
    // Counters of one run only grow; a smaller one is a new run (the torrent was made again).
    const up = s.uploaded >= last.uploaded ? s.uploaded - last.uploaded : s.uploaded;
    const down = s.downloaded >= last.downloaded ? s.downloaded - last.downloaded : s.downloaded;
    const ms = countTime ? Math.min(MAX_TICK_MS, Math.max(0, time - last.time)) : 0;
    const delta: TorrentTotals = {
      uploaded: up,
      downloaded: down,
      seedingMs: s.state === 'seeding' ? ms : 0,
      activeMs: s.state === 'seeding' || s.state === 'downloading' ? ms : 0,
      lastActivityAt: up + down > 0 ? time : 0,
      completedAt: s.complete && this.get(s.infoHash).completedAt === 0 ? time : 0,
    };
    if (delta.uploaded + delta.downloaded + delta.seedingMs + delta.activeMs + delta.completedAt === 0) return;
    this.pending.set(s.infoHash, addTotals(this.pending.get(s.infoHash) ?? ZERO_TOTALS, delta));
  }

  /** The torrent stopped here: its next run starts counting from zero again. */
  endRun(infoHashHex: string): void {
    this.last.delete(infoHashHex);
  }

  /** Hands every pending delta to the store; one that fails stays pending for the next flush. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const batch = [...this.pending];
      this.pending.clear();
      for (const [hex, delta] of batch) {
        try {
          // The totals as they now stand, seen at once rather than when the watch brings them.
          this.stored.set(hex, await this.store.addTotals(hex, delta));
        } catch (e) {
          this.pending.set(hex, addTotals(this.pending.get(hex) ?? ZERO_TOTALS, delta));
          this.log.warn('saving totals failed; will retry', { infoHash: hex, error: e as Error });
        }
      }
    });
    return this.flushing;
  }

  stop(): void {
    this.stopWatch?.();
  }
}
