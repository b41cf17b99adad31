import { TrackerError, encodeBencode } from '@seedbox/protocol';
import type { TrackerStatus } from '@seedbox/cluster';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AnnounceFailed, AnnounceSuccess } from '../src/announcer.js';
import { TrackerClient } from '../src/tracker-client.js';
import { failureKind, TrackerStatusBook } from '../src/tracker-status-book.js';
import { FakeTransport, reply, waitFor } from './support/fake-transport.js';
import { goodHttpReply, startHttpStub, startUdpStub, type HttpStub, type UdpStub } from './support/stub-trackers.js';

/**
 * What each tracker last answered, as the control APIs show it: recorded
 * from real trackers over the real transports (a refusal's own words, a
 * UDP error packet, a working tracker's counts), kept right when outcomes
 * arrive out of order, and a reannounce asked for by hand that does not
 * wait for the tracker's min interval.
 */

const hash = new Uint8Array(20).fill(0x7a);
const hex = '7a'.repeat(20);
const id = (n: number): Uint8Array => new Uint8Array(20).fill(n);
const seeding = { [hex]: { uploaded: 0, downloaded: 0, left: 0 } };

const clients: TrackerClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
});

describe('tracker statuses from real trackers', () => {
  let refusing: HttpStub;
  let good: HttpStub;
  let udpError: UdpStub;

  beforeAll(async () => {
    refusing = await startHttpStub((_req, res) => res.end(encodeBencode({ 'failure reason': 'Unregistered torrent' })));
    udpError = await startUdpStub('error');
    good = await startHttpStub((_req, res) => res.end(goodHttpReply([{ host: '10.20.30.40', port: 51413 }], { complete: 5, incomplete: 2, downloaded: 9, 'min interval': 900 })));
  });
  afterAll(async () => {
    await Promise.all([refusing.close(), udpError.close(), good.close()]);
  });

  it("records a refusing tracker's own words, a UDP error packet's, and a working tracker's counts, each under its URL", async () => {
    const changes: { hex: string; list: TrackerStatus[] }[] = [];
    const client = new TrackerClient({ peerFeed: { peersFound: () => {} }, onWarning: () => {}, localAddresses: () => [], onTrackerStatus: (h, list) => changes.push({ hex: h, list }) });
    clients.push(client);
    // One tier each: the round tries them in order and stops at the one that answers.
    client.addTorrent({ infoHash: hash, announce: [[refusing.url()], [udpError.url], [good.url()]] });
    const before = Date.now();
    client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents: seeding });
    await waitFor(() => client.trackerStatus(hex).length === 3, 5000, 'three statuses');
    const by = new Map(client.trackerStatus(hex).map((s) => [s.url, s]));

    expect(by.get(refusing.url())).toMatchObject({ ok: false, failure: 'refused', error: 'Unregistered torrent' });
    expect(by.get(udpError.url)).toMatchObject({ ok: false, failure: 'refused', error: 'info_hash not in whitelist' });
    const working = by.get(good.url())!;
    expect(working).toMatchObject({ ok: true, peers: 1, seeders: 5, leechers: 2, downloaded: 9 });
    expect(working.warning).toBeUndefined();
    expect(working.lastAnnounceStartAt).toBeGreaterThanOrEqual(before);
    expect(working.lastAnnounceAt).toBeGreaterThanOrEqual(working.lastAnnounceStartAt);
    expect(working.lastSuccessAt).toBe(working.lastAnnounceAt);
    // The next regular announce, after the tracker's interval (30 minutes), less up to 10 % of jitter.
    expect(working.nextAnnounceAt! - working.lastAnnounceAt).toBeGreaterThan(27 * 60_000 - 1000);
    expect(working.nextAnnounceAt! - working.lastAnnounceAt).toBeLessThanOrEqual(30 * 60_000);
    // A failed tracker carries when it is asked next: on its own, after libtorrent's first backoff (17.5 s).
    const refused = by.get(refusing.url())!;
    expect(refused.nextAnnounceAt! - refused.lastAnnounceAt).toBe(17_500);
    expect(changes.every((c) => c.hex === hex)).toBe(true);
    expect(changes.at(-1)!.list).toHaveLength(3);

    // Removing the torrent forgets its statuses, and says so with an empty list.
    await client.removeTorrent(hex);
    expect(client.trackerStatus(hex)).toEqual([]);
    expect(changes.at(-1)).toEqual({ hex, list: [] });
  });

  it('a reannounce by hand announces at once, min interval or not; one asked again within the floor waits for it', async () => {
    const client = new TrackerClient({ peerFeed: { peersFound: () => {} }, onWarning: () => {}, localAddresses: () => [], timing: { manualFloorMs: 300 } });
    clients.push(client);
    client.addTorrent({ infoHash: hash, announce: [[good.url()]] });
    const seen = good.requests.length;
    client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents: seeding });
    await waitFor(() => client.trackerStatus(hex).length === 1, 5000, 'the first announce');
    const first = client.trackerStatus(hex)[0]!;
    await new Promise((r) => setTimeout(r, 350));
    expect(client.reannounce(hex)).toBe(1);
    await waitFor(() => good.requests.length === seen + 2, 2000, 'the announce asked for');
    await waitFor(() => client.trackerStatus(hex)[0]!.lastAnnounceAt > first.lastAnnounceAt, 2000, 'a newer status');
    // Again at once: not before the floor has passed since the last one.
    const at = Date.now();
    expect(client.reannounce(hex)).toBe(1);
    await waitFor(() => good.requests.length === seen + 3, 2000, 'the second one');
    expect(Date.now() - at).toBeGreaterThanOrEqual(250);
    expect(client.reannounce('ff'.repeat(20))).toBe(0);
  });
});

