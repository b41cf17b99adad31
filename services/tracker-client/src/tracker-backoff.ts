/**
 * Which trackers of one announcer are failing, and when each is asked again.
 *
 * A tracker that did not answer (a black-holed UDP port, a refused
 * connection) is not asked first in every round: that would cost each round
 * the whole bounded try (AnnounceTiming.trackerTimeoutMs) before the next
 * tracker is asked. It is skipped by the rounds while it backs off, and
 * retried on its own in the background (Announcer) when its time comes, so
 * a tracker that comes back is found again without delaying the others.
 *
 * The delay grows with the square of the failures, as libtorrent's does
 * (announce_entry: 5 s + 5 s·n²·250 %, at most an hour): 17.5 s, 55 s,
 * 117.5 s, 205 s... A success forgets the failures. Pure state; the clock
 * is passed in.
 */

export interface TrackerBackoffOptions {
  /** The least delay, and the unit of the growth. Default 5 s (libtorrent's tracker_retry_delay_min). */
  retryMinMs?: number;
  /** The greatest delay. Default 1 h (libtorrent's tracker_retry_delay_max). */
  retryMaxMs?: number;
  /** How fast the delay grows, in percent (libtorrent's tracker_backoff). Default 250. */
  backoffPercent?: number;
}

export const TRACKER_BACKOFF_DEFAULTS: Required<TrackerBackoffOptions> = {
  retryMinMs: 5_000,
  retryMaxMs: 60 * 60_000,
  backoffPercent: 250,
};

/** The delay before a tracker that failed `fails` times in a row is asked again. */
export function trackerRetryDelayMs(fails: number, options: TrackerBackoffOptions = {}): number {
  const o = { ...TRACKER_BACKOFF_DEFAULTS, ...options };
  return Math.min(o.retryMinMs + (fails * fails * o.retryMinMs * o.backoffPercent) / 100, o.retryMaxMs);
}

interface Failing {
  fails: number;
  retryAt: number;
}

export class TrackerBackoff {
  private readonly failing = new Map<string, Failing>();

  constructor(private readonly options: TrackerBackoffOptions = {}) {}

  /** Records a failure; answers when the tracker may be asked again (ms epoch). */
  failed(url: string, now: number): number {
    const fails = (this.failing.get(url)?.fails ?? 0) + 1;
    const retryAt = now + trackerRetryDelayMs(fails, this.options);
    this.failing.set(url, { fails, retryAt });
    return retryAt;
  }

  succeeded(url: string): void {
    this.failing.delete(url);
  }

  /** Failed, and its retry is not due yet: rounds skip it. */
  isBackingOff(url: string, now: number): boolean {
    const f = this.failing.get(url);
    return f !== undefined && f.retryAt > now;
  }

  /** Failing trackers whose retry is due at `now`. */
  due(now: number): string[] {
    return [...this.failing].filter(([, f]) => f.retryAt <= now).map(([url]) => url);
  }

  /** The earliest retry of a failing tracker (ms epoch), if any, leaving out those `except` names. */
  nextRetryAt(except: (url: string) => boolean = () => false): number | undefined {
    let at: number | undefined;
    for (const [url, f] of this.failing) if (!except(url) && (at === undefined || f.retryAt < at)) at = f.retryAt;
    return at;
  }

  failures(url: string): number {
    return this.failing.get(url)?.fails ?? 0;
  }

  /** Forgets trackers no longer listed. */
  retain(urls: ReadonlySet<string>): void {
    for (const url of [...this.failing.keys()]) if (!urls.has(url)) this.failing.delete(url);
  }
}
