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
 *
 * Every seeding torrent's time grows at every tick, so handing over every
 * change at every flush would write every torrent's totals each time:
 * 10,000 KV puts, or for `seedbox serve` a file rewritten, every 30 s
 * while nothing moves. So a torrent's bytes and its completion go at the
 * next flush, and time alone only once it has waited `timeOnlyEveryMs`
 * (5 minutes), or at the last flush (after `stop()`). Until then `get()`
 * counts it, so this process's own readers (the seeding rules, the
 * control API) see it at once; a crash loses at most that much time.
 *
 * `record` runs for every torrent at every tick: it allocates nothing
 * once a torrent has a pending delta.
 */

interface LastSeen {
  uploaded: number;
  downloaded: number;
  time: number;
  /** Its completion is known (stored or pending): not looked up again. */
  completed: boolean;
}

interface Pending {
  delta: TorrentTotals;
  /** It holds bytes or a completion: handed over at the next flush. */
  urgent: boolean;
  /** When its first change was recorded (the keeper's clock): time alone waits from here. */
  since: number;
}

export interface TotalsKeeperOptions {
  /** A delta of time alone is handed over once it is this old. Default 5 minutes. */
  timeOnlyEveryMs?: number;
  /** Deltas handed to the store at once. Default 512. */
  concurrency?: number;
  now?: () => number;
}

/** A tick further apart than this (a stall, a suspended process) counts as this long. */
const MAX_TICK_MS = 5000;

export class TotalsKeeper {
  private readonly stored = new Map<string, TorrentTotals>();
  private readonly pending = new Map<string, Pending>();
  private readonly last = new Map<string, LastSeen>();
  private stopWatch: (() => void) | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** After stop(): the next flushes are the last, and hand over everything. */
  private final = false;
  private readonly timeOnlyEveryMs: number;
  private readonly concurrency: number;
  private readonly now: () => number;

  constructor(
    private readonly store: FleetStore,
    private readonly log: Logger,
    options: TotalsKeeperOptions = {},
  ) {
    this.timeOnlyEveryMs = options.timeOnlyEveryMs ?? 5 * 60_000;
    this.concurrency = Math.max(1, options.concurrency ?? 512);
    this.now = options.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.stopWatch = await this.store.watchTotals((hex, t) => {
      if (t) {
        this.stored.set(hex, t);
        return;
      }
      // The torrent was removed: what it still had to hand over would only bring its totals back.
      this.stored.delete(hex);
      this.pending.delete(hex);
    });
  }

  /** What the fleet knows plus what this worker has not handed over yet. */
  get(infoHashHex: string): TorrentTotals {
    const stored = this.stored.get(infoHashHex) ?? ZERO_TOTALS;
    const pending = this.pending.get(infoHashHex);
    return pending ? addTotals(stored, pending.delta) : stored;
  }

  /** One tick's figures of a torrent this worker runs; `countTime` for the one worker that keeps its clock. */
  record(s: TorrentSnapshot, time: number, countTime: boolean): void {
    // A run's counters start at zero, so its first tick's counters are all it moved so far: a
    // download done within one tick is counted whole. Its clock starts at that first tick.
    let last = this.last.get(s.infoHash);
    if (!last) {
      last = { uploaded: 0, downloaded: 0, time, completed: false };
      this.last.set(s.infoHash, last);
    }
    // Counters of one run only grow; a smaller one is a new run (the torrent was made again).
    const up = s.uploaded >= last.uploaded ? s.uploaded - last.uploaded : s.uploaded;
    const down = s.downloaded >= last.downloaded ? s.downloaded - last.downloaded : s.downloaded;
    const ms = countTime ? Math.min(MAX_TICK_MS, Math.max(0, time - last.time)) : 0;
    last.uploaded = s.uploaded;
    last.downloaded = s.downloaded;
    last.time = time;
    const seeding = s.state === 'seeding';
    const activeMs = seeding || s.state === 'downloading' ? ms : 0;
    let completed = false;
    if (s.complete && !last.completed) {
      last.completed = true;
      completed = !this.completed(s.infoHash);
    }
    if (up + down + activeMs === 0 && !completed) return;
    let p = this.pending.get(s.infoHash);
    if (!p) {
      p = { delta: { ...ZERO_TOTALS }, urgent: false, since: this.now() };
      this.pending.set(s.infoHash, p);
    }
    const d = p.delta;
    d.uploaded += up;
    d.downloaded += down;
    d.activeMs += activeMs;
    if (seeding) d.seedingMs += ms;
    if (up + down > 0) {
      d.lastActivityAt = Math.max(d.lastActivityAt, time);
      p.urgent = true;
    }
    if (completed) {
      d.completedAt = time;
      p.urgent = true;
    }
  }

  /** Whether the torrent's completion is known, stored or pending (no allocation). */
  private completed(infoHashHex: string): boolean {
    return (this.stored.get(infoHashHex)?.completedAt ?? 0) !== 0 || (this.pending.get(infoHashHex)?.delta.completedAt ?? 0) !== 0;
  }

  /** The torrent stopped here: its next run starts counting from zero again. */
  endRun(infoHashHex: string): void {
    this.last.delete(infoHashHex);
  }

  /**
   * Hands the due deltas to the store (every one after stop()), a batch
   * at a time; one that fails stays pending, due at the next flush.
   */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const now = this.now();
      const batch: [string, Pending][] = [];
      for (const entry of this.pending) {
        const p = entry[1];
        if (this.final || p.urgent || now - p.since >= this.timeOnlyEveryMs) batch.push(entry);
      }
      for (const [hex] of batch) this.pending.delete(hex);
      // A batch at a time: JetStream takes them in parallel, and LocalFleetStore
      // writes each batch in one go; one at a time would be a round trip, or a
      // file written, per torrent.
      for (let i = 0; i < batch.length; i += this.concurrency) {
        await Promise.all(batch.slice(i, i + this.concurrency).map(([hex, p]) => this.handOver(hex, p)));
      }
    });
    return this.flushing;
  }

  private async handOver(hex: string, p: Pending): Promise<void> {
    try {
      // The totals as they now stand, seen at once rather than when the watch brings them.
      this.stored.set(hex, await this.store.addTotals(hex, p.delta));
    } catch (e) {
      const now = this.pending.get(hex);
      this.pending.set(hex, { delta: now ? addTotals(now.delta, p.delta) : p.delta, urgent: true, since: Math.min(p.since, now?.since ?? p.since) });
      this.log.warn('saving totals failed; will retry', { infoHash: hex, error: e as Error });
    }
  }

  /** Stops watching the store; the flushes from now on are the last ones and hand over every delta, time alone included. */
  stop(): void {
    this.stopWatch?.();
    this.final = true;
  }
}
