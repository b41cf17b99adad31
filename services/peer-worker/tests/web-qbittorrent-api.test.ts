/**
 * The qBittorrent WebAPI over a real HTTP server on 127.0.0.1 and an
 * in-memory backend, driven by the @ctrl/qbittorrent client and by
 * Sonarr's exact calls: what each endpoint answers and what the backend
 * saw, the login rules, magnets awaiting their metadata,
 * sync/maindata's diffs, and bad input.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { QBittorrent } from '@ctrl/qbittorrent';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EncryptionMode } from '@seedbox/cluster';
import { parseMetainfo } from '@seedbox/protocol';
import { silentLogger } from '@seedbox/runtime';
import { ControlError } from '../src/control/backend.js';
import { createQbittorrentApi } from '../src/web/qbittorrent/qbittorrent-api.js';
import { fetchTorrentFile } from '../src/web/torrent-url.js';
import type { WebApiContext } from '../src/web/web-api.js';
import { WebAuth, type WebAuthOptions, type WebCredentials } from '../src/web/web-auth.js';
import { startWebServer, type WebServer } from '../src/web/web-server.js';
import { MemoryControlBackend } from '../../../test/support/memory-control-backend.js';

/** A sync/maindata answer as the test reads it. */
type Maindata = { rid: number; full_update?: boolean; torrents: Record<string, Record<string, unknown>>; [key: string]: unknown };

const fixtures = join(import.meta.dirname, '../../../test/fixtures/torrents');
const fixture = (name: string): Buffer => readFileSync(join(fixtures, name));
const SINGLE = fixture('mktorrent-single.torrent');
const MULTI = fixture('mktorrent-multi.torrent');
const PADDED = fixture('libtorrent-padded.torrent');
const hashOf = (bytes: Uint8Array): string => parseMetainfo(bytes).infoHashHex;

const USER = 'admin';
const PASS = 'correct horse';
const API_KEY = 'qbt_test_key_0123456789';
const DATA = '/srv/seedbox-data';
const FREE_SPACE = 987_654_321;

interface Harness {
  base: string;
  backend: MemoryControlBackend;
  auth: WebAuth;
  /** Where adds by URL fetch from: `${files}/multi.torrent`, `${files}/single.torrent`. */
  files: string;
  close(): Promise<void>;
}

async function startQbt(o: { creds?: WebCredentials; auth?: WebAuthOptions; encryption?: EncryptionMode; dht?: boolean } = {}): Promise<Harness> {
  const backend = new MemoryControlBackend(DATA);
  const auth = new WebAuth(o.creds ?? { username: USER, password: PASS, apiKeys: [API_KEY] }, o.auth);
  const served: Record<string, Uint8Array> = { '/multi.torrent': MULTI, '/single.torrent': SINGLE, '/junk.torrent': Buffer.from('this is no torrent') };
  const fileServer: Server = createServer((req, res) => {
    // An indexer's link that redirects to a magnet link, as Prowlarr's do.
    const magnetRedirect = /^\/magnet\/([0-9a-f]{40})$/.exec(req.url ?? '');
    if (magnetRedirect) return void res.writeHead(302, { Location: `magnet:?xt=urn:btih:${magnetRedirect[1]}&dn=Redirected&tr=http%3A%2F%2Ft.example%2Fannounce` }).end();
    const body = served[req.url ?? ''];
    res.statusCode = body ? 200 : 404;
    res.end(body ?? 'not here');
  });
  await new Promise<void>((resolve) => fileServer.listen(0, '127.0.0.1', resolve));
  const ctx: WebApiContext = {
    backend,
    auth,
    dataDir: DATA,
    encryption: o.encryption,
    dht: o.dht,
    version: '0.1.0-test',
    log: silentLogger,
    now: Date.now,
    fetchTorrent: (url) => fetchTorrentFile(url, { timeoutMs: 5000 }),
    freeSpace: async () => FREE_SPACE,
  };
  const server: WebServer = await startWebServer({ host: '127.0.0.1', port: 0, apis: [createQbittorrentApi(ctx)], log: silentLogger });
  return {
    base: `http://127.0.0.1:${server.port}`,
    backend,
    auth,
    files: `http://127.0.0.1:${(fileServer.address() as AddressInfo).port}`,
    close: async () => {
      await server.close();
      fileServer.closeAllConnections();
      await new Promise<void>((resolve) => fileServer.close(() => resolve()));
    },
  };
}

interface Answer {
  status: number;
  text: string;
  headers: Headers;
  json: () => unknown;
}

/** A WebAPI session by hand, as Sonarr's HttpClient makes one: form posts, the SID cookie kept from Set-Cookie. */
class QbtWire {
  cookie = '';
  headers: Record<string, string> = {};
  constructor(readonly base: string) {}

  async call(path: string, o: { form?: Record<string, string> | FormData; query?: Record<string, string>; method?: string } = {}): Promise<Answer> {
    const url = `${this.base}/api/v2/${path}${o.query ? `?${new URLSearchParams(o.query)}` : ''}`;
    const body = o.form === undefined ? undefined : o.form instanceof FormData ? o.form : new URLSearchParams(o.form);
    const res = await fetch(url, { method: o.method ?? (body ? 'POST' : 'GET'), body, headers: { ...this.headers, ...(this.cookie ? { Cookie: this.cookie } : {}) } });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) this.cookie = setCookie.split(';', 1)[0]!;
    const text = await res.text();
    return { status: res.status, text, headers: res.headers, json: () => JSON.parse(text) };
  }

  async login(user = USER, pass = PASS): Promise<Answer> {
    return this.call('auth/login', { form: { username: user, password: pass } });
  }
}

let h: Harness;
afterEach(async () => {
  await h?.close();
});

/** Marks a torrent complete in the figures, as a worker seeding it reports. */
function seedingNow(backend: MemoryControlBackend, hex: string): void {
  const m = backend.records.get(hex)!.metainfo!;
  backend.setStats(hex, { complete: true, state: 'seeding', left: 0, piecesVerified: m.pieceCount });
  backend.bitfields.set(hex, new Uint8Array(Math.ceil(m.pieceCount / 8)).fill(0xff));
}

