import { createHash } from 'node:crypto';
import { decodeTrackerStatuses, encodeTrackerStatuses, type TrackerStatus } from '@seedbox/cluster';
import { TrackerError, type ScrapeResponse } from '@seedbox/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Scraper, type ScrapeOutcome } from '../src/scraper.js';
import { TrackerHolds } from '../src/tracker-backoff.js';
import { TrackerClient, type WorkerTorrentStats } from '../src/tracker-client.js';
import { TrackerGate } from '../src/tracker-gate.js';
import { FakeTransport, waitFor } from './support/fake-transport.js';
import { goodHttpReply, scrapedHashes, scrapeReply, startHttpStub, startUdpStub, type HttpStub, type UdpStub } from './support/stub-trackers.js';

/**
 * Scrapes: every torrent at each tracker it is announced to, batched (50
 * a request over HTTP, 74 a packet over UDP), never at a tracker whose URL
 * has no `announce` segment, holding a tracker that says "later", and the
 * counts in the statuses the APIs show. Real trackers on 127.0.0.1; the
 * cadence on the fake clock.
 */

/** Hashes with bytes of every value, as real ones have (they go raw into a scrape reply's keys). */
const hashOf = (i: number): Buffer => createHash('sha1').update(`torrent ${i}`).digest();
const hexOf = (i: number): string => hashOf(i).toString('hex');
const seed: WorkerTorrentStats = { uploaded: 0, downloaded: 0, left: 0 };
/** What our scraping tracker says of torrent i, unlike what its announces say (1 and 1). */
const countsOf = (hash: Buffer) => ({ complete: 10 + hash[0]!, incomplete: 5, downloaded: 100 + hash[1]! });

const stubs: (HttpStub | UdpStub)[] = [];
const clients: TrackerClient[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(clients.splice(0).map((c) => c.stop()));
  await Promise.all(stubs.splice(0).map((s) => s.close()));
});

/** n torrents on the trackers `urls` (one tier each), announced by one worker; resolves once every announce is in. */
async function announced(urls: string[], n: number, announces: () => number) {
  const tc = new TrackerClient({ peerFeed: { peersFound: () => {} }, onWarning: () => {}, localAddresses: () => [], timing: { stopTimeoutMs: 200, manualFloorMs: 50 }, announceToAllTiers: true });
  clients.push(tc);
  const torrents: Record<string, WorkerTorrentStats> = {};
  for (let i = 0; i < n; i++) {
    tc.addTorrent({ infoHash: hashOf(i), announce: urls.map((u) => [u]) });
    torrents[hexOf(i)] = seed;
  }
  tc.heartbeat({ workerId: 'w', peerId: new Uint8Array(20).fill(7), port: 6001, torrents });
  await waitFor(() => announces() >= n * urls.length, 10_000, 'every announce');
  const status = (i: number, url: string): TrackerStatus => tc.trackerStatus(hexOf(i)).find((s) => s.url === url)!;
  // Answered, not only received: only a tracker with a status line is scraped.
  await waitFor(() => Array.from({ length: n }, (_, i) => i).every((i) => urls.every((u) => status(i, u) !== undefined)), 5000, 'the statuses');
  return { tc, status };
}

