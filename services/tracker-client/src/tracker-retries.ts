import { TrackerBackoff, type TrackerBackoffOptions } from './tracker-backoff.js';

/**
 * The background retries of one announcer's failing trackers: each is
 * asked again on its own when its backoff (TrackerBackoff) ends, beside the
 * rounds and never inside one, so a dead tracker does not delay the live
 * ones and one that came back is heard from again. One timer, set to the
 * earliest retry due; a tracker being asked already (by a round or a retry)
 * is not asked twice at once. An announcer makes one at its first failure
 * and drops it once it is idle again.
 */

export interface TrackerRetriesOptions {
  backoff?: TrackerBackoffOptions;
  now: () => number;
  /** A tracker being asked now, by a round or a retry. */
  isAsking: (url: string) => boolean;
  /** Asks one tracker again; its outcome goes through failed()/succeeded(). Never rejects. */
  retry: (url: string) => Promise<void>;
}

export class TrackerRetries {
  private readonly backoff: TrackerBackoff;
  private timer: NodeJS.Timeout | undefined;
  /** The retries under way; undefined while there are none. */
  private running: Set<Promise<void>> | undefined;
  private stopped = false;

  constructor(private readonly o: TrackerRetriesOptions) {
    this.backoff = new TrackerBackoff(o.backoff);
  }

  /** A tracker failed: it backs off (until `at`, when given); answers when it is asked again (ms epoch). */
  failed(url: string, now: number = this.o.now(), at?: number): number {
    return this.backoff.failed(url, now, at);
  }

  succeeded(url: string): void {
    this.backoff.succeeded(url);
  }

  /** Rounds leave it out: it failed and its retry is not due yet. */
  isBackingOff(url: string): boolean {
    return this.backoff.isBackingOff(url, this.o.now());
  }

  /** Forgets trackers no longer listed. */
  retain(urls: ReadonlySet<string>): void {
    this.backoff.retain(urls);
  }

  /** No tracker failing, no retry under way nor due: nothing a new one would not have. */
  get idle(): boolean {
    return this.backoff.size === 0 && this.running === undefined && this.timer === undefined && !this.stopped;
  }

  /** Sets the timer for the earliest retry due (after a round or a retry ended). */
  arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped) return;
    const at = this.backoff.nextRetryAt(this.o.isAsking);
    if (at !== undefined) this.timer = setTimeout(() => this.runDue(), Math.min(Math.max(0, at - this.o.now()), 0x7fffffff));
  }

  /** No more retries; resolves when those under way have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all([...(this.running ?? [])]);
  }

  private runDue(): void {
    this.timer = undefined;
    if (this.stopped) return;
    for (const url of this.backoff.due(this.o.now())) {
      if (this.o.isAsking(url)) continue;
      const p: Promise<void> = this.o
        .retry(url)
        .catch(() => {})
        .finally(() => {
          if (this.running?.delete(p) && this.running.size === 0) this.running = undefined;
          this.arm();
        });
      (this.running ??= new Set()).add(p);
    }
    this.arm();
  }
}