describe('@ctrl/qbittorrent against the WebAPI', () => {
  it('logs in, adds a file into a category, lists, reads files, changes the category, stops, starts and deletes with the data', async () => {
    h = await startQbt();
    const qb = new QBittorrent({ baseUrl: `${h.base}/`, username: USER, password: PASS });
    expect(await qb.login()).toBe(true);
    expect(await qb.getAppVersion()).toBe('v5.1.4');
    expect(await qb.getApiVersion()).toBe('2.11.4');
    await qb.createCategory('tv', 'media/tv');
    expect(h.backend.fleetConfig.categories).toEqual({ tv: { savePath: 'media/tv' } });

    await qb.addTorrent(new Uint8Array(MULTI), { category: 'tv', tags: 'one,two', paused: 'true' } as never);
    const hash = hashOf(MULTI);
    const record = h.backend.records.get(hash)!;
    expect(record).toMatchObject({ desired: 'paused', savePath: join(DATA, 'media/tv'), settings: { category: 'tv', tags: ['one', 'two'] } });

    const [listed] = await qb.listTorrents({ category: 'tv' });
    expect(listed).toMatchObject({ hash, name: 'tree', category: 'tv', tags: 'one, two', state: 'stoppedDL', save_path: join(DATA, 'media/tv'), content_path: join(DATA, 'media/tv', 'tree'), total_size: 80000, progress: 0 });
    expect(await qb.listTorrents({ category: '' })).toEqual([]);

    const files = (await qb.torrentFiles(hash)) as unknown as { index: number; name: string; size: number; priority: number }[];
    expect(files.map((f) => [f.index, f.name, f.size, f.priority])).toEqual([
      [0, 'tree/README.txt', 1000, 1],
      [1, 'tree/empty.dat', 0, 1],
      [2, 'tree/naïve/日本語.txt', 5000, 1],
      [3, 'tree/src/lib/deep/x.bin', 30000, 1],
      [4, 'tree/src/main.bin', 40000, 1],
      [5, 'tree/Ελληνικά.bin', 4000, 1],
    ]);

    await qb.setTorrentCategory(hash, '');
    expect(h.backend.records.get(hash)!.settings.category).toBe('');
    await qb.resumeTorrent(hash);
    expect(h.backend.records.get(hash)!.desired).toBe('running');
    seedingNow(h.backend, hash);
    const normalized = await qb.getTorrent(hash);
    expect(normalized).toMatchObject({ id: hash, name: 'tree', progress: 1, isCompleted: true, label: '' });
    await qb.pauseTorrent(hash);
    expect(h.backend.records.get(hash)!.desired).toBe('paused');
    expect((await qb.listTorrents({ hashes: hash }))[0]!.state).toBe('stoppedUP');
    const all = await qb.getAllData();
    expect(all.torrents.map((t) => t.id)).toEqual([hash]);

    await qb.removeTorrent(hash, true);
    expect(h.backend.removed).toEqual([{ infoHashHex: hash, deleteData: true }]);
    expect(await qb.listTorrents()).toEqual([]);
  });

  it('reads sync/maindata: a full update, then only the changed keys, and a full one for an rid it never gave', async () => {
    h = await startQbt();
    const qb = new QBittorrent({ baseUrl: `${h.base}/`, username: USER, password: PASS });
    await qb.addTorrent(new Uint8Array(SINGLE));
    const hash = hashOf(SINGLE);
    const full = (await qb.getSyncMainData(0)) as unknown as Maindata;
    expect(full.full_update).toBe(true);
    expect(full.torrents[hash]).toMatchObject({ name: 'single.bin', state: 'stalledDL', total_size: 65537 });
    expect(full.torrents[hash]).not.toHaveProperty('hash');
    expect(full.server_state).toMatchObject({ free_space_on_disk: FREE_SPACE, queueing: false, use_alt_speed_limits: false, dht_nodes: 0, refresh_interval: 1000 });
    expect(full.trackers).toEqual({ 'http://tracker.example/announce': [hash] });
    expect(full.categories).toEqual({});
    expect(full.tags).toEqual([]);

    await qb.createCategory('films', '');
    await qb.setTorrentCategory(hash, 'films');
    const diff = (await qb.getSyncMainData(full.rid)) as unknown as Maindata;
    expect(diff).toEqual({ rid: diff.rid, torrents: { [hash]: { category: 'films' } }, categories: { films: { name: 'films', savePath: DATA } } });

    h.backend.setStats(hash, { state: 'downloading', downloadRate: 3000, peers: 2, seeds: 1, eta: 20 });
    const moving = (await qb.getSyncMainData(diff.rid)) as unknown as Maindata;
    // A connected seed: a complete copy seen as of the figures' tick.
    const tick = Math.floor(h.backend.stats(hash)!.time / 1000);
    expect(moving.torrents[hash]).toEqual({ state: 'downloading', dlspeed: 3000, num_seeds: 1, num_complete: 1, num_leechs: 1, num_incomplete: 1, eta: 20, seen_complete: tick });
    expect(moving.server_state).toEqual({ dl_info_speed: 3000, connection_status: 'connected', total_peer_connections: 2 });

    await qb.removeTorrent(hash);
    const gone = (await qb.getSyncMainData(moving.rid)) as unknown as Maindata;
    expect(gone).toMatchObject({ torrents_removed: [hash], trackers_removed: ['http://tracker.example/announce'] });
    expect((await qb.getSyncMainData(123)) as unknown as Record<string, unknown>).toMatchObject({ full_update: true, torrents: {} });
  });
});

/**
 * Sonarr's QBittorrentProxyV2 and QBittorrent.cs, call by call, as it
 * tests the connection, adds a release and follows it to the end.
 */