describe('HTTP scrape (BEP 48)', () => {
  it('scrapes 120 torrents in 3 requests of at most 50, keeping the passkey, and the counts reach the statuses', async () => {
    let scrapes = 0;
    const s = await startHttpStub((req, res) => {
      if (req.url!.startsWith('/announce')) return res.end(goodHttpReply([], { complete: 1, incomplete: 1 }));
      if (!req.url!.startsWith('/scrape')) return res.writeHead(404).end();
      scrapes++;
      // The tracker does not know the first torrent: it leaves it out.
      res.end(scrapeReply(scrapedHashes(req.url!).filter((h) => !h.equals(hashOf(0))).map((h) => [h, countsOf(h)])));
    });
    stubs.push(s);
    const url = s.url('/announce?passkey=k1');
    const { tc, status } = await announced([url], 120, () => s.requests.length);
    const before = Date.now();
    await tc.scrapeNow();
    expect(scrapes).toBe(3);
    const requests = s.requests.filter((r) => r.startsWith('/scrape'));
    expect(requests.every((r) => r.startsWith('/scrape?passkey=k1&info_hash='))).toBe(true);
    expect(requests.map((r) => scrapedHashes(r).length).sort((a, b) => a - b)).toEqual([20, 50, 50]);
    expect(new Set(requests.flatMap((r) => scrapedHashes(r).map((h) => h.toString('hex')))).size).toBe(120);

    const st = status(7, url);
    expect(st).toMatchObject({ ok: true, seeders: 10 + hashOf(7)[0]!, leechers: 5, downloaded: 100 + hashOf(7)[1]!, scrapeOk: true });
    expect(st.lastScrapeAt).toBeGreaterThanOrEqual(before);
    expect(st.lastScrapeStartAt).toBeLessThanOrEqual(st.lastScrapeAt!);
    expect(st.nextScrapeAt! - Date.now()).toBeGreaterThan(26 * 60_000);
    // Not listed: the announce's counts stand, and the status says why the scrape has none.
    expect(status(0, url)).toMatchObject({ ok: true, seeders: 1, leechers: 1, scrapeOk: false, scrapeError: expect.stringContaining('not listed') });

    // An announce afterwards keeps what the scrape said of itself.
    expect(tc.reannounce(hexOf(7))).toBe(1);
    const at = st.lastAnnounceAt;
    await waitFor(() => status(7, url).lastAnnounceAt > at, 5000, 'the reannounce');
    expect(status(7, url)).toMatchObject({ seeders: 1, scrapeOk: true, lastScrapeAt: st.lastScrapeAt });
  });

  it('never asks a tracker whose URL has no announce segment', async () => {
    const s = await startHttpStub((req, res) => res.end(goodHttpReply([])));
    stubs.push(s);
    const url = s.url('/tracker.php?passkey=k');
    const { tc, status } = await announced([url], 5, () => s.requests.length);
    await tc.scrapeNow();
    expect(s.requests).toHaveLength(5);
    expect(status(1, url).lastScrapeAt).toBeUndefined();
  });

  it('a 429 to a scrape holds the tracker for the announces too', async () => {
    const s = await startHttpStub((req, res) => {
      if (req.url!.startsWith('/scrape')) return res.writeHead(429, { 'retry-after': '300' }).end();
      res.end(goodHttpReply([]));
    });
    stubs.push(s);
    const url = s.url();
    const { tc, status } = await announced([url], 3, () => s.requests.length);
    await tc.scrapeNow();
    expect(status(0, url)).toMatchObject({ scrapeOk: false, scrapeError: expect.stringContaining('HTTP 429') });
    const seen = s.requests.length;
    expect(tc.reannounce(hexOf(0))).toBe(1);
    await waitFor(() => status(0, url).ok === false, 5000, 'the held announce');
    expect(status(0, url)).toMatchObject({ failure: 'retry-later' });
    expect(status(0, url).backoffUntil! - Date.now()).toBeGreaterThan(290_000);
    // Nothing more went to it: not the announce, not another scrape.
    await tc.scrapeNow();
    expect(s.requests.length).toBe(seen);
  });
});

describe('UDP scrape (BEP 15)', () => {
  it('scrapes 80 torrents in 2 packets (74 and 6), on the connection id of the announces', async () => {
    const udp = await startUdpStub('good');
    stubs.push(udp);
    const { tc, status } = await announced([udp.url], 80, () => udp.received.filter((p) => p.action === 1).length);
    await tc.scrapeNow();
    const scrapes = udp.received.filter((p) => p.action === 2);
    expect(scrapes.map((p) => p.packet.length).sort((a, b) => a - b)).toEqual([16 + 6 * 20, 16 + 74 * 20]);
    expect(status(42, udp.url)).toMatchObject({ seeders: 3, downloaded: 7, leechers: 2, scrapeOk: true });
    expect(udp.connects()).toBe(1);
  });
});

