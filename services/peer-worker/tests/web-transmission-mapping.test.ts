/**
 * The Transmission RPC's pure mappings, at their edges: pieces spanning
 * files, bitfields shorter or longer than the piece count, the scrape
 * convention, the limit pairs and modes, id selection, peer flags, the
 * torrent error trackers cause, and the bounded memory behind
 * "recently-active".
 */
import { describe, expect, it } from 'vitest';
import { NO_LIMIT, USE_GLOBAL, ZERO_TOTALS, defaultTorrentSettings } from '@seedbox/cluster';
import type { TorrentRecord } from '../src/control/backend.js';
import { RECENT_MS, RecentActivity } from '../src/web/transmission/tr-activity.js';
import { parseIds, selectTorrents } from '../src/web/transmission/tr-ids.js';
import { globalShareFrom, shareFromMode, speedFromPair, toKBps } from '../src/web/transmission/tr-limits.js';
import { bytesPerFile, piecesBase64 } from '../src/web/transmission/tr-progress.js';
import { trPeerFlags } from '../src/web/transmission/tr-peers.js';
import { scrapeUrl, trackerErrorOf } from '../src/web/transmission/tr-trackers.js';

describe('progress from a bitfield', () => {
  // Files of 10, 0, 25 and 5 bytes in pieces of 16: piece 0 = a[0..10) + c[0..6), piece 1 = c[6..22), piece 2 = c[22..25) + d.
  const files = [10, 0, 25, 5].reduce<{ offset: number; length: number }[]>((out, length) => [...out, { offset: out.reduce((a, f) => a + f.length, 0), length }], []);
  const meta = { files: files.map((f) => ({ ...f, path: ['x'], pathBytes: [], padding: false })), pieceLength: 16, pieceCount: 3, totalLength: 40 };

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
  });
});
