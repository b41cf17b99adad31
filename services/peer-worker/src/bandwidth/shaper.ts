import type { TokenBucket } from './token-bucket.js';

/**
 * Who may move bytes next, in one direction (download or upload) for a
 * whole engine: the queue of connections waiting for their buckets, and
 * the timer that refills them. libtorrent's bandwidth_manager and
 * Transmission's bandwidth.c are the models: a connection asks for a
 * quantum of bytes along a path of buckets (its torrent's, then the
 * engine's), and it moves only once every bucket on the path grants it.
 *
 * - **Fair**: waiters are served first come, first served, one quantum
 *   each, and one that wants more asks again at the back of the queue, so
 *   connections take turns (round robin) and none can starve the others.
 *   A new request runs the queue first, so it cannot jump ahead of a
 *   waiter that the refill has already made grantable.
 * - **Work-conserving**: a waiter blocked by its own torrent's bucket does
 *   not hold up one of another torrent behind it that can go.
 * - **Continuous, in small quanta**: tokens accrue with the clock (see
 *   token-bucket.ts); the timer only wakes waiters, 10-50 ms after the
 *   soonest one can go, and runs only while someone waits. Nothing sleeps
 *   and then bursts.
 */

/** How the shaper waits; injectable so tests drive it with a fake clock. */
export interface ShaperTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: ShaperTimers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface ShaperOptions {
  /** The shortest wait between runs, ms: below ~10 ms timers cost more than they smooth. Default 10. */
  minWaitMs?: number | undefined;
  /** The longest, ms: a waiter never waits longer than this for a run that may grant it. Default 50. */
  maxWaitMs?: number | undefined;
  timers?: ShaperTimers | undefined;
}

/** Cancels a request still waiting; does nothing once it was granted. */
export type CancelRequest = () => void;

interface Waiter {
  path: BandwidthPath;
  bytes: number;
  grant: () => void;
  cancelled: boolean;
}

const granted: CancelRequest = () => {};

export class Shaper {
  private queue: Waiter[] = [];
  private running = false;
  private timer: unknown;
  private readonly minWait: number;
  private readonly maxWait: number;
  private readonly timers: ShaperTimers;
  private waited = false;

  constructor(options: ShaperOptions = {}) {
    this.minWait = options.minWaitMs ?? 10;
    this.maxWait = options.maxWaitMs ?? 50;
    this.timers = options.timers ?? realTimers;
  }

  /** Requests waiting now. */
  get waiting(): number {
    let n = 0;
    for (const w of this.queue) if (!w.cancelled) n++;
    return n;
  }

  /**
   * Whether any request had to wait since the last call: the direction
   * was held back by a limit (the fleet's "wanting", see fleet-share.ts).
   */
  takeWanting(): boolean {
    const w = this.waited || this.waiting > 0;
    this.waited = false;
    return w;
  }

  /**
   * Asks for `bytes` along `path`. `grant` runs once every bucket on the
   * path can grant (they are charged the bytes then): synchronously, when
   * they can now and nobody grantable waits ahead, else from the timer.
   * An unlimited path is granted at once.
   */
  request(path: BandwidthPath, bytes: number, grant: () => void): CancelRequest {
    if (!path.limited && !this.running && this.queue.length === 0) {
      grant();
      return granted;
    }
    const w: Waiter = { path, bytes, grant, cancelled: false };
    this.queue.push(w);
    // Inside a run (a grant asking for its next quantum) the running loop reaches it in turn.
    if (!this.running) this.run();
    return () => {
      w.cancelled = true;
    };
  }

  /** A bucket's rate changed: waiters it held may go now (a limit lifted takes effect at once). */
  kick(): void {
    if (this.queue.length === 0 || this.running) return;
    this.timers.clear(this.timer);
    this.timer = this.timers.set(() => this.run(), 0);
  }

  /** Serves the queue in order, every waiter whose path grants now; arms the timer for the rest. */
  private run(): void {
    this.timers.clear(this.timer);
    this.timer = undefined;
    this.running = true;
    const keep: Waiter[] = [];
    let i = 0;
    try {
      // The queue may grow while we walk it: a grant that asks again joins the back, as it should.
      for (; i < this.queue.length; i++) {
        const w = this.queue[i]!;
        if (w.cancelled) continue;
        if (!w.path.canGrant) {
          keep.push(w);
          continue;
        }
        w.path.charge(w.bytes);
        w.grant();
      }
    } finally {
      // A grant that threw leaves the rest of the queue waiting rather than lost.
      this.queue = i < this.queue.length ? keep.concat(this.queue.slice(i + 1)) : keep;
      this.running = false;
    }
    if (this.queue.length === 0) return;
    this.waited = true;
    let soonest = Infinity;
    for (const w of this.queue) soonest = Math.min(soonest, w.path.msUntilGrant());
    const wait = Math.max(this.minWait, Math.min(this.maxWait, soonest));
    this.timer = this.timers.set(() => this.run(), wait);
  }
}

/**
 * The buckets one connection's traffic in one direction must pass: its
 * torrent's, then the engine's (libtorrent's bandwidth channels of a
 * peer). Unlimited buckets on it cost a comparison.
 */
export class BandwidthPath {
  constructor(
    readonly shaper: Shaper,
    readonly buckets: readonly TokenBucket[],
  ) {}

  /** Whether any bucket on the path limits it: when not, nothing waits and nothing is counted. */
  get limited(): boolean {
    for (const b of this.buckets) if (b.limited) return true;
    return false;
  }

  get canGrant(): boolean {
    for (const b of this.buckets) if (!b.canGrant) return false;
    return true;
  }

  msUntilGrant(): number {
    let ms = 0;
    for (const b of this.buckets) ms = Math.max(ms, b.limited ? b.msUntilGrant() : 0);
    return ms;
  }

  /** Counts bytes that moved without asking (bytes already read): every bucket on the path pays them. */
  charge(bytes: number): void {
    for (const b of this.buckets) b.charge(bytes);
  }

  request(bytes: number, grant: () => void): CancelRequest {
    return this.shaper.request(this, bytes, grant);
  }
}
