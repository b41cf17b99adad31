/**
 * The Transmission RPC's pure mappings, at their edges: pieces spanning
 * files, bitfields shorter or longer than the piece count, the scrape
 * convention, the limit pairs and modes, id selection, peer flags, the
 * trackers' scrape fields, the torrent error trackers cause, and the
 * bounded memory behind "recently-active".
 */
import { describe, expect, it } from 'vitest';
import { NO_LIMIT, USE_GLOBAL, ZERO_TOTALS, defaultTorrentSettings } from '@seedbox/cluster';
import type { TorrentRecord, TorrentStatsView, TrackerStatus } from '../src/control/backend.js';
import { STATUS, torrentObject, type TorrentView } from '../src/web/transmission/tr-torrent-fields.js';
import { fakeTorrent } from './support/fake-engine.js';
import { RECENT_MS, RecentActivity } from '../src/web/transmission/tr-activity.js';
import { parseIds, selectTorrents } from '../src/web/transmission/tr-ids.js';
import { globalShareFrom, shareFromMode, speedFromPair, toKBps } from '../src/web/transmission/tr-limits.js';
import { bytesPerFile, piecesBase64 } from '../src/web/transmission/tr-progress.js';
import { trPeerFlags } from '../src/web/transmission/tr-peers.js';
import { scrapeUrl, timedOut, trackerErrorOf, trackerStatsOf } from '../src/web/transmission/tr-trackers.js';

describe('progress from a bitfield', () => {
  // Files of 10, 0, 25 and 5 bytes in pieces of 16: piece 0 = a[0..10) + c[0..6), piece 1 = c[6..22), piece 2 = c[22..25) + d.
  const files = [10, 0, 25, 5].reduce<{ offset: number; length: number }[]>((out, length) => [...out, { offset: out.reduce((a, f) => a + f.length, 0), length }], []);
  const meta = { files: files.map((f) => ({ ...f, path: ['x'], padding: false })), pieceLength: 16, pieceCount: 3, totalLength: 40 };

  it('splits each verified piece over the files it covers', () => {
    expect(bytesPerFile(meta, Uint8Array.of(0b1000_0000))).toEqual([10, 0, 6, 0]);
    expect(bytesPerFile(meta, Uint8Array.of(0b0010_0000))).toEqual([0, 0, 3, 5]);
    expect(bytesPerFile(meta, Uint8Array.of(0b1110_0000))).toEqual([10, 0, 25, 5]);
    // Shorter than the piece count: nothing recorded past it.
    expect(bytesPerFile(meta, new Uint8Array(0))).toEqual([0, 0, 0, 0]);
  });

  it('answers exactly ceil(pieceCount / 8) bytes, spare bits clear', () => {
    expect(Buffer.from(piecesBase64(3, Uint8Array.of(0xff, 0xff)), 'base64')).toEqual(Buffer.of(0b1110_0000));
    expect(Buffer.from(piecesBase64(10, Uint8Array.of(0x80)), 'base64')).toEqual(Buffer.of(0x80, 0));
    expect(piecesBase64(10, undefined)).toBe(Buffer.alloc(2).toString('base64'));
  });
});

describe('the scrape convention', () => {
  it('replaces a last path segment starting with "announce"; UDP scrapes where it announces; anything else has none', () => {
    expect(scrapeUrl('http://t.example/announce.php?passkey=abc')).toBe('http://t.example/scrape.php?passkey=abc');
    expect(scrapeUrl('https://t.example:8443/x/announce')).toBe('https://t.example:8443/x/scrape');
    expect(scrapeUrl('http://t.example/announce/secret')).toBe('');
    expect(scrapeUrl('udp://t.example:6969/announce')).toBe('udp://t.example:6969/announce');
    expect(scrapeUrl('wss://t.example/announce')).toBe('');
    expect(scrapeUrl('not a url')).toBe('');
  });
});

