import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TrackerStatus } from '@seedbox/cluster';
import { loadConfig, serveOptions, trackerClientOptions } from '@seedbox/runtime';
import { announcePolicy, planRound } from '../src/announce-plan.js';
import { Announcer, type AnnounceFailed, type AnnouncerOptions, type TrackerWarning } from '../src/announcer.js';
import { TrackerTiers } from '../src/tiers.js';
import { TrackerBackoff, trackerRetryDelayMs } from '../src/tracker-backoff.js';
import { TrackerRetries } from '../src/tracker-retries.js';
import { TrackerClient } from '../src/tracker-client.js';
import { FakeTransport, hang, reply } from './support/fake-transport.js';

/**
 * Trackers that fail badly: the bounded try per tracker, the background
 * retries of a dead one, and the policies that announce to every tier or
 * every tracker. Fake transport and fake clock; the real sockets are in
 * dead-tracker.test.ts.
 */

const DEAD = 'udp://dead.test:6969';
const LIVE = 'http://live.test/announce';
const B = 'http://b.test/announce';
const C = 'http://c.test/announce';

const tiers = (list: string[][]): TrackerTiers => new TrackerTiers(list, () => 0.999);

function setup(list: string[][], over: Partial<AnnouncerOptions> = {}) {
  const transport = new FakeTransport();
  const warnings: TrackerWarning[] = [];
  const failures: AnnounceFailed[] = [];
  const peers: string[] = [];
  const announcer = new Announcer({
    infoHash: new Uint8Array(20).fill(1),
    infoHashHex: '01'.repeat(20),
    tiers: tiers(list),
    identity: { peerId: new Uint8Array(20).fill(2), port: 6881, key: 1 },
    stats: () => ({ uploaded: 0, downloaded: 0, left: 1000 }),
    transport,
    onPeers: (_p, source) => peers.push(source),
    onWarning: (w) => warnings.push(w),
    onFailure: (f) => failures.push(f),
    timing: { stopTimeoutMs: 1000 },
    // No interval jitter: these tests count exact times (jitter has its own, announce-scale.test.ts).
    random: () => 0,
    ...over,
  });
  return { transport, warnings, failures, peers, announcer };
}

const aPeer = [{ host: '10.0.0.9', port: 9 }];

describe('announce plans', () => {
  const list = [[DEAD, LIVE], [B], [C]];
  it('default (BEP 12): one lane, one tracker at a time, in tier order', () => {
    expect(planRound(list, {})).toEqual([[[DEAD], [LIVE], [B], [C]]]);
  });
  it('all tiers: a lane per tier; all trackers: a tier asked at once', () => {
    expect(planRound(list, { announceToAllTiers: true })).toEqual([[[DEAD], [LIVE]], [[B]], [[C]]]);
    expect(planRound(list, { announceToAllTrackers: true })).toEqual([[[DEAD, LIVE], [B], [C]]]);
    expect(planRound(list, { announceToAllTiers: true, announceToAllTrackers: true })).toEqual([[[DEAD, LIVE]], [[B]], [[C]]]);
  });
  it('leaves out trackers backing off, and lanes left empty', () => {
    expect(planRound(list, { announceToAllTiers: true }, (u) => u === DEAD || u === B)).toEqual([[[LIVE]], [[C]]]);
  });
  it('backs off as libtorrent does: 5 s + 5 s·n²·250 %, at most an hour', () => {
    expect([1, 2, 3, 4, 100].map((n) => trackerRetryDelayMs(n))).toEqual([17_500, 55_000, 117_500, 205_000, 3_600_000]);
  });
  it('counts the trackers failing; a success, or leaving the list, forgets one for good', () => {
    const b = new TrackerBackoff();
    expect(b.size).toBe(0);
    b.failed(DEAD, 0);
    b.failed(DEAD, 20_000);
    b.failed(B, 0);
    expect([b.size, b.failures(DEAD), b.nextRetryAt()]).toEqual([2, 2, 17_500]);
    b.succeeded(DEAD);
    expect([b.size, b.failures(DEAD), b.isBackingOff(DEAD, 0)]).toEqual([1, 0, false]);
    b.retain(new Set([LIVE]));
    expect([b.size, b.due(Number.MAX_SAFE_INTEGER), b.nextRetryAt()]).toEqual([0, [], undefined]);
    expect(b.failed(DEAD, 0)).toBe(17_500); // afresh
  });
  it('shares one object per policy, as a client keeps one per torrent', () => {
    expect(announcePolicy(true, false)).toEqual({ announceToAllTiers: true, announceToAllTrackers: false });
    expect(announcePolicy(false, true)).toEqual({ announceToAllTiers: false, announceToAllTrackers: true });
    expect(announcePolicy(false, false)).toBe(announcePolicy(false, false));
    expect(new Set([announcePolicy(false, false), announcePolicy(false, true), announcePolicy(true, false), announcePolicy(true, true)]).size).toBe(4);
  });
});

