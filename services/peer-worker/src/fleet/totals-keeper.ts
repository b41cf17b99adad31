import { addTotals, ZERO_TOTALS, type FleetStore, type TorrentTotals } from '@seedbox/cluster';
import type { Logger } from '@seedbox/runtime';
import type { TorrentSnapshot } from '../torrent.js';

/**
 * Each torrent's lifetime totals (bytes each way, seeding and active
 * time, last activity, completion), which ratio and the seeding rules are
 * judged on and which must outlive any one process.
 *
 * Every worker adds what its own runs moved, as deltas from one snapshot to
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
 * Nothing here runs per torrent per tick. `record` takes a torrent's
 * snapshot when it changed (EngineTick.changed): bytes are counted from
 * one to the next, and time by what the torrent was doing since (seeding,
 * downloading, neither) on the keeper's clock, which the runner moves at
 * every tick (`advance`). Time is handed to the delta when the snapshot
 * changes, when the run ends (`endRun`), when who keeps the clock changes
 * (`recount`) and at every flush (a pass over the runs every 30 s, rather
 * than 10,000 records a second); `get` adds the time not handed over yet.
 */

/** One run of a torrent here, as its last recorded snapshot left it. */
interface Run {
  uploaded: number;
  downloaded: number;
  /** Its completion is known (stored or pending): not looked up again. */
  completed: boolean;
  /** Its time counts as seeding (and active). */
  seeding: boolean;
  /** Its time counts as active (seeding or downloading). */
  active: boolean;
  /** This worker keeps its clock (its owner). */
  countTime: boolean;
  /** The keeper's clock up to which its time is in its delta. */
  since: number;
}

interface Pending {
  delta: TorrentTotals;
  /** It holds bytes or a completion: handed over at the next flush. */
  urgent: boolean;
  /** When its first change was recorded (the keeper's `now`): time alone waits from here. */
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
  private readonly runs = new Map<string, Run>();
  /** Time counted since the first tick (ms): wall time, each gap between ticks at most MAX_TICK_MS. */
  private clock = 0;
  /** The wall time of the last tick the clock moved to. */
  private clockAt: number | undefined;
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
      const run = this.runs.get(hex);
      if (run) run.since = this.clock;
    });
  }

  /** What the fleet knows plus what this worker has not handed over yet, its time to the last tick included. */
  get(infoHashHex: string): TorrentTotals {
    const stored = this.stored.get(infoHashHex) ?? ZERO_TOTALS;
    const pending = this.pending.get(infoHashHex);
    const t = pending ? addTotals(stored, pending.delta) : stored;
    const run = this.runs.get(infoHashHex);
    const ms = run ? this.unsettled(run) : 0;
    return ms === 0 ? t : { ...t, activeMs: t.activeMs + ms, seedingMs: t.seedingMs + (run!.seeding ? ms : 0) };
  }

  /** A tick at `time` (wall clock): the time of every run counts on to here. */
  advance(time: number): void {
    if (this.clockAt === undefined || time > this.clockAt) {
      if (this.clockAt !== undefined) this.clock += Math.min(MAX_TICK_MS, time - this.clockAt);
      this.clockAt = time;
    }
  }

  /**
   * A torrent's new snapshot (one this worker runs; taking the same one
   * again adds nothing), at the tick of `time`; `countTime` for the one
   * worker that keeps its clock. The time since its last snapshot counts
   * as what that one said it was doing.
   */
  record(s: TorrentSnapshot, time: number, countTime: boolean): void {
    this.advance(time);
    // A run's counters start at zero, so its first snapshot's counters are all it moved so far: a
    // download done within one tick is counted whole. Its clock starts at that first tick.
    let run = this.runs.get(s.infoHash);
    if (!run) {
      run = { uploaded: 0, downloaded: 0, completed: false, seeding: false, active: false, countTime, since: this.clock };
      this.runs.set(s.infoHash, run);
    } else this.settle(s.infoHash, run);
    // Counters of one run only grow; a smaller one is a new run (the torrent was made again).
    const up = s.uploaded >= run.uploaded ? s.uploaded - run.uploaded : s.uploaded;
    const down = s.downloaded >= run.downloaded ? s.downloaded - run.downloaded : s.downloaded;
    run.uploaded = s.uploaded;
    run.downloaded = s.downloaded;
    run.seeding = s.state === 'seeding';
    run.active = run.seeding || s.state === 'downloading';
    run.countTime = countTime;
    let completed = false;
    if (s.complete && !run.completed) {
      run.completed = true;
      completed = !this.completed(s.infoHash);
    }
    if (up + down === 0 && !completed) return;
    const p = this.pendingOf(s.infoHash);
    const d = p.delta;
    d.uploaded += up;
    d.downloaded += down;
    if (up + down > 0) d.lastActivityAt = Math.max(d.lastActivityAt, time);
    if (completed) d.completedAt = time;
    p.urgent = true;
  }

  /** Who keeps each run's clock changed (the fleet's membership moved): the time so far counts by the old answer. */
  recount(countTime: (infoHashHex: string) => boolean): void {
    for (const [hex, run] of this.runs) {
      const c = countTime(hex);
      if (c === run.countTime) continue;
      this.settle(hex, run);
      run.countTime = c;
    }
  }

  /** Time of the run not in its delta yet (0 when it does not count). */
  private unsettled(run: Run): number {
    return run.countTime && run.active ? this.clock - run.since : 0;
  }

  /** Moves the run's time up to the clock into its delta. */
  private settle(hex: string, run: Run): void {
    const ms = this.unsettled(run);
    run.since = this.clock;
    if (ms <= 0) return;
    const d = this.pendingOf(hex).delta;
    d.activeMs += ms;
    if (run.seeding) d.seedingMs += ms;
  }

  private pendingOf(hex: string): Pending {
    let p = this.pending.get(hex);
    if (!p) {
      p = { delta: { ...ZERO_TOTALS }, urgent: false, since: this.now() };
      this.pending.set(hex, p);
    }
    return p;
  }

  /** Whether the torrent's completion is known, stored or pending (no allocation). */
  private completed(infoHashHex: string): boolean {
    return (this.stored.get(infoHashHex)?.completedAt ?? 0) !== 0 || (this.pending.get(infoHashHex)?.delta.completedAt ?? 0) !== 0;
  }

  /** The torrent stopped here: its time counts to the last tick, and its next run starts counting from zero again. */
  endRun(infoHashHex: string): void {
    const run = this.runs.get(infoHashHex);
    if (!run) return;
    this.settle(infoHashHex, run);
    this.runs.delete(infoHashHex);
  }

  /**
   * Hands the due deltas to the store (every one after stop()), a batch
   * at a time; one that fails stays pending, due at the next flush. Each
   * run's time up to the last tick goes into its delta first.
   */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      for (const [hex, run] of this.runs) this.settle(hex, run);
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
