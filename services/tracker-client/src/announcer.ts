import type { AnnounceEvent, AnnounceParams } from '@seedbox/protocol';
import { fullTiming, type AnnounceAnswer as Answer, type AnnounceRoundFailure as Failure, type AnnounceTiming, type AnnouncerOptions } from './announcer-types.js';
import { announceParams } from './announce-params.js';
import { deliverPeers, namesOf, reportAnswer, reportFailures, warn } from './announcer-reports.js';
import { planRound, regularDelayMs } from './announce-plan.js';
import { asTrackerError, boundedAttempt, takeTurn, TrackerHeldError, type BoundedAttempt } from './tracker-attempt.js';
import { retryAfterHold, TrackerHolds } from './tracker-backoff.js';
import { announcePriority, TrackerGate, TrackerPriority, type Release } from './tracker-gate.js';
import { TrackerRetries } from './tracker-retries.js';
import { withItem, withoutItem } from './short-lists.js';

export * from './announcer-types.js';

/**
 * The announces of one torrent for one identity (one peer-worker's peer id,
 * address and port): an actor that owns its schedule and its per-tracker
 * state and takes commands: start, completed, requestAnnounce (more peers
 * wanted), announceNow (a reannounce by hand) and stop.
 *
 * - Each round walks the tier list in BEP 12 order and stops at the first
 *   tracker that answers (or, as the policy asks, announces to every tier
 *   or every tracker: announce-plan.ts); every failure on the way is a
 *   warning, never an exception. When all fail, the round is retried with
 *   a doubling delay.
 * - Each request waits for a free slot of its tracker (tracker-gate.ts:
 *   at most a few in flight per tracker, shared by all announcers, urgent
 *   events and downloading torrents first), then gets a bounded try
 *   (tracker-attempt.ts), so a dead one
 *   delays the next by seconds, not minutes; after a failure it backs off
 *   (tracker-backoff.ts): rounds skip it, and it is retried on its own in
 *   the background, never delaying the others. A tracker that asks us to
 *   come back later (HTTP 429/503, "try again later") is held for every
 *   torrent (TrackerHolds) and not asked until the hold ends.
 * - Events (BEP 3): a tracker hears `started` the first time it hears from
 *   us (so after a failover the new tracker gets `started` too); `completed`
 *   once when the download finishes (not when we started as a seed); the
 *   regular announce otherwise; and on stop, `stopped` to every tracker that
 *   knows us, under a short deadline so shutdown is never held up by a dead
 *   tracker.
 * - uploaded/downloaded/left are read from `stats()` at the moment each
 *   request is built, so every announce carries the true current figures.
 * - The next announce comes after `interval`, less a random jitter of up
 *   to 10 % so that torrents started together drift apart, never sooner
 *   than `min interval` (also for `completed`), and within our own floor
 *   and ceiling (announce-plan.ts, regularDelayMs).
 * - A reannounce asked for by hand (announceNow) is the one exception to
 *   `min interval` and the floor: see there why.
 * - Every announce's outcome is reported, tracker by tracker
 *   (announcer-reports.ts): successes as they come (onAnnounce), failures
 *   at the end of their round (onFailure), when the round's next announce
 *   is known.
 *
 * A client runs one per torrent and worker (10,000 in serve), idle between
 * announces nearly all the time, so what it needs only now and then is
 * made when first needed and dropped when done with: the trackers being
 * asked, those that know us and their tracker ids (undefined while none),
 * the abort of the announces under way, the retries of failing trackers.
 */

export class Announcer {
  private readonly timing: Required<AnnounceTiming>;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly gate: TrackerGate;
  private readonly holds: TrackerHolds;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  /** Cancels the announces under way when we stop: made by the first to start, dropped when the last ends (~760 bytes with its signal). */
  private abort: AbortController | undefined;
  private attemptsUnderWay = 0;
  /** Trackers that know us: they accepted an announce and have not heard `stopped` (short-lists.ts). */
  private known: readonly string[] | undefined;
  private trackerIds: Map<string, Uint8Array> | undefined;
  private pendingCompleted = false;
  private started = false;
  private stopping: Promise<void> | undefined;
  private failedRounds = 0;
  /** Made at the first failure, dropped at the end of a round once idle (nothing failing). */
  private retries: TrackerRetries | undefined;
  /** Trackers being asked now (by a round or a retry): never asked twice at once. */
  private asking: Set<string> | undefined;
  /** The next round was asked for by hand: it asks trackers backing off too. */
  private forced = false;
  private lastAnnounceAt = Number.NEGATIVE_INFINITY;
  /** The `min interval` of the tracker that answered last, in ms. */
  private trackerMinIntervalMs = 0;
  /** When the next round is due (ms epoch); undefined when none is scheduled. */
  nextAnnounceAt: number | undefined;
  /** The tracker that answered last. */
  lastTracker: string | undefined;