describe("Sonarr's call sequence", () => {
  it('version check, login, preferences, categories, multipart add, polling, properties, files, share limits, top priority, delete', async () => {
    h = await startQbt();
    const q = new QbtWire(h.base);
    // IsApiSupported: unauthenticated, 403 means "v2, log in".
    expect(await q.call('app/webapiVersion')).toMatchObject({ status: 403, text: 'Forbidden' });
    expect(await q.login()).toMatchObject({ status: 200, text: 'Ok.' });
    expect(q.cookie).toMatch(/^SID=.+/);
    expect((await q.call('app/webapiVersion')).text).toBe('2.11.4');
    expect((await q.call('app/version')).text).toBe('v5.1.4');
    const prefs = (await q.call('app/preferences')).json() as Record<string, unknown>;
    expect(prefs).toMatchObject({ save_path: DATA, max_ratio_enabled: false, max_ratio: -1, max_seeding_time_enabled: false, max_seeding_time: -1, max_ratio_act: 0, queueing_enabled: false, dht: true });

    expect((await q.call('torrents/categories')).json()).toEqual({});
    expect((await q.call('torrents/createCategory', { form: { category: 'tv-sonarr' } })).status).toBe(200);
    expect((await q.call('torrents/categories')).json()).toEqual({ 'tv-sonarr': { name: 'tv-sonarr', savePath: DATA } });

    const form = new FormData();
    form.append('torrents', new Blob([SINGLE], { type: 'application/x-bittorrent' }), 'Show.S01E01.torrent');
    form.append('category', 'tv-sonarr');
    // C#'s bool.ToString().
    form.append('stopped', 'False');
    form.append('ratioLimit', '1.5');
    form.append('seedingTimeLimit', '4320');
    const add = await q.call('torrents/add', { form });
    expect(add).toMatchObject({ status: 200, text: 'Ok.' });
    const hash = hashOf(SINGLE);
    expect(h.backend.records.get(hash)!.settings).toMatchObject({ category: 'tv-sonarr', share: { ratio: 1.5, seedingMinutes: 4320, inactiveMinutes: -2 } });
    expect(h.backend.records.get(hash)!.desired).toBe('running');

    // IsTorrentLoaded, then GetTorrents by category.
    expect((await q.call('torrents/properties', { query: { hash } })).status).toBe(200);
    const polling = (await q.call('torrents/info', { query: { category: 'tv-sonarr' } })).json() as Record<string, unknown>[];
    expect(polling).toHaveLength(1);
    expect(polling[0]).toMatchObject({ hash, name: 'single.bin', size: 65537, progress: 0, eta: 8640000, state: 'stalledDL', category: 'tv-sonarr', save_path: DATA, content_path: join(DATA, 'single.bin'), ratio: 0, ratio_limit: 1.5, seeding_time_limit: 4320 });

    seedingNow(h.backend, hash);
    const done = ((await q.call('torrents/info', { query: { category: 'tv-sonarr' } })).json() as Record<string, unknown>[])[0]!;
    expect(done).toMatchObject({ progress: 1, amount_left: 0, state: 'stalledUP' });
    const props = (await q.call('torrents/properties', { query: { hash } })).json() as Record<string, unknown>;
    expect(props).toMatchObject({ save_path: DATA, seeding_time: 0, pieces_have: 3, pieces_num: 3, total_size: 65537 });
    expect((await q.call('torrents/files', { query: { hash } })).json()).toEqual([{ index: 0, name: 'single.bin', size: 65537, progress: 1, priority: 1, is_seed: true, piece_range: [0, 2], availability: -1 }]);

    // SetTorrentSeedingConfiguration sends the ratio and one time limit only.
    expect((await q.call('torrents/setShareLimits', { form: { hashes: hash, ratioLimit: '2', seedingTimeLimit: '1440' } })).status).toBe(200);
    expect(((await q.call('torrents/info', { query: { hashes: hash } })).json() as Record<string, unknown>[])[0]).toMatchObject({ ratio_limit: 2, seeding_time_limit: 1440, max_ratio: 2 });
    // MoveTorrentToTopInQueue: 409 while queueing is off, which Sonarr ignores.
    expect(await q.call('torrents/topPrio', { form: { hashes: hash } })).toMatchObject({ status: 409, text: 'Torrent queueing must be enabled' });
    expect((await q.call('torrents/setForceStart', { form: { hashes: hash, value: 'true' } })).status).toBe(200);
    expect(h.backend.records.get(hash)!.settings.forceStart).toBe(true);
    // RemoveTorrent without the data: deleteFiles left out.
    expect((await q.call('torrents/delete', { form: { hashes: hash } })).status).toBe(200);
    expect(h.backend.removed).toEqual([{ infoHashHex: hash, deleteData: false }]);
    expect((await q.call('torrents/info', { query: { category: 'tv-sonarr' } })).json()).toEqual([]);
  });
});

describe('login', () => {
  it('a wrong password is "Fails." without a cookie; after five in a row the address is banned, even with the right one', async () => {
    h = await startQbt();
    const q = new QbtWire(h.base);
    for (let i = 0; i < 5; i++) {
      const bad = await q.login(USER, 'wrong');
      expect(bad).toMatchObject({ status: 200, text: 'Fails.' });
      expect(bad.headers.get('set-cookie')).toBeNull();
    }
    expect(await q.login()).toMatchObject({ status: 403, text: 'Your IP address has been banned after too many failed authentication attempts.' });
    expect(q.cookie).toBe('');
  });

  it('sets an HttpOnly, same-site SID; logout clears it and the old cookie is refused', async () => {
    h = await startQbt();
    const q = new QbtWire(h.base);
    const ok = await q.login();
    expect(ok.headers.get('set-cookie')).toMatch(/^SID=[^;]+; HttpOnly; path=\/; SameSite=Strict$/);
    const sid = q.cookie;
    expect((await q.call('torrents/info')).json()).toEqual([]);
    // Logged in already: Ok. without a new cookie.
    const again = await q.login();
    expect(again.text).toBe('Ok.');
    expect(again.headers.get('set-cookie')).toBeNull();
    const out = await q.call('auth/logout', { form: {} });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/^SID=; .*Max-Age=0/);
    q.cookie = sid;
    expect((await q.call('torrents/info')).status).toBe(403);
  });

  it('takes an API key as a Bearer token and HTTP Basic credentials; without either every endpoint but login is 403', async () => {
    h = await startQbt();
    const q = new QbtWire(h.base);
    expect(await q.call('torrents/info')).toMatchObject({ status: 403, text: 'Forbidden' });
    expect((await q.call('no/such')).status).toBe(403);
    expect((await q.call('auth/logout', { form: {} })).status).toBe(403);
    q.headers = { Authorization: `Bearer ${API_KEY}` };
    expect((await q.call('torrents/info')).status).toBe(200);
    q.headers = { Authorization: 'Bearer not-the-key' };
    expect((await q.call('torrents/info')).status).toBe(403);
    q.headers = { Authorization: `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}` };
    expect((await q.call('app/version')).text).toBe('v5.1.4');
  });

  it('renews a session past half its life with a new cookie', async () => {
    let now = 1_000_000;
    h = await startQbt({ auth: { now: () => now, sessionTtlMs: 60_000 } });
    const q = new QbtWire(h.base);
    await q.login();
    const first = q.cookie;
    now += 10_000;
    expect((await q.call('app/version')).headers.get('set-cookie')).toBeNull();
    now += 25_000;
    const renewed = await q.call('app/version');
    expect(renewed.headers.get('set-cookie')).toMatch(/^SID=/);
    expect(q.cookie).not.toBe(first);
    now += 40_000;
    expect((await q.call('app/version')).status).toBe(200);
  });

  it('with no credentials configured (loopback only) lets every request in, and login still hands out a cookie', async () => {
    h = await startQbt({ creds: {} });
    const q = new QbtWire(h.base);
    expect((await q.call('torrents/info')).status).toBe(200);
    const login = await q.login('anyone', 'anything');
    expect(login.text).toBe('Ok.');
    expect(login.headers.get('set-cookie')).toMatch(/^SID=/);
    expect((await q.call('app/preferences')).json()).toMatchObject({ bypass_local_auth: true });
  });

  it("refuses a browser's cross-site request (Origin not this host) with 401, as qBittorrent's CSRF check does", async () => {
    h = await startQbt();
    const q = new QbtWire(h.base);
    await q.login();
    q.headers = { Origin: 'http://evil.example' };
    expect((await q.call('torrents/info')).status).toBe(401);
    q.headers = { Origin: h.base };
    expect((await q.call('torrents/info')).status).toBe(200);
  });
});