describe('limits', () => {
  const names = { limit: 'downloadLimit', limited: 'downloadLimited' };
  it('a speed pair: off is 0 (none), a number is kB/s of 1000 bytes, on at 0 or on without a number is refused', () => {
    expect(speedFromPair(names, 100, true, 0)).toBe(100_000);
    expect(speedFromPair(names, 100, undefined, 0)).toBe(100_000);
    expect(speedFromPair(names, 100, false, 5000)).toBe(0);
    expect(speedFromPair(names, undefined, undefined, 5000)).toBeUndefined();
    expect(speedFromPair(names, undefined, true, 5000)).toBeUndefined();
    expect(speedFromPair(names, 0, undefined, 0)).toBe(0);
    expect(() => speedFromPair(names, 0, undefined, 5000)).toThrow(/would stop all transfer/);
    expect(() => speedFromPair(names, undefined, true, 0)).toThrow(/downloadLimited needs downloadLimit/);
    expect(() => speedFromPair(names, 1.5, true, 0)).toThrow(/whole number of kB\/s/);
    expect([toKBps(0), toKBps(100), toKBps(1_048_576)]).toEqual([0, 1, 1049]);
  });

  it("a share mode: 0 the session's, 1 the torrent's own, 2 none; a number alone is the torrent's own", () => {
    const n = { limit: 'seedRatioLimit', mode: 'seedRatioMode' };
    expect(shareFromMode(n, 2, 0, 1)).toBe(USE_GLOBAL);
    expect(shareFromMode(n, undefined, 2, 1)).toBe(NO_LIMIT);
    expect(shareFromMode(n, 1.5, 1, USE_GLOBAL)).toBe(1.5);
    expect(shareFromMode(n, undefined, 1, 3)).toBe(3);
    expect(shareFromMode(n, 4, undefined, USE_GLOBAL)).toBe(4);
    expect(() => shareFromMode(n, undefined, 1, NO_LIMIT)).toThrow(/needs seedRatioLimit/);
    expect(() => shareFromMode(n, 1, 3, 1)).toThrow(/must be 0 .*, 1 .* or 2/);
    const g = { limit: 'seedRatioLimit', enabled: 'seedRatioLimited' };
    expect(globalShareFrom(g, 2, false, 1)).toBe(NO_LIMIT);
    expect(globalShareFrom(g, undefined, true, 1)).toBeUndefined();
    expect(() => globalShareFrom(g, undefined, true, NO_LIMIT)).toThrow(/needs seedRatioLimit/);
  });
});

function record(hex: string, id: number, addedAt = 0): TorrentRecord {
  return { infoHashHex: hex, id, addedAt, totals: { ...ZERO_TOTALS }, settings: defaultTorrentSettings(addedAt) } as TorrentRecord;
}

describe('ids', () => {
  const a = record('a'.repeat(40), 2);
  const b = record('b'.repeat(40), 1);
  const unnumbered = record('c'.repeat(40), 0);
  const all = [a, b, unnumbered];

  it('every torrent by id; some in the order asked, each once; id 0 by hash only', () => {
    expect(selectTorrents(all, parseIds(undefined), () => true).map((r) => r.id)).toEqual([0, 1, 2]);
    expect(selectTorrents(all, parseIds(['A'.repeat(40), 1, 2, 'b'.repeat(40), 0]), () => true)).toEqual([a, b]);
    expect(selectTorrents(all, parseIds(['c'.repeat(40)]), () => true)).toEqual([unnumbered]);
    expect(selectTorrents(all, parseIds('recently-active'), (r) => r === b)).toEqual([b]);
    expect(parseIds('recently_active')).toEqual({ kind: 'recent' });
    expect(() => parseIds([1, true])).toThrow(/^ids\[1\] must be a torrent id/);
    expect(() => parseIds('a'.repeat(39))).toThrow(/^ids must be a torrent id/);
  });
});

