import { encodeBencode, TrackerError, type AnnounceParams } from '@seedbox/protocol';
import type { TrackerStatus } from '@seedbox/cluster';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TrackerWarning } from '../src/announcer.js';
import { HttpTrackerClient, retryAfterHeaderMs } from '../src/http-tracker.js';
import { TrackerClient, type WorkerTorrentStats } from '../src/tracker-client.js';
import { FakeTransport, reply, waitFor } from './support/fake-transport.js';
import { goodHttpReply, startHttpStub, type HttpStub } from './support/stub-trackers.js';

/**
 * "Come back later": an HTTP 429 or 503 (with Retry-After in seconds or
 * as a date, bounded to an hour) or a refusal saying to retry later holds
 * the whole tracker, for every torrent on it, and the statuses say why and
 * until when. Real HTTP trackers on 127.0.0.1; the end of a hold on the
 * fake clock.
 */

const params: AnnounceParams = { infoHash: new Uint8Array(20).fill(1), peerId: new Uint8Array(20).fill(2), port: 6881, uploaded: 0, downloaded: 0, left: 0, event: 'started' };
const hashOf = (i: number): Uint8Array => new Uint8Array(20).fill(i);
const hexOf = (i: number): string => Buffer.from(hashOf(i)).toString('hex');
const seed: WorkerTorrentStats = { uploaded: 0, downloaded: 0, left: 0 };

const stubs: HttpStub[] = [];
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(closers.splice(0).map((c) => c()));
  await Promise.all(stubs.splice(0).map((s) => s.close()));
});
const stub = async (handler: Parameters<typeof startHttpStub>[0]): Promise<HttpStub> => {
  const s = await startHttpStub(handler);
  stubs.push(s);
  return s;
};
const failureOf = async (p: Promise<unknown>): Promise<TrackerError> => {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(TrackerError);
  return e as TrackerError;
};