  constructor(private readonly opts: AnnouncerOptions) {
    this.timing = fullTiming(opts.timing);
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.gate = opts.gate ?? new TrackerGate();
    this.holds = opts.holds ?? new TrackerHolds();
  }

  /** Starts announcing (`started` goes out at once). */
  start(): void {
    if (this.started || this.stopping) return;
    this.started = true;
    this.schedule(0);
  }

  /**
   * The download finished: `completed` goes out with the next announce,
   * which is brought forward to the earliest moment `min interval` allows.
   */
  completed(): void {
    if (this.stopping || this.pendingCompleted) return;
    this.pendingCompleted = true;
    this.bringForward();
  }

  /** Asks for an announce soon (more peers wanted), as soon as `min interval` and our floor allow. */
  requestAnnounce(): void {
    if (this.stopping || !this.started) return;
    this.bringForward(this.timing.minIntervalMs);
  }

  /**
   * An announce now, asked for by hand (qBittorrent's and Transmission's
   * "reannounce"): unlike requestAnnounce it does not wait for the
   * tracker's `min interval`, often 15 to 30 minutes, which would make the
   * button look broken; a user presses it to get peers or a new tracker
   * status now (the tracker has just registered the torrent, say), and a
   * failed round's backoff is skipped for the same reason. A floor of
   * `manualFloorMs` since the last announce still holds, so a script
   * pressing it in a loop cannot flood a tracker. A round under way counts
   * as the announce. Answers whether one is (now) due before `manualFloorMs`.
   */
  announceNow(): boolean {
    if (this.stopping || !this.started) return false;
    if (this.inFlight) return true;
    const at = Math.max(this.now(), this.lastAnnounceAt + this.timing.manualFloorMs);
    this.forced = true; // a user pressing it wants every tracker asked, failing ones too
    if (this.nextAnnounceAt === undefined || at < this.nextAnnounceAt) this.schedule(at - this.now());
    return true;
  }

  /**
   * Stops the schedule, cancels a round under way and sends `stopped` to
   * every tracker that knows us, within `stopTimeoutMs`. Never rejects.
   */
  stop(): Promise<void> {
    this.stopping ??= this.sendStopped();
    return this.stopping;
  }

  get isStopped(): boolean {
    return this.stopping !== undefined;
  }

  private async sendStopped(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.nextAnnounceAt = undefined;
    this.abort?.abort();
    await Promise.all([this.inFlight, this.retries?.stop()]);
    // A `started` cancelled in flight may have reached its tracker; we cannot
    // know, and that tracker drops us after its own timeout.
    const targets = this.known ?? [];
    if (targets.length === 0) return;
    const deadline = AbortSignal.timeout(this.timing.stopTimeoutMs);
    await Promise.all(
      targets.map(async (url) => {
        let release: Release | undefined;
        try {
          // First in line, under the same deadline; a tracker on hold is not asked even for this.
          release = await takeTurn(url, { gate: this.gate, holds: this.holds, priority: TrackerPriority.urgent, signal: deadline, now: this.now });
          const params = { ...this.params(url, 'stopped'), numWant: 0 };
          const startedAt = this.now();
          const response = await this.opts.transport.announce(url, params, deadline);
          this.known = withoutItem(this.known, url);
          this.opts.onAnnounce?.({ ...namesOf(this.opts), url, event: 'stopped', response, startedAt, nextAnnounceAt: undefined });
        } catch (e) {
          const err = asTrackerError(e);
          // Not sent to a tracker on hold, on purpose: no line per torrent for that at shutdown.
          if (!(err instanceof TrackerHeldError)) warn(this.opts, { kind: 'stop-failed', url, event: 'stopped', code: err.code, message: `stopped to ${url} failed: ${err.message}`, error: err });
        } finally {
          release?.();
        }
      }),
    );
  }