describe('magnet links', () => {
  const TRACKER = 'http://t.example/announce';

  it('registers the magnet at once and lists it as metaDL (stopped, categorized, tagged like any torrent) until the fleet has its metadata, then the torrent itself', async () => {
    h = await startQbt();
    const q = new QbtWire(h.base);
    await q.login();
    const hash = hashOf(MULTI);
    const magnet = `magnet:?xt=urn:btih:${hash}&dn=The%20Tree&tr=${encodeURIComponent(TRACKER)}`;
    expect(await q.call('torrents/add', { form: { urls: magnet, category: 'new-cat' } })).toMatchObject({ status: 200, text: 'Ok.' });
    // The category did not exist: made on add, as qBittorrent does.
    expect(h.backend.fleetConfig.categories).toHaveProperty('new-cat');
    // In the backend at once: every replica lists it, and it outlives this process.
    expect(h.backend.records.get(hash)).toMatchObject({ metainfo: undefined, magnet: { uri: magnet, name: 'The Tree' }, settings: { category: 'new-cat' } });
    const listed = (await q.call('torrents/info')).json() as Record<string, unknown>[];
    expect(listed).toEqual([expect.objectContaining({ hash, name: 'The Tree', state: 'metaDL', has_metadata: false, category: 'new-cat', magnet_uri: magnet, tracker: TRACKER, size: 0, progress: 0 })]);
    expect((await q.call('torrents/properties', { query: { hash } })).json()).toMatchObject({ hash, has_metadata: false, pieces_num: -1, total_size: -1 });
    expect((await q.call('torrents/files', { query: { hash } })).json()).toEqual([]);
    expect((await q.call('torrents/trackers', { query: { hash } })).json()).toEqual(expect.arrayContaining([expect.objectContaining({ url: TRACKER })]));
    expect(await q.call('torrents/filePrio', { form: { hash, id: '0', priority: '0' } })).toMatchObject({ status: 409, text: "Torrent's metadata has not yet downloaded" });
    expect(await q.call('torrents/export', { query: { hash } })).toMatchObject({ status: 409 });
    // The same magnet again adds nothing.
    expect((await q.call('torrents/add', { form: { urls: magnet } })).text).toBe('Fails.');
    // Actions reach it as any torrent's: stop, start, tags.
    await q.call('torrents/stop', { form: { hashes: hash } });
    expect(((await q.call('torrents/info')).json() as Record<string, unknown>[])[0]).toMatchObject({ state: 'stoppedDL' });
    await q.call('torrents/start', { form: { hashes: hash } });
    await q.call('torrents/addTags', { form: { hashes: hash, tags: 'later' } });
    // A failed attempt is tried again: still metaDL, as qBittorrent keeps it, not an error.
    h.backend.failMetadata(hash, 'no peer gave the metadata');
    expect(((await q.call('torrents/info')).json() as Record<string, unknown>[])[0]).toMatchObject({ state: 'metaDL', tags: 'later' });
    expect((await q.call('torrents/info', { query: { filter: 'errored' } })).json()).toEqual([]);
    const data = (await q.call('sync/maindata')).json() as Maindata;
    expect(data.torrents[hash]).toMatchObject({ state: 'metaDL', has_metadata: false });

    h.backend.resolveMagnet(hash, MULTI);
    const real = (await q.call('torrents/info')).json() as Record<string, unknown>[];
    expect(real).toEqual([expect.objectContaining({ hash, name: 'tree', state: 'stalledDL', has_metadata: true, category: 'new-cat', tags: 'later' })]);
    expect((await q.call('torrents/files', { query: { hash } })).json()).not.toEqual([]);
  });

  it('takes an http link that redirects to a magnet link as that magnet', async () => {
    h = await startQbt();
    const q = new QbtWire(h.base);
    await q.login();
    const hash = hashOf(MULTI);
    expect((await q.call('torrents/add', { form: { urls: `${h.files}/magnet/${hash}` } })).text).toBe('Ok.');
    expect((await q.call('torrents/info')).json()).toEqual([expect.objectContaining({ hash, name: 'Redirected', state: 'metaDL' })]);
  });

  it('refuses a magnet with nowhere to fetch its metadata from, alone; deleting one awaiting its metadata removes it', async () => {
    h = await startQbt();
    const q = new QbtWire(h.base);
    await q.login();
    const a = 'a'.repeat(40);
    const single = hashOf(SINGLE);
    expect((await q.call('torrents/add', { form: { urls: `magnet:?xt=urn:btih:${a}\nmagnet:?xt=urn:btih:${single}&x.pe=127.0.0.1:6881` } })).text).toBe('Ok.');
    expect([...h.backend.records.keys()]).toEqual([single]);
    expect((await q.call('torrents/delete', { form: { hashes: single, deleteFiles: 'true' } })).status).toBe(200);
    expect((await q.call('torrents/info')).json()).toEqual([]);
    expect(h.backend.removed).toEqual([{ infoHashHex: single, deleteData: true }]);
  });
});

