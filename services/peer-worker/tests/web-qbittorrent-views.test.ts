/**
 * The qBittorrent WebAPI's pure parts: records and figures as qBittorrent
 * 5.1 serializes them (state names, sizes without padding files, paths,
 * share limits), files and pieces, trackers and their status, connected
 * peers and their flags, preferences both ways, torrents/info's
 * selection, sync/maindata's and sync/torrentPeers's diffs, and magnets
 * awaiting their metadata.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultFleetConfig, type FleetConfig } from '@seedbox/cluster';
import type { PeerInfo, PendingTorrentRecord, ResolvedTorrentRecord, TorrentRecord, TorrentStatsView, TrackerStatus } from '../src/control/backend.js';
import { filesView, fileIndexes, pieceHashes, pieceRange, pieceStates, priorityFromQbt } from '../src/web/qbittorrent/qbt-files.js';
import { selectTorrents, type InfoQuery } from '../src/web/qbittorrent/qbt-filter.js';
import { preferencesPatch, preferencesView } from '../src/web/qbittorrent/qbt-preferences.js';
import { fileDoneFromBitfield, progressOf } from '../src/web/qbittorrent/qbt-progress.js';
import { qbtPeer, qbtPeerFlags, qbtPeers, TorrentPeersStore } from '../src/web/qbittorrent/qbt-peers.js';
import { piecesHave, propertiesView } from '../src/web/qbittorrent/qbt-properties.js';
import { maindataDiff, MaindataStore, type Maindata } from '../src/web/qbittorrent/qbt-sync.js';
import { etaOf, magnetUri, MAX_ETA, pendingView, qbtState, torrentView, type QbtTorrent } from '../src/web/qbittorrent/qbt-torrent-view.js';
import { dhtNodesOf, serverState, transferInfo } from '../src/web/qbittorrent/qbt-transfer.js';
import { secondsToNextAnnounce, swarmCounts, trackerEntry, trackersView, workingTracker, type QbtTracker } from '../src/web/qbittorrent/qbt-trackers.js';
import { MemoryControlBackend } from '../../../test/support/memory-control-backend.js';

const fixtures = join(import.meta.dirname, '../../../test/fixtures/torrents');
const SINGLE = readFileSync(join(fixtures, 'mktorrent-single.torrent'));
const MULTI = readFileSync(join(fixtures, 'mktorrent-multi.torrent'));
const PADDED = readFileSync(join(fixtures, 'libtorrent-padded.torrent'));
const DATA = '/srv/data';

async function recordOf(bytes: Uint8Array, paused = false): Promise<{ backend: MemoryControlBackend; record: ResolvedTorrentRecord }> {
  const backend = new MemoryControlBackend(DATA);
  const { record } = await backend.add(bytes, { paused });
  if (!record.metainfo) throw new Error('a .torrent gives a record with its metainfo');
  return { backend, record };
}

function stats(record: ResolvedTorrentRecord, over: Partial<TorrentStatsView> = {}): TorrentStatsView {
  return {
    infoHashHex: record.infoHashHex,
    downloadRate: 0,
    uploadRate: 0,
    downloaded: 0,
    uploaded: 0,
    peers: 0,
    seeds: 0,
    peersSending: 0,
    peersGetting: 0,
    piecesVerified: 0,
    piecesFailed: 0,
    pieceCount: record.metainfo.pieceCount,
    left: record.metainfo.totalLength,
    eta: undefined,
    complete: false,
    time: 1_700_000_000_000,
    ...over,
  };
}

function bitfield(pieces: number[], count: number): Uint8Array {
  const bits = new Uint8Array(Math.ceil(count / 8));
  for (const p of pieces) bits[p >> 3]! |= 0x80 >> (p & 7);
  return bits;
}

describe('torrent state names (qBittorrent 5: stoppedUP/stoppedDL)', () => {
  type StateRecord = Parameters<typeof qbtState>[0];
  const base: StateRecord = { desired: 'running', error: undefined, queued: false, movingTo: undefined, settings: { forceStart: false } as TorrentRecord['settings'] };
  const cases: [string, Partial<StateRecord>, Partial<TorrentStatsView> | undefined, boolean, string][] = [
    ['stopped, unfinished', { desired: 'paused' }, undefined, false, 'stoppedDL'],
    ['stopped, finished', { desired: 'paused' }, undefined, true, 'stoppedUP'],
    ['stopped with a stale worker error', { desired: 'paused' }, { state: 'error' }, false, 'stoppedDL'],
    ['the fleet cannot run it', { error: 'disk full', desired: 'paused' }, undefined, false, 'error'],
    ['the worker failed it', {}, { state: 'error' }, false, 'error'],
    ['a move under way', { movingTo: '/srv/data/x' }, { state: 'seeding' }, true, 'moving'],
    ['checking, unfinished', {}, { state: 'checking' }, false, 'checkingDL'],
    ['checking, finished', {}, { state: 'checking' }, true, 'checkingUP'],
    ['queued to download', { queued: true }, undefined, false, 'queuedDL'],
    ['queued to seed', { queued: true }, undefined, true, 'queuedUP'],
    ['forced download', { settings: { forceStart: true } as TorrentRecord['settings'] }, undefined, false, 'forcedDL'],
    ['forced seed', { settings: { forceStart: true } as TorrentRecord['settings'] }, undefined, true, 'forcedUP'],
    ['bytes coming in', {}, { state: 'downloading', downloadRate: 1000 }, false, 'downloading'],
    ['nothing coming in', {}, { state: 'downloading', downloadRate: 0 }, false, 'stalledDL'],
    ['no figures yet', {}, undefined, false, 'stalledDL'],
    ['seeding, uploading', {}, { state: 'seeding', uploadRate: 5 }, true, 'uploading'],
    ['seeding, idle', {}, { state: 'seeding' }, true, 'stalledUP'],
  ];
  it.each(cases)('%s', (_name, record, figures, finished, state) => {
    const s = figures && { state: undefined, downloadRate: 0, uploadRate: 0, ...figures };
    expect(qbtState({ ...base, ...record }, s, finished)).toBe(state);
  });
});

describe('progress', () => {
  it('counts verified bytes per file from the bitfield in one pass, padding files included as files but not as data', async () => {
    const { record } = await recordOf(PADDED);
    const m = record.metainfo;
    // Pieces 0 (README + pad) and 2,3 (x.bin's 30000 bytes over 32768..65535).
    const done = fileDoneFromBitfield(m, bitfield([0, 2, 3], m.pieceCount));
    expect(done[0]).toBe(1000);
    expect(done[1]).toBe(15384);
    expect(done[5]).toBe(30000);
    expect(done[7]).toBe(0);
    const p = progressOf(record, undefined, bitfield([0, 2, 3], m.pieceCount));
    expect(p.totalSize).toBe(1000 + 5000 + 30000 + 40000 + 4000);
    expect(p.wanted).toBe(p.totalSize);
    expect(p.completed).toBe(31000);
    expect(p.finished).toBe(false);
  });

  it('leaves skipped files out of the wanted bytes, and is finished when every wanted byte is in', async () => {
    const { backend, record } = await recordOf(MULTI);
    await backend.update(record.infoHashHex, { files: [{ indices: [4], priority: 'skip' }] });
    const fileDone = [1000, 0, 5000, 30000, 0, 4000];
    const p = progressOf(record, { fileDone, complete: false, state: 'downloading' }, undefined);
    expect(p.wanted).toBe(80000 - 40000);
    expect(p.completed).toBe(40000);
    expect(p.finished).toBe(true);
  });

  it('takes the engine at its word: complete, or seeding, is finished', async () => {
    const { record } = await recordOf(SINGLE);
    expect(progressOf(record, { fileDone: undefined, complete: false, state: 'seeding' }, new Uint8Array(0))).toMatchObject({ finished: true, completed: 65537 });
    expect(progressOf(record, { fileDone: undefined, complete: false, state: 'downloading' }, new Uint8Array(0))).toMatchObject({ finished: false, completed: 0 });
  });
});

describe('the torrent object', () => {
  it('maps a multi-file record and its figures to qBittorrent keys', async () => {
    const { backend, record } = await recordOf(MULTI);
    await backend.update(record.infoHashHex, { tags: ['b', 'a'], share: { ratio: 1.5 }, limits: { download: 1000 } });
    const s = stats(record, { state: 'downloading', downloadRate: 2048.4, uploadRate: 10, downloaded: 500, uploaded: 40, peers: 5, seeds: 2, eta: 12.2 });
    const config: FleetConfig = { ...defaultFleetConfig(), share: { ratio: 3, seedingMinutes: 60, inactiveMinutes: -1 } };
    const progress = progressOf(record, { ...s, fileDone: [1000, 0, 0, 0, 0, 0] }, undefined);
    const t = torrentView({ record, stats: s, progress, config, now: Date.now() });
    expect(t).toMatchObject({
      hash: record.infoHashHex,
      infohash_v1: record.infoHashHex,
      infohash_v2: '',
      name: 'tree',
      size: 80000,
      total_size: 80000,
      completed: 1000,
      amount_left: 79000,
      progress: 1000 / 80000,
      dlspeed: 2048,
      upspeed: 10,
      num_seeds: 2,
      num_leechs: 3,
      state: 'downloading',
      eta: 13,
      tags: 'b, a',
      ratio_limit: 1.5,
      max_ratio: 1.5,
      seeding_time_limit: -2,
      max_seeding_time: 60,
      inactive_seeding_time_limit: -2,
      max_inactive_seeding_time: -1,
      dl_limit: 1000,
      up_limit: 0,
      save_path: join(DATA, record.infoHashHex),
      content_path: join(DATA, record.infoHashHex, 'tree'),
      root_path: join(DATA, record.infoHashHex, 'tree'),
      tracker: 'http://a.example/announce',
      trackers_count: 3,
      downloaded_session: 500,
      uploaded_session: 40,
      comment: 'multi-file fixture',
      private: false,
      has_metadata: true,
      priority: 0,
      auto_tmm: false,
      completion_on: -1,
      availability: -1,
    });
    expect(t.added_on).toBe(Math.floor(record.addedAt / 1000));
    expect(t.magnet_uri).toBe(`magnet:?xt=urn:btih:${record.infoHashHex}&dn=tree&tr=http%3A%2F%2Fa.example%2Fannounce&tr=http%3A%2F%2Fb.example%2Fannounce&tr=udp%3A%2F%2Fc.example%3A6969%2Fannounce&ws=http%3A%2F%2Fseed.example%2Ffiles%2F`);
  });

  it('a single file: content_path is the file, no root folder; a stopped one shows no speed and no ETA', async () => {
    const { record } = await recordOf(SINGLE, true);
    const s = stats(record, { downloadRate: 5000, eta: 3 });
    const t = torrentView({ record, stats: s, progress: progressOf(record, s, new Uint8Array(0)), config: defaultFleetConfig(), now: Date.now() });
    expect(t).toMatchObject({ content_path: join(DATA, record.infoHashHex, 'single.bin'), root_path: '', dlspeed: 0, eta: MAX_ETA, state: 'stoppedDL' });
  });

  it('a padded torrent: sizes and the single visible file leave the padding out', async () => {
    const { record } = await recordOf(PADDED);
    const t = torrentView({ record, stats: undefined, progress: progressOf(record, undefined, new Uint8Array(0)), config: defaultFleetConfig(), now: Date.now() });
    expect(t.total_size).toBe(80000);
    expect(t.size).toBe(80000);
  });

  it('the queue position shows only while queueing is on', async () => {
    const { record } = await recordOf(SINGLE);
    const on = { ...defaultFleetConfig(), queue: { ...defaultFleetConfig().queue, enabled: true } };
    const view = (config: FleetConfig) => torrentView({ record, stats: undefined, progress: progressOf(record, undefined, undefined), config, now: 0 }).priority;
    expect(view(on)).toBe(record.queuePosition);
    expect(view(defaultFleetConfig())).toBe(0);
  });

  it('ETA of a finished torrent counts down to its first share limit', () => {
    const record = { desired: 'running' as const, addedAt: 0, totals: { uploaded: 100, downloaded: 1000, seedingMs: 30 * 60_000, activeMs: 0, lastActivityAt: 1_000_000, completedAt: 1 } };
    const finished = { finished: true, wanted: 1000 };
    expect(etaOf(record, { eta: undefined, uploadRate: 0 }, finished, { ratio: -1, seedingMinutes: -1, inactiveMinutes: -1 }, 2_000_000)).toBe(MAX_ETA);
    expect(etaOf(record, { eta: undefined, uploadRate: 0 }, finished, { ratio: -1, seedingMinutes: 60, inactiveMinutes: -1 }, 2_000_000)).toBe(30 * 60);
    // Ratio 2 of 1000 bytes with 100 up: 1900 bytes at 100 B/s.
    expect(etaOf(record, { eta: undefined, uploadRate: 100 }, finished, { ratio: 2, seedingMinutes: 60, inactiveMinutes: -1 }, 2_000_000)).toBe(19);
    // 10 inactive minutes, 1000 s since the last activity: already reached.
    expect(etaOf(record, { eta: undefined, uploadRate: 0 }, finished, { ratio: -1, seedingMinutes: -1, inactiveMinutes: 10 }, 2_000_000)).toBe(0);
    expect(etaOf(record, { eta: 42.1, uploadRate: 0 }, { finished: false, wanted: 1000 }, { ratio: 1, seedingMinutes: 1, inactiveMinutes: 1 }, 0)).toBe(43);
  });

  it('a magnet awaiting its metadata: metaDL while it is tried, a failed attempt included, as qBittorrent keeps trying; stoppedDL when stopped', async () => {
    const backend = new MemoryControlBackend(DATA);
    await backend.putCategory('tv', 'media/tv', 'create');
    const hex = 'ab'.repeat(20);
    const uri = `magnet:?xt=urn:btih:${hex}&dn=Some%20Show&tr=${encodeURIComponent('http://t.example/a')}`;
    const { record } = await backend.addMagnet(uri, { paused: false, settings: { category: 'tv', tags: ['x'] } });
    const pending = record as PendingTorrentRecord;
    const config = await backend.config();
    expect(pendingView(pending, config)).toMatchObject({ hash: hex, name: 'Some Show', magnet_uri: uri, state: 'metaDL', has_metadata: false, private: null, total_size: -1, size: 0, progress: 0, category: 'tv', tags: 'x', save_path: join(DATA, 'media/tv'), tracker: 'http://t.example/a', trackers_count: 1 });
    backend.failMetadata(hex, 'no peer gave the metadata');
    expect(pendingView(backend.records.get(hex) as PendingTorrentRecord, config).state).toBe('metaDL');
    expect(pendingView({ ...pending, settings: { ...pending.settings, forceStart: true } }, config).state).toBe('forcedMetaDL');
    expect(pendingView({ ...pending, desired: 'paused' }, config).state).toBe('stoppedDL');
  });

  it('magnetUri escapes the name', () => {
    expect(magnetUri({ infoHashHex: '00'.repeat(20), name: 'a b&c', announce: [], urlList: [] })).toBe(`magnet:?xt=urn:btih:${'00'.repeat(20)}&dn=a%20b%26c`);
  });
});

describe('files, pieces, trackers, properties', () => {
  it('lists real files only, numbered without the padding, with qBittorrent priorities and piece ranges', async () => {
    const { backend, record } = await recordOf(PADDED);
    await backend.update(record.infoHashHex, { files: [{ indices: [3], priority: 'high' }, { indices: [7], priority: 'skip' }] });
    const progress = progressOf(record, undefined, bitfield([0], record.metainfo.pieceCount));
    const files = filesView(record, progress);
    expect(files.map((f) => [f.index, f.name, f.size, f.priority])).toEqual([
      [0, 'tree/README.txt', 1000, 1],
      [1, 'tree/empty.dat', 0, 1],
      [2, 'tree/naïve/日本語.txt', 5000, 6],
      [3, 'tree/src/lib/deep/x.bin', 30000, 1],
      [4, 'tree/src/main.bin', 40000, 0],
      [5, 'tree/Ελληνικά.bin', 4000, 1],
    ]);
    expect(files[0]).toMatchObject({ progress: 1, is_seed: false, piece_range: [0, 0] });
    expect(files[1]!.is_seed).toBeUndefined();
    expect(files[3]!.piece_range).toEqual([2, 3]);
    expect(filesView(record, progress, '4|0').map((f) => f.name)).toEqual(['tree/src/main.bin', 'tree/README.txt']);
    expect(() => fileIndexes('9', 6)).toThrow(/out of bounds/);
    expect(() => fileIndexes('x', 6)).toThrow(/not a valid file index/);
  });

  it('a single-file torrent names its file by the torrent name', async () => {
    const { record } = await recordOf(SINGLE);
    expect(filesView(record, progressOf(record, undefined, undefined))[0]).toMatchObject({ index: 0, name: 'single.bin', size: 65537, piece_range: [0, 2] });
    expect(pieceRange(record.metainfo, 0)).toEqual([0, 2]);
  });

  it('maps file priorities both ways', () => {
    expect([0, 1, 6, 7, 2, 4].map(priorityFromQbt)).toEqual(['skip', 'normal', 'high', 'high', undefined, undefined]);
  });

  it('piece states from the bitfield, piece hashes from the metainfo', async () => {
    const { record } = await recordOf(SINGLE);
    expect(pieceStates(record.metainfo, bitfield([1], 3))).toEqual([0, 2, 0]);
    expect(pieceStates(record.metainfo, new Uint8Array(0))).toEqual([0, 0, 0]);
    const hashes = pieceHashes(record.metainfo);
    expect(hashes).toHaveLength(3);
    expect(hashes[0]).toBe(Buffer.from(record.metainfo.pieceHashes.subarray(0, 20)).toString('hex'));
    expect(piecesHave(record, undefined, bitfield([0, 2], 3))).toBe(2);
  });

  it('trackers: DHT and PeX working, LSD disabled, then the metainfo tiers, not contacted before any announce', async () => {
    const { record } = await recordOf(MULTI);
    const list = trackersView(record.metainfo, { dht: true });
    expect(list.slice(0, 3).map((t) => [t.url, t.status, t.tier, t.msg])).toEqual([
      ['** [DHT] **', 2, -1, ''],
      ['** [PeX] **', 2, -1, ''],
      ['** [LSD] **', 0, -1, ''],
    ]);
    expect(list.slice(3).map((t) => [t.url, t.tier, t.status, t.num_seeds])).toEqual([
      ['http://a.example/announce', 0, 1, -1],
      ['http://b.example/announce', 0, 1, -1],
      ['udp://c.example:6969/announce', 1, 1, -1],
    ]);
  });

  it("trackers: DHT follows the switch, PeX is on; a private torrent has neither, saying so, as qBittorrent's getStickyTrackers", async () => {
    const { record } = await recordOf(MULTI);
    const sticky = (list: QbtTracker[]) => list.slice(0, 3).map((t) => [t.url, t.status, t.msg]);
    expect(sticky(trackersView(record.metainfo, { dht: false }))).toEqual([
      ['** [DHT] **', 0, ''],
      ['** [PeX] **', 2, ''],
      ['** [LSD] **', 0, ''],
    ]);
    for (const dht of [true, false]) {
      expect(sticky(trackersView({ ...record.metainfo, private: true }, { dht }))).toEqual([
        ['** [DHT] **', 0, 'This torrent is private'],
        ['** [PeX] **', 0, 'This torrent is private'],
        ['** [LSD] **', 0, 'This torrent is private'],
      ]);
    }
    // A magnet still resolving is public as far as anyone knows: it is looked up on the DHT.
    const magnet = trackersView(undefined, { dht: true }, ['http://t.example/a']);
    expect(magnet.map((t) => [t.url, t.status])).toEqual([
      ['** [DHT] **', 2],
      ['** [PeX] **', 2],
      ['** [LSD] **', 0],
      ['http://t.example/a', 1],
    ]);
    expect(magnet[0]).toEqual({ url: '** [DHT] **', status: 2, tier: -1, num_peers: 0, num_seeds: 0, num_leeches: 0, num_downloaded: 0, msg: '' });
  });

  it('trackers: working with its counts, not working with its own words, not contacted where it was never asked', async () => {
    const { record } = await recordOf(MULTI);
    const list = trackersView(record.metainfo, { dht: true }, [], [
      { url: 'http://a.example/announce', lastAnnounceStartAt: 1, lastAnnounceAt: 2, ok: false, failure: 'refused', error: 'Unregistered torrent', seeders: 4 },
      { url: 'udp://c.example:6969/announce', lastAnnounceStartAt: 3, lastAnnounceAt: 4, ok: true, peers: 12, seeders: 9, leechers: 2, downloaded: 40, warning: 'be nice' },
    ]);
    expect(list.slice(3)).toEqual([
      { url: 'http://a.example/announce', tier: 0, status: 4, msg: 'Unregistered torrent', num_peers: -1, num_seeds: 4, num_leeches: -1, num_downloaded: -1 },
      { url: 'http://b.example/announce', tier: 0, status: 1, msg: '', num_peers: -1, num_seeds: -1, num_leeches: -1, num_downloaded: -1 },
      { url: 'udp://c.example:6969/announce', tier: 1, status: 2, msg: 'be nice', num_peers: 12, num_seeds: 9, num_leeches: 2, num_downloaded: 40 },
    ]);
    // A failure without the tracker's words (it timed out) still says what happened.
    expect(trackerEntry('u', 0, { url: 'u', lastAnnounceStartAt: 1, lastAnnounceAt: 2, ok: false, failure: 'timeout', error: 'no answer in 15 s' })).toMatchObject({ status: 4, msg: 'no answer in 15 s' });
  });

  it("trackers: the counts a scrape brought; a tracker asking us to come back later is its line's message, not the torrent's error", async () => {
    const { record } = await recordOf(MULTI);
    const now = 1_700_000_000_000;
    const until = now + 3_600_000;
    const later = `Tracker overloaded, try again later; not asked again before ${new Date(until).toISOString()}`;
    const statuses: TrackerStatus[] = [
      // Its announce gave no counts (an HTTP tracker may not); the scrape after it did.
      { url: 'http://a.example/announce', lastAnnounceStartAt: now - 9000, lastAnnounceAt: now - 8000, ok: true, peers: 3, seeders: 20, leechers: 6, downloaded: 310, lastScrapeStartAt: now - 2000, lastScrapeAt: now - 1500, scrapeOk: true, nextScrapeAt: now + 1_700_000 },
      // Held off: the counts it gave before stay, the message says why and until when.
      { url: 'udp://c.example:6969/announce', lastAnnounceStartAt: now - 5000, lastAnnounceAt: now - 4000, ok: false, failure: 'retry-later', error: later, backoffUntil: until, seeders: 7, nextAnnounceAt: until },
    ];
    expect(trackersView(record.metainfo, { dht: true }, [], statuses).slice(3)).toEqual([
      { url: 'http://a.example/announce', tier: 0, status: 2, msg: '', num_peers: 3, num_seeds: 20, num_leeches: 6, num_downloaded: 310 },
      { url: 'http://b.example/announce', tier: 0, status: 1, msg: '', num_peers: -1, num_seeds: -1, num_leeches: -1, num_downloaded: -1 },
      { url: 'udp://c.example:6969/announce', tier: 1, status: 4, msg: later, num_peers: -1, num_seeds: 7, num_leeches: -1, num_downloaded: -1 },
    ]);
    const s = stats(record, { peers: 3, seeds: 1 });
    const t = torrentView({ record, stats: s, progress: progressOf(record, s, undefined), config: defaultFleetConfig(), now, trackers: statuses });
    expect(t).toMatchObject({ num_complete: 20, num_incomplete: 6, tracker: 'http://a.example/announce' });
    expect(t.state).not.toBe('error');
  });

  it('the torrent takes the swarm counts, the working tracker and the next announce from its trackers', async () => {
    const { record } = await recordOf(MULTI);
    const now = 1_700_000_000_000;
    const statuses: TrackerStatus[] = [
      { url: 'http://a.example/announce', lastAnnounceStartAt: now - 9000, lastAnnounceAt: now - 8000, ok: false, failure: 'unreachable', error: 'ECONNREFUSED', seeders: 30 },
      { url: 'udp://c.example:6969/announce', lastAnnounceStartAt: now - 5000, lastAnnounceAt: now - 4000, ok: true, seeders: 12, leechers: 5, nextAnnounceAt: now + 1_800_500 },
    ];
    expect(swarmCounts(statuses)).toEqual({ complete: 30, incomplete: 5 });
    expect(swarmCounts([])).toEqual({ complete: undefined, incomplete: undefined });
    expect(workingTracker(statuses)).toBe('udp://c.example:6969/announce');
    expect(workingTracker(statuses.slice(0, 1))).toBeUndefined();
    expect(secondsToNextAnnounce(statuses, now)).toBe(1801);
    expect(secondsToNextAnnounce(statuses, now + 2_000_000)).toBe(0);
    const s = stats(record, { peers: 3, seeds: 1 });
    const t = torrentView({ record, stats: s, progress: progressOf(record, s, undefined), config: defaultFleetConfig(), now, trackers: statuses });
    expect(t).toMatchObject({ num_seeds: 1, num_complete: 30, num_leechs: 2, num_incomplete: 5, tracker: 'udp://c.example:6969/announce', reannounce: 1801 });
    expect(propertiesView(t, record.metainfo, s, 0)).toMatchObject({ seeds: 1, seeds_total: 30, peers: 2, peers_total: 5, reannounce: 1801 });
    // Before any tracker answered: the connected peers, the first tracker, no announce time.
    const before = torrentView({ record, stats: s, progress: progressOf(record, s, undefined), config: defaultFleetConfig(), now });
    expect(before).toMatchObject({ num_complete: 1, num_incomplete: 2, tracker: 'http://a.example/announce', reannounce: 0 });
    // A stopped torrent announces nothing.
    const { record: paused } = await recordOf(MULTI, true);
    expect(torrentView({ record: paused, stats: undefined, progress: progressOf(paused, undefined, undefined), config: defaultFleetConfig(), now, trackers: statuses }).reannounce).toBe(0);
  });

  it('properties come from the list entry and the metainfo', async () => {
    const { record } = await recordOf(MULTI);
    const s = stats(record, { peers: 4, seeds: 1, piecesVerified: 2 });
    const view = torrentView({ record, stats: s, progress: progressOf(record, s, undefined), config: defaultFleetConfig(), now: 0 });
    expect(propertiesView(view, record.metainfo, s, 2)).toMatchObject({ hash: record.infoHashHex, pieces_num: 3, piece_size: 32768, pieces_have: 2, nb_connections: 4, seeds: 1, peers: 3, created_by: 'mktorrent 1.1', creation_date: -1, dl_limit: -1, is_private: false, comment: 'multi-file fixture' });
  });
});

describe('preferences', () => {
  it("shows the fleet's config in qBittorrent's keys and units", () => {
    const c: FleetConfig = { ...defaultFleetConfig(), speed: { download: 1_048_576, upload: 0 }, shareAction: 'remove-with-data', share: { ratio: 2, seedingMinutes: -1, inactiveMinutes: 30 } };
    expect(preferencesView(c, { dataDir: DATA, encryption: 'disable', dht: false, authRequired: true })).toMatchObject({
      save_path: DATA,
      dl_limit: 1_048_576,
      up_limit: 0,
      slow_torrent_dl_rate_threshold: 2,
      slow_torrent_inactive_timer: 60,
      max_ratio_enabled: true,
      max_ratio: 2,
      max_seeding_time_enabled: false,
      max_seeding_time: -1,
      max_inactive_seeding_time_enabled: true,
      max_inactive_seeding_time: 30,
      max_ratio_act: 3,
      queueing_enabled: false,
      dht: false,
      pex: true,
      encryption: 2,
      bypass_local_auth: false,
    });
    // qBittorrent's 0 "Allow encryption" is prefer, 1 "Require encryption" require.
    expect(preferencesView(c, { dataDir: DATA, encryption: 'prefer', dht: true, authRequired: true }).encryption).toBe(0);
    expect(preferencesView(c, { dataDir: DATA, encryption: 'require', dht: true, authRequired: true }).encryption).toBe(1);
    // dht is the setting in force, as the caller works it out (the config's, else SEEDBOX_DHT).
    expect(preferencesView(c, { dataDir: DATA, encryption: 'prefer', dht: true, authRequired: true }).dht).toBe(true);
  });

  it('turns a setPreferences json into a config patch, ignoring what the fleet does not have', () => {
    const current = defaultFleetConfig();
    const { patch, ignored } = preferencesPatch(
      JSON.stringify({ dl_limit: 2048, alt_up_limit: -1, queueing_enabled: true, max_active_uploads: 7, slow_torrent_ul_rate_threshold: 4, max_ratio_enabled: true, max_ratio: 1.25, max_seeding_time_enabled: false, max_ratio_act: 1, dht: false, lsd: true, pex: false, encryption: 1, locale: 'fr', save_path: '/elsewhere' }),
      current,
      DATA,
    );
    expect(patch).toEqual({ speed: { download: 2048 }, altSpeed: { upload: 0 }, queue: { enabled: true, maxActiveSeeds: 7, slowUploadRate: 4096 }, share: { ratio: 1.25, seedingMinutes: -1 }, shareAction: 'remove', encryption: 'require', dht: false });
    expect(ignored).toEqual(['lsd', 'pex', 'save_path']);
    // DHT both ways, as qBittorrent's clients send it: a boolean, or form text.
    expect(preferencesPatch(JSON.stringify({ dht: true }), current, DATA)).toEqual({ patch: { dht: true }, ignored: [] });
    expect(preferencesPatch(JSON.stringify({ dht: 'false' }), current, DATA)).toEqual({ patch: { dht: false }, ignored: [] });
    // Each of qBittorrent's three values, as a number or as form text; PeX on is what it is.
    expect(preferencesPatch(JSON.stringify({ encryption: 0, pex: true }), current, DATA)).toEqual({ patch: { encryption: 'prefer' }, ignored: [] });
    expect(preferencesPatch(JSON.stringify({ encryption: '2' }), current, DATA).patch).toEqual({ encryption: 'disable' });
  });

  it('refuses what it cannot read, naming the key', () => {
    const c = defaultFleetConfig();
    expect(() => preferencesPatch('{', c, DATA)).toThrow(/json is not JSON/);
    expect(() => preferencesPatch('[]', c, DATA)).toThrow(/JSON object/);
    expect(() => preferencesPatch('{"dl_limit":"fast"}', c, DATA)).toThrow(/dl_limit must be a number/);
    expect(() => preferencesPatch('{"up_limit":-5}', c, DATA)).toThrow(/up_limit must be a number of bytes per second/);
    expect(() => preferencesPatch('{"max_ratio_act":2}', c, DATA)).toThrow(/super seeding/);
    expect(() => preferencesPatch('{"encryption":3}', c, DATA)).toThrow(/encryption must be 0 \(allow encryption\), 1 \(require encryption\) or 2 \(disable encryption\) \(got 3\)/);
    expect(() => preferencesPatch('{"encryption":1.5}', c, DATA)).toThrow(/encryption must be a whole number/);
    expect(() => preferencesPatch('{"encryption":"rc4"}', c, DATA)).toThrow(/encryption must be a number/);
    expect(() => preferencesPatch('{"dht":"yes"}', c, DATA)).toThrow(/dht must be true or false \(got "yes"\)/);
    expect(() => preferencesPatch('{"max_ratio_enabled":true}', c, DATA)).toThrow(/no max_ratio is set/);
    expect(preferencesPatch('{"max_ratio_enabled":true}', { ...c, share: { ...c.share, ratio: 4 } }, DATA).patch).toEqual({ share: { ratio: 4 } });
  });
});

describe('torrents/info selection', () => {
  const t = (hash: string, over: Partial<QbtTorrent>): QbtTorrent => ({ hash, name: hash, state: 'stalledDL', category: '', tags: '', upspeed: 0, private: false, added_on: 0, ...over }) as QbtTorrent;
  const all = [
    t('a', { state: 'uploading', category: 'tv', tags: 'x, y', added_on: 3 }),
    t('b', { state: 'stoppedDL', category: '', added_on: 1 }),
    t('c', { state: 'stalledDL', category: 'tv', upspeed: 9, added_on: 2, private: true }),
    t('d', { state: 'error', category: 'movies', tags: 'y', added_on: 4 }),
  ];
  const q = (over: Partial<InfoQuery>): InfoQuery => ({ filter: 'all', reverse: false, limit: 0, offset: 0, ...over });
  const hashes = (over: Partial<InfoQuery>) => selectTorrents(all, q(over)).map((x) => x.hash);

  it('filters by state (5.x names and the 4.x ones), category, tag, hashes and privacy', () => {
    expect(hashes({ filter: 'downloading' })).toEqual(['b', 'c']);
    expect(hashes({ filter: 'seeding' })).toEqual(['a']);
    expect(hashes({ filter: 'completed' })).toEqual(['a']);
    expect(hashes({ filter: 'stopped' })).toEqual(['b']);
    expect(hashes({ filter: 'paused' })).toEqual(['b']);
    expect(hashes({ filter: 'running' })).toEqual(['a', 'c', 'd']);
    expect(hashes({ filter: 'active' })).toEqual(['a', 'c']);
    expect(hashes({ filter: 'inactive' })).toEqual(['b', 'd']);
    expect(hashes({ filter: 'stalled_downloading' })).toEqual(['c']);
    expect(hashes({ filter: 'errored' })).toEqual(['d']);
    expect(hashes({ filter: 'no-such-filter' })).toEqual(['a', 'b', 'c', 'd']);
    expect(hashes({ category: 'tv' })).toEqual(['a', 'c']);
    expect(hashes({ category: '' })).toEqual(['b']);
    expect(hashes({ tag: 'y' })).toEqual(['a', 'd']);
    expect(hashes({ tag: '' })).toEqual(['b', 'c']);
    expect(hashes({ hashes: new Set(['d', 'a', 'zz']) })).toEqual(['a', 'd']);
    expect(hashes({ isPrivate: true })).toEqual(['c']);
  });

  it('sorts, reverses, pages from either end, and refuses an unknown sort key', () => {
    expect(hashes({ sort: 'added_on' })).toEqual(['b', 'c', 'a', 'd']);
    expect(hashes({ sort: 'added_on', reverse: true, limit: 2 })).toEqual(['d', 'a']);
    expect(hashes({ sort: 'added_on', offset: -1 })).toEqual(['d']);
    expect(hashes({ offset: 1, limit: 2 })).toEqual(['b', 'c']);
    expect(hashes({ offset: 10 })).toEqual(['a', 'b', 'c', 'd']);
    expect(() => hashes({ sort: 'nope' })).toThrow("'sort' parameter is invalid");
  });
});

describe('sync/maindata', () => {
  const state = serverState([], defaultFleetConfig(), 1000);
  const data = (torrents: Maindata['torrents'], tags: string[] = []): Maindata => ({ torrents, categories: { tv: { name: 'tv', savePath: '/d/tv' } }, tags, trackers: {}, server_state: state });
  const fields = (progress: number, name = 'x') => ({ name, progress, state: 'downloading' }) as unknown as Maindata['torrents'][string];

  it('diffs keys per torrent, and lists what is gone', () => {
    const prev = data({ a: fields(0.1), b: fields(0) }, ['old']);
    const next = { ...data({ a: fields(0.5), c: fields(0, 'new') }, ['new']), categories: {}, server_state: { ...state, dl_info_speed: 7 } };
    expect(maindataDiff(prev, next)).toEqual({
      torrents: { a: { progress: 0.5 }, c: fields(0, 'new') },
      torrents_removed: ['b'],
      categories_removed: ['tv'],
      tags: ['new'],
      tags_removed: ['old'],
      server_state: { dl_info_speed: 7 },
    });
    expect(maindataDiff(prev, prev)).toEqual({});
  });

  it('answers rid 0 or an unknown rid with a full update, a known one with the changes, and forgets old answers', () => {
    let n = 100;
    const store = new MaindataStore({ maxSnapshots: 2, nextRid: () => ++n });
    const first = store.answer(0, data({ a: fields(0) }));
    expect(first).toMatchObject({ rid: 101, full_update: true, torrents: { a: fields(0) } });
    const second = store.answer(101, data({ a: fields(1) }));
    expect(second).toEqual({ rid: 102, torrents: { a: { progress: 1 } } });
    expect(store.answer(999, data({}))).toMatchObject({ rid: 103, full_update: true });
    // 101 was the oldest of three kept two: gone.
    expect(store.answer(101, data({}))).toMatchObject({ full_update: true });
  });
});

describe('transfer figures', () => {
  it('sums what runs; paused torrents add their session bytes but no speed', () => {
    const r = (desired: 'running' | 'paused') => ({ desired, totals: { uploaded: 10, downloaded: 20, seedingMs: 0, activeMs: 0, lastActivityAt: 0, completedAt: 0 } });
    const s = (d: number) => ({ downloadRate: d, uploadRate: 1, downloaded: 100, uploaded: 5, peers: 2 }) as TorrentStatsView;
    const config = { ...defaultFleetConfig(), speed: { download: 500, upload: 0 }, altSpeed: { download: 50, upload: 5 } };
    const figures = [
      { record: r('running'), stats: s(1000) },
      { record: r('paused'), stats: s(99) },
      { record: r('running'), stats: undefined },
    ];
    expect(transferInfo(figures, config)).toMatchObject({ dl_info_speed: 1000, up_info_speed: 1, dl_info_data: 200, up_info_data: 10, dl_rate_limit: 500, dht_nodes: 0, connection_status: 'connected' });
    expect(transferInfo(figures, { ...config, altSpeedEnabled: true }).dl_rate_limit).toBe(50);
    expect(serverState(figures, config, 77)).toMatchObject({ alltime_dl: 60, alltime_ul: 30, global_ratio: '0.50', free_space_on_disk: 77, queueing: false, use_alt_speed_limits: false });
    expect(transferInfo([], config).connection_status).toBe('firewalled');
    // The DHT's table as the members report it: the largest of the tracker-clients' (serve's) nodes.
    const members = [{ figures: { torrents: 2 } }, { figures: { dhtNodes: 37 } }, { figures: { dhtNodes: 120.4 } }];
    expect(dhtNodesOf(members)).toBe(120);
    expect(transferInfo(figures, config, dhtNodesOf(members)).dht_nodes).toBe(120);
    expect(serverState(figures, config, 77, 5).dht_nodes).toBe(5);
  });
});

const peer = (over: Partial<PeerInfo> = {}): PeerInfo => ({
  host: '10.0.0.9',
  port: 51413,
  client: 'libtorrent/2.0.8.0',
  peerIdClient: 'libtorrent (Rasterbar) 2.0.8',
  incoming: false,
  amChoking: true,
  amInterested: false,
  peerChoking: true,
  peerInterested: false,
  optimistic: false,
  snubbed: false,
  progress: 1,
  relevance: 0,
  downloadRate: 0,
  uploadRate: 0,
  downloaded: 0,
  uploaded: 0,
  ...over,
});

describe('connected peers (sync/torrentPeers)', () => {
  it("flags each peer as qBittorrent does: D/d, U/u, K, ?, O, S, I, E/e, each with its sentence", () => {
    expect(qbtPeerFlags(peer({ amInterested: true, peerChoking: false }))).toEqual({ flags: 'D', flags_desc: 'D = Interested (local) and unchoked (peer)' });
    expect(qbtPeerFlags(peer({ amInterested: true }))).toMatchObject({ flags: 'd' });
    expect(qbtPeerFlags(peer({ peerInterested: true, amChoking: false, incoming: true }))).toEqual({
      flags: 'U I',
      flags_desc: 'U = Interested (peer) and unchoked (local)\nI = Incoming connection',
    });
    expect(qbtPeerFlags(peer({ peerInterested: true }))).toMatchObject({ flags: 'u' });
    expect(qbtPeerFlags(peer({ peerChoking: false, amChoking: false }))).toMatchObject({ flags: 'K ?' });
    expect(qbtPeerFlags(peer({ peerInterested: true, amChoking: false, optimistic: true, amInterested: true, snubbed: true }))).toMatchObject({ flags: 'd U O S' });
    expect(qbtPeerFlags(peer())).toEqual({ flags: '', flags_desc: '' });
    // E: RC4 after the MSE handshake; e: the handshake only, plaintext after it.
    expect(qbtPeerFlags(peer({ incoming: true, encryption: 'rc4' }))).toEqual({ flags: 'I E', flags_desc: 'I = Incoming connection\nE = Encrypted traffic' });
    expect(qbtPeerFlags(peer({ encryption: 'handshake' }))).toEqual({ flags: 'e', flags_desc: 'e = Encrypted handshake' });
  });

  it('keys peers by ip:port (IPv6 bracketed), whole speeds in bytes/s, and one remote peer on two workers as one', () => {
    expect(qbtPeer(peer({ downloadRate: 1500.6, uploaded: 10, relevance: 0.5, progress: 0.25 }))).toEqual({
      ip: '10.0.0.9',
      port: 51413,
      client: 'libtorrent/2.0.8.0',
      peer_id_client: 'libtorrent (Rasterbar) 2.0.8',
      progress: 0.25,
      dl_speed: 1501,
      up_speed: 0,
      downloaded: 0,
      uploaded: 10,
      connection: 'BT',
      flags: '',
      flags_desc: '',
      relevance: 0.5,
      files: '',
      country_code: '',
    });
    const merged = qbtPeers([
      peer({ uploadRate: 100, uploaded: 1000, peerInterested: true, amChoking: false, workerId: 'pw1' }),
      peer({ uploadRate: 300, uploaded: 500, peerInterested: true, amChoking: false, optimistic: true, progress: 0.5, workerId: 'pw2' }),
      peer({ host: '2001:db8::7', port: 6881 }),
    ]);
    expect(Object.keys(merged)).toEqual(['10.0.0.9:51413', '[2001:db8::7]:6881']);
    expect(merged['10.0.0.9:51413']).toMatchObject({ up_speed: 400, uploaded: 1500, progress: 1, flags: 'U O' });
  });

  it('answers a full update, then only what changed and what left, and a full one for an rid of another torrent', () => {
    let n = 0;
    const store = new TorrentPeersStore(2, () => ++n);
    const a = qbtPeers([peer(), peer({ host: '10.0.0.10' })]);
    const first = store.answer(0, 'aa', a);
    expect(first).toEqual({ rid: 1, full_update: true, show_flags: false, peers: a });
    const b = qbtPeers([peer({ downloadRate: 2048 }), peer({ host: '10.0.0.11' })]);
    expect(store.answer(1, 'aa', b)).toEqual({ rid: 2, peers: { '10.0.0.9:51413': { dl_speed: 2048 }, '10.0.0.11:51413': b['10.0.0.11:51413'] }, peers_removed: ['10.0.0.10:51413'] });
    expect(store.answer(2, 'aa', b)).toEqual({ rid: 3 });
    expect(store.answer(3, 'bb', b)).toMatchObject({ rid: 4, full_update: true });
    // Only the last two answers are kept.
    expect(store.answer(1, 'aa', b)).toMatchObject({ full_update: true });
  });
});