describe('recently-active', () => {
  it('forgets what is past the window, and keeps at most 10,000 entries', () => {
    const activity = new RecentActivity();
    const t0 = 1_000_000_000;
    activity.noteRemoved(1, t0);
    activity.noteRemoved(2, t0 + RECENT_MS);
    expect(activity.removedSince(t0 + RECENT_MS - 1)).toEqual([2]);
    activity.noteRemoved(3, t0 + 2 * RECENT_MS + 1);
    expect(activity.removedSince(0)).toEqual([3]);
    for (let id = 10; id < 10_020; id++) activity.noteRemoved(id, t0 + 3 * RECENT_MS);
    const kept = activity.removedSince(0);
    expect(kept).toHaveLength(10_000);
    expect(kept[0]).toBe(20);
    // Not active: added, active and changed long ago; active: moving data now.
    const old = record('d'.repeat(40), 5, t0);
    expect(activity.isRecent(old, undefined, t0 + 2 * RECENT_MS)).toBe(false);
    expect(activity.isRecent(old, { downloadRate: 1 } as never, t0 + 2 * RECENT_MS)).toBe(true);
    activity.touch(old.infoHashHex, t0 + 2 * RECENT_MS);
    expect(activity.isRecent(old, undefined, t0 + 2 * RECENT_MS + 1000)).toBe(true);
  });
});

describe('peers and trackers', () => {
  const p = { optimistic: false, amInterested: false, peerInterested: false, amChoking: true, peerChoking: true, incoming: false, downloadRate: 0, uploadRate: 0 };
  it("flags a peer as Transmission does, in its order: O, D/d, U/u, K, ?, E, I", () => {
    expect(trPeerFlags(p)).toBe('');
    expect(trPeerFlags({ ...p, amInterested: true })).toBe('d');
    expect(trPeerFlags({ ...p, amInterested: true, peerChoking: false, downloadRate: 10 })).toBe('D');
    // Unchoked but nothing moving: wanted, not downloading.
    expect(trPeerFlags({ ...p, amInterested: true, peerChoking: false })).toBe('d');
    expect(trPeerFlags({ ...p, peerInterested: true })).toBe('u');
    expect(trPeerFlags({ ...p, peerInterested: true, amChoking: false, uploadRate: 5, optimistic: true, incoming: true })).toBe('OUI');
    expect(trPeerFlags({ ...p, peerChoking: false, amChoking: false })).toBe('K?');
    // E is RC4 only: an MSE handshake that chose plaintext is not encrypted to Transmission.
    expect(trPeerFlags({ ...p, amInterested: true, incoming: true, encryption: 'rc4' })).toBe('dEI');
    expect(trPeerFlags({ ...p, encryption: 'handshake' })).toBe('');
  });

  it('a tracker error comes from the tracker heard from last: a refusal is an error, a warning a warning, a timeout nothing', () => {
    const at = (n: number) => ({ url: `u${n}`, lastAnnounceStartAt: n, lastAnnounceAt: n });
    expect(trackerErrorOf([])).toBeUndefined();
    expect(trackerErrorOf([{ ...at(2), ok: false, failure: 'refused', error: 'Unregistered torrent' }, { ...at(1), ok: true }])).toEqual({ error: 2, errorString: 'Unregistered torrent' });
    expect(trackerErrorOf([{ ...at(1), ok: false, failure: 'refused', error: 'Unregistered torrent' }, { ...at(2), ok: true }])).toBeUndefined();
    expect(trackerErrorOf([{ ...at(1), ok: true, warning: 'ratio low' }])).toEqual({ error: 1, errorString: 'ratio low' });
    expect(trackerErrorOf([{ ...at(1), ok: false, failure: 'timeout', error: 'no answer' }])).toBeUndefined();
    // Come back later (a 429, a "try again later" refusal): a message on the tracker, no verdict on the torrent.
    expect(trackerErrorOf([{ ...at(1), ok: false, failure: 'retry-later', error: 'Tracker overloaded, try again later; not asked again before 2023-11-14T23:13:20.000Z', backoffUntil: 1_700_003_600_000 }])).toBeUndefined();
  });
});