describe('adding by URL and the add options', () => {
  it('fetches http links; a dead link or a file that is no torrent fails alone', async () => {
    h = await startQbt();
    const q = new QbtWire(h.base);
    await q.login();
    const urls = [`${h.files}/multi.torrent`, `${h.files}/gone.torrent`, `${h.files}/junk.torrent`].join('\n');
    expect((await q.call('torrents/add', { form: { urls, dlLimit: '-1', upLimit: '2048', sequentialDownload: 'true', firstLastPiecePrio: 'true', savepath: join(DATA, 'picked') } })).text).toBe('Ok.');
    const record = h.backend.records.get(hashOf(MULTI))!;
    expect(record.settings).toMatchObject({ limits: { download: 0, upload: 2048 }, sequential: true, firstLastPiece: true });
    expect(record.savePath).toBe(join(DATA, 'picked'));
    expect((await q.call('torrents/add', { form: { urls: `${h.files}/gone.torrent` } })).text).toBe('Fails.');
    // Already there: not added again.
    expect((await q.call('torrents/add', { form: { urls: `${h.files}/multi.torrent` } })).text).toBe('Fails.');
  });

  it('puts a torrent added at the top of the queue first while queueing is on', async () => {
    h = await startQbt();
    const q = new QbtWire(h.base);
    await q.login();
    await q.call('app/setPreferences', { form: { json: JSON.stringify({ queueing_enabled: true }) } });
    const first = new FormData();
    first.append('torrents', new Blob([SINGLE]), 'a.torrent');
    await q.call('torrents/add', { form: first });
    const second = new FormData();
    second.append('file', new Blob([MULTI]), 'b.torrent');
    second.append('addToTopOfQueue', 'true');
    await q.call('torrents/add', { form: second });
    const list = (await q.call('torrents/info', { query: { sort: 'priority' } })).json() as { hash: string; priority: number }[];
    expect(list.map((t) => [t.hash, t.priority])).toEqual([
      [hashOf(MULTI), 1],
      [hashOf(SINGLE), 2],
    ]);
    await q.call('torrents/bottomPrio', { form: { hashes: hashOf(MULTI) } });
    expect(h.backend.records.get(hashOf(MULTI))!.queuePosition).toBe(2);
  });
});

