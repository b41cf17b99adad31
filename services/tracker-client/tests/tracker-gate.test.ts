import { TrackerError } from '@seedbox/protocol';
import { describe, expect, it } from 'vitest';
import { regularDelayMs } from '../src/announce-plan.js';
import { retryAfterHold, retryLaterMs, TrackerHolds } from '../src/tracker-backoff.js';
import { announcePriority, TrackerGate, TrackerPriority, trackerKey, type Release } from '../src/tracker-gate.js';

/**
 * The pure parts of announcing at scale: the per-tracker slots and their
 * line, the interval jitter, and which replies hold a whole tracker.
 */

const T = 'http://t.test/announce';
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('TrackerGate', () => {
  it('lets 4 requests at a tracker at once; the next waits for a slot', async () => {
    const gate = new TrackerGate();
    const held = await Promise.all([0, 1, 2, 3].map(() => gate.acquire(T, TrackerPriority.seeding)));
    let fifth: Release | undefined;
    void gate.acquire(T, TrackerPriority.seeding).then((r) => (fifth = r));
    await flush();
    expect(fifth).toBeUndefined();
    expect(gate.load(T)).toEqual({ active: 4, waiting: 1 });
    held[0]!();
    held[0]!(); // releasing twice frees one slot, not two
    await flush();
    expect(fifth).toBeDefined();
    expect(gate.load(T)).toEqual({ active: 4, waiting: 0 });
  });

  it('counts per tracker (scheme, host, port), not per URL or torrent', async () => {
    const gate = new TrackerGate({ perTracker: 1 });
    await gate.acquire('http://t.test/announce?passkey=a', TrackerPriority.seeding);
    expect(gate.load('http://T.test:80/other?passkey=b')).toEqual({ active: 1, waiting: 0 });
    // Another tracker, or the same host on another port, has slots of its own.
    await gate.acquire('http://t.test:8080/announce', TrackerPriority.seeding);
    await gate.acquire('udp://t.test:80', TrackerPriority.seeding);
    expect(trackerKey('https://t.test/announce')).toBe('https://t.test:443');
    expect(trackerKey('udp://T.test:6969/announce')).toBe('udp://t.test:6969');
  });

  it('serves stopped and completed first, then downloading torrents, then seeds, then scrapes; in order within each', async () => {
    const gate = new TrackerGate({ perTracker: 1 });
    const first = await gate.acquire(T, TrackerPriority.seeding);
    const order: string[] = [];
    const wait = (name: string, p: (typeof TrackerPriority)[keyof typeof TrackerPriority]): void => {
      void gate.acquire(T, p).then((release) => {
        order.push(name);
        release();
      });
    };
    wait('scrape', TrackerPriority.scrape);
    wait('seed 1', announcePriority('started', 0));
    wait('leech 1', announcePriority('none', 10));
    wait('seed 2', announcePriority('none', 0));
    wait('stopped', announcePriority('stopped', 0));
    wait('leech 2', announcePriority('started', 1));
    wait('completed', announcePriority('completed', 0));
    await flush();
    expect(order).toEqual([]);
    first();
    for (let i = 0; i < 10; i++) await flush();
    expect(order).toEqual(['stopped', 'completed', 'leech 1', 'leech 2', 'seed 1', 'seed 2', 'scrape']);
    expect(gate.load(T)).toEqual({ active: 0, waiting: 0 });
  });

  it('takes a waiter whose signal aborts out of the line, with TRACKER_ABORTED', async () => {
    const gate = new TrackerGate({ perTracker: 1 });
    const first = await gate.acquire(T, TrackerPriority.seeding);
    const ac = new AbortController();
    const aborted = gate.acquire(T, TrackerPriority.urgent, ac.signal).catch((e: unknown) => e);
    let next = false;
    void gate.acquire(T, TrackerPriority.seeding).then(() => (next = true));
    ac.abort();
    expect(((await aborted) as TrackerError).code).toBe('TRACKER_ABORTED');
    first();
    await flush();
    expect(next).toBe(true);
    await expect(gate.acquire(T, TrackerPriority.seeding, AbortSignal.abort())).rejects.toMatchObject({ code: 'TRACKER_ABORTED' });
  });

  it('keeps up with a line of 10,000', async () => {
    const gate = new TrackerGate();
    let done = 0;
    const all = Array.from({ length: 10_000 }, (_, i) =>
      gate.acquire(T, i % 3 === 0 ? TrackerPriority.leeching : TrackerPriority.seeding).then((release) => {
        done++;
        setImmediate(release);
      }),
    );
    await Promise.all(all);
    expect(done).toBe(10_000);
    await flush();
    expect(gate.load(T)).toEqual({ active: 0, waiting: 0 });
  });
});

