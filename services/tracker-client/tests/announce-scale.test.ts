import type { AnnounceParams, AnnounceResponse } from '@seedbox/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TrackerClient, type WorkerTorrentStats } from '../src/tracker-client.js';
import type { TrackerTransport } from '../src/transport.js';
import { reply, waitFor } from './support/fake-transport.js';
import { goodHttpReply, startHttpStub, type HttpStub } from './support/stub-trackers.js';

/**
 * Many torrents on one tracker: a restart with thousands of them is no
 * storm (at most 4 requests in flight per tracker, downloading torrents
 * ahead of seeds), a downloading torrent's first announce is still
 * prompt, and torrents started together drift apart over the intervals.
 */

const hashOf = (i: number): Uint8Array => {
  const h = Buffer.alloc(20);
  h.writeUInt32BE(i + 1, 0);
  return h;
};
const hexOf = (i: number): string => Buffer.from(hashOf(i)).toString('hex');
const seed: WorkerTorrentStats = { uploaded: 0, downloaded: 0, left: 0 };
const leech: WorkerTorrentStats = { uploaded: 0, downloaded: 0, left: 1000 };

const stubs: HttpStub[] = [];
const clients: TrackerClient[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(clients.splice(0).map((c) => c.stop()));
  await Promise.all(stubs.splice(0).map((s) => s.close()));
});

function client(over: Partial<ConstructorParameters<typeof TrackerClient>[0]> = {}): TrackerClient {
  const c = new TrackerClient({ peerFeed: { peersFound: () => {} }, onWarning: () => {}, localAddresses: () => [], timing: { stopTimeoutMs: 200 }, ...over });
  clients.push(c);
  return c;
}

/** A tracker that answers after `delayMs`, counting what it has in flight at once (per tracker host). */
class SlowTransport implements TrackerTransport {
  readonly calls: { url: string; params: AnnounceParams; at: number }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(
    private readonly delayMs: number,
    private readonly answer: () => AnnounceResponse = () => reply(),
  ) {}
  /** Every answer waits for this first (a tracker that has not answered yet). */
  paused: Promise<void> = Promise.resolve();
  readonly maxByTracker: Record<string, number> = {};
  private readonly byTracker = new Map<string, number>();
  async announce(url: string, params: AnnounceParams): Promise<AnnounceResponse> {
    this.calls.push({ url, params, at: Date.now() });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const n = (this.byTracker.get(url) ?? 0) + 1;
    this.byTracker.set(url, n);
    this.maxByTracker[url] = Math.max(this.maxByTracker[url] ?? 0, n);
    await this.paused;
    await new Promise((r) => setTimeout(r, this.delayMs));
    this.inFlight--;
    this.byTracker.set(url, (this.byTracker.get(url) ?? 1) - 1);
    return this.answer();
  }
  async close(): Promise<void> {}
}

describe('a restart with many torrents on one HTTP tracker', () => {
  it('keeps 4 announces in flight at most, gets them all done, and lets a downloading torrent ahead of the seeds', async () => {
    const s = await startHttpStub((_req, res) => setTimeout(() => res.end(goodHttpReply([])), 10));
    stubs.push(s);
    const tc = client();
    const torrents: Record<string, WorkerTorrentStats> = {};
    for (let i = 0; i < 300; i++) {
      tc.addTorrent({ infoHash: hashOf(i), announce: [[s.url()]] });
      torrents[hexOf(i)] = seed;
    }
    tc.addTorrent({ infoHash: hashOf(999), announce: [[s.url()]] });
    tc.heartbeat({ workerId: 'w', peerId: new Uint8Array(20).fill(7), port: 6001, torrents });
    await waitFor(() => s.requests.length >= 20, 5000, 'the first announces');
    // A torrent starts downloading while 280 seeds wait in line: it goes next, not last.
    const at = s.requests.length;
    tc.heartbeat({ workerId: 'w', peerId: new Uint8Array(20).fill(7), port: 6001, torrents: { ...torrents, [hexOf(999)]: leech } });
    await waitFor(() => s.requests.length === 301, 20_000, 'every torrent announced');
    const leechAt = s.requests.findIndex((r) => r.includes('left=1000'));
    expect(leechAt).toBeGreaterThanOrEqual(at);
    expect(leechAt).toBeLessThanOrEqual(at + 5);
    expect(s.maxInFlight).toBeLessThanOrEqual(4);
    expect(s.connections).toBeLessThanOrEqual(4);
    expect(s.requests.every((r) => r.includes('event=started'))).toBe(true);
  });

  it('announces a downloading torrent at once when the tracker is idle', async () => {
    const s = await startHttpStub((_req, res) => res.end(goodHttpReply([])));
    stubs.push(s);
    const tc = client();
    tc.addTorrent({ infoHash: hashOf(1), announce: [[s.url()]] });
    const t0 = Date.now();
    tc.heartbeat({ workerId: 'w', peerId: new Uint8Array(20).fill(7), port: 6001, torrents: { [hexOf(1)]: leech } });
    await waitFor(() => s.requests.length === 1, 2000, 'the first announce');
    expect(Date.now() - t0).toBeLessThan(500);
  });
});