  private bringForward(floorMs = 0): void {
    if (this.stopping || !this.started || this.inFlight) return; // a round under way reschedules when it ends
    const at = Math.max(this.now(), this.lastAnnounceAt + Math.max(this.trackerMinIntervalMs, floorMs));
    if (this.nextAnnounceAt === undefined || at < this.nextAnnounceAt) this.schedule(at - this.now());
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    const delay = Math.max(0, Math.min(delayMs, 0x7fffffff));
    this.nextAnnounceAt = this.now() + delay;
    this.timer = setTimeout(() => this.run(), delay);
  }

  private run(): void {
    this.timer = undefined;
    this.nextAnnounceAt = undefined;
    if (this.stopping || this.inFlight) return;
    this.inFlight = this.round()
      .catch((e: unknown) => {
        // round() catches what the trackers throw; this is a bug of ours.
        // Report it and keep the schedule alive rather than go silent.
        warn(this.opts, { kind: 'all-failed', message: `announce round failed unexpectedly: ${String(e)}`, error: e as Error });
        if (!this.stopping) this.schedule(this.timing.retryMaxMs);
      })
      .finally(() => {
        this.inFlight = undefined;
      });
  }

  private eventFor(url: string): AnnounceEvent {
    if (!this.known?.includes(url)) return 'started';
    return this.pendingCompleted ? 'completed' : 'none';
  }

  private params(url: string, event: AnnounceEvent): AnnounceParams {
    const o = { infoHash: this.opts.infoHash, identity: this.opts.identity, numWant: this.timing.numWant, trackerId: this.trackerIds?.get(url) };
    return announceParams(o, this.opts.stats(), event);
  }

  private async round(): Promise<void> {
    const tiers = this.opts.tiers.tiers;
    if (tiers.length === 0) {
      warn(this.opts, { kind: 'all-failed', message: 'the torrent has no usable tracker; not announcing' });
      return;
    }
    this.retries?.retain(new Set(tiers.flat()));
    const forced = this.forced;
    this.forced = false;
    const plan = planRound(tiers, this.opts.policy ?? {}, (url) => this.asking?.has(url) === true || (!forced && this.retries?.isBackingOff(url) === true));
    const failed: Failure[] = [];
    const wins = (await Promise.all(plan.map((lane) => this.runLane(lane, failed)))).flat();
    if (this.stopping) return;
    if (wins.length > 0) {
      this.failedRounds = 0;
      // Every tier answered on its own interval (all-tiers mode): the soonest sets the next round.
      this.trackerMinIntervalMs = Math.max(...wins.map((w) => (w.response.minInterval ?? 0) * 1000));
      this.schedule(Math.min(...wins.map((w) => w.delay)));
      for (const w of wins) reportAnswer(this.opts, w, this);
    } else {
      this.failedRounds++;
      const delay = Math.min(this.timing.retryBaseMs * 2 ** (this.failedRounds - 1), this.timing.retryMaxMs);
      const what = plan.length === 0 ? 'every tracker is backing off after failures' : `all ${failed.length} trackers asked failed`;
      // Every tracker asked us to come back later: the hold was told once (its announce-failed); a line per torrent per round is noise.
      const allHeld = tiers.every((t) => t.every((url) => this.holds.heldAt(url, this.now()) !== undefined));
      if (!allHeld) warn(this.opts, { kind: 'all-failed', message: `${what}; trying again in ${Math.round(delay / 1000)} s` });
      this.schedule(delay);
    }
    reportFailures(this.opts, failed, this);
    this.retries?.arm();
    if (this.retries?.idle) this.retries = undefined;
  }

  /**
   * One lane of the plan: its steps in turn until one answers. The answers
   * are recorded and their peers handed on at once, not when the slowest
   * lane ends (a dead tracker in another tier must not hold them back).
   */
  private async runLane(lane: string[][], failed: Failure[]): Promise<(Answer & { delay: number })[]> {
    for (const step of lane) {
      if (this.stopping) return [];
      const wins = (await Promise.all(step.map((url) => this.attempt(url, failed)))).filter((w): w is Answer => w !== undefined);
      if (this.stopping) return [];
      if (wins.length === 0) continue;
      return wins.map((w) => {
        const delay = this.record(w);
        deliverPeers(this.opts, w);
        return { ...w, delay };
      });
    }
    return [];
  }

