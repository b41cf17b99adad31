import type { TrackerError } from '@seedbox/protocol';
import { trackerKey } from './tracker-gate.js';

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
 * is passed in. Every announcer may have one, and most have no failing
 * tracker most of the time: the table is made at the first failure and
 * dropped when the last one is forgotten.
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

const NO_OPTIONS: TrackerBackoffOptions = Object.freeze({});

export class TrackerBackoff {
  /** Undefined while no tracker is failing. */
  private failing: Map<string, Failing> | undefined;

  constructor(private readonly options: TrackerBackoffOptions = NO_OPTIONS) {}

  /** How many trackers are failing. */
  get size(): number {
    return this.failing?.size ?? 0;
  }

  /**
   * Records a failure; answers when the tracker may be asked again (ms
   * epoch): after the backoff, or at `at` when the tracker said when (a
   * hold, TrackerHolds).
   */
  failed(url: string, now: number, at?: number): number {
    const fails = this.failures(url) + 1;
    const retryAt = at ?? now + trackerRetryDelayMs(fails, this.options);
    (this.failing ??= new Map()).set(url, { fails, retryAt });
    return retryAt;
  }

  succeeded(url: string): void {
    this.forget(url);
  }

  /** Failed, and its retry is not due yet: rounds skip it. */
  isBackingOff(url: string, now: number): boolean {
    const f = this.failing?.get(url);
    return f !== undefined && f.retryAt > now;
  }

  /** Failing trackers whose retry is due at `now`. */
  due(now: number): string[] {
    return [...(this.failing ?? [])].filter(([, f]) => f.retryAt <= now).map(([url]) => url);
  }

  /** The earliest retry of a failing tracker (ms epoch), if any, leaving out those `except` names. */
  nextRetryAt(except: (url: string) => boolean = () => false): number | undefined {
    let at: number | undefined;
    for (const [url, f] of this.failing ?? []) if (!except(url) && (at === undefined || f.retryAt < at)) at = f.retryAt;
    return at;
  }

  failures(url: string): number {
    return this.failing?.get(url)?.fails ?? 0;
  }

  /** Forgets trackers no longer listed. */
  retain(urls: ReadonlySet<string>): void {
    for (const url of [...(this.failing?.keys() ?? [])]) if (!urls.has(url)) this.forget(url);
  }

  private forget(url: string): void {
    if (this.failing?.delete(url) && this.failing.size === 0) this.failing = undefined;
  }
}

/**
 * "Come back later", for a whole tracker: an HTTP 429 or 503 (with its
 * Retry-After, or a default), or a refusal whose words say to retry later
 * ("Try again later", "rate limited"). Such a tracker is overloaded or
 * throttling us, not failing one torrent: asking it again for each of our
 * other torrents, each on its own backoff, is what gets a fleet banned.
 * So the hold is the tracker's (its host:port, trackerKey), and every
 * announcer and the scraper leave it alone until it ends.
 *
 * A refusal with BEP 31 `retry in` alone is not a hold: "unregistered
 * torrent, retry in 60" speaks of one torrent.
 */

export interface RetryLaterOptions {
  /** The hold when the tracker says to come back later without saying when. Default 5 min. */
  defaultMs?: number;
  /** The longest hold we honour, whatever the tracker asks. Default 1 h. */
  maxMs?: number;
  /** The shortest: "Retry-After: 0" still is no reason to ask again at once. Default 5 s. */
  minMs?: number;
}

export const RETRY_LATER_DEFAULTS: Required<RetryLaterOptions> = {
  defaultMs: 5 * 60_000,
  maxMs: 60 * 60_000,
  minMs: 5_000,
};

/** A failure reason that tells every client to come back later, in the words trackers use. */
const SAYS_LATER = /\b(?:try|retry|come back)\b[^.;]{0,30}\blater\b|\btoo many requests\b|\brate[- ]?limit|\boverloaded\b/i;

/** How long the error asks us to leave the whole tracker alone (ms), or undefined when it does not. */
export function retryLaterMs(err: TrackerError, options: RetryLaterOptions = {}): number | undefined {
  const o = { ...RETRY_LATER_DEFAULTS, ...options };
  let ms: number | undefined;
  if (err.code === 'TRACKER_RETRY_LATER') ms = err.retryAfterMs ?? o.defaultMs;
  else if (err.code === 'TRACKER_FAILURE' && SAYS_LATER.test(err.failureReason ?? '')) {
    ms = typeof err.retryIn === 'number' ? err.retryIn * 60_000 : o.defaultMs;
  }
  return ms === undefined ? undefined : Math.min(Math.max(ms, o.minMs), o.maxMs);
}

export interface TrackerHold {
  /** Not asked before this time (ms epoch). */
  until: number;
  /** What the tracker said, for the status and the logs. */
  why: string;
}

/** The trackers on hold, shared by every announcer and the scraper of one TrackerClient. Pure state; the clock is passed in. */
export class TrackerHolds {
  private readonly holds = new Map<string, TrackerHold>();

  /** Holds the tracker `url` names until `until`; a later hold already in place stands. Answers the hold in force. */
  hold(url: string, until: number, why: string): TrackerHold {
    const key = trackerKey(url);
    const prev = this.holds.get(key);
    if (prev && prev.until >= until) return prev;
    const h = { until, why };
    this.holds.set(key, h);
    return h;
  }

  /** Holds the tracker when `err` asks us to come back later (retryLaterMs); answers the hold in force then. */
  holdFor(url: string, err: TrackerError, now: number, options?: RetryLaterOptions): TrackerHold | undefined {
    const ms = retryLaterMs(err, options);
    return ms === undefined ? undefined : this.hold(url, now + ms, err.failureReason ?? err.message);
  }

  /** The hold on the tracker `url` names, while it lasts. */
  heldAt(url: string, now: number): TrackerHold | undefined {
    const key = trackerKey(url);
    const h = this.holds.get(key);
    if (h && h.until <= now) {
      this.holds.delete(key);
      return undefined;
    }
    return h;
  }
}

/**
 * When one announcer asks a held tracker again: once the hold ends, plus
 * `spread` (a fraction, drawn at random by the caller) of its length, so
 * thousands of torrents do not all line up at the tracker the moment it
 * ends.
 */
export function retryAfterHold(hold: TrackerHold, now: number, spread: number): number {
  return hold.until + Math.round(spread * Math.max(0, hold.until - now));
}
