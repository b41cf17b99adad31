import { TrackerError } from '@seedbox/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ANNOUNCE_TIMING_DEFAULTS, Announcer, fullTiming, type AnnouncerOptions, type TrackerWarning, type TransferStats } from '../src/announcer.js';
import { TrackerTiers } from '../src/tiers.js';
import { FakeTransport, hang, reply } from './support/fake-transport.js';

const A = 'http://a.test/announce';
const B = 'udp://b.test:6969';
const C = 'http://c.test/announce';

/** Tiers in exactly the listed order (random() = 0.999 keeps a tier as written). */
const tiers = (list: string[][]): TrackerTiers => new TrackerTiers(list, () => 0.999);

function setup(over: Partial<AnnouncerOptions> & { list?: string[][] } = {}) {
  const transport = new FakeTransport();
  const warnings: TrackerWarning[] = [];
  const peers: { source: string; peers: { host: string; port: number }[] }[] = [];
  const stats: TransferStats = { uploaded: 0, downloaded: 0, left: 1000 };
  const announcer = new Announcer({
    infoHash: new Uint8Array(20).fill(1),
    infoHashHex: '01'.repeat(20),
    tiers: tiers(over.list ?? [[A]]),
    identity: { peerId: new Uint8Array(20).fill(2), port: 6881, key: 0xabc },
    stats: () => ({ ...stats }),
    transport,
    workerId: 'w1',
    onPeers: (p, source) => peers.push({ source, peers: p }),
    onWarning: (w) => warnings.push(w),
    timing: { minIntervalMs: 60_000, retryBaseMs: 30_000, stopTimeoutMs: 1000 },
    // No interval jitter: these tests count exact times (jitter has its own, announce-scale.test.ts).
    random: () => 0,
    ...over,
  });
  return { transport, warnings, peers, stats, announcer };
}