describe('the other endpoints over the backend', () => {
  it('preferences and transfer limits go to the fleet config, in its units', async () => {
    h = await startQbt();
    const q = new QbtWire(h.base);
    await q.login();
    const set = await q.call('app/setPreferences', { form: { json: JSON.stringify({ dl_limit: 1_000_000, slow_torrent_dl_rate_threshold: 5, max_seeding_time_enabled: true, max_seeding_time: 90, max_ratio_act: 3, dht: false }) } });
    expect(set.status).toBe(200);
    expect(h.backend.fleetConfig).toMatchObject({ speed: { download: 1_000_000 }, queue: { slowDownloadRate: 5120 }, share: { seedingMinutes: 90 }, shareAction: 'remove-with-data', dht: false });
    expect((await q.call('app/preferences')).json()).toMatchObject({ dl_limit: 1_000_000, slow_torrent_dl_rate_threshold: 5, max_seeding_time: 90, max_ratio_act: 3, dht: false });
    expect((await q.call('transfer/downloadLimit')).text).toBe('1000000');
    expect((await q.call('transfer/toggleSpeedLimitsMode', { form: {} })).status).toBe(200);
    expect((await q.call('transfer/speedLimitsMode')).text).toBe('1');
    // In alternative mode the alternative limit is the one set and read.
    await q.call('transfer/setDownloadLimit', { form: { limit: '4096' } });
    expect(h.backend.fleetConfig).toMatchObject({ speed: { download: 1_000_000 }, altSpeed: { download: 4096 }, altSpeedEnabled: true });
    expect((await q.call('transfer/info')).json()).toMatchObject({ dl_rate_limit: 4096, dl_info_speed: 0, connection_status: 'firewalled' });
    await q.call('transfer/setSpeedLimitsMode', { form: { mode: '0' } });
    expect(h.backend.fleetConfig.altSpeedEnabled).toBe(false);
  });

  it("encryption: this process's policy until the fleet sets one, then the fleet's, in qBittorrent's numbers", async () => {
    h = await startQbt({ encryption: 'disable' });
    const q = new QbtWire(h.base);
    await q.login();
    const encryption = async () => ((await q.call('app/preferences')).json() as Record<string, unknown>).encryption;
    // SEEDBOX_ENCRYPTION=disable and nothing in the config: 2 ("Disable encryption").
    expect(await encryption()).toBe(2);
    for (const [n, mode] of [
      [1, 'require'],
      [0, 'prefer'],
      [2, 'disable'],
    ] as const) {
      expect(await q.call('app/setPreferences', { form: { json: JSON.stringify({ encryption: n }) } })).toMatchObject({ status: 200 });
      expect(h.backend.fleetConfig.encryption).toBe(mode);
      expect(await encryption()).toBe(n);
    }
    expect(await q.call('app/setPreferences', { form: { json: JSON.stringify({ encryption: 0, dl_limit: 5 }) } })).toMatchObject({ status: 200 });
    // A value qBittorrent has not got is a 400, and nothing of the request is stored.
    expect(await q.call('app/setPreferences', { form: { json: JSON.stringify({ encryption: 3, dl_limit: 7 }) } })).toMatchObject({
      status: 400,
      text: 'encryption must be 0 (allow encryption), 1 (require encryption) or 2 (disable encryption) (got 3)',
    });
    expect(await q.call('app/setPreferences', { form: { json: JSON.stringify({ encryption: 'on' }) } })).toMatchObject({ status: 400 });
    expect(h.backend.fleetConfig).toMatchObject({ encryption: 'prefer', speed: { download: 5 } });
    expect(await encryption()).toBe(0);
  });

  it("dht: this process's SEEDBOX_DHT until the fleet switches it, then the fleet's, in preferences and the [DHT] row", async () => {
    h = await startQbt({ dht: false });
    const q = new QbtWire(h.base);
    await q.login();
    const form = new FormData();
    form.append('torrents', new Blob([SINGLE], { type: 'application/x-bittorrent' }), 'single.torrent');
    expect((await q.call('torrents/add', { form })).text).toBe('Ok.');
    const hash = hashOf(SINGLE);
    const prefsNow = async () => (await q.call('app/preferences')).json() as Record<string, unknown>;
    const dht = async () => (await prefsNow()).dht;
    const rows = async () => ((await q.call('torrents/trackers', { query: { hash } })).json() as { url: string; status: number }[]).slice(0, 2).map((t) => [t.url, t.status]);
    // SEEDBOX_DHT=false and nothing in the config: off, and the public torrent's [DHT] row disabled (PeX works).
    expect(await dht()).toBe(false);
    expect(h.backend.fleetConfig.dht).toBeUndefined();
    expect(await rows()).toEqual([
      ['** [DHT] **', 0],
      ['** [PeX] **', 2],
    ]);
    // Switched on for the fleet, as a boolean, and off again as form text.
    for (const [sent, on] of [
      [true, true],
      ['false', false],
      [1, true],
    ] as const) {
      expect(await q.call('app/setPreferences', { form: { json: JSON.stringify({ dht: sent }) } })).toMatchObject({ status: 200 });
      expect(h.backend.fleetConfig.dht).toBe(on);
      expect(await dht()).toBe(on);
      expect((await rows())[0]).toEqual(['** [DHT] **', on ? 2 : 0]);
    }
    // Not a switch value: a 400, and nothing of the request is stored.
    expect(await q.call('app/setPreferences', { form: { json: JSON.stringify({ dht: 'off', dl_limit: 7 }) } })).toMatchObject({ status: 400, text: 'dht must be true or false (got "off")' });
    expect(h.backend.fleetConfig).toMatchObject({ dht: true, speed: { download: 0 } });
    // seedbox's own keys: the workers seeding each complete torrent.
    expect(await prefsNow()).toMatchObject({ seedbox_seed_replicas: 2, seedbox_private_seed_replicas: 1 });
    expect(await q.call('app/setPreferences', { form: { json: JSON.stringify({ seedbox_seed_replicas: 0, seedbox_private_seed_replicas: '2' }) } })).toMatchObject({ status: 200 });
    expect(h.backend.fleetConfig).toMatchObject({ seedReplicas: 0, privateSeedReplicas: 2 });
    expect(await prefsNow()).toMatchObject({ seedbox_seed_replicas: 0, seedbox_private_seed_replicas: 2 });
    expect(await q.call('app/setPreferences', { form: { json: JSON.stringify({ seedbox_seed_replicas: -3 }) } })).toMatchObject({ status: 400 });
    expect(h.backend.fleetConfig.seedReplicas).toBe(0);
  });

  it('file priorities by the listed index (padding skipped), tags, limits, toggles, location, pieces and export', async () => {
    h = await startQbt();
    const q = new QbtWire(h.base);
    await q.login();
    const form = new FormData();
    form.append('torrents', new Blob([PADDED]), 'padded.torrent');
    await q.call('torrents/add', { form });
    const hash = hashOf(PADDED);
    // Listed file 4 is src/main.bin, metainfo file 7.
    expect((await q.call('torrents/filePrio', { form: { hash, id: '4|2', priority: '0' } })).status).toBe(200);
    expect((await q.call('torrents/filePrio', { form: { hash, id: '0', priority: '7' } })).status).toBe(200);
    const p = h.backend.records.get(hash)!.settings.filePriorities;
    expect([p[0], p[3], p[7], p[9]]).toEqual(['high', 'skip', 'skip', 'normal']);
    expect(((await q.call('torrents/info')).json() as Record<string, unknown>[])[0]).toMatchObject({ size: 1000 + 30000 + 4000, total_size: 80000 });

    await q.call('torrents/addTags', { form: { hashes: hash, tags: 'b,a' } });
    await q.call('torrents/createTags', { form: { tags: 'spare' } });
    expect((await q.call('torrents/tags')).json()).toEqual(['a', 'b', 'spare']);
    await q.call('torrents/removeTags', { form: { hashes: hash, tags: 'b' } });
    await q.call('torrents/deleteTags', { form: { tags: 'a,spare' } });
    expect(h.backend.records.get(hash)!.settings.tags).toEqual([]);
    expect((await q.call('torrents/tags')).json()).toEqual([]);

    await q.call('torrents/setDownloadLimit', { form: { hashes: hash, limit: '3000' } });
    await q.call('torrents/setUploadLimit', { form: { hashes: 'all', limit: '0' } });
    expect((await q.call('torrents/downloadLimit', { form: { hashes: `${hash}|${'f'.repeat(40)}` } })).json()).toEqual({ [hash]: 3000, ['f'.repeat(40)]: -1 });
    await q.call('torrents/toggleSequentialDownload', { form: { hashes: hash } });
    await q.call('torrents/toggleFirstLastPiecePrio', { form: { hashes: hash } });
    expect(h.backend.records.get(hash)!.settings).toMatchObject({ limits: { download: 3000, upload: 0 }, sequential: true, firstLastPiece: true });

    await q.call('torrents/setLocation', { form: { hashes: hash, location: 'moved/here' } });
    expect(h.backend.moved).toEqual([{ infoHashHex: hash, savePath: join(DATA, 'moved/here') }]);
    expect((await q.call('torrents/setLocation', { form: { hashes: hash, location: '/etc' } })).status).toBe(400);

    h.backend.bitfields.set(hash, Uint8Array.from([0b10100000]));
    expect((await q.call('torrents/pieceStates', { query: { hash } })).json()).toEqual([2, 0, 2, 0, 0, 0, 0, 0]);
    expect(((await q.call('torrents/pieceHashes', { query: { hash } })).json() as string[])[0]).toMatch(/^[0-9a-f]{40}$/);
    const trackers = (await q.call('torrents/trackers', { query: { hash } })).json() as { url: string }[];
    expect(trackers.map((t) => t.url)).toEqual(['** [DHT] **', '** [PeX] **', '** [LSD] **', 'http://tracker.example/announce']);
    const exported = await fetch(`${h.base}/api/v2/torrents/export?hash=${hash}`, { headers: { Cookie: q.cookie } });
    expect(exported.headers.get('content-type')).toBe('application/x-bittorrent');
    expect(Buffer.from(await exported.arrayBuffer()).equals(PADDED)).toBe(true);
    expect((await q.call('torrents/recheck', { form: { hashes: hash } })).status).toBe(200);
    expect(h.backend.rechecked).toEqual([hash]);
    expect((await q.call('torrents/count')).text).toBe('1');
  });

  it('categories are edited and removed (their torrents left without one); info can carry each torrent\'s trackers', async () => {
    h = await startQbt();
    const q = new QbtWire(h.base);
    await q.login();
    const form = new FormData();
    form.append('torrents', new Blob([MULTI]), 'm.torrent');
    form.append('category', 'old');
    await q.call('torrents/add', { form });
    expect((await q.call('torrents/editCategory', { form: { category: 'old', savePath: join(DATA, 'elsewhere') } })).status).toBe(200);
    expect((await q.call('torrents/categories')).json()).toEqual({ old: { name: 'old', savePath: join(DATA, 'elsewhere') } });
    await q.call('torrents/createCategory', { form: { category: 'keep', savePath: 'k' } });
    expect((await q.call('torrents/removeCategories', { form: { categories: 'old\nnot-there' } })).status).toBe(200);
    expect(Object.keys(h.backend.fleetConfig.categories)).toEqual(['keep']);
    expect(h.backend.records.get(hashOf(MULTI))!.settings.category).toBe('');
    const [withTrackers] = (await q.call('torrents/info', { query: { includeTrackers: 'true' } })).json() as { trackers: { url: string; tier: number }[] }[];
    expect(withTrackers!.trackers.map((t) => [t.url, t.tier])).toEqual([
      ['http://a.example/announce', 0],
      ['http://b.example/announce', 0],
      ['udp://c.example:6969/announce', 1],
    ]);
    expect(((await q.call('torrents/info')).json() as object[])[0]).not.toHaveProperty('trackers');
  });

  it('what the backend cannot do is 501 with the reason; addPeers hands the peers that are addresses to the torrent', async () => {
    h = await startQbt();
    const q = new QbtWire(h.base);
    await q.login();
    const form = new FormData();
    form.append('torrents', new Blob([SINGLE]), 'a.torrent');
    await q.call('torrents/add', { form });
    const hash = hashOf(SINGLE);
    expect((await q.call('torrents/rename', { form: { hash, name: 'x' } })).status).toBe(501);
    expect((await q.call('torrents/addPeers', { form: { hashes: `${hash}|${'0'.repeat(40)}`, peers: '10.213.3.1:6881|[fd00::2]:51413|not-a-peer|10.213.3.3:0' } })).json()).toEqual({ [hash]: { added: 2, failed: 2 } });
    expect(h.backend.addedPeers).toEqual([{ infoHashHex: hash, peers: [{ host: '10.213.3.1', port: 6881 }, { host: 'fd00::2', port: 51413 }] }]);
    expect(await q.call('torrents/addPeers', { form: { hashes: hash, peers: 'nothing|useful' } })).toMatchObject({ status: 400 });
    expect((await q.call('torrents/setAutoManagement', { form: { hashes: hash, enable: 'true' } })).status).toBe(200);
  });
});