describe('TrackerRetries', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is idle (as good as new) only with nothing failing, due or under way, and not once stopped', async () => {
    const asking = new Map<string, () => void>();
    const retries = new TrackerRetries({
      now: Date.now,
      isAsking: (url) => asking.has(url),
      retry: (url) => new Promise<void>((answered) => asking.set(url, answered)),
    });
    expect(retries.idle).toBe(true);
    retries.failed(DEAD);
    retries.arm();
    expect(retries.idle).toBe(false);
    await vi.advanceTimersByTimeAsync(17_500);
    expect([...asking.keys()]).toEqual([DEAD]);
    retries.succeeded(DEAD);
    expect(retries.idle).toBe(false); // its retry is still under way
    asking.get(DEAD)!();
    asking.delete(DEAD);
    await vi.advanceTimersByTimeAsync(0);
    expect(retries.idle).toBe(true);
    retries.failed(B);
    expect(retries.idle).toBe(false);
    retries.retain(new Set([LIVE]));
    expect(retries.idle).toBe(true);
    await retries.stop();
    expect(retries.idle).toBe(false);
  });
});

describe('the announceToAllTiers setting', () => {
  it('is off by default (BEP 12), on by SEEDBOX_ANNOUNCE_TO_ALL_TIERS or --announce-to-all-tiers, for the service and for serve', () => {
    expect(loadConfig(trackerClientOptions, { env: {} }).announceToAllTiers).toBe(false);
    expect(loadConfig(trackerClientOptions, { env: { SEEDBOX_ANNOUNCE_TO_ALL_TIERS: 'true' } }).announceToAllTiers).toBe(true);
    expect(loadConfig(trackerClientOptions, { argv: ['--announce-to-all-tiers'] }).announceToAllTiers).toBe(true);
    expect(loadConfig(serveOptions, { argv: ['--data-dir', '/tmp/x', '--announce-to-all-tiers'] }).announceToAllTiers).toBe(true);
    expect(loadConfig(serveOptions, { argv: ['--data-dir', '/tmp/x'] }).announceToAllTiers).toBe(false);
  });
});