describe('Announcer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends started with the true figures, then re-announces at the interval with the figures of that moment', async () => {
    const { transport, announcer, stats, peers } = setup();
    transport.on(A, () => reply({ interval: 1800, peers: [{ host: '10.0.0.1', port: 1 }] }));
    stats.downloaded = 5;
    announcer.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(transport.calls).toHaveLength(1);
    expect(transport.calls[0]!.params).toMatchObject({ event: 'started', uploaded: 0, downloaded: 5, left: 1000, port: 6881, key: 0xabc, numWant: 50 });
    expect(transport.calls[0]!.params.ip).toBeUndefined();
    expect(peers).toEqual([{ source: A, peers: [{ host: '10.0.0.1', port: 1 }] }]);

    Object.assign(stats, { uploaded: 7, downloaded: 600, left: 400 });
    await vi.advanceTimersByTimeAsync(1800_000 - 1);
    expect(transport.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.calls).toHaveLength(2);
    expect(transport.calls[1]!.params).toMatchObject({ event: 'none', uploaded: 7, downloaded: 600, left: 400 });
    await announcer.stop();
  });

  it('waits at least min interval, never less than our floor, never more than our ceiling', async () => {
    const { transport, announcer } = setup();
    const intervals = [
      { interval: 100, minInterval: 300 }, // min interval wins: 300 s
      { interval: 0 }, // our floor: 60 s
      { interval: 10 ** 9 }, // our ceiling: 2 h
      { interval: 1800 },
    ];
    transport.on(A, (_p, n) => reply(intervals[n - 1]));
    announcer.start();
    await vi.advanceTimersByTimeAsync(0);
    const t0 = Date.now();
    await vi.advanceTimersByTimeAsync(300_000);
    expect(transport.calls.map((c) => c.at - t0)).toEqual([0, 300_000]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(transport.calls).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(2 * 3600_000);
    expect(transport.calls).toHaveLength(4);
    await announcer.stop();
  });

  it('fails over along the tiers, promotes the tracker that answered, and starts every round at the first tier', async () => {
    const { transport, announcer, warnings } = setup({ list: [[A, B], [C]] });
    let aFails = true;
    transport
      .on(A, () => {
        if (aFails) throw new TrackerError('TRACKER_TIMEOUT', 'no reply');
        return reply();
      })
      .on(B, (_p, n) => {
        if (n === 1) throw new TrackerError('TRACKER_BAD_LENGTH', 'short packet');
        return reply();
      })
      .on(C, () => reply({ interval: 60 }));
    announcer.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(transport.calls.map((c) => [c.url, c.params.event])).toEqual([
      [A, 'started'],
      [B, 'started'],
      [C, 'started'],
    ]);
    expect(warnings.map((w) => [w.kind, w.url, w.code, w.workerId])).toEqual([
      ['announce-failed', A, 'TRACKER_TIMEOUT', 'w1'],
      ['announce-failed', B, 'TRACKER_BAD_LENGTH', 'w1'],
    ]);
    expect(announcer.lastTracker).toBe(C);

    // 17.5 s later (libtorrent's first backoff) the two that failed are retried, each on its own:
    // A fails again; B answers (`started`: new to it) and so leads tier 0.
    const t0 = Date.now();
    await vi.advanceTimersByTimeAsync(17_500);
    expect(transport.calls.slice(3).map((c) => [c.url, c.params.event, c.at - t0])).toEqual([
      [A, 'started', 17_500],
      [B, 'started', 17_500],
    ]);
    // The next round (C's interval, 60 s) asks B first, which knows us; A backs off
    // (until 17.5 + 55 s) and is left out, so it delays nobody.
    await vi.advanceTimersByTimeAsync(60_000 - 17_500);
    expect(transport.calls.slice(5).map((c) => [c.url, c.params.event, c.at - t0])).toEqual([[B, 'none', 60_000]]);
    // A, back, is heard from again at its next retry.
    aFails = false;
    await vi.advanceTimersByTimeAsync(12_500);
    expect(transport.calls.slice(6).map((c) => [c.url, c.params.event, c.at - t0])).toEqual([[A, 'started', 72_500]]);

    // Shutdown: `stopped` to every tracker that knows us (A, B and C).
    await announcer.stop();
    const stopped = transport.calls.slice(7);
    expect(stopped.map((c) => c.url).sort()).toEqual([A, B, C].sort());
    expect(stopped.every((c) => c.params.event === 'stopped' && c.params.numWant === 0)).toBe(true);
  });

  it('when every tracker fails, retries each on its own with a growing delay, and the rounds skip them meanwhile', async () => {
    const { transport, announcer, warnings } = setup({ list: [[A], [C]] });
    transport.on(A, () => {
      throw new TrackerError('TRACKER_FAILURE', 'unregistered', { failureReason: 'unregistered' });
    });
    announcer.start();
    await vi.advanceTimersByTimeAsync(0);
    const t0 = Date.now();
    expect(transport.calls.map((c) => c.url)).toEqual([A, C]); // C: no route, a network error
    expect(warnings.map((w) => w.kind)).toEqual(['announce-failed', 'announce-failed', 'all-failed']);
    expect(warnings[2]!.message).toContain('trying again in 30 s');
    // Retries at 17.5 s, then 55 s and 117.5 s later (libtorrent's 5 s + 5 s·n²·250 %);
    // the rounds at 30 s and 90 s find both backing off and ask nobody.
    await vi.advanceTimersByTimeAsync(200_000);
    expect(transport.calls.map((c) => c.at - t0)).toEqual([0, 0, 17_500, 17_500, 72_500, 72_500, 190_000, 190_000]);
    expect(warnings.filter((w) => w.kind === 'all-failed').map((w) => w.message)).toEqual([
      expect.stringContaining('trying again in 30 s'),
      expect.stringContaining('every tracker is backing off after failures; trying again in 60 s'),
      expect.stringContaining('every tracker is backing off after failures; trying again in 120 s'),
    ]);
    expect(transport.calls.every((c) => c.params.event === 'started')).toBe(true);
    await announcer.stop();
    expect(transport.calls).toHaveLength(8); // nobody knows us: no `stopped`
  });

  it('a tracker that came back and fails again backs off afresh, as on its first failure', async () => {
    const { transport, announcer } = setup();
    let down = true;
    transport.on(A, () => {
      if (down) throw new TrackerError('TRACKER_NETWORK', 'connection refused');
      return reply({ interval: 60 });
    });
    const t0 = Date.now();
    announcer.start();
    await vi.advanceTimersByTimeAsync(0);
    down = false;
    await vi.advanceTimersByTimeAsync(80_000); // its retry at 17.5 s answers, and the round 60 s after
    down = true;
    await vi.advanceTimersByTimeAsync(60_000); // the round at 137.5 s fails
    down = false;
    await vi.advanceTimersByTimeAsync(20_000);
    expect(transport.calls.map((c) => [c.params.event, c.at - t0])).toEqual([
      ['started', 0],
      ['started', 17_500],
      ['none', 77_500],
      ['none', 137_500],
      ['none', 155_000], // 17.5 s after, not the 55 s of a second failure in a row
    ]);
    await announcer.stop();
    expect(transport.eventsTo(A).at(-1)).toBe('stopped');
  });

  it('sends completed once, as early as min interval allows', async () => {
    const { transport, announcer, stats } = setup();
    transport.on(A, () => reply({ interval: 1800, minInterval: 120 }));
    announcer.start();
    await vi.advanceTimersByTimeAsync(0);
    const t0 = Date.now();
    await vi.advanceTimersByTimeAsync(10_000);
    stats.left = 0;
    stats.downloaded = 1000;
    announcer.completed();
    announcer.completed();
    await vi.advanceTimersByTimeAsync(109_999);
    expect(transport.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.calls).toHaveLength(2);
    expect(transport.calls[1]!.at - t0).toBe(120_000);
    expect(transport.calls[1]!.params).toMatchObject({ event: 'completed', left: 0, downloaded: 1000 });
    await vi.advanceTimersByTimeAsync(1800_000);
    expect(transport.calls[2]!.params.event).toBe('none');
    await announcer.stop();
  });

  it('does not send completed when started already said we are a seed', async () => {
    const { transport, announcer, stats } = setup();
    stats.left = 0;
    transport.on(A, () => reply());
    announcer.completed();
    announcer.start();
    await vi.advanceTimersByTimeAsync(1800_000);
    expect(transport.calls.map((c) => c.params.event)).toEqual(['started', 'none']);
    await announcer.stop();
  });

  it('echoes the tracker id, sends our address when we have one, and surfaces warnings', async () => {
    const { transport, announcer, warnings } = setup({
      identity: { peerId: new Uint8Array(20).fill(2), port: 7000, host: '10.9.8.7', key: 1 },
    });
    transport.on(A, () => reply({ trackerId: Buffer.from('T1'), warning: 'you are announcing too often', invalidPeers: 3 }));
    announcer.start();
    await vi.advanceTimersByTimeAsync(1800_000);
    expect(transport.calls[0]!.params.trackerId).toBeUndefined();
    expect(Buffer.from(transport.calls[1]!.params.trackerId!).toString()).toBe('T1');
    expect(transport.calls[0]!.params.ip).toBe('10.9.8.7');
    expect(warnings.map((w) => w.kind)).toEqual(['tracker-warning', 'invalid-peers', 'tracker-warning', 'invalid-peers']);
    expect(warnings[0]!.message).toContain('you are announcing too often');
    await announcer.stop();
  });

  it('stop cancels a round that is waiting and sends stopped to the trackers that know us', async () => {
    const { transport, announcer } = setup({ list: [[A], [C]] });
    transport.on(A, () => reply({ interval: 60 })).on(C, () => reply());
    announcer.start();
    await vi.advanceTimersByTimeAsync(0);
    transport.on(A, (p) => (p.event === 'stopped' ? reply() : hang()));
    await vi.advanceTimersByTimeAsync(60_000); // round 2 hangs on A
    expect(transport.calls).toHaveLength(2);
    await announcer.stop();
    expect(transport.calls.map((c) => [c.url, c.params.event])).toEqual([
      [A, 'started'],
      [A, 'none'],
      [A, 'stopped'],
    ]);
    expect(announcer.nextAnnounceAt).toBeUndefined();
    await vi.advanceTimersByTimeAsync(3600_000);
    expect(transport.calls).toHaveLength(3); // nothing after stop
  });

  it('a peer feed that throws is a warning, not a crash', async () => {
    const { transport, announcer, warnings } = setup({
      onPeers: () => {
        throw new Error('downstream bug');
      },
    });
    transport.on(A, () => reply({ peers: [{ host: '10.0.0.1', port: 1 }] }));
    announcer.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(warnings.map((w) => w.kind)).toEqual(['peer-feed-failed']);
    await announcer.stop();
  });
});

describe('fullTiming', () => {
  it('fills in the defaults once per timing object, for every announcer given that object', () => {
    const timing = { numWant: 10 };
    expect(fullTiming(timing)).toEqual({ ...ANNOUNCE_TIMING_DEFAULTS, numWant: 10 });
    expect(fullTiming(timing)).toBe(fullTiming(timing));
    expect(fullTiming({ numWant: 10 })).not.toBe(fullTiming(timing));
    expect(fullTiming(undefined)).toEqual(ANNOUNCE_TIMING_DEFAULTS);
  });
});

describe('Announcer stop deadline', () => {
  it('gives up on a tracker that does not answer stopped within stopTimeoutMs', async () => {
    const { transport, announcer, warnings } = setup({ timing: { stopTimeoutMs: 100 } });
    transport.on(A, (p) => (p.event === 'stopped' ? hang() : reply()));
    announcer.start();
    await new Promise((r) => setTimeout(r, 10));
    const t0 = Date.now();
    await announcer.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(warnings.map((w) => [w.kind, w.code])).toEqual([['stop-failed', 'TRACKER_ABORTED']]);
  });
});
