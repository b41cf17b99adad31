import { httpScrapeUrl, TrackerError, trackerUrlKind, type ScrapeCounts } from '@seedbox/protocol';
import { asTrackerError, boundedAttempt, takeTurn, TrackerHeldError, type BoundedAttempt } from './tracker-attempt.js';
import type { RetryLaterOptions, TrackerHolds } from './tracker-backoff.js';
import { TrackerPriority, trackerKey, type Release, type TrackerGate } from './tracker-gate.js';
import type { TrackerTransport } from './transport.js';

/**
 * Scrapes every torrent at every tracker it is announced to, at a slow
 * cadence (every 30 minutes, less a random tenth so a fleet's scrapes do
 * not line up), batched: one request asks for up to 50 torrents over HTTP
 * (BEP 48; the URL stays a few KiB) and 74 over UDP (BEP 15's packet).
 * The counts (seeders, leechers, completed downloads) go to the tracker
 * statuses the control APIs show (TrackerStatusBook.scraped).
 *
 * Scrapes are the least urgent thing we ask a tracker: they take its slots
 * (tracker-gate.ts) behind every announce, respect its holds (a 429 on a
 * scrape holds the tracker for announces too, and the other way round),
 * and a tracker's BEP 48 `min_request_interval` spaces them further. A
 * tracker whose announce URL has no `announce` segment cannot be scraped
 * and is never asked. The first sweep comes one interval after start: the
 * announces at start bring counts already.
 */

export interface ScrapeTiming {
  /** Between two scrapes of the same torrent. Default 30 min. */
  intervalMs?: number;
  /** Each interval is shortened by up to this fraction, at random. Default 0.1. */
  jitter?: number;
  /** Torrents per HTTP scrape. Default 50. */
  httpBatch?: number;
  /** Torrents per UDP scrape. Default 74 (BEP 15's most). */
  udpBatch?: number;
  /** The bounded try of one scrape, counted once it has its slot. Default 15 s. */
  timeoutMs?: number;
}

export const SCRAPE_TIMING_DEFAULTS: Required<ScrapeTiming> = {
  intervalMs: 30 * 60_000,
  jitter: 0.1,
  httpBatch: 50,
  udpBatch: 74,
  timeoutMs: 15_000,
};

/** A torrent to scrape at a tracker (its announce URL). */
export interface ScrapeTarget {
  infoHashHex: string;
  url: string;
}

/** One torrent's scrape at one tracker: its counts, or why there are none. */
export interface ScrapeOutcome extends ScrapeTarget {
  startedAt: number;
  endedAt: number;
  /** When the tracker listed the torrent. */
  counts?: ScrapeCounts;
  /** When it did not, or the scrape failed. */
  error?: TrackerError;
  /** When the next sweep is due (ms epoch). */
  nextScrapeAt: number;
}

export interface ScraperOptions {
  transport: TrackerTransport;
  gate: TrackerGate;
  holds: TrackerHolds;
  retryLater?: RetryLaterOptions;
  /** What to scrape, read at each sweep. */
  targets: () => Iterable<ScrapeTarget>;
  onScrape: (outcome: ScrapeOutcome) => void;
  /** A scrape request failed (one line per request, not per torrent): the torrents it asked for. */
  onWarning?: (url: string, infoHashHexes: string[], message: string, error: TrackerError) => void;
  timing?: ScrapeTiming;
  random?: () => number;
  now?: () => number;
}

/** Whether a tracker can be scraped: UDP always, HTTP when its announce URL follows BEP 48's convention. */
export function canScrape(url: string): boolean {
  const kind = trackerUrlKind(url);
  return kind === 'udp' || (kind === 'http' && httpScrapeUrl(url) !== undefined);
}

export class Scraper {
  private readonly t: Required<ScrapeTiming>;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /**
   * A tracker is not scraped again before this (ms epoch), by trackerKey:
   * its BEP 48 min_request_interval, or after sweeps whose scrapes there
   * failed (a tracker answering 404 to /scrape, say): the second failed
   * sweep in a row skips one sweep, the third two, up to seven (3.5 h),
   * so it is not asked for nothing every half hour.
   */
  private readonly notBefore = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  /** Trackers already warned about in the sweep under way: one line per tracker, not per batch. */
  private warned = new Set<string>();
  /** When the next sweep is due (ms epoch). */
  nextSweepAt: number | undefined;

  constructor(private readonly o: ScraperOptions) {
    this.t = { ...SCRAPE_TIMING_DEFAULTS, ...o.timing };
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
  }

  /** Arms the first sweep, one (jittered) interval from now. A transport that cannot scrape never does. */
  start(): void {
    if (!this.o.transport.scrape || this.stopped || this.timer) return;
    this.arm();
  }

