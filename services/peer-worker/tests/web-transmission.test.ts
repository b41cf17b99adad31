/**
 * The Transmission RPC over a real HTTP server on 127.0.0.1 (port 0), with
 * an in-memory backend: the login, the session id, the answers to broken
 * requests, Sonarr's exact sequence of calls, and what each method and
 * field maps to in the fleet's settings and figures.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NO_LIMIT, USE_GLOBAL } from '@seedbox/cluster';
import { parseMetainfo } from '@seedbox/protocol';
import { silentLogger } from '@seedbox/runtime';
import { MemoryControlBackend } from '../../../test/support/memory-control-backend.js';
import { ControlError, type PeerInfo } from '../src/control/backend.js';
import { fetchTorrentFile } from '../src/web/torrent-url.js';
import { createTransmissionApi } from '../src/web/transmission/transmission-api.js';
import type { WebApiContext } from '../src/web/web-api.js';
import { WebAuth } from '../src/web/web-auth.js';
import { startWebServer, type WebServer } from '../src/web/web-server.js';

const fixtures = join(import.meta.dirname, '../../../test/fixtures/torrents');
const fixture = (name: string): Buffer => readFileSync(join(fixtures, name));
const SINGLE = fixture('mktorrent-single.torrent');
const SINGLE_HASH = parseMetainfo(SINGLE).infoHashHex;
const MULTI = fixture('mktorrent-multi.torrent');
const MULTI_HASH = parseMetainfo(MULTI).infoHashHex;
const PADDED = fixture('libtorrent-padded.torrent');
const PADDED_HASH = parseMetainfo(PADDED).infoHashHex;

const USER = 'sonarr';
const PASS = 'correct horse';
const DATA = '/srv/seedbox-transmission';
const FREE = 123_456_789_000;

/** JSON as the server sent it: the tests index into it freely, and their assertions check its shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
type Answer = { result: string; arguments: Record<string, Json>; tag?: number };

/** A Transmission client by hand: Basic auth, and the session id learnt from the first 409. */
class Rpc {
  sessionId = '';
  constructor(
    readonly url: string,
    readonly authorization: string | undefined = basic(USER, PASS),
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.authorization && { Authorization: this.authorization }), 'X-Transmission-Session-Id': this.sessionId, 'Content-Type': 'application/json', ...extra };
  }

  async post(body: string): Promise<Response> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await fetch(this.url, { method: 'POST', headers: this.headers(), body });
      if (res.status !== 409) return res;
      this.sessionId = res.headers.get('x-transmission-session-id') ?? '';
      await res.text();
    }
    throw new Error('409 twice: the session id handed out was not taken');
  }

  async call(method: string, args?: Record<string, unknown>, tag?: number): Promise<Answer> {
    const res = await this.post(JSON.stringify({ method, ...(args && { arguments: args }), ...(tag !== undefined && { tag }) }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    return (await res.json()) as Answer;
  }

  /** A call that must succeed; answers its arguments. */
  async ok(method: string, args?: Record<string, unknown>): Promise<Record<string, Json>> {
    const a = await this.call(method, args);
    expect(a.result, `${method} ${JSON.stringify(args)}`).toBe('success');
    return a.arguments;
  }

  async torrents(fields: string[], ids?: unknown): Promise<Record<string, Json>[]> {
    return (await this.ok('torrent-get', { fields, ...(ids !== undefined && { ids }) })).torrents;
  }
}

function basic(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

interface Running {
  backend: MemoryControlBackend;
  auth: WebAuth;
  url: string;
  rpc: Rpc;
  close(): Promise<void>;
}

async function start(o: { dht?: boolean } = {}): Promise<Running> {
  const backend = new MemoryControlBackend(DATA);
  const auth = new WebAuth({ username: USER, password: PASS });
  const ctx: WebApiContext = { backend, auth, dataDir: DATA, dht: o.dht, version: '0.1.0-test', log: silentLogger, now: Date.now, fetchTorrent: (url) => fetchTorrentFile(url), freeSpace: async () => FREE };
  const server: WebServer = await startWebServer({ host: '127.0.0.1', port: 0, apis: [createTransmissionApi(ctx)], log: silentLogger });
  const url = `http://127.0.0.1:${server.port}/transmission/rpc`;
  return { backend, auth, url, rpc: new Rpc(url), close: () => server.close() };
}

let s: Running;
beforeEach(async () => {
  s = await start();
});
afterEach(async () => {
  await s.close();
});

describe('HTTP: the login, the session id and broken requests', () => {
  it('asks for Basic auth (401 with the realm), then hands out the session id with a 409, and takes only POST', async () => {
    const bare = await fetch(s.url, { method: 'POST', body: '{"method":"session-get"}' });
    expect(bare.status).toBe(401);
    expect(bare.headers.get('www-authenticate')).toBe('Basic realm="Transmission"');
    const get = await fetch(s.url, { headers: { Authorization: basic(USER, PASS) } });
    expect(get.status).toBe(409);
    expect(get.headers.get('x-transmission-session-id')).toBe(s.auth.transmissionSessionId);
    expect(await get.text()).toContain(`<code>X-Transmission-Session-Id: ${s.auth.transmissionSessionId}</code>`);
    const wrong = await fetch(s.url, { method: 'POST', headers: { Authorization: basic(USER, PASS), 'X-Transmission-Session-Id': 'not-it' }, body: '{"method":"session-get"}' });
    expect(wrong.status).toBe(409);
    expect(wrong.headers.get('x-transmission-session-id')).toBe(s.auth.transmissionSessionId);
    const getWithId = await fetch(s.url, { headers: { Authorization: basic(USER, PASS), 'X-Transmission-Session-Id': s.auth.transmissionSessionId } });
    expect(getWithId.status).toBe(405);
    expect(await s.rpc.call('session-get', { fields: ['rpc-version'] })).toEqual({ result: 'success', arguments: { 'rpc-version': 17 } });
  });

  it('bans an address after five wrong passwords (403), even for the right one, and keeps serving others', async () => {
    const wrong = new Rpc(s.url, basic(USER, 'wrong'));
    for (let i = 1; i <= 4; i++) expect((await wrong.post('{"method":"session-get"}')).status).toBe(401);
    expect((await wrong.post('{"method":"session-get"}')).status).toBe(403);
    expect((await s.rpc.post('{"method":"session-get"}')).status).toBe(403);
    expect(s.auth.isBanned('127.0.0.1')).toBe(true);
  });

  it('answers malformed JSON, a missing or unknown method, bad ids and bad arguments with a result sentence, and keeps serving', async () => {
    const notJson = await s.rpc.post('{"method": "session-get"');
    expect(notJson.status).toBe(200);
    expect(((await notJson.json()) as Answer).result).toMatch(/^no method name: the request is not JSON/);
    expect(await s.rpc.call('torrent-frobnicate', {}, 7)).toEqual({ result: 'method name not recognized', arguments: {}, tag: 7 });
    expect(((await (await s.rpc.post('{"tag": 3}')).json()) as Answer).result).toBe('no method name');
    expect(((await (await s.rpc.post('[1,2]')).json()) as Answer).result).toMatch(/must be a JSON object/);
    expect((await s.rpc.call('torrent-get', { fields: ['id'], ids: [1.5] })).result).toMatch(/^ids\[0\] must be a torrent id/);
    expect((await s.rpc.call('torrent-get', { fields: ['id'], ids: 'abc' })).result).toMatch(/^ids must be a torrent id .* \(got "abc"\)/);
    expect((await s.rpc.call('torrent-get', { fields: ['id'], ids: { a: 1 } })).result).toMatch(/^ids must be/);
    expect((await s.rpc.call('torrent-get', { ids: [1] })).result).toBe('no fields specified');
    expect((await s.rpc.call('torrent-set', { downloadLimit: '100' })).result).toBe('argument "downloadLimit" must be a whole number (got "100")');
    expect((await s.rpc.call('session-get', { fields: ['version'], 'no-such-argument': true })).result).toBe('success');
    // A well-formed id naming no torrent is skipped, as in Transmission.
    expect(await s.rpc.torrents(['id'], [99, 'ABCDEF0123456789ABCDEF0123456789ABCDEF01'])).toEqual([]);
    expect(await s.rpc.call('session-get', { fields: ['rpc-version-minimum'] }, 9)).toEqual({ result: 'success', arguments: { 'rpc-version-minimum': 14 }, tag: 9 });
  });
});

describe("Sonarr's calls, as its TransmissionProxy makes them", () => {
  it('the 409, session-get, torrent-add with labels and download-dir, torrent-get polling, seed limits, queue, the imported label, torrent-remove', async () => {
    const auth = basic(USER, PASS);
    const bare = await fetch(s.url, { headers: { Authorization: auth } });
    expect(bare.status).toBe(409);
    const rpc = new Rpc(s.url, auth);
    rpc.sessionId = bare.headers.get('x-transmission-session-id')!;

    const session = await rpc.ok('session-get');
    expect(session).toMatchObject({ 'rpc-version': 17, 'rpc-version-minimum': 14, 'download-dir': DATA, seedRatioLimited: false, 'idle-seeding-limit-enabled': false });
    expect(session.version).toBe('4.0.6 (seedbox 0.1.0-test)');
    // Sonarr's version check reads the first number outside parentheses.
    expect(/(?<!\(|(\d|\.)+)(\d|\.)+(?!\)|(\d|\.)+)/.exec(session.version)![0]).toBe('4.0.6');

    const dir = `${DATA}/tv-sonarr`;
    const added = await rpc.ok('torrent-add', { metainfo: SINGLE.toString('base64'), paused: false, 'download-dir': dir, labels: ['tv-sonarr'] });
    const record = s.backend.records.get(SINGLE_HASH)!;
    expect(added).toEqual({ 'torrent-added': { id: record.id, name: 'single.bin', hashString: SINGLE_HASH } });
    expect(record.settings.tags).toEqual(['tv-sonarr']);
    expect(record.savePath).toBe(dir);
    expect(record.desired).toBe('running');

    const hash = SINGLE_HASH;
    const seed = await rpc.call('torrent-set', { ids: [hash], seedRatioLimit: 1.5, seedRatioMode: 1, seedIdleLimit: 60, seedIdleMode: 1 });
    expect(seed.result).toBe('success');
    expect(record.settings.share).toMatchObject({ ratio: 1.5, inactiveMinutes: 60 });
    expect((await rpc.call('queue-move-top', { ids: [hash] })).result).toBe('success');

    const fields = ['id', 'hashString', 'name', 'downloadDir', 'totalSize', 'leftUntilDone', 'isFinished', 'eta', 'status', 'secondsDownloading', 'secondsSeeding', 'errorString', 'uploadedEver', 'downloadedEver', 'seedRatioLimit', 'seedRatioMode', 'seedIdleLimit', 'seedIdleMode', 'fileCount', 'file-count', 'labels'];
    s.backend.setStats(hash, { downloadRate: 10_000, left: 30_000, eta: 3, peers: 4, seeds: 2 });
    let [t] = await rpc.torrents(fields);
    expect(Object.keys(t!).sort()).toEqual([...fields].sort());
    expect(t).toMatchObject({ id: record.id, hashString: hash, name: 'single.bin', downloadDir: dir, totalSize: 65537, leftUntilDone: 30_000, isFinished: false, eta: 3, status: 4, errorString: '' });
    expect(t).toMatchObject({ seedRatioLimit: 1.5, seedRatioMode: 1, seedIdleLimit: 60, seedIdleMode: 1, fileCount: 1, 'file-count': 1, labels: ['tv-sonarr'] });

    s.backend.setStats(hash, { left: 0, complete: true, state: 'seeding', uploadRate: 5000 });
    record.totals = { uploaded: 70_000, downloaded: 65_537, seedingMs: 90_500, activeMs: 200_000, lastActivityAt: Date.now(), completedAt: Date.now() - 90_000 };
    [t] = await rpc.torrents(fields, [hash.toUpperCase()]);
    expect(t).toMatchObject({ leftUntilDone: 0, status: 6, eta: -1, secondsSeeding: 90, secondsDownloading: 109, uploadedEver: 70_000, downloadedEver: 65_537 });

    // MarkItemAsImported: the labels replaced, the category label swapped for the imported one.
    expect((await rpc.call('torrent-set', { ids: [hash], labels: ['tv-imported'] })).result).toBe('success');
    expect(record.settings.tags).toEqual(['tv-imported']);
    // The same file again is a duplicate, still "success", and changes nothing.
    expect(await rpc.ok('torrent-add', { metainfo: SINGLE.toString('base64'), labels: ['other'] })).toEqual({ 'torrent-duplicate': { id: record.id, name: 'single.bin', hashString: hash } });
    expect(record.settings.tags).toEqual(['tv-imported']);

    expect((await rpc.call('torrent-remove', { ids: [hash], 'delete-local-data': true })).result).toBe('success');
    expect(s.backend.removed).toEqual([{ infoHashHex: hash, deleteData: true }]);
    expect(await rpc.torrents(fields)).toEqual([]);
  });
});

describe('session-get, session-set, session-stats, free-space', () => {
  it('speeds in kB/s of 1000 bytes, seeding limits and queues onto the fleet config; the fields filter', async () => {
    const set = (args: Record<string, unknown>) => s.rpc.call('session-set', args);
    expect((await set({ 'speed-limit-down': 500, 'speed-limit-down-enabled': true, 'speed-limit-up': 20, 'alt-speed-up': 100, 'alt-speed-enabled': true })).result).toBe('success');
    expect(s.backend.fleetConfig).toMatchObject({ speed: { download: 500_000, upload: 20_000 }, altSpeed: { upload: 100_000 }, altSpeedEnabled: true });
    expect((await set({ seedRatioLimit: 2, seedRatioLimited: true, 'idle-seeding-limit': 30, 'idle-seeding-limit-enabled': true })).result).toBe('success');
    expect(s.backend.fleetConfig.share).toMatchObject({ ratio: 2, inactiveMinutes: 30 });
    expect((await set({ 'download-queue-size': 4, 'download-queue-enabled': true, 'queue-stalled-minutes': 5 })).result).toBe('success');
    expect(s.backend.fleetConfig.queue).toMatchObject({ enabled: true, maxActiveDownloads: 4, slowSeconds: 300 });

    const got = await s.rpc.ok('session-get', { fields: ['speed-limit-down', 'speed-limit-down-enabled', 'alt-speed-up', 'seedRatioLimit', 'seedRatioLimited', 'download-queue-enabled', 'download-queue-size', 'seed-queue-enabled', 'units', 'no-such-field'] });
    expect(got).toEqual({
      'speed-limit-down': 500,
      'speed-limit-down-enabled': true,
      'alt-speed-up': 100,
      seedRatioLimit: 2,
      seedRatioLimited: true,
      'download-queue-enabled': true,
      'download-queue-size': 4,
      'seed-queue-enabled': true,
      units: { 'speed-units': ['kB/s', 'MB/s', 'GB/s', 'TB/s'], 'speed-bytes': 1000, 'size-units': ['kB', 'MB', 'GB', 'TB'], 'size-bytes': 1000, 'memory-units': ['KiB', 'MiB', 'GiB', 'TiB'], 'memory-bytes': 1024 },
    });

    // Off is "none" in seedbox: the limits go, and read back as off.
    expect((await set({ 'speed-limit-down-enabled': false, seedRatioLimited: false, 'download-queue-enabled': false, 'seed-queue-enabled': false })).result).toBe('success');
    expect(s.backend.fleetConfig).toMatchObject({ speed: { download: 0 }, share: { ratio: NO_LIMIT }, queue: { enabled: false, maxActiveDownloads: -1, maxActiveSeeds: -1 } });
    expect(await s.rpc.ok('session-get', { fields: ['speed-limit-down-enabled', 'seedRatioLimit', 'seedRatioLimited', 'download-queue-enabled'] })).toEqual({
      'speed-limit-down-enabled': false,
      seedRatioLimit: -1,
      seedRatioLimited: false,
      'download-queue-enabled': false,
    });

    const all = await s.rpc.ok('session-get');
    // DHT: no switch in the config, this process's own (SEEDBOX_DHT's default here, on).
    expect(all).toMatchObject({ 'dht-enabled': true, 'pex-enabled': true, 'utp-enabled': false, 'session-id': s.auth.transmissionSessionId, 'download-dir-free-space': FREE, 'rpc-version-semver': '5.3.0' });
    // No policy in the config: this process's own (the engine's default here, prefer).
    expect(all.encryption).toBe('preferred');
  });

  it('encryption: the fleet policy as Transmission names it, set with session-set', async () => {
    const encryption = async () => (await s.rpc.ok('session-get', { fields: ['encryption'] })).encryption;
    for (const [mode, tr] of [
      ['require', 'required'],
      ['disable', 'tolerated'],
      ['prefer', 'preferred'],
    ] as const) {
      expect(await s.rpc.ok('session-set', { encryption: tr })).toEqual({});
      expect(s.backend.fleetConfig.encryption).toBe(mode);
      expect(await encryption()).toBe(tr);
    }
    const before = structuredClone(s.backend.fleetConfig);
    expect((await s.rpc.call('session-set', { encryption: 'always' })).result).toBe('encryption must be "required", "preferred" or "tolerated" (got "always")');
    expect((await s.rpc.call('session-set', { encryption: 2 })).result).toMatch(/^argument "encryption" must be/);
    expect(s.backend.fleetConfig).toEqual(before);
  });

  it("dht-enabled: this process's SEEDBOX_DHT until the fleet switches it, then the fleet's, set with session-set", async () => {
    await s.close();
    s = await start({ dht: false });
    const dht = async () => (await s.rpc.ok('session-get', { fields: ['dht-enabled'] }))['dht-enabled'];
    expect(await dht()).toBe(false);
    expect(s.backend.fleetConfig.dht).toBeUndefined();
    for (const on of [true, false, true]) {
      expect(await s.rpc.ok('session-set', { 'dht-enabled': on })).toEqual({});
      expect(s.backend.fleetConfig.dht).toBe(on);
      expect(await dht()).toBe(on);
    }
    const before = structuredClone(s.backend.fleetConfig);
    expect((await s.rpc.call('session-set', { 'dht-enabled': 'no', 'speed-limit-up': 77 })).result).toMatch(/^argument "dht-enabled" must be true or false/);
    expect(s.backend.fleetConfig).toEqual(before);
  });

  it('refuses what seedbox has not got, naming why, and changes nothing', async () => {
    await s.backend.updateConfig({ queue: { maxActiveDownloads: -1 } });
    const before = structuredClone(s.backend.fleetConfig);
    const refused = async (args: Record<string, unknown>) => (await s.rpc.call('session-set', { 'speed-limit-up': 77, ...args })).result;
    expect(await refused({ 'lpd-enabled': true })).toBe('lpd-enabled cannot be true: seedbox has no local peer discovery');
    expect(await refused({ 'pex-enabled': false })).toBe('pex-enabled cannot be false: seedbox exchanges peers (PEX) for every public torrent, and never for a private one');
    expect(await refused({ 'peer-port': 51413 })).toBe('peer-port is set by SEEDBOX_LISTEN_PORT (--listen-port), not over RPC');
    expect(await refused({ 'download-dir': '/elsewhere' })).toMatch(/^download-dir cannot be \/elsewhere/);
    expect(await refused({ 'speed-limit-down': 0, 'speed-limit-down-enabled': true })).toMatch(/^speed-limit: speed-limit-down 0 with the limit on would stop all transfer/);
    expect(await refused({ 'speed-limit-up': -5 })).toMatch(/^speed-limit: speed-limit-up must be a whole number of kB\/s/);
    expect(await refused({ 'download-queue-enabled': true })).toMatch(/^queue-limit: download-queue-enabled needs a download-queue-size/);
    expect(await refused({ seedRatioLimit: -7 })).toMatch(/^share-limit: the global ratio limit must be/);
    expect(s.backend.fleetConfig).toEqual(before);
    // What seedbox does is accepted: off stays off, on stays on.
    expect((await s.rpc.call('session-set', { 'lpd-enabled': false, 'pex-enabled': true, 'download-dir': DATA })).result).toBe('success');
  });

  it('session-stats counts, speeds and totals; free-space inside the data folder only; the methods seedbox cannot do', async () => {
    await s.backend.add(SINGLE, { paused: false });
    await s.backend.add(MULTI, { paused: true });
    s.backend.records.get(SINGLE_HASH)!.totals = { uploaded: 1000, downloaded: 3000, seedingMs: 0, activeMs: 0, lastActivityAt: 0, completedAt: 0 };
    s.backend.records.get(MULTI_HASH)!.totals = { uploaded: 500, downloaded: 0, seedingMs: 0, activeMs: 0, lastActivityAt: 0, completedAt: 0 };
    s.backend.setStats(SINGLE_HASH, { downloadRate: 1200.4, uploadRate: 300, downloaded: 2000, uploaded: 100 });
    const stats = await s.rpc.ok('session-stats');
    expect(stats).toMatchObject({ activeTorrentCount: 1, pausedTorrentCount: 1, torrentCount: 2, downloadSpeed: 1200, uploadSpeed: 300 });
    expect(stats['cumulative-stats']).toEqual({ uploadedBytes: 1500, downloadedBytes: 3000, filesAdded: 2 });
    expect(stats['current-stats']).toMatchObject({ uploadedBytes: 100, downloadedBytes: 2000, filesAdded: 2, sessionCount: 1 });

    expect(await s.rpc.ok('free-space', { path: `${DATA}/tv` })).toEqual({ path: `${DATA}/tv`, 'size-bytes': FREE });
    expect((await s.rpc.call('free-space', { path: '/etc' })).result).toMatch(/^save-path: the save folder \/etc is outside the data folder/);
    expect((await s.rpc.call('free-space', { path: 'tv' })).result).toBe('directory path is not absolute');
    expect((await s.rpc.call('blocklist-update')).result).toMatch(/no blocklist/);
    expect((await s.rpc.call('port-test')).result).toMatch(/^port-test cannot be done/);
    expect((await s.rpc.call('session-close')).result).toMatch(/^session-close cannot be done/);
    expect(await s.rpc.ok('group-get')).toEqual({ group: [] });
  });
});

describe('torrent-get', () => {
  it('hides padding files, counts progress from the bitfield, and answers pieces, trackers and the table format', async () => {
    await s.backend.add(PADDED, { paused: true });
    const id = s.backend.records.get(PADDED_HASH)!.id;
    // Pieces 0 and 1 verified: README.txt (piece 0) and 日本語.txt (piece 1) whole; no figures from any worker.
    s.backend.bitfields.set(PADDED_HASH, Uint8Array.of(0b1100_0000));
    const [t] = await s.rpc.torrents(['id', 'file-count', 'files', 'fileStats', 'wanted', 'priorities', 'totalSize', 'sizeWhenDone', 'leftUntilDone', 'haveValid', 'percentDone', 'pieces', 'pieceCount', 'pieceSize', 'status', 'eta', 'metadataPercentComplete'], id);
    const names = ['tree/README.txt', 'tree/empty.dat', 'tree/naïve/日本語.txt', 'tree/src/lib/deep/x.bin', 'tree/src/main.bin', 'tree/Ελληνικά.bin'];
    expect(t!.files).toEqual([
      { name: names[0], length: 1000, bytesCompleted: 1000 },
      { name: names[1], length: 0, bytesCompleted: 0 },
      { name: names[2], length: 5000, bytesCompleted: 5000 },
      { name: names[3], length: 30000, bytesCompleted: 0 },
      { name: names[4], length: 40000, bytesCompleted: 0 },
      { name: names[5], length: 4000, bytesCompleted: 0 },
    ]);
    expect(t).toMatchObject({ id, 'file-count': 6, totalSize: 80_000, sizeWhenDone: 80_000, leftUntilDone: 74_000, haveValid: 6000, percentDone: 6000 / 80_000, pieceCount: 8, pieceSize: 16384, status: 0, eta: -1, metadataPercentComplete: 1 });
    expect(Buffer.from(t!.pieces, 'base64')).toEqual(Buffer.of(0b1100_0000));
    expect(t!.wanted).toEqual([1, 1, 1, 1, 1, 1]);

    await s.backend.add(MULTI, { paused: false });
    const [m] = await s.rpc.torrents(['trackers', 'trackerStats', 'trackerList', 'magnetLink', 'webseeds', 'comment', 'creator', 'isPrivate', 'no-such-field'], [MULTI_HASH]);
    expect(m!.trackers).toEqual([
      { announce: 'http://a.example/announce', id: 0, scrape: 'http://a.example/scrape', tier: 0 },
      { announce: 'http://b.example/announce', id: 1, scrape: 'http://b.example/scrape', tier: 0 },
      { announce: 'udp://c.example:6969/announce', id: 2, scrape: 'udp://c.example:6969/announce', tier: 1 },
    ]);
    // Before any announce: nothing heard, the first tier's first tracker queued, the rest waiting on it.
    expect(m!.trackerStats[2]).toEqual({
      announce: 'udp://c.example:6969/announce',
      announceState: 0,
      downloadCount: -1,
      hasAnnounced: false,
      hasScraped: false,
      host: 'udp://c.example:6969',
      id: 2,
      isBackup: false,
      lastAnnouncePeerCount: 0,
      lastAnnounceResult: '',
      lastAnnounceStartTime: 0,
      lastAnnounceSucceeded: false,
      lastAnnounceTime: 0,
      lastAnnounceTimedOut: false,
      lastScrapeResult: '',
      lastScrapeStartTime: 0,
      lastScrapeSucceeded: false,
      lastScrapeTime: 0,
      lastScrapeTimedOut: false,
      leecherCount: -1,
      nextAnnounceTime: 0,
      nextScrapeTime: 0,
      scrape: 'udp://c.example:6969/announce',
      scrapeState: 0,
      seederCount: -1,
      tier: 1,
    });
    expect(m!.trackerStats.map((t: Json) => [t.announceState, t.isBackup])).toEqual([
      [2, false],
      [0, true],
      [0, false],
    ]);
    expect(m!.trackerList).toBe('http://a.example/announce\nhttp://b.example/announce\n\nudp://c.example:6969/announce');
    expect(m!.magnetLink).toBe(
      `magnet:?xt=urn:btih:${MULTI_HASH}&dn=tree&tr=http%3A%2F%2Fa.example%2Fannounce&tr=http%3A%2F%2Fb.example%2Fannounce&tr=udp%3A%2F%2Fc.example%3A6969%2Fannounce&ws=http%3A%2F%2Fseed.example%2Ffiles%2F`,
    );
    expect(m).toMatchObject({ webseeds: ['http://seed.example/files/'], comment: 'multi-file fixture', creator: 'mktorrent 1.1', isPrivate: false });
    expect(m).not.toHaveProperty('no-such-field');

    const table = (await s.rpc.ok('torrent-get', { fields: ['id', 'name', 'bogus', 'hashString'], format: 'table' })).torrents;
    expect(table).toEqual([
      ['id', 'name', 'hashString'],
      [id, 'tree', PADDED_HASH],
      [s.backend.records.get(MULTI_HASH)!.id, 'tree', MULTI_HASH],
    ]);
  });

  it('trackerStats from what each tracker answered and each scrape said; the torrent error from a refusal or a warning, a local error first', async () => {
    await s.backend.add(MULTI, { paused: false });
    const r = s.backend.records.get(MULTI_HASH)!;
    s.backend.setStats(MULTI_HASH, { state: 'downloading' });
    const now = Date.now();
    const sec = (ms: number): number => Math.floor(ms / 1000);
    s.backend.trackerStatus.set(MULTI_HASH, [
      { url: 'http://a.example/announce', lastAnnounceStartAt: now - 61_000, lastAnnounceAt: now - 60_000, ok: false, failure: 'timeout', error: 'no answer in 15 s', nextAnnounceAt: now + 1_740_000 },
      // b's counts came with a scrape after its announce (the tracker-client keeps the newest).
      { url: 'http://b.example/announce', lastAnnounceStartAt: now - 59_000, lastAnnounceAt: now - 58_000, ok: true, peers: 7, seeders: 5, leechers: 2, downloaded: 30, nextAnnounceAt: now + 1_740_000, lastScrapeStartAt: now - 31_000, lastScrapeAt: now - 30_000, scrapeOk: true, nextScrapeAt: now + 1_500_000 },
      // c's last scrape timed out, and the next sweep is due.
      { url: 'udp://c.example:6969/announce', lastAnnounceStartAt: now - 9_000, lastAnnounceAt: now - 8_000, ok: false, failure: 'refused', error: 'Unregistered torrent', lastScrapeStartAt: now - 20_000, lastScrapeAt: now - 5_000, scrapeOk: false, scrapeError: 'timed out: no reply within 15 s', nextScrapeAt: now - 1_000 },
    ]);
    const get = async (): Promise<Json> => (await s.rpc.torrents(['trackerStats', 'error', 'errorString'], [MULTI_HASH]))[0];
    const t = await get();
    // Tier 0 uses b now (it answered last there); a is its backup.
    expect(t.trackerStats[0]).toMatchObject({ isBackup: true, announceState: 0, hasAnnounced: true, lastAnnounceSucceeded: false, lastAnnounceTimedOut: true, lastAnnounceResult: 'no answer in 15 s', nextAnnounceTime: 0 });
    // Never scraped: the scrape fields say so.
    expect(t.trackerStats[0]).toMatchObject({ hasScraped: false, lastScrapeTime: 0, lastScrapeStartTime: 0, lastScrapeSucceeded: false, lastScrapeResult: '', lastScrapeTimedOut: false, scrapeState: 0, nextScrapeTime: 0 });
    expect(t.trackerStats[1]).toMatchObject({
      isBackup: false,
      announceState: 1,
      hasAnnounced: true,
      lastAnnounceSucceeded: true,
      lastAnnounceResult: 'Success',
      lastAnnouncePeerCount: 7,
      lastAnnounceStartTime: sec(now - 59_000),
      lastAnnounceTime: sec(now - 58_000),
      nextAnnounceTime: sec(now + 1_740_000),
      seederCount: 5,
      leecherCount: 2,
      downloadCount: 30,
      hasScraped: true,
      lastScrapeStartTime: sec(now - 31_000),
      lastScrapeTime: sec(now - 30_000),
      lastScrapeSucceeded: true,
      lastScrapeResult: '',
      lastScrapeTimedOut: false,
      scrapeState: 1,
      nextScrapeTime: sec(now + 1_500_000),
    });
    expect(t.trackerStats[2]).toMatchObject({ isBackup: false, announceState: 2, lastAnnounceSucceeded: false, lastAnnounceTimedOut: false, lastAnnounceResult: 'Unregistered torrent', seederCount: -1 });
    expect(t.trackerStats[2]).toMatchObject({
      hasScraped: true,
      lastScrapeStartTime: sec(now - 20_000),
      lastScrapeTime: sec(now - 5_000),
      lastScrapeSucceeded: false,
      lastScrapeResult: 'timed out: no reply within 15 s',
      lastScrapeTimedOut: true,
      scrapeState: 2,
      nextScrapeTime: 0,
    });
    // The last word came from c, a refusal: Transmission's tracker error.
    expect(t).toMatchObject({ error: 2, errorString: 'Unregistered torrent' });
    // A working answer with a warning after it: a tracker warning.
    // (An announce keeps what the last scrape said, as the tracker-client's book does.)
    const b = s.backend.trackerStatus.get(MULTI_HASH)![1]!;
    s.backend.trackerStatus.get(MULTI_HASH)!.push({ ...b, lastAnnounceStartAt: now - 1000, lastAnnounceAt: now, ok: true, warning: 'slow down' });
    s.backend.trackerStatus.set(MULTI_HASH, s.backend.trackerStatus.get(MULTI_HASH)!.filter((x, i, all) => all.findLastIndex((y) => y.url === x.url) === i));
    expect(await get()).toMatchObject({ error: 1, errorString: 'slow down' });
    // A local error wins.
    r.error = 'the files cannot be created: EACCES';
    expect(await get()).toMatchObject({ error: 3, errorString: 'the files cannot be created: EACCES' });
    // Stopped: no updates scheduled for any tracker, announce or scrape; what the last scrape said stays.
    r.error = undefined;
    r.desired = 'paused';
    const stopped = (await get()).trackerStats;
    expect(stopped.map((x: Json) => [x.announceState, x.scrapeState, x.nextScrapeTime])).toEqual([
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(stopped.map((x: Json) => x.hasScraped)).toEqual([false, true, true]);
  });

  it('peers, and how many send to us and take from us, from the figures and the workers', async () => {
    await s.backend.add(SINGLE, { paused: false });
    s.backend.setStats(SINGLE_HASH, { state: 'downloading', peers: 2, peersSending: 1, peersGetting: 1 });
    const base: PeerInfo = { host: '10.0.0.9', port: 51413, client: 'libtorrent/2.0.8.0', peerIdClient: 'libtorrent (Rasterbar) 2.0.8', incoming: false, amChoking: true, amInterested: true, peerChoking: false, peerInterested: false, optimistic: false, snubbed: false, progress: 1, relevance: 1, downloadRate: 65536.4, uploadRate: 0, downloaded: 1 << 20, uploaded: 0 };
    s.backend.connectedPeers.set(SINGLE_HASH, [
      { ...base, encryption: 'handshake' },
      { ...base, host: '::1', port: 6881, incoming: true, amInterested: false, peerChoking: true, peerInterested: true, amChoking: false, optimistic: true, downloadRate: 0, uploadRate: 999, progress: 0.25, client: 'Transmission 4.0.6', encryption: 'rc4' },
    ]);
    const [t] = await s.rpc.torrents(['peers', 'peersConnected', 'peersSendingToUs', 'peersGettingFromUs']);
    expect(t).toMatchObject({ peersConnected: 2, peersSendingToUs: 1, peersGettingFromUs: 1 });
    expect(t!.peers).toEqual([
      { address: '10.0.0.9', port: 51413, clientName: 'libtorrent/2.0.8.0', clientIsChoked: false, clientIsInterested: true, peerIsChoked: true, peerIsInterested: false, flagStr: 'D', isDownloadingFrom: true, isUploadingTo: false, isEncrypted: false, isIncoming: false, isUTP: false, progress: 1, rateToClient: 65536, rateToPeer: 0 },
      { address: '::1', port: 6881, clientName: 'Transmission 4.0.6', clientIsChoked: true, clientIsInterested: false, peerIsChoked: false, peerIsInterested: true, flagStr: 'OUEI', isDownloadingFrom: false, isUploadingTo: true, isEncrypted: true, isIncoming: true, isUTP: false, progress: 0.25, rateToClient: 0, rateToPeer: 999 },
    ]);
    // Paused: the last figures are stale, nobody sends or takes.
    s.backend.records.get(SINGLE_HASH)!.desired = 'paused';
    expect((await s.rpc.torrents(['peersSendingToUs', 'peersGettingFromUs']))[0]).toEqual({ peersSendingToUs: 0, peersGettingFromUs: 0 });
  });

  it('status, eta, error and stalled from the record and the figures', async () => {
    await s.backend.add(SINGLE, { paused: false });
    const r = s.backend.records.get(SINGLE_HASH)!;
    const get = async () => (await s.rpc.torrents(['status', 'eta', 'error', 'errorString', 'isStalled', 'isFinished', 'rateDownload', 'peersConnected', 'queuePosition']))[0]!;
    // Running, and no worker has said anything yet: downloading, time left unknown.
    expect(await get()).toMatchObject({ status: 4, eta: -2, error: 0, errorString: '', isStalled: false, queuePosition: 0 });
    s.backend.setStats(SINGLE_HASH, { state: 'downloading', downloadRate: 0, peers: 3 });
    expect(await get()).toMatchObject({ status: 4, eta: -2, isStalled: true, peersConnected: 3 });
    s.backend.setStats(SINGLE_HASH, { state: 'downloading', downloadRate: 2048.6, eta: 31.4 });
    expect(await get()).toMatchObject({ status: 4, eta: 31, isStalled: false, rateDownload: 2049 });
    s.backend.setStats(SINGLE_HASH, { state: 'checking' });
    expect((await get()).status).toBe(2);
    r.queued = true;
    expect((await get()).status).toBe(3);
    s.backend.setStats(SINGLE_HASH, { left: 0, complete: true });
    expect((await get()).status).toBe(5);
    r.queued = false;
    r.error = 'the files cannot be created: EACCES';
    expect(await get()).toMatchObject({ status: 0, error: 3, errorString: 'the files cannot be created: EACCES' });
    r.error = undefined;
    r.desired = 'paused';
    r.limitReached = 'ratio';
    expect(await get()).toMatchObject({ status: 0, isFinished: true, error: 0 });
  });

  it('recently-active: new and changed torrents, and the ids removed here or elsewhere', async () => {
    await s.backend.add(SINGLE, { paused: false });
    await s.backend.add(MULTI, { paused: false });
    const one = s.backend.records.get(SINGLE_HASH)!;
    const two = s.backend.records.get(MULTI_HASH)!;
    const recent = async () => s.rpc.ok('torrent-get', { fields: ['id'], ids: 'recently-active' });
    expect((await recent()).torrents).toEqual([{ id: one.id }, { id: two.id }]);
    one.addedAt = two.addedAt = Date.now() - 120_000;
    expect(await recent()).toEqual({ torrents: [], removed: [] });
    await s.rpc.ok('torrent-stop', { ids: [two.id] });
    expect((await recent()).torrents).toEqual([{ id: two.id }]);
    s.backend.setStats(SINGLE_HASH, { uploadRate: 10 });
    expect((await recent()).torrents).toEqual([{ id: one.id }, { id: two.id }]);
    await s.rpc.ok('torrent-remove', { ids: [one.id] });
    expect(await recent()).toEqual({ torrents: [{ id: two.id }], removed: [one.id] });
    // Removed through another API: seen at the next listing.
    await s.backend.remove(MULTI_HASH, { deleteData: false });
    expect(await recent()).toEqual({ torrents: [], removed: [one.id, two.id] });
  });
});

describe('torrent-set and the torrent actions', () => {
  it('limits in kB/s, seeding modes, labels, sequential, location and queue position onto the torrent; a refusal changes nothing', async () => {
    await s.backend.add(SINGLE, { paused: false });
    await s.backend.add(MULTI, { paused: false });
    const r = s.backend.records.get(SINGLE_HASH)!;
    const set = (args: Record<string, unknown>) => s.rpc.call('torrent-set', { ids: [r.id], ...args });
    expect((await set({ downloadLimit: 300, downloadLimited: true, uploadLimit: 200, uploadLimited: true, sequentialDownload: true, labels: [' a ', 'b'] })).result).toBe('success');
    expect(r.settings).toMatchObject({ limits: { download: 300_000, upload: 200_000 }, sequential: true, tags: ['a', 'b'] });
    const read = async () => (await s.rpc.torrents(['downloadLimit', 'downloadLimited', 'uploadLimited', 'seedRatioMode', 'seedRatioLimit', 'seedIdleMode', 'seedIdleLimit', 'sequentialDownload', 'labels', 'queuePosition'], [r.id]))[0];
    expect(await read()).toMatchObject({ downloadLimit: 300, downloadLimited: true, uploadLimited: true, sequentialDownload: true, labels: ['a', 'b'] });
    expect((await set({ uploadLimited: false, seedRatioMode: 2, seedIdleMode: 1, seedIdleLimit: 10 })).result).toBe('success');
    expect(r.settings).toMatchObject({ limits: { download: 300_000, upload: 0 }, share: { ratio: NO_LIMIT, inactiveMinutes: 10 } });
    await s.backend.updateConfig({ share: { ratio: 3 } });
    expect((await set({ seedRatioMode: 0 })).result).toBe('success');
    expect(r.settings.share.ratio).toBe(USE_GLOBAL);
    // Deferring to the session shows the session's limit.
    expect(await read()).toMatchObject({ uploadLimited: false, seedRatioMode: 0, seedRatioLimit: 3, seedIdleMode: 1, seedIdleLimit: 10 });

    const before = structuredClone(r.settings);
    expect((await set({ downloadLimit: 50, trackerAdd: ['http://x/announce'] })).result).toBe('trackerAdd cannot be set: trackers come from the .torrent file and cannot be edited');
    expect((await set({ downloadLimit: 50, honorsSessionLimits: false })).result).toMatch(/^honorsSessionLimits cannot be false/);
    expect((await set({ downloadLimit: 0, downloadLimited: true })).result).toMatch(/^speed-limit: downloadLimit 0 with the limit on/);
    expect((await set({ seedRatioMode: 1 })).result).toBe('share-limit: seedRatioMode 1 needs seedRatioLimit: the torrent has no limit of its own');
    expect((await set({ labels: ['a,b'] })).result).toMatch(/^tag: a tag must be/);
    expect(r.settings).toEqual(before);

    expect((await set({ location: `${DATA}/done` })).result).toBe('success');
    expect(s.backend.moved).toEqual([{ infoHashHex: SINGLE_HASH, savePath: `${DATA}/done` }]);
    expect((await set({ location: '/outside' })).result).toMatch(/^save-path: the save folder \/outside is outside the data folder/);
    expect((await set({ queuePosition: 0 })).result).toBe('success');
    expect((await read())!.queuePosition).toBe(0);
    expect((await set({ queuePosition: 1 })).result).toBe('success');
    expect((await read())!.queuePosition).toBe(1);
    // The record's queue position is 1-based.
    expect(s.backend.records.get(MULTI_HASH)!.queuePosition).toBe(1);
  });

  it('file selection by the indices torrent-get shows (padding files skipped): unwanted is skip, high is high, low is normal', async () => {
    await s.backend.add(PADDED, { paused: false });
    const r = s.backend.records.get(PADDED_HASH)!;
    const set = (args: Record<string, unknown>) => s.rpc.call('torrent-set', { ids: [PADDED_HASH], ...args });
    expect((await set({ 'files-unwanted': [1, 5], 'priority-high': [3] })).result).toBe('success');
    // Shown files 0..5 are metainfo files 0, 2, 3, 5, 7, 9 (the others are padding).
    expect(r.settings.filePriorities).toEqual(['normal', 'normal', 'skip', 'normal', 'normal', 'high', 'normal', 'normal', 'normal', 'skip', 'normal']);
    const [t] = await s.rpc.torrents(['wanted', 'priorities', 'fileStats', 'sizeWhenDone']);
    expect(t!.wanted).toEqual([1, 0, 1, 1, 1, 0]);
    expect(t!.priorities).toEqual([0, 0, 0, 1, 0, 0]);
    expect(t!.fileStats[3]).toEqual({ bytesCompleted: 0, wanted: true, priority: 1 });
    expect(t!.sizeWhenDone).toBe(80_000 - 4000);
    expect((await set({ 'priority-low': [3], 'files-wanted': [] })).result).toBe('success');
    expect(r.settings.filePriorities).toEqual([]);
    expect((await set({ 'files-unwanted': [6] })).result).toBe('file-index: file 6 does not exist: the torrent has files 0 to 5');
  });

  it('start, stop, start-now, verify, queue moves, set-location, reannounce, remove; rename refused', async () => {
    await s.backend.add(SINGLE, { paused: false });
    await s.backend.add(MULTI, { paused: false });
    const one = s.backend.records.get(SINGLE_HASH)!;
    const two = s.backend.records.get(MULTI_HASH)!;
    await s.rpc.ok('torrent-stop');
    expect([one.desired, two.desired]).toEqual(['paused', 'paused']);
    expect((await s.rpc.torrents(['status'])).map((t) => t.status)).toEqual([0, 0]);
    await s.rpc.ok('torrent-start', { ids: one.id });
    expect([one.desired, two.desired]).toEqual(['running', 'paused']);
    await s.rpc.ok('torrent-start-now', { ids: [MULTI_HASH] });
    expect(two).toMatchObject({ desired: 'running', settings: { forceStart: true } });
    // A plain start of a stopped torrent waits its turn again; a running one is left alone.
    await s.rpc.ok('torrent-start', { ids: [MULTI_HASH] });
    expect(two.settings.forceStart).toBe(true);
    await s.rpc.ok('torrent-stop', { ids: [MULTI_HASH] });
    await s.rpc.ok('torrent-start', { ids: [MULTI_HASH] });
    expect(two).toMatchObject({ desired: 'running', settings: { forceStart: false } });
    await s.rpc.ok('torrent-verify', { ids: [one.id, MULTI_HASH] });
    expect(s.backend.rechecked).toEqual([SINGLE_HASH, MULTI_HASH]);
    await s.rpc.ok('queue-move-bottom', { ids: [one.id] });
    expect([one.queuePosition, two.queuePosition]).toEqual([2, 1]);
    await s.rpc.ok('queue-move-up', { ids: [one.id] });
    expect([one.queuePosition, two.queuePosition]).toEqual([1, 2]);

    expect((await s.rpc.call('torrent-set-location', { ids: [one.id], location: `${DATA}/moved` })).result).toMatch(/^move: false cannot be done for single\.bin/);
    await s.rpc.ok('torrent-set-location', { ids: [one.id], location: `${DATA}/moved`, move: true });
    expect(one.savePath).toBe(`${DATA}/moved`);
    // Already there: nothing to move, with either value of move.
    await s.rpc.ok('torrent-set-location', { ids: [one.id], location: `${DATA}/moved/` });
    expect(s.backend.moved).toHaveLength(1);
    expect((await s.rpc.call('torrent-set-location', { ids: [one.id] })).result).toBe('no location');

    await s.rpc.ok('torrent-reannounce', { ids: [one.id] });
    expect(s.backend.reannounced).toEqual([SINGLE_HASH]);
    s.backend.reannounceError = new ControlError('unavailable', 'the announce cannot be asked for: no tracker-client answered');
    expect((await s.rpc.call('torrent-reannounce', { ids: [one.id] })).result).toMatch(/no tracker-client answered/);
    expect((await s.rpc.call('torrent-rename-path', { ids: [one.id], path: 'single.bin', name: 'x.bin' })).result).toMatch(/^torrent-rename-path cannot be done/);
    await s.rpc.ok('torrent-remove', { ids: [one.id, two.id] });
    expect(s.backend.removed).toEqual([
      { infoHashHex: SINGLE_HASH, deleteData: false },
      { infoHashHex: MULTI_HASH, deleteData: false },
    ]);
    // Removing again: the ids name nothing now, which is no error.
    await s.rpc.ok('torrent-remove', { ids: [one.id] });
  });
});

describe('torrent-add', () => {
  let files: Server;
  let base: string;
  beforeAll(async () => {
    files = createServer((req, res) => {
      if (req.url === '/multi.torrent') res.end(MULTI);
      else {
        res.statusCode = 404;
        res.end('no');
      }
    });
    await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => files.close(() => resolve())));

  it('by URL (fetched here), paused, with files unwanted and labels; by magnet through the backend; and the refusals', async () => {
    const added = await s.rpc.ok('torrent-add', { filename: `${base}/multi.torrent`, paused: true, 'files-unwanted': [0, 3], labels: ['linux'] });
    const r = s.backend.records.get(MULTI_HASH)!;
    expect(added['torrent-added']).toEqual({ id: r.id, name: 'tree', hashString: MULTI_HASH });
    expect(r).toMatchObject({ desired: 'paused', savePath: `${DATA}/${MULTI_HASH}`, settings: { tags: ['linux'], filePriorities: ['skip', 'normal', 'normal', 'skip', 'normal', 'normal'] } });

    expect((await s.rpc.call('torrent-add', { filename: `${base}/missing.torrent` })).result).toMatch(/answered HTTP 404/);
    expect((await s.rpc.call('torrent-add', { metainfo: SINGLE.toString('base64'), 'download-dir': '/downloads' })).result).toMatch(/^save-path: the save folder \/downloads is outside the data folder/);
    expect((await s.rpc.call('torrent-add', { metainfo: Buffer.from('not a torrent').toString('base64') })).result).toMatch(/^malformed torrent file/);
    expect((await s.rpc.call('torrent-add', { filename: `magnet:?xt=urn:btih:${SINGLE_HASH}` })).result).toMatch(/^nowhere to fetch the metadata of [0-9a-f]{40} from: the magnet link has no http, https or udp tracker \(tr\) and no peers \(x\.pe\)$/);
    expect((await s.rpc.call('torrent-add', { filename: `magnet:?xt=urn:btih:${SINGLE_HASH}`, 'files-unwanted': [0] })).result).toMatch(/^file priorities need the file list/);
    expect((await s.rpc.call('torrent-add', { filename: '/home/me/x.torrent' })).result).toMatch(/^filename must be an http\(s\) URL or a magnet link/);
    expect((await s.rpc.call('torrent-add', { filename: `${base}/multi.torrent`, cookies: 'uid=1' })).result).toMatch(/^cookies cannot be sent/);
    expect((await s.rpc.call('torrent-add', { paused: true })).result).toBe('no filename or metainfo specified');
    expect([...s.backend.records.keys()]).toEqual([MULTI_HASH]);

    // A relative download-dir is inside the data folder.
    await s.rpc.ok('torrent-add', { metainfo: SINGLE.toString('base64'), 'download-dir': 'movies' });
    expect(s.backend.records.get(SINGLE_HASH)!.savePath).toBe(`${DATA}/movies`);
  });

  it('a magnet: torrent-added at once with its id, shown as Transmission shows a magnet without metadata until the fleet has it, then as the torrent', async () => {
    const tracker = 'http://t.example/announce';
    const magnet = `magnet:?xt=urn:btih:${MULTI_HASH}&dn=Some%20Tree&tr=${encodeURIComponent(tracker)}`;
    const added = await s.rpc.ok('torrent-add', { filename: magnet, 'download-dir': 'tv', labels: ['tv'] });
    const id = s.backend.records.get(MULTI_HASH)!.id;
    expect(added).toEqual({ 'torrent-added': { id, name: 'Some Tree', hashString: MULTI_HASH } });
    // Again: a duplicate, as for a file.
    expect(await s.rpc.ok('torrent-add', { filename: magnet })).toEqual({ 'torrent-duplicate': { id, name: 'Some Tree', hashString: MULTI_HASH } });
    const fields = ['id', 'name', 'hashString', 'status', 'metadataPercentComplete', 'totalSize', 'sizeWhenDone', 'leftUntilDone', 'percentDone', 'percentComplete', 'files', 'fileStats', 'fileCount', 'priorities', 'wanted', 'pieceCount', 'pieceSize', 'pieces', 'magnetLink', 'trackers', 'trackerList', 'downloadDir', 'labels', 'isPrivate', 'error', 'errorString', 'eta'];
    const [m] = await s.rpc.torrents(fields, [id]);
    expect(m).toEqual({
      id,
      name: 'Some Tree',
      hashString: MULTI_HASH,
      status: 4,
      metadataPercentComplete: 0,
      totalSize: 0,
      sizeWhenDone: 0,
      leftUntilDone: 0,
      percentDone: 0,
      percentComplete: 0,
      files: [],
      fileStats: [],
      fileCount: 0,
      priorities: [],
      wanted: [],
      pieceCount: 0,
      pieceSize: 0,
      pieces: '',
      magnetLink: magnet,
      trackers: [expect.objectContaining({ announce: tracker, tier: 0 })],
      trackerList: tracker,
      downloadDir: `${DATA}/tv`,
      labels: ['tv'],
      isPrivate: false,
      error: 0,
      errorString: '',
      eta: -2,
    });
    // Without a name in the link, the hash is its name, as in Transmission.
    await s.rpc.ok('torrent-add', { filename: `magnet:?xt=urn:btih:${SINGLE_HASH}&x.pe=127.0.0.1:6881`, paused: true });
    const [bare] = await s.rpc.torrents(['name', 'status'], [SINGLE_HASH]);
    expect(bare).toEqual({ name: SINGLE_HASH, status: 0 });
    // A failed attempt is tried again: no error shown, still downloading its metadata.
    s.backend.failMetadata(MULTI_HASH, 'no peer gave the metadata');
    expect((await s.rpc.torrents(['status', 'error'], [id]))[0]).toEqual({ status: 4, error: 0 });
    await s.rpc.ok('torrent-stop', { ids: [id] });
    expect((await s.rpc.torrents(['status'], [id]))[0]).toEqual({ status: 0 });
    await s.rpc.ok('torrent-start', { ids: [id] });

    s.backend.resolveMagnet(MULTI_HASH, MULTI);
    const [done] = await s.rpc.torrents(['id', 'name', 'metadataPercentComplete', 'fileCount', 'labels', 'downloadDir'], [MULTI_HASH]);
    expect(done).toEqual({ id, name: 'tree', metadataPercentComplete: 1, fileCount: 6, labels: ['tv'], downloadDir: `${DATA}/tv` });
  });
});