describe('TrackerStatusBook', () => {
  const success = (over: Partial<AnnounceSuccess> = {}): AnnounceSuccess => ({
    infoHashHex: hex,
    url: 'http://t.test/announce',
    event: 'none',
    response: reply({ complete: 3, incomplete: 4, peers: [{ host: '10.0.0.1', port: 1 }] }),
    startedAt: 100,
    nextAnnounceAt: 5000,
    ...over,
  });
  const failure = (over: Partial<AnnounceFailed> = {}): AnnounceFailed => ({
    infoHashHex: hex,
    url: 'http://t.test/announce',
    event: 'none',
    error: new TrackerError('TRACKER_TIMEOUT', 'no answer within 15 s'),
    startedAt: 50,
    failedAt: 90,
    nextAnnounceAt: 7000,
    ...over,
  });

  it('keeps the last counts through a failure, and lets no older outcome reported late overwrite a newer one', () => {
    let now = 200;
    const book = new TrackerStatusBook(undefined, () => now);
    // A failure that ended at 90, reported after a success that ended at 200.
    book.succeeded(success());
    book.failed(failure());
    expect(book.get(hex)).toEqual([{ url: 'http://t.test/announce', lastAnnounceStartAt: 100, lastAnnounceAt: 200, ok: true, peers: 1, seeders: 3, leechers: 4, lastSuccessAt: 200, nextAnnounceAt: 5000 }]);
    book.failed(failure({ startedAt: 300, failedAt: 310 }));
    expect(book.get(hex)).toEqual([
      { url: 'http://t.test/announce', lastAnnounceStartAt: 300, lastAnnounceAt: 310, ok: false, failure: 'timeout', error: 'no answer within 15 s', peers: 1, seeders: 3, leechers: 4, lastSuccessAt: 200, nextAnnounceAt: 7000 },
    ]);
    // A reply without counts keeps the ones known; a warning is kept with the working answer.
    now = 400;
    book.succeeded(success({ startedAt: 390, response: reply({ warning: 'slow down' }) }));
    expect(book.get(hex)[0]).toMatchObject({ ok: true, peers: 0, seeders: 3, leechers: 4, warning: 'slow down', lastSuccessAt: 400 });
  });

  it('ignores stopped replies and our own cancelled announces; restores what a restart read without overriding news', () => {
    const changes: string[] = [];
    const book = new TrackerStatusBook((h, list) => changes.push(`${h.slice(0, 2)}:${list.length}`), () => 1000);
    book.succeeded(success({ event: 'stopped' }));
    book.failed(failure({ error: new TrackerError('TRACKER_ABORTED', 'aborted') }));
    expect(book.get(hex)).toEqual([]);
    book.succeeded(success({ url: 'http://a.test/announce' }));
    book.restore(hex, [
      { url: 'http://a.test/announce', lastAnnounceStartAt: 1, lastAnnounceAt: 2, ok: false },
      { url: 'udp://b.test:80', lastAnnounceStartAt: 1, lastAnnounceAt: 2, ok: false, failure: 'refused', error: 'gone' },
    ]);
    expect(book.get(hex).map((s) => [s.url, s.ok])).toEqual([
      ['http://a.test/announce', true],
      ['udp://b.test:80', false],
    ]);
    book.forget(hex);
    book.forget(hex);
    expect(changes).toEqual(['7a:1', '7a:0']);
  });

  it('lists trackers in the order first heard from, whatever comes after; a list told is never changed after', () => {
    let now = 1000;
    const told: TrackerStatus[][] = [];
    const book = new TrackerStatusBook((_h, list) => told.push(list), () => now);
    const [a, b, c] = ['http://a.test/announce', 'udp://b.test:80', 'http://c.test/announce'];
    book.succeeded(success({ url: a }));
    book.failed(failure({ url: b, startedAt: 900, failedAt: 1000 }));
    now = 2000;
    book.failed(failure({ url: a, startedAt: 1900, failedAt: 2000 })); // a's news: it keeps its place
    book.succeeded(success({ url: b, startedAt: 1950 }));
    book.restore(hex, [
      { url: c, lastAnnounceStartAt: 1, lastAnnounceAt: 2, ok: true },
      { url: a, lastAnnounceStartAt: 1, lastAnnounceAt: 2, ok: true }, // known: what was heard since wins
      { url: c, lastAnnounceStartAt: 3, lastAnnounceAt: 4, ok: false }, // listed twice: the first stands
    ]);
    book.scraped({ infoHashHex: hex, url: b, startedAt: 2100, endedAt: 2200, counts: { complete: 9, incomplete: 1, downloaded: 5 }, nextScrapeAt: 9000 });

    expect(book.get(hex).map((s) => [s.url, s.ok])).toEqual([
      [a, false],
      [b, true],
      [c, true],
    ]);
    expect(book.urls(hex)).toEqual([a, b, c]);
    expect(book.get(hex)[1]).toMatchObject({ seeders: 9, leechers: 1, lastScrapeAt: 2200 });
    // No field is kept as undefined: the stored lines carry only what is known.
    for (const s of book.get(hex)) expect(Object.values(s)).not.toContain(undefined);
    // Each list told stays as it was when told.
    expect(told.map((list) => list.map((s) => [s.url, s.ok]))).toEqual([
      [[a, true]],
      [
        [a, true],
        [b, false],
      ],
      [
        [a, false],
        [b, false],
      ],
      [
        [a, false],
        [b, true],
      ],
      [
        [a, false],
        [b, true],
        [c, true],
      ],
    ]);
  });

  it('keeps at most 256 trackers a torrent, the first heard from', () => {
    const book = new TrackerStatusBook(undefined, () => 1000);
    const url = (i: number): string => `http://t${i}.test/announce`;
    book.restore(hex, Array.from({ length: 250 }, (_, i) => ({ url: url(i), lastAnnounceStartAt: 1, lastAnnounceAt: 2, ok: true })));
    for (let i = 250; i < 300; i++) book.succeeded(success({ url: url(i) }));
    book.succeeded(success({ url: url(3), startedAt: 999 }));
    expect(book.urls(hex)).toEqual(Array.from({ length: 256 }, (_, i) => url(i)));
    expect(book.get(hex)[3]).toMatchObject({ ok: true, lastAnnounceStartAt: 999 });
  });

  it('tells refusals, timeouts, unreachable trackers and unreadable replies apart', () => {
    expect(failureKind('TRACKER_FAILURE')).toBe('refused');
    expect(failureKind('TRACKER_TIMEOUT')).toBe('timeout');
    expect(failureKind('TRACKER_NETWORK')).toBe('unreachable');
    expect(failureKind('TRACKER_HTTP_STATUS')).toBe('unreachable');
    expect(failureKind('TRACKER_BAD_RESPONSE')).toBe('bad-reply');
    expect(failureKind('TRACKER_TRANSACTION_MISMATCH')).toBe('bad-reply');
  });
});

describe('EmbeddedTrackers-style use: a torrent that leaves keeps its statuses when asked to', () => {
  it('removeTorrent with keepStatus stops announcing but keeps what the trackers said', async () => {
    const transport = new FakeTransport().on('http://t.test/announce', () => reply({ complete: 1 }));
    const client = new TrackerClient({ peerFeed: { peersFound: () => {} }, transport, onWarning: () => {}, localAddresses: () => [], timing: { stopTimeoutMs: 200 } });
    clients.push(client);
    client.addTorrent({ infoHash: hash, announce: [['http://t.test/announce']] });
    client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents: seeding });
    await waitFor(() => client.trackerStatus(hex).length === 1);
    await client.removeTorrent(hex, { keepStatus: true });
    expect(transport.eventsTo('http://t.test/announce')).toEqual(['started', 'stopped']);
    expect(client.trackerStatus(hex)).toMatchObject([{ ok: true, seeders: 1 }]);
  });
});