  /** One sweep now (resolves when it ended); a sweep under way is not doubled. */
  sweep(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.sweepAll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** No more sweeps; cancels the one under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort();
    await this.running;
  }

  private arm(): void {
    const delay = Math.round(this.t.intervalMs * (1 - Math.min(Math.max(this.t.jitter, 0), 1) * this.random()));
    this.nextSweepAt = this.now() + delay;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      this.arm();
      void this.sweep();
    }, delay);
    // Scraping is no reason to keep a process alive.
    this.timer.unref();
  }

  private async sweepAll(): Promise<void> {
    const scrape = this.o.transport.scrape?.bind(this.o.transport);
    if (!scrape) return;
    const byUrl = new Map<string, string[]>();
    for (const { infoHashHex, url } of this.o.targets()) {
      if (!canScrape(url)) continue;
      const list = byUrl.get(url) ?? [];
      if (list.length === 0) byUrl.set(url, list);
      if (!list.includes(infoHashHex)) list.push(infoHashHex);
    }
    const now = this.now();
    const next = this.nextSweepAt ?? now + this.t.intervalMs;
    this.warned = new Set();
    const jobs: Promise<void>[] = [];
    for (const [url, hexes] of byUrl) {
      if ((this.notBefore.get(trackerKey(url)) ?? 0) > now) continue;
      const size = trackerUrlKind(url) === 'udp' ? this.t.udpBatch : this.t.httpBatch;
      for (let i = 0; i < hexes.length; i += size) jobs.push(this.scrapeBatch(url, hexes.slice(i, i + size), next, scrape));
    }
    await Promise.all(jobs);
  }

  /** One request: its turn at the tracker (behind every announce), the bounded try, then an outcome per torrent. */
  private async scrapeBatch(url: string, hexes: string[], next: number, scrape: NonNullable<TrackerTransport['scrape']>): Promise<void> {
    let startedAt = this.now();
    let release: Release | undefined;
    let bound: BoundedAttempt | undefined;
    const tell = (o: Omit<ScrapeOutcome, 'url' | 'startedAt' | 'endedAt' | 'nextScrapeAt'>, endedAt: number): void => {
      try {
        this.o.onScrape({ ...o, url, startedAt, endedAt, nextScrapeAt: next });
      } catch {
        // A throwing sink is its own problem, not the scraper's.
      }
    };
    try {
      release = await takeTurn(url, { gate: this.o.gate, holds: this.o.holds, priority: TrackerPriority.scrape, signal: this.abort.signal, now: this.now });
      startedAt = this.now();
      bound = boundedAttempt(this.abort.signal, this.t.timeoutMs);
      const r = await scrape(url, hexes.map((h) => Buffer.from(h, 'hex')), bound.signal);
      const endedAt = this.now();
      this.failures.delete(trackerKey(url));
      if (r.minRequestInterval !== undefined) this.notBefore.set(trackerKey(url), endedAt + r.minRequestInterval * 1000);
      for (const infoHashHex of hexes) {
        const counts = r.files.get(infoHashHex);
        if (counts) tell({ infoHashHex, counts }, endedAt);
        else tell({ infoHashHex, error: notListed() }, endedAt);
      }
    } catch (e) {
      if (this.stopped) return;
      const err = bound ? bound.error(asTrackerError(e)) : asTrackerError(e);
      const endedAt = this.now();
      const hold = err instanceof TrackerHeldError ? undefined : this.o.holds.holdFor(url, err, endedAt, this.o.retryLater);
      const key = trackerKey(url);
      if (!(err instanceof TrackerHeldError) && !hold && err.code !== 'TRACKER_ABORTED' && !this.warned.has(key)) {
        // Once a sweep, however many of its batches failed: the next sweeps skip it for longer each time.
        const fails = Math.min((this.failures.get(key) ?? 0) + 1, 8);
        this.failures.set(key, fails);
        this.notBefore.set(key, Math.max(this.notBefore.get(key) ?? 0, endedAt + fails * this.t.intervalMs - this.t.intervalMs / 2));
      }
      if (!(err instanceof TrackerHeldError) && !this.warned.has(key)) {
        this.warned.add(key);
        const held = hold ? `; leaving it alone until ${new Date(hold.until).toISOString()}` : '';
        this.o.onWarning?.(url, hexes, `scrape at ${url} failed: ${err.message}${held}`, err);
      }
      for (const infoHashHex of hexes) tell({ infoHashHex, error: err }, endedAt);
    } finally {
      bound?.done();
      release?.();
    }
  }
}

/** The tracker answered, but without this torrent: it does not know it (BEP 48 lists only torrents it tracks). */
function notListed(): TrackerError {
  const reason = 'not listed in the scrape reply: the tracker does not know this torrent';
  return new TrackerError('TRACKER_FAILURE', reason, { failureReason: reason });
}