describe('10,000 torrents', () => {
  it('start without a storm: 4 in flight per tracker, the downloading ones first', async () => {
    const A = 'http://a.test/announce';
    const B = 'udp://b.test:6969/announce';
    const transport = new SlowTransport(1);
    const tc = client({ transport, scrape: false });
    const torrents: Record<string, WorkerTorrentStats> = {};
    for (let i = 0; i < 10_000; i++) {
      // Half on each tracker; every 100th on each still downloading (listed among the seeds, late).
      tc.addTorrent({ infoHash: hashOf(i), announce: [[i % 2 === 0 ? A : B]] });
      torrents[hexOf(i)] = i % 100 >= 98 ? leech : seed;
    }
    let answer = (): void => {};
    transport.paused = new Promise((r) => (answer = r));
    tc.heartbeat({ workerId: 'w', peerId: new Uint8Array(20).fill(7), port: 6001, torrents });
    // Every announcer's first round has begun (and so is in line) before the trackers answer the first 8.
    await waitFor(() => tc.list().every((e) => e.nextAnnounceAt === undefined), 10_000, 'every round begun');
    expect(transport.calls).toHaveLength(8);
    answer();
    await waitFor(() => transport.calls.length === 10_000, 20_000, 'every torrent announced');
    // 4 per tracker at any moment, not 10,000.
    expect(transport.maxByTracker).toEqual({ [A]: 4, [B]: 4 });
    // At each tracker, its 100 downloading torrents went right after the 4 seeds it had in flight first.
    for (const url of [A, B]) {
      const to = transport.calls.filter((c) => c.url === url).map((c) => (c.params.left > 0 ? 'leech' : 'seed'));
      expect(to.slice(0, 4)).toEqual(['seed', 'seed', 'seed', 'seed']);
      expect(to.slice(4, 104)).toEqual(new Array(100).fill('leech'));
      expect(to.slice(104).every((x) => x === 'seed')).toBe(true);
    }
  });
});

describe('torrents started together (fake clock)', () => {
  it('drift apart: each re-announces at 90 to 100 % of the interval, not all in the same second', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const transport = new SlowTransport(0, () => reply({ interval: 1800 }));
    const tc = client({ transport, scrape: false });
    const torrents: Record<string, WorkerTorrentStats> = {};
    for (let i = 0; i < 500; i++) {
      tc.addTorrent({ infoHash: hashOf(i), announce: [['http://a.test/announce']] });
      torrents[hexOf(i)] = seed;
    }
    const t0 = Date.now();
    tc.heartbeat({ workerId: 'w', peerId: new Uint8Array(20).fill(7), port: 6001, torrents });
    await vi.advanceTimersByTimeAsync(1000);
    expect(transport.calls).toHaveLength(500);
    expect(new Set(transport.calls.map((c) => Math.floor((c.at - t0) / 1000))).size).toBe(1);
    await vi.advanceTimersByTimeAsync(1800_000);
    const again = transport.calls.slice(500);
    expect(again).toHaveLength(500);
    const seconds = again.map((c) => (c.at - t0) / 1000);
    expect(Math.min(...seconds)).toBeGreaterThanOrEqual(1620);
    expect(Math.max(...seconds)).toBeLessThanOrEqual(1801);
    // Spread over the 180 s the jitter allows, not bunched in one second.
    expect(new Set(seconds.map(Math.floor)).size).toBeGreaterThan(100);
    expect(Math.max(...seconds) - Math.min(...seconds)).toBeGreaterThan(150);
  });
});