  /**
   * One announce to one tracker: its turn at the tracker (tracker-gate.ts;
   * none while it is on hold), then the bounded try. Its answer, or
   * undefined (the failure goes to `failed`).
   */
  private async attempt(url: string, failed: Failure[]): Promise<Answer | undefined> {
    const event = this.eventFor(url);
    let startedAt = this.now();
    let release: Release | undefined;
    let bound: BoundedAttempt | undefined;
    (this.asking ??= new Set()).add(url);
    const abort = (this.abort ??= new AbortController());
    this.attemptsUnderWay++;
    try {
      const priority = announcePriority(event, this.opts.stats().left);
      release = await takeTurn(url, { gate: this.gate, holds: this.holds, priority, signal: abort.signal, now: this.now });
      startedAt = this.now();
      bound = boundedAttempt(abort.signal, this.timing.trackerTimeoutMs);
      const params = this.params(url, event);
      const response = await this.opts.transport.announce(url, params, bound.signal);
      // Stopping: it did reach the tracker, so `stopped` must go there too.
      if (this.stopping) this.known = withItem(this.known, url);
      else this.retries?.succeeded(url);
      return this.stopping ? undefined : { url, event, params, response, startedAt };
    } catch (e) {
      if (this.stopping) return undefined;
      const err = bound ? bound.error(asTrackerError(e)) : asTrackerError(e);
      const failedAt = this.now();
      const hold = err instanceof TrackerHeldError ? err.hold : this.holds.holdFor(url, err, failedAt, this.opts.retryLater);
      const retryAt = this.ensureRetries().failed(url, failedAt, hold && retryAfterHold(hold, failedAt, this.timing.intervalJitter * this.random()));
      if (!(err instanceof TrackerHeldError)) {
        const held = hold ? `; leaving it alone until ${new Date(hold.until).toISOString()}` : '';
        warn(this.opts, { kind: 'announce-failed', url, event, code: err.code, message: `${url}: ${err.message}${held}`, error: err });
      }
      failed.push({ url, event, error: err, startedAt, failedAt, retryAt, ...(hold ? { heldUntil: hold.until } : {}) });
      return undefined;
    } finally {
      bound?.done();
      release?.();
      if (this.asking?.delete(url) && this.asking.size === 0) this.asking = undefined;
      if (--this.attemptsUnderWay === 0) this.abort = undefined;
    }
  }

  private ensureRetries(): TrackerRetries {
    return (this.retries ??= new TrackerRetries({
      ...(this.opts.backoff ? { backoff: this.opts.backoff } : {}),
      now: this.now,
      isAsking: (url) => this.asking?.has(url) === true,
      retry: (url) => this.retryOne(url),
    }));
  }

  /**
   * A failing tracker asked again on its own (TrackerRetries). An answer
   * after rounds that failed everywhere puts the schedule back on the
   * regular interval.
   */
  private async retryOne(url: string): Promise<void> {
    if (this.stopping) return;
    const failed: Failure[] = [];
    const win = await this.attempt(url, failed);
    if (this.stopping) return;
    if (win) {
      const delay = this.record(win);
      deliverPeers(this.opts, win);
      if (this.failedRounds > 0 && !this.inFlight) {
        this.failedRounds = 0;
        this.trackerMinIntervalMs = (win.response.minInterval ?? 0) * 1000;
        this.schedule(delay);
      }
      reportAnswer(this.opts, win, this);
    }
    reportFailures(this.opts, failed, this);
  }

  /** What an answer changes in our state; answers the delay it asks before the next announce. */
  private record({ url, event, params, response: r }: Answer): number {
    this.opts.tiers.promote(url);
    this.lastTracker = url;
    this.lastAnnounceAt = this.now();
    this.known = withItem(this.known, url);
    // `completed` is only news to a tracker that saw us incomplete: a
    // `started` sent with left = 0 already told it we are a seed.
    if (event === 'completed' || (event === 'started' && params.left === 0)) this.pendingCompleted = false;
    if (r.trackerId) (this.trackerIds ??= new Map()).set(url, r.trackerId);
    const { delayMs, minIntervalMs } = regularDelayMs(r, this.timing, this.random);
    // A completion noticed while this round was under way goes out as soon
    // as the tracker's min interval allows.
    return this.pendingCompleted ? Math.min(delayMs, minIntervalMs) : delayMs;
  }
}