describe('trackers, reannounce and peers', () => {
  it('torrents/trackers and torrents/info show what each tracker last answered; reannounce reaches the backend, or 503 when nobody announces', async () => {
    h = await startQbt();
    const q = new QbtWire(h.base);
    await q.login();
    const form = new FormData();
    form.append('torrents', new Blob([MULTI]), 'm.torrent');
    await q.call('torrents/add', { form });
    const hash = hashOf(MULTI);
    const now = Date.now();
    h.backend.trackerStatus.set(hash, [
      { url: 'http://a.example/announce', lastAnnounceStartAt: now - 2000, lastAnnounceAt: now - 1900, ok: false, failure: 'refused', error: 'Unregistered torrent' },
      { url: 'udp://c.example:6969/announce', lastAnnounceStartAt: now - 1800, lastAnnounceAt: now - 1700, ok: true, peers: 3, seeders: 11, leechers: 4, downloaded: 25, nextAnnounceAt: now + 600_000 },
    ]);
    const list = (await q.call('torrents/trackers', { query: { hash } })).json() as { url: string; status: number; msg: string; num_seeds: number }[];
    expect(list.slice(3).map((t) => [t.url, t.status, t.msg, t.num_seeds])).toEqual([
      ['http://a.example/announce', 4, 'Unregistered torrent', -1],
      ['http://b.example/announce', 1, '', -1],
      ['udp://c.example:6969/announce', 2, '', 11],
    ]);
    const [info] = (await q.call('torrents/info', { query: { hashes: hash, includeTrackers: 'true' } })).json() as (Record<string, unknown> & { trackers: { status: number }[] })[];
    expect(info).toMatchObject({ num_complete: 11, num_incomplete: 4, tracker: 'udp://c.example:6969/announce' });
    expect(info!.reannounce).toBeGreaterThan(590);
    expect(info!.trackers.map((t) => t.status)).toEqual([4, 1, 2]);
    // @ctrl/qbittorrent reads the same.
    const qb = new QBittorrent({ baseUrl: `${h.base}/`, username: USER, password: PASS });
    expect((await qb.torrentTrackers(hash)).find((t) => t.url === 'http://a.example/announce')).toMatchObject({ status: 4, msg: 'Unregistered torrent' });

    expect((await q.call('torrents/reannounce', { form: { hashes: `${hash}|${'0'.repeat(40)}` } })).status).toBe(200);
    expect((await q.call('torrents/reannounce', { form: { hashes: 'all' } })).status).toBe(200);
    expect(h.backend.reannounced).toEqual([hash, hash]);
    h.backend.reannounceError = new ControlError('unavailable', 'the announce cannot be asked for: no tracker-client answered');
    const refused = await q.call('torrents/reannounce', { form: { hashes: hash } });
    expect(refused).toMatchObject({ status: 503, text: expect.stringMatching(/no tracker-client/) });
  });

  it('sync/torrentPeers lists the connected peers by ip:port, then their changes; an unknown hash is 404', async () => {
    h = await startQbt();
    const q = new QbtWire(h.base);
    await q.login();
    const form = new FormData();
    form.append('torrents', new Blob([SINGLE]), 's.torrent');
    await q.call('torrents/add', { form });
    const hash = hashOf(SINGLE);
    const lt = { host: '10.0.0.9', port: 51413, client: 'libtorrent/2.0.8.0', peerIdClient: 'libtorrent (Rasterbar) 2.0.8', incoming: false, amChoking: true, amInterested: true, peerChoking: false, peerInterested: false, optimistic: false, snubbed: false, progress: 1, relevance: 1, downloadRate: 65536, uploadRate: 0, downloaded: 1 << 20, uploaded: 0 };
    h.backend.connectedPeers.set(hash, [lt]);
    const full = (await q.call('sync/torrentPeers', { query: { hash } })).json() as { rid: number; full_update: boolean; peers: Record<string, Record<string, unknown>> };
    expect(full).toMatchObject({ full_update: true, show_flags: false });
    expect(full.peers).toEqual({
      '10.0.0.9:51413': { ip: '10.0.0.9', port: 51413, client: 'libtorrent/2.0.8.0', peer_id_client: 'libtorrent (Rasterbar) 2.0.8', progress: 1, dl_speed: 65536, up_speed: 0, downloaded: 1 << 20, uploaded: 0, connection: 'BT', flags: 'D', flags_desc: 'D = Interested (local) and unchoked (peer)', relevance: 1, files: '', country_code: '' },
    });
    h.backend.connectedPeers.set(hash, [{ ...lt, downloadRate: 0, amInterested: false }, { ...lt, host: '10.0.0.10', incoming: true, peerInterested: true }]);
    const next = (await q.call('sync/torrentPeers', { query: { hash, rid: String(full.rid) } })).json() as Record<string, unknown>;
    expect(next).not.toHaveProperty('full_update');
    expect(next.peers).toEqual({
      '10.0.0.9:51413': { dl_speed: 0, flags: 'K', flags_desc: 'K = Not interested (local) and unchoked (peer)' },
      '10.0.0.10:51413': expect.objectContaining({ ip: '10.0.0.10', flags: 'D u I' }),
    });
    h.backend.connectedPeers.set(hash, []);
    expect((await q.call('sync/torrentPeers', { query: { hash, rid: String(next.rid) } })).json()).toMatchObject({ peers_removed: ['10.0.0.9:51413', '10.0.0.10:51413'] });
    expect((await q.call('sync/torrentPeers', { query: { hash: 'ab'.repeat(20) } })).status).toBe(404);
    expect((await q.call('sync/torrentPeers')).status).toBe(400);
  });
});