describe('the re-announce jitter', () => {
  const timing = { minIntervalMs: 60_000, maxIntervalMs: 2 * 3600_000, intervalJitter: 0.1 };

  it('takes up to 10 % off the interval, never going under min interval or our floor', () => {
    expect(regularDelayMs({ interval: 1800 }, timing, () => 0).delayMs).toBe(1800_000);
    expect(regularDelayMs({ interval: 1800 }, timing, () => 0.5).delayMs).toBe(1710_000);
    expect(regularDelayMs({ interval: 1800 }, timing, () => 0.999_999).delayMs).toBeGreaterThan(1620_000 - 1);
    expect(regularDelayMs({ interval: 1800, minInterval: 1750 }, timing, () => 0.999).delayMs).toBe(1750_000);
    expect(regularDelayMs({ interval: 1800, minInterval: 1800 }, timing, () => 0.999).delayMs).toBe(1800_000);
    expect(regularDelayMs({ interval: 62 }, timing, () => 0.999).delayMs).toBe(60_000);
    expect(regularDelayMs({ interval: 1800 }, { ...timing, intervalJitter: 0 }, () => 0.999).delayMs).toBe(1800_000);
  });
});

describe('holds: "come back later" for a whole tracker', () => {
  const err = (code: 'TRACKER_RETRY_LATER' | 'TRACKER_FAILURE' | 'TRACKER_HTTP_STATUS', d: ConstructorParameters<typeof TrackerError>[2] = {}) => new TrackerError(code, 'x', d);

  it('holds for Retry-After, bounded to 5 s .. 1 h; 5 min when the tracker does not say', () => {
    expect(retryLaterMs(err('TRACKER_RETRY_LATER', { retryAfterMs: 120_000 }))).toBe(120_000);
    expect(retryLaterMs(err('TRACKER_RETRY_LATER', { retryAfterMs: 0 }))).toBe(5_000);
    expect(retryLaterMs(err('TRACKER_RETRY_LATER', { retryAfterMs: 86_400_000 }))).toBe(3600_000);
    expect(retryLaterMs(err('TRACKER_RETRY_LATER'))).toBe(300_000);
    expect(retryLaterMs(err('TRACKER_HTTP_STATUS', { received: 502 }))).toBeUndefined();
  });

  it('holds for a refusal that says to retry later (with its retry in), not for one about a torrent', () => {
    expect(retryLaterMs(err('TRACKER_FAILURE', { failureReason: 'Tracker is busy, please try again later' }))).toBe(300_000);
    expect(retryLaterMs(err('TRACKER_FAILURE', { failureReason: 'Rate limit exceeded', retryIn: 10 }))).toBe(600_000);
    expect(retryLaterMs(err('TRACKER_FAILURE', { failureReason: 'Too Many Requests' }))).toBe(300_000);
    expect(retryLaterMs(err('TRACKER_FAILURE', { failureReason: 'Unregistered torrent', retryIn: 60 }))).toBeUndefined();
    expect(retryLaterMs(err('TRACKER_FAILURE', { failureReason: 'torrent not found' }))).toBeUndefined();
  });

  it('is the tracker’s, for every URL of it, until it ends; a longer one is kept', () => {
    const holds = new TrackerHolds();
    holds.hold('http://t.test/announce?passkey=a', 10_000, 'HTTP 429');
    expect(holds.heldAt('http://t.test:80/announce?passkey=b', 9_999)).toEqual({ until: 10_000, why: 'HTTP 429' });
    expect(holds.hold(T, 5_000, 'shorter').until).toBe(10_000);
    expect(holds.heldAt('http://other.test/announce', 0)).toBeUndefined();
    expect(holds.heldAt(T, 10_000)).toBeUndefined();
    // Each announcer comes back after it, spread over a tenth of its length.
    expect(retryAfterHold({ until: 60_000, why: '' }, 0, 0.1)).toBe(66_000);
  });
});