describe('trackerStats: the scrape fields', () => {
  const now = 1_700_000_000_000;
  const sec = (ms: number): number => Math.floor(ms / 1000);
  const A = 'http://a.example/announce';
  const B = 'http://b.example/announce';
  const C = 'udp://c.example:6969';
  const m = { announce: [[A, B], [C]] };
  const line = (url: string, more: Partial<TrackerStatus> = {}): TrackerStatus => ({ url, lastAnnounceStartAt: now - 61_000, lastAnnounceAt: now - 60_000, ok: true, ...more });
  const scraped = { lastScrapeStartAt: now - 40_000, lastScrapeAt: now - 39_500, scrapeOk: true, nextScrapeAt: now + 1_700_000 };
  const stats = (statuses: TrackerStatus[], active = true): Record<string, unknown>[] => trackerStatsOf(m, statuses, { active, now });

  it('never scraped: hasScraped false, no times, nothing scheduled; the counts the announce gave', () => {
    const [a, , c] = stats([line(A, { seeders: 3, leechers: 1 })]);
    expect(a).toMatchObject({ hasScraped: false, lastScrapeTime: 0, lastScrapeStartTime: 0, lastScrapeSucceeded: false, lastScrapeResult: '', lastScrapeTimedOut: false, scrapeState: 0, nextScrapeTime: 0 });
    expect(a).toMatchObject({ seederCount: 3, leecherCount: 1, downloadCount: -1 });
    // No line at all: every count unknown.
    expect(c).toMatchObject({ hasScraped: false, scrapeState: 0, seederCount: -1, leecherCount: -1, downloadCount: -1 });
  });

  it('a scrape that listed the torrent: its times in seconds, success, its counts, waiting for the next sweep', () => {
    // The announce gave no counts (an HTTP tracker may not); the scrape did.
    const [a] = stats([line(A, { ...scraped, seeders: 12, leechers: 4, downloaded: 250 })]);
    expect(a).toMatchObject({
      hasScraped: true,
      lastScrapeStartTime: sec(now - 40_000),
      lastScrapeTime: sec(now - 39_500),
      lastScrapeSucceeded: true,
      lastScrapeResult: '',
      lastScrapeTimedOut: false,
      scrapeState: 1,
      nextScrapeTime: sec(now + 1_700_000),
      seederCount: 12,
      leecherCount: 4,
      downloadCount: 250,
    });
  });

  it('a failed scrape: its words, timed out only when it says so; queued once the next sweep is due', () => {
    const failed = (scrapeError: string): Record<string, unknown> => stats([line(A, { ...scraped, scrapeOk: false, scrapeError, nextScrapeAt: now - 1 })])[0]!;
    expect(failed('timed out: no reply within 15 s')).toMatchObject({ hasScraped: true, lastScrapeSucceeded: false, lastScrapeResult: 'timed out: no reply within 15 s', lastScrapeTimedOut: true, scrapeState: 2, nextScrapeTime: 0 });
    const notListed = 'not listed in the scrape reply: the tracker does not know this torrent';
    expect(failed(notListed)).toMatchObject({ lastScrapeSucceeded: false, lastScrapeResult: notListed, lastScrapeTimedOut: false });
  });

  it("timedOut reads the tracker-client's timeout messages, and no other", () => {
    expect(timedOut('timed out: no reply within 15 s')).toBe(true);
    expect(timedOut('no complete HTTP reply within 15000 ms')).toBe(true);
    expect(timedOut('no valid reply from c.example:6969 to 4 tries over 225000 ms')).toBe(true);
    // Replies it could not use: a bad tracker, not a silent one.
    expect(timedOut('no valid reply from c.example:6969 to 4 tries over 225000 ms; it sent only 2 short replies')).toBe(false);
    expect(timedOut('HTTP 404 Not Found')).toBe(false);
    expect(timedOut(undefined)).toBe(false);
  });

  it('a tracker asking us to come back later: its words as the announce result, and no scrape shown before the hold ends', () => {
    const until = now + 3_600_000;
    const error = `Tracker overloaded, try again later; not asked again before ${new Date(until).toISOString()}`;
    const [a] = stats([line(A, { ...scraped, ok: false, failure: 'retry-later', error, backoffUntil: until, nextAnnounceAt: until })]);
    expect(a).toMatchObject({ lastAnnounceSucceeded: false, lastAnnounceTimedOut: false, lastAnnounceResult: error, announceState: 1, nextAnnounceTime: sec(until) });
    expect(a).toMatchObject({ scrapeState: 1, nextScrapeTime: sec(until) });
    // A hold that has ended changes nothing.
    expect(stats([line(A, { ...scraped, backoffUntil: now - 1 })])[0]).toMatchObject({ scrapeState: 1, nextScrapeTime: sec(now + 1_700_000) });
  });

  it('a backup is scraped too (every tracker announced to is); a torrent not running schedules nothing', () => {
    // B answered last in tier 0: A is its backup, inactive for announces, still on the scrape sweep.
    const list = [line(A, scraped), line(B, { ...scraped, lastAnnounceAt: now - 10_000 })];
    const [a, b] = stats(list);
    expect(a).toMatchObject({ isBackup: true, announceState: 0, hasScraped: true, scrapeState: 1, nextScrapeTime: sec(now + 1_700_000) });
    expect(b).toMatchObject({ isBackup: false, scrapeState: 1 });
    expect(stats(list, false).map((t) => [t.hasScraped, t.scrapeState, t.nextScrapeTime])).toEqual([
      [true, 0, 0],
      [true, 0, 0],
      [false, 0, 0],
    ]);
  });
});