describe('a dead tracker first in its tier', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('gets a bounded try (10 s), then the next tracker is asked; it is retried later on its own, never delaying the live one', async () => {
    const { transport, warnings, failures, peers, announcer } = setup([[DEAD, LIVE]]);
    let deadCame = false;
    transport.on(DEAD, () => (deadCame ? reply({ peers: aPeer }) : hang())).on(LIVE, () => reply({ interval: 60, peers: aPeer }));
    const t0 = Date.now();
    announcer.start();
    await vi.advanceTimersByTimeAsync(9_999);
    expect(peers).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(peers).toEqual([LIVE]);
    expect(transport.calls.map((c) => [c.url, c.at - t0])).toEqual([
      [DEAD, 0],
      [LIVE, 10_000],
    ]);
    expect(warnings[0]).toMatchObject({ kind: 'announce-failed', url: DEAD, code: 'TRACKER_TIMEOUT', message: expect.stringContaining('timed out') });
    // Its status says when it is asked again: after its backoff, sooner than the next round.
    expect(failures).toMatchObject([{ url: DEAD, error: { code: 'TRACKER_TIMEOUT' }, nextAnnounceAt: t0 + 10_000 + 17_500 }]);

    // 17.5 s after it failed, the dead one is retried in the background (and fails again).
    await vi.advanceTimersByTimeAsync(17_500);
    expect(transport.calls.slice(2).map((c) => [c.url, c.at - t0])).toEqual([[DEAD, 27_500]]);
    // The regular round at 70 s asks the live one at once: the dead one is backing off (its retry is mid-try or later).
    await vi.advanceTimersByTimeAsync(70_000 - 27_500);
    expect(transport.calls.slice(3).map((c) => [c.url, c.at - t0])).toEqual([[LIVE, 70_000]]);
    expect(peers).toEqual([LIVE, LIVE]);

    // It comes back: its next retry (37.5 s + 55 s = 92.5 s) hears it, with its peers, and it leads the tier again.
    deadCame = true;
    await vi.advanceTimersByTimeAsync(92_500 - 70_000);
    expect(transport.calls.slice(4).map((c) => [c.url, c.params.event, c.at - t0])).toEqual([[DEAD, 'started', 92_500]]);
    expect(peers).toEqual([LIVE, LIVE, DEAD]);
    await announcer.stop();
    expect(transport.eventsTo(DEAD).at(-1)).toBe('stopped');
  });

  it('a reannounce by hand asks a tracker backing off too', async () => {
    const { transport, announcer } = setup([[DEAD]], { timing: { manualFloorMs: 1000, stopTimeoutMs: 1000 } });
    transport.on(DEAD, hang);
    announcer.start();
    await vi.advanceTimersByTimeAsync(10_000); // it timed out: backing off until 27.5 s
    const t0 = Date.now();
    expect(announcer.announceNow()).toBe(true);
    await vi.advanceTimersByTimeAsync(0); // no announce yet, so no floor to wait for
    expect(transport.calls.map((c) => [c.url, c.at - t0])).toEqual([
      [DEAD, -10_000],
      [DEAD, 0],
    ]);
    await announcer.stop();
  });

  it('announceToAllTiers announces to each tier at once, each walking its own trackers; the default stops at the first answer', async () => {
    const list = [[DEAD, LIVE], [B], [C]];
    const all = setup(list, { policy: { announceToAllTiers: true } });
    all.transport.on(DEAD, hang).on(LIVE, () => reply({ interval: 1800, peers: aPeer })).on(B, () => reply({ interval: 900, peers: aPeer })).on(C, () => reply({ peers: aPeer }));
    all.announcer.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(all.peers.sort()).toEqual([B, C].sort());
    await vi.advanceTimersByTimeAsync(10_000);
    expect(all.peers.sort()).toEqual([B, C, LIVE].sort());
    // The next round comes at the soonest interval any tier gave (B's 900 s), counted from the round's end.
    expect(all.announcer.nextAnnounceAt).toBe(Date.now() + 900_000);
    await all.announcer.stop();
    expect(new Set(all.transport.calls.filter((c) => c.params.event === 'stopped').map((c) => c.url))).toEqual(new Set([LIVE, B, C]));

    const one = setup(list);
    one.transport.on(DEAD, hang).on(LIVE, () => reply({ peers: aPeer })).on(B, () => reply({ peers: aPeer }));
    one.announcer.start();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(one.peers).toEqual([LIVE]);
    expect(one.transport.calls.map((c) => c.url)).toEqual([DEAD, LIVE]);
    await one.announcer.stop();
  });

  it('announceToAllTrackers asks every tracker of a tier at once', async () => {
    const { transport, peers, announcer } = setup([[DEAD, LIVE, B], [C]], { policy: { announceToAllTrackers: true } });
    transport.on(DEAD, hang).on(LIVE, () => reply({ peers: aPeer })).on(B, () => reply({ peers: aPeer })).on(C, () => reply({ peers: aPeer }));
    announcer.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(transport.calls.map((c) => c.url)).toEqual([DEAD, LIVE, B]);
    // The step ends when all of the tier have ended: the dead one's bounded try.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(peers.sort()).toEqual([B, LIVE].sort());
    expect(transport.calls.map((c) => c.url)).not.toContain(C);
    await announcer.stop();
  });

  it('TrackerClient: the torrent asks for all tiers over the client default, and the statuses show the dead tracker timed out', async () => {
    const transport = new FakeTransport().on(DEAD, hang).on(LIVE, () => reply({ peers: aPeer })).on(B, () => reply({ peers: aPeer }));
    const statuses = new Map<string, TrackerStatus[]>();
    const client = new TrackerClient({ peerFeed: { peersFound: () => {} }, transport, onWarning: () => {}, localAddresses: () => [], random: () => 0.999, onTrackerStatus: (h, l) => statuses.set(h, l) });
    const h1 = new Uint8Array(20).fill(7);
    const h2 = new Uint8Array(20).fill(8);
    client.addTorrent({ infoHash: h1, announce: [[DEAD, LIVE], [B]], announceToAllTiers: true });
    client.addTorrent({ infoHash: h2, announce: [[DEAD, LIVE], [B]] });
    client.heartbeat({ workerId: 'w', peerId: new Uint8Array(20).fill(3), port: 7000, torrents: { ['07'.repeat(20)]: { uploaded: 0, downloaded: 0, left: 1 }, ['08'.repeat(20)]: { uploaded: 0, downloaded: 0, left: 1 } } });
    await vi.advanceTimersByTimeAsync(10_000);
    const urlsOf = (hash: Uint8Array) => transport.calls.filter((c) => Buffer.from(c.params.infoHash).equals(hash)).map((c) => c.url);
    expect(urlsOf(h1).sort()).toEqual([DEAD, B, LIVE].sort());
    expect(urlsOf(h2)).toEqual([DEAD, LIVE]);
    const byUrl = new Map(client.trackerStatus('08'.repeat(20)).map((s) => [s.url, s]));
    expect(byUrl.get(LIVE)).toMatchObject({ ok: true, peers: 1 });
    expect(byUrl.get(DEAD)).toMatchObject({ ok: false, failure: 'timeout', error: expect.stringMatching(/^timed out/) });
    expect(statuses.get('08'.repeat(20))).toHaveLength(2);
    await client.stop();
  });
});