describe('HTTP 429 and 503', () => {
  it('are TRACKER_RETRY_LATER with the Retry-After they carry, in seconds or as a date', async () => {
    const http = new HttpTrackerClient();
    closers.push(() => http.close());
    const seconds = await stub((_req, res) => res.writeHead(429, { 'retry-after': '120' }).end('slow down'));
    expect(await failureOf(http.announce(seconds.url(), params))).toMatchObject({ code: 'TRACKER_RETRY_LATER', retryAfterMs: 120_000, received: 429, message: expect.stringContaining('HTTP 429 (Too Many Requests)') });
    const date = await stub((_req, res) => res.writeHead(503, { 'retry-after': new Date(Date.now() + 90_000).toUTCString() }).end());
    const e = await failureOf(http.announce(date.url(), params));
    expect(e).toMatchObject({ code: 'TRACKER_RETRY_LATER', received: 503 });
    expect(e.retryAfterMs).toBeGreaterThan(85_000);
    expect(e.retryAfterMs).toBeLessThanOrEqual(90_000);
    const none = await stub((_req, res) => res.writeHead(503).end());
    expect(await failureOf(http.announce(none.url(), params))).toMatchObject({ code: 'TRACKER_RETRY_LATER', retryAfterMs: undefined });
    // A bencoded refusal in the body still says more than the status.
    const refusal = await stub((_req, res) => res.writeHead(503).end(encodeBencode({ 'failure reason': 'maintenance, try again later' })));
    expect(await failureOf(http.announce(refusal.url(), params))).toMatchObject({ code: 'TRACKER_FAILURE', failureReason: 'maintenance, try again later' });
    const other = await stub((_req, res) => res.writeHead(502).end());
    expect(await failureOf(http.announce(other.url(), params))).toMatchObject({ code: 'TRACKER_HTTP_STATUS' });
  });

  it('reads Retry-After strictly: a past date is 0, anything else unknown', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(retryAfterHeaderMs('0', now)).toBe(0);
    expect(retryAfterHeaderMs(' 30 ', now)).toBe(30_000);
    expect(retryAfterHeaderMs('Wed, 01 Jan 2025 00:10:00 GMT', now)).toBe(600_000);
    expect(retryAfterHeaderMs('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
    for (const bad of [undefined, '', '-5', '1.5', 'soon', '2025-01-01', 'Xyz, garbage']) expect(retryAfterHeaderMs(bad, now)).toBeUndefined();
  });
});

describe('a tracker that says to come back later', () => {
  async function fleet(held: HttpStub, good: HttpStub, n = 20) {
    const warnings: TrackerWarning[] = [];
    const tc = new TrackerClient({ peerFeed: { peersFound: () => {} }, onWarning: (w) => warnings.push(w), localAddresses: () => [], timing: { stopTimeoutMs: 200 } });
    closers.push(() => tc.stop());
    const torrents: Record<string, WorkerTorrentStats> = {};
    for (let i = 1; i <= n; i++) {
      tc.addTorrent({ infoHash: hashOf(i), announce: [[held.url()], [good.url()]] });
      torrents[hexOf(i)] = seed;
    }
    tc.heartbeat({ workerId: 'w', peerId: new Uint8Array(20).fill(99), port: 6001, torrents });
    await waitFor(() => good.requests.length === n, 5000, 'every torrent announced to the next tier');
    const statusOf = (i: number): TrackerStatus => tc.trackerStatus(hexOf(i)).find((s) => s.url === held.url())!;
    // The held tracker's line is written when each round ends, once the next tier has answered.
    await waitFor(() => Array.from({ length: n }, (_, i) => i + 1).every((i) => statusOf(i) !== undefined), 5000, 'every status');
    return { tc, warnings, statusOf };
  }

  it('is left alone by every torrent for its Retry-After; the next tier is asked; each status says why and until when', async () => {
    const held = await stub((_req, res) => setTimeout(() => res.writeHead(429, { 'retry-after': '600' }).end(), 20));
    const good = await stub((_req, res) => res.end(goodHttpReply([])));
    const before = Date.now();
    const { warnings, statusOf } = await fleet(held, good);
    // Only what was in flight when the first 429 came (the per-tracker limit), not one per torrent.
    expect(held.requests.length).toBeGreaterThanOrEqual(1);
    expect(held.requests.length).toBeLessThanOrEqual(4);
    for (let i = 1; i <= 20; i++) {
      const s = statusOf(i);
      expect(s).toMatchObject({ ok: false, failure: 'retry-later' });
      expect(s.backoffUntil! - before).toBeGreaterThanOrEqual(600_000);
      expect(s.backoffUntil! - Date.now()).toBeLessThanOrEqual(600_000);
      expect(s.error).toContain('HTTP 429');
      expect(s.error).toContain(`not asked again before ${new Date(s.backoffUntil!).toISOString()}`);
      expect(s.nextAnnounceAt).toBeGreaterThanOrEqual(s.backoffUntil!);
    }
    // One warning per request that got the 429; none for the torrents that did not ask, and no "all failed".
    expect(warnings.map((w) => w.kind)).toEqual(new Array(held.requests.length).fill('announce-failed'));
    expect(warnings[0]!.message).toMatch(/leaving it alone until \d{4}-/);
  });

  it('holds for an hour at most, whatever Retry-After asks', async () => {
    const held = await stub((_req, res) => res.writeHead(503, { 'retry-after': '86400' }).end());
    const good = await stub((_req, res) => res.end(goodHttpReply([])));
    const { statusOf } = await fleet(held, good, 3);
    expect(statusOf(1).backoffUntil! - Date.now()).toBeLessThanOrEqual(3600_000);
    expect(statusOf(1).backoffUntil! - Date.now()).toBeGreaterThan(3590_000);
  });

  it('holds on a refusal that says to retry later, for its BEP 31 retry in; not on one about the torrent', async () => {
    const busy = await stub((_req, res) => res.end(encodeBencode({ 'failure reason': 'Tracker overloaded, try again later', 'retry in': 2 })));
    const good = await stub((_req, res) => res.end(goodHttpReply([])));
    const { statusOf } = await fleet(busy, good, 10);
    expect(busy.requests.length).toBeLessThanOrEqual(4); // those in flight when the first refusal came
    expect(statusOf(10)).toMatchObject({ failure: 'retry-later', error: expect.stringMatching(/Tracker overloaded, try again later; not asked again before \d{4}-/) });
    expect(statusOf(10).backoffUntil! - Date.now()).toBeGreaterThan(110_000);

    const unregistered = await stub((_req, res) => res.end(encodeBencode({ 'failure reason': 'Unregistered torrent', 'retry in': 60 })));
    const good2 = await stub((_req, res) => res.end(goodHttpReply([])));
    const other = await fleet(unregistered, good2, 5);
    expect(unregistered.requests.length).toBe(5);
    expect(other.statusOf(1)).toMatchObject({ failure: 'refused', error: 'Unregistered torrent' });
    expect(other.statusOf(1).backoffUntil).toBeUndefined();
  });
});

describe('the end of a hold (fake clock)', () => {
  it('brings every torrent back to the tracker, spread over a tenth of the hold, and no request before', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const A = 'http://a.test/announce';
    const transport = new FakeTransport().on(A, (_p, n) => {
      if (n === 1) throw new TrackerError('TRACKER_RETRY_LATER', 'tracker answered HTTP 429', { retryAfterMs: 60_000, received: 429 });
      return reply();
    });
    let r = 0;
    // Spreads of 0, 0.1, 0.2 ... 0.9 of the 10 % jitter: 0 to 5.4 s after the hold.
    const tc = new TrackerClient({ peerFeed: { peersFound: () => {} }, transport, onWarning: () => {}, localAddresses: () => [], random: () => (r++ % 10) / 10, scrape: false });
    closers.push(() => tc.stop());
    const torrents: Record<string, WorkerTorrentStats> = {};
    for (let i = 1; i <= 10; i++) {
      tc.addTorrent({ infoHash: hashOf(i), announce: [[A]] });
      torrents[hexOf(i)] = seed;
    }
    const t0 = Date.now();
    tc.heartbeat({ workerId: 'w', peerId: new Uint8Array(20).fill(99), port: 6001, torrents });
    await vi.advanceTimersByTimeAsync(59_999);
    expect(transport.calls).toHaveLength(1);
    expect(tc.trackerStatus(hexOf(10))[0]).toMatchObject({ failure: 'retry-later', backoffUntil: t0 + 60_000 });
    await vi.advanceTimersByTimeAsync(10_000);
    const back = transport.calls.slice(1);
    expect(back).toHaveLength(10);
    expect(new Set(back.map((c) => Buffer.from(c.params.infoHash).toString('hex'))).size).toBe(10);
    const at = back.map((c) => c.at - t0).sort((a, b) => a - b);
    expect(at[0]).toBeGreaterThanOrEqual(60_000);
    expect(at.at(-1)).toBeLessThanOrEqual(66_000);
    expect(new Set(at).size).toBeGreaterThan(5);
    expect(tc.trackerStatus(hexOf(10))[0]).toMatchObject({ ok: true });
  });
});