describe('status', () => {
  const { meta } = fakeTorrent(7);
  const running = { ...record(meta.infoHashHex, 1), metainfo: meta, desired: 'running', queued: false } as TorrentRecord;
  const env = { config: undefined, now: 0 };
  const all = Uint8Array.of(0xf0);
  const view = (r: TorrentRecord, bits: Uint8Array | undefined, stats?: Partial<TorrentStatsView>): TorrentView => ({
    record: r,
    stats: stats && ({ infoHashHex: r.infoHashHex, downloadRate: 0, uploadRate: 0, complete: false, left: 0, ...stats } as TorrentStatsView),
    bitfield: () => bits,
    trackers: () => [],
  });
  const status = (v: TorrentView): unknown => torrentObject(v, env, ['status', 'leftUntilDone']);

  it("is Transmission's: running with nothing left is seeding, whatever the last figures said or with none yet", () => {
    expect(status(view(running, all))).toEqual({ status: STATUS.seeding, leftUntilDone: 0 });
    expect(status(view(running, all, { state: 'downloading' }))).toEqual({ status: STATUS.seeding, leftUntilDone: 0 });
    expect(status(view(running, Uint8Array.of(0xe0), { state: 'downloading' }))).toMatchObject({ status: STATUS.downloading });
    expect(status(view(running, undefined))).toMatchObject({ status: STATUS.downloading });
  });

  it('stopped, queued and checking stay so with nothing left; a magnet without its metadata is downloading', () => {
    expect(status(view({ ...running, desired: 'paused' } as TorrentRecord, all))).toMatchObject({ status: STATUS.stopped });
    expect(status(view({ ...running, queued: true } as TorrentRecord, all))).toMatchObject({ status: STATUS.seedWait });
    expect(status(view(running, all, { state: 'checking' }))).toMatchObject({ status: STATUS.checking });
    expect(status(view({ ...running, metainfo: undefined } as TorrentRecord, undefined))).toMatchObject({ status: STATUS.downloading, leftUntilDone: 0 });
  });
});