describe('bad input', () => {
  it('answers each with the right status and a sentence, and keeps answering', async () => {
    h = await startQbt();
    const q = new QbtWire(h.base);
    await q.login();
    const junk = new FormData();
    junk.append('torrents', new Blob([SINGLE]), 'good.torrent');
    junk.append('torrents', new Blob([Buffer.from('d4:infoi1ee')]), 'bad.torrent');
    const add = await q.call('torrents/add', { form: junk });
    expect(add.status).toBe(415);
    expect(add.text).toMatch(/^Error: 'bad\.torrent' is not a valid torrent file: /);
    // Checked before anything was added.
    expect(h.backend.records.size).toBe(0);

    expect(await q.call('torrents/properties', { query: { hash: 'not-a-hash' } })).toMatchObject({ status: 404, text: 'Not Found' });
    expect(await q.call('torrents/properties', { query: { hash: 'c'.repeat(40) } })).toMatchObject({ status: 404, text: 'Not Found' });
    expect(await q.call('torrents/properties')).toMatchObject({ status: 400, text: 'the parameter hash is required' });
    expect(await q.call('torrents/nothing')).toMatchObject({ status: 404, text: 'Not Found' });
    expect(await q.call('api/v2/x')).toMatchObject({ status: 404 });
    expect((await q.call('torrents/delete', { query: { hashes: 'all' } })).status).toBe(405);
    expect((await q.call('torrents/info', { method: 'PUT' })).status).toBe(405);

    const form = new FormData();
    form.append('torrents', new Blob([SINGLE]), 'good.torrent');
    expect((await q.call('torrents/add', { form })).text).toBe('Ok.');
    const hash = hashOf(SINGLE);
    expect(await q.call('torrents/setDownloadLimit', { form: { hashes: hash, limit: '-5' } })).toMatchObject({ status: 400, text: 'limit must be a number of bytes per second, 0 or -1 for no limit (got -5)' });
    expect(await q.call('torrents/setDownloadLimit', { form: { hashes: hash, limit: 'fast' } })).toMatchObject({ status: 400, text: 'limit must be a whole number (got "fast")' });
    expect(await q.call('torrents/setShareLimits', { form: { hashes: hash, ratioLimit: '-3' } })).toMatchObject({ status: 400, text: 'the ratio limit must be -1 (no limit), -2 (the global limit) or 0 and above (got -3)' });
    expect((await q.call('torrents/setCategory', { form: { hashes: hash, category: 'nope' } })).status).toBe(409);
    await q.call('torrents/createCategory', { form: { category: 'tv' } });
    expect((await q.call('torrents/createCategory', { form: { category: 'tv' } })).status).toBe(409);
    expect((await q.call('torrents/createCategory', { form: { category: '' } })).status).toBe(400);
    expect((await q.call('torrents/editCategory', { form: { category: 'nope', savePath: 'x' } })).status).toBe(409);
    expect(await q.call('torrents/filePrio', { form: { hash, id: '0', priority: '3' } })).toMatchObject({ status: 400 });
    expect(await q.call('torrents/filePrio', { form: { hash, id: '5', priority: '1' } })).toMatchObject({ status: 409 });
    expect(await q.call('app/setPreferences', { form: { json: '{"dl_limit":' } })).toMatchObject({ status: 400 });
    expect(await q.call('torrents/add', { form: { urls: `${h.files}/single.torrent`, ratioLimit: '-7' } })).toMatchObject({ status: 400 });
    expect(await q.call('torrents/info', { query: { sort: 'bogus' } })).toMatchObject({ status: 400, text: "'sort' parameter is invalid" });
    expect(h.backend.records.get(hash)!.settings).toMatchObject({ limits: { download: 0 }, share: { ratio: -2 }, category: '' });
    expect((await q.call('app/version')).text).toBe('v5.1.4');
  });
});