describe('the cadence (fake clock)', () => {
  it('sweeps every 30 minutes less up to a tenth, after the first interval, and not on a tracker that asked for more time', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const asked: { url: string; n: number; at: number }[] = [];
    const transport = Object.assign(new FakeTransport(), {
      scrape: async (url: string, hashes: readonly Uint8Array[]): Promise<ScrapeResponse> => {
        asked.push({ url, n: hashes.length, at: Date.now() });
        const files = new Map(hashes.map((h) => [Buffer.from(h).toString('hex'), { complete: 1 }]));
        // BEP 48 flags: this tracker wants an hour between scrapes.
        return { files, invalidEntries: 0, ...(url.includes('slow') ? { minRequestInterval: 3600 } : {}) };
      },
    });
    const outcomes: ScrapeOutcome[] = [];
    const targets = ['http://a.test/announce', 'http://slow.test/announce', 'http://none.test/'].flatMap((url) => [0, 1, 2].map((i) => ({ infoHashHex: hexOf(i), url })));
    const scraper = new Scraper({ transport, gate: new TrackerGate(), holds: new TrackerHolds(), targets: () => targets, onScrape: (o) => outcomes.push(o), random: () => 0.5 });
    const t0 = Date.now();
    scraper.start();
    await vi.advanceTimersByTimeAsync(28.5 * 60_000 - 1);
    expect(asked).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(asked.map((a) => [a.url, a.n, a.at - t0])).toEqual([
      ['http://a.test/announce', 3, 1710_000],
      ['http://slow.test/announce', 3, 1710_000],
    ]);
    expect(outcomes[0]).toMatchObject({ counts: { complete: 1 }, nextScrapeAt: t0 + 2 * 1710_000 });
    await vi.advanceTimersByTimeAsync(1710_000);
    // The slow one asked for an hour: left out this time.
    expect(asked.slice(2).map((a) => a.url)).toEqual(['http://a.test/announce']);
    await scraper.stop();
  });
});

describe('a tracker whose scrapes fail (fake clock)', () => {
  it('is warned about once a sweep, and skipped by more sweeps the longer it fails', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const asked: number[] = [];
    const transport = Object.assign(new FakeTransport(), {
      scrape: async (): Promise<ScrapeResponse> => {
        asked.push(Date.now());
        throw new TrackerError('TRACKER_HTTP_STATUS', 'tracker answered HTTP 404', { received: 404 });
      },
    });
    const warnings: string[] = [];
    const targets = Array.from({ length: 120 }, (_, i) => ({ infoHashHex: hexOf(i), url: 'http://broken.test/announce' }));
    const scraper = new Scraper({ transport, gate: new TrackerGate(), holds: new TrackerHolds(), targets: () => targets, onScrape: () => {}, onWarning: (_u, _h, m) => warnings.push(m), random: () => 0.5 });
    const t0 = Date.now();
    scraper.start();
    await vi.advanceTimersByTimeAsync(4 * 1710_000);
    // Sweeps at 1710, 3420, 5130 and 6840 s: the first two ask (3 batches each), the third is skipped after two failures in a row.
    expect(asked.map((t) => (t - t0) / 1000)).toEqual([1710, 1710, 1710, 3420, 3420, 3420, 6840, 6840, 6840]);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toBe('scrape at http://broken.test/announce failed: tracker answered HTTP 404');
    await scraper.stop();
  });
});

describe('the new status fields in the bucket', () => {
  it('come back as they were written', () => {
    const s: TrackerStatus = {
      url: 'udp://t.test:6969/announce',
      lastAnnounceStartAt: 1,
      lastAnnounceAt: 2,
      ok: false,
      failure: 'retry-later',
      error: 'HTTP 429; not asked again before 1970-01-01T00:00:10.000Z',
      backoffUntil: 10_000,
      seeders: 4,
      lastScrapeStartAt: 3,
      lastScrapeAt: 4,
      scrapeOk: false,
      scrapeError: 'not listed',
      nextScrapeAt: 1800_004,
    };
    expect(decodeTrackerStatuses(encodeTrackerStatuses([s]))).toEqual([s]);
  });
});
