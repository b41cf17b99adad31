/**
 * The web APIs (issue 15) against `seedbox serve` as a real process, real
 * peers (a libtorrent seed found through opentracker) and real clients:
 * @ctrl/qbittorrent and @ctrl/transmission driving a torrent from add to
 * completion to removal, Debian's transmission-remote, and the exact call
 * sequences Sonarr makes to each API. Then a fleet of two peer-workers,
 * where a login on one replica is honoured by the other. Every download
 * is compared byte for byte.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QBittorrent } from '@ctrl/qbittorrent';
import { Transmission } from '@ctrl/transmission';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compareTrees, makeTorrent, type TestTorrent } from './support/data.js';
import { startFleet } from './support/fleet.js';
import { startNatsServer } from './support/nats.js';
import { startLibtorrentSeed, type RunningPeer } from './support/peers.js';
import { cleanupAfter, cleanupAll, cleanupMark, freePort, makeTempDir, runToExit, waitFor } from './support/processes.js';
import { startServe, type Serve } from './support/serve.js';
import { needTools, tools } from './support/tools.js';
import { QbtSession, TransmissionRpc, type Json } from './support/web-clients.js';
import { startOpentracker } from './support/tracker.js';

const need = needTools(tools.libtorrent, tools.mktorrent, tools.opentracker, tools.transmissionRemote);
const needNats = needTools(tools.natsServer);

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

const USER = 'sonarr';
const PASS = 'correct horse';
const LOGIN = ['--web-username', USER, '--web-password', PASS];

describe.skipIf(!need.available)('the qBittorrent WebAPI and the Transmission RPC, against seedbox serve', () => {
  let work: string;
  let trackerPort: number;
  const t: TestTorrent[] = [];
  let lonely: TestTorrent;

  beforeAll(async () => {
    work = makeTempDir('webapi');
    trackerPort = await freePort();
    const announce = `http://127.0.0.1:${trackerPort}/announce`;
    for (let i = 0; i < 3; i++) t.push(await makeTorrent({ dir: join(work, 'src'), name: `w${i}.bin`, pieceLength: 32 * 1024, tracker: announce, files: { size: 1024 * 1024 + i * 7001 } }));
    // No tracker at all: only peers handed over with addPeers can bring it.
    lonely = await makeTorrent({ dir: join(work, 'src'), name: 'lonely.bin', pieceLength: 32 * 1024, files: { size: 900_000 } });
    t.push(
      await makeTorrent({
        dir: join(work, 'src'),
        name: 'season',
        pieceLength: 32 * 1024,
        tracker: announce,
        files: [
          { path: 'e01.mkv', size: 700 * 1024 },
          { path: 'sub/e01.srt', size: 3000 },
        ],
      }),
    );
  }, 120_000);

  /** serve with a login, a tracker and one libtorrent seed of every test torrent (the one without a tracker too). */
  async function swarm(name: string): Promise<{ s: Serve; data: string; seed: RunningPeer }> {
    await startOpentracker({ infoHashes: t.map((x) => x.infoHash), port: trackerPort });
    const seed = await startLibtorrentSeed({ torrentPath: [...t, lonely].map((x) => x.torrentPath), dataRoot: t[0]!.dataRoot });
    const data = join(work, name, 'data');
    mkdirSync(data, { recursive: true });
    return { s: await startServe(data, LOGIN), data, seed };
  }

  it('torrents/addPeers: a torrent with no tracker downloads from the peer handed over', async () => {
    const { s, data, seed } = await swarm('addpeers');
    await addFromPeer(`http://127.0.0.1:${s.webPort}`, `http://127.0.0.1:${s.webPort}`, seed, data);
    await s.stop();
  }, 120_000);

  it('@ctrl/qbittorrent: log in, add into a category, download to completion, read files and properties, delete with the files', async () => {
    const { s, data } = await swarm('qbt');
    const qb = new QBittorrent({ baseUrl: `http://127.0.0.1:${s.webPort}/`, username: USER, password: PASS });
    expect(await qb.login()).toBe(true);
    expect(Number((await qb.getApiVersion()).split('.')[1])).toBeGreaterThanOrEqual(11);
    await qb.createCategory('tv', 'media/tv');
    const x = t[3]!;
    await qb.addTorrent(readFileSync(x.torrentPath), { category: 'tv' });
    await waitFor(async () => (await qb.listTorrents({ hashes: x.infoHash }))[0]?.progress === 1, 60_000, 'the torrent complete', { intervalMs: 200 });
    const [info] = await qb.listTorrents({ category: 'tv' });
    expect(info).toMatchObject({ hash: x.infoHash, name: 'season', category: 'tv', save_path: join(data, 'media', 'tv'), content_path: join(data, 'media', 'tv', 'season'), total_size: x.totalSize, amount_left: 0 });
    expect(['uploading', 'stalledUP']).toContain(info!.state);
    expect(await compareTrees(x.contentPath, join(data, 'media', 'tv', 'season'))).toBeNull();
    const files = await qb.torrentFiles(x.infoHash);
    expect(files.map((f) => [f.name, f.size, f.progress])).toEqual([
      ['season/e01.mkv', 700 * 1024, 1],
      ['season/sub/e01.srt', 3000, 1],
    ]);
    const props = await qb.torrentProperties(x.infoHash);
    expect(props).toMatchObject({ save_path: join(data, 'media', 'tv'), total_size: x.totalSize, pieces_have: props.pieces_num });
    // The normalized view the client's users read (through sync/maindata).
    const all = await qb.getAllData();
    expect(all.torrents.find((y) => y.id === x.infoHash)).toMatchObject({ isCompleted: true, progress: 1, label: 'tv' });
    await qb.removeTorrent(x.infoHash, true);
    await waitFor(() => !existsSync(join(data, 'media', 'tv', 'season')), 20_000, 'the files deleted');
    expect(await qb.listTorrents()).toEqual([]);
    await s.stop();
  }, 120_000);

  it('@ctrl/transmission: add, download to completion, stop, start, remove with the data', async () => {
    const { s, data } = await swarm('tr');
    const tr = new Transmission({ baseUrl: `http://127.0.0.1:${s.webPort}/`, username: USER, password: PASS });
    const x = t[0]!;
    const added = await tr.addTorrent(readFileSync(x.torrentPath), { 'download-dir': join(data, 'movies') });
    const id = (added.arguments as { 'torrent-added': { id: number; hashString: string } })['torrent-added'];
    expect(id.hashString).toBe(x.infoHash);
    await waitFor(async () => (await tr.getTorrent(x.infoHash)).isCompleted, 60_000, 'the torrent complete', { intervalMs: 200 });
    expect(await compareTrees(x.contentPath, join(data, 'movies', x.name))).toBeNull();
    const done = await tr.getTorrent(x.infoHash);
    expect(done).toMatchObject({ id: x.infoHash, name: x.name, progress: 1, savePath: join(data, 'movies'), totalSize: x.totalSize });
    await tr.pauseTorrent(id.id);
    await waitFor(async () => (await tr.getTorrent(x.infoHash)).state === 'paused', 10_000, 'stopped');
    await tr.resumeTorrent(id.id);
    await waitFor(async () => (await tr.getTorrent(x.infoHash)).state === 'seeding', 20_000, 'seeding again');
    await tr.removeTorrent(id.id, true);
    await waitFor(() => !existsSync(join(data, 'movies', x.name)), 20_000, 'the file deleted');
    expect((await tr.getAllData()).torrents).toEqual([]);
    await s.stop();
  }, 120_000);

  it('transmission-remote: add, list, show, stop, start, limit and remove, its output checked', async () => {
    const { s, data } = await swarm('remote');
    const remote = (...args: string[]) => runToExit('transmission-remote', [`127.0.0.1:${s.webPort}`, '--auth', `${USER}:${PASS}`, ...args], 20_000);
    const x = t[1]!;
    const add = await remote('-a', x.torrentPath);
    expect(add.stdout).toMatch(/success/);
    let list = '';
    await waitFor(
      async () => {
        list = (await remote('-l')).stdout;
        return /100%/.test(list);
      },
      60_000,
      'transmission-remote -l showing 100%',
      { intervalMs: 300 },
    );
    const row = list.split('\n').find((l) => l.includes(x.name))!;
    expect(row).toMatch(/^\s*1\s+100%\s+1\.\d+ MB\s+Done\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+(Seeding|Idle)\s+w1\.bin$/);
    expect(list).toMatch(/^Sum:/m);
    const info = (await remote('-t', '1', '-i')).stdout;
    expect(info).toMatch(new RegExp(`Hash: ${x.infoHash}`));
    expect(info).toMatch(/Percent Done: 100%/);
    expect(info).toMatch(new RegExp(`Location: ${data.replace(/[/.]/g, '\\$&')}`));
    expect(await compareTrees(x.contentPath, join(data, x.infoHash, x.name))).toBeNull();
    await remote('-t', '1', '-S');
    await waitFor(async () => /Stopped\s+w1\.bin/.test((await remote('-l')).stdout), 10_000, 'listed as stopped');
    await remote('-t', '1', '-s');
    await waitFor(async () => /(Seeding|Idle)\s+w1\.bin/.test((await remote('-l')).stdout), 20_000, 'listed as seeding');
    // Limits in kB/s, as transmission-remote sends them.
    await remote('-t', '1', '-d', '300', '-u', '200');
    const limited = (await remote('-t', '1', '-i')).stdout;
    expect(limited).toMatch(/Download Limit: 300 kB\/s/);
    expect(limited).toMatch(/Upload Limit: 200 kB\/s/);
    await remote('-t', '1', '-rad');
    await waitFor(async () => !(await remote('-l')).stdout.includes('w1.bin'), 10_000, 'removed');
    const bad = await runToExit('transmission-remote', [`127.0.0.1:${s.webPort}`, '--auth', `${USER}:wrong`, '-l'], 20_000);
    expect(`${bad.stdout}${bad.stderr}`).toMatch(/401|Unauthorized/);
    await s.stop();
  }, 120_000);

  it('encryption: switched with @ctrl/qbittorrent and transmission-remote, read back through the other API, and in force on the next connection', async () => {
    // A seed that takes RC4-encrypted connections only, and serve started with encryption off.
    const seed = await startLibtorrentSeed({ torrentPath: lonely.torrentPath, dataRoot: lonely.dataRoot, encryption: 'forced' });
    const data = join(work, 'encryption', 'data');
    mkdirSync(data, { recursive: true });
    const s = await startServe(data, [...LOGIN, '--encryption', 'disable']);
    const base = `http://127.0.0.1:${s.webPort}`;
    const qb = new QBittorrent({ baseUrl: `${base}/`, username: USER, password: PASS });
    expect(await qb.login()).toBe(true);
    const remote = (...args: string[]) => runToExit('transmission-remote', [`127.0.0.1:${s.webPort}`, '--auth', `${USER}:${PASS}`, ...args], 20_000);
    // SEEDBOX_ENCRYPTION as each API names it: qBittorrent's 2, Transmission's nearest, "tolerated".
    expect((await qb.getPreferences()).encryption).toBe(2);
    expect((await remote('-si')).stdout).toMatch(/Encryption: tolerated/);
    // Required through the qBittorrent WebAPI, read back through both.
    expect(await qb.setPreferences({ encryption: 1 })).toBe(true);
    expect((await qb.getPreferences()).encryption).toBe(1);
    expect((await remote('-si')).stdout).toMatch(/Encryption: required/);
    // In force: the seed, which refuses a plain handshake, is reached, and the download is byte-identical.
    await addFromPeer(base, base, seed, data);
    // Preferred through transmission-remote; a value qBittorrent has not got is refused and changes nothing.
    expect((await remote('-ep')).stdout).toMatch(/success/);
    expect((await qb.getPreferences()).encryption).toBe(0);
    await expect(qb.setPreferences({ encryption: 7 as 0 })).rejects.toThrow(/400/);
    expect((await remote('-si')).stdout).toMatch(/Encryption: preferred/);
    await s.stop();
  }, 120_000);

  it('dht: switched on and off with @ctrl/qbittorrent and transmission-remote, read back through the other API and in the [DHT] row', async () => {
    const data = join(work, 'dht', 'data');
    mkdirSync(data, { recursive: true });
    // Started with SEEDBOX_DHT off: the process's own setting, until the fleet's config switches it.
    const s = await startServe(data, [...LOGIN, '--dht=false']);
    const base = `http://127.0.0.1:${s.webPort}`;
    const qb = new QBittorrent({ baseUrl: `${base}/`, username: USER, password: PASS });
    expect(await qb.login()).toBe(true);
    const remote = (...args: string[]) => runToExit('transmission-remote', [`127.0.0.1:${s.webPort}`, '--auth', `${USER}:${PASS}`, ...args], 20_000);
    // A public torrent, stopped: its [DHT] row follows the switch; PeX works for it whatever the switch.
    const q = new QbtSession(base);
    await q.login(USER, PASS);
    const form = new FormData();
    form.append('torrents', new Blob([readFileSync(lonely.torrentPath)]), 'lonely.torrent');
    form.append('stopped', 'true');
    expect((await q.call('torrents/add', { form })).text).toBe('Ok.');
    const rows = async () =>
      (await q.call('torrents/trackers', { query: { hash: lonely.infoHash } }))
        .json<{ url: string; status: number }[]>()
        .slice(0, 2)
        .map((r) => [r.url, r.status]);
    const offRows = [
      ['** [DHT] **', 0],
      ['** [PeX] **', 2],
    ];
    const onRows = [
      ['** [DHT] **', 2],
      ['** [PeX] **', 2],
    ];
    expect((await qb.getPreferences()).dht).toBe(false);
    expect((await remote('-si')).stdout).toMatch(/Distributed hash table enabled: No/);
    expect(await rows()).toEqual(offRows);
    // On through the qBittorrent WebAPI, read back through both.
    expect(await qb.setPreferences({ dht: true })).toBe(true);
    expect((await qb.getPreferences()).dht).toBe(true);
    expect((await remote('-si')).stdout).toMatch(/Distributed hash table enabled: Yes/);
    expect(await rows()).toEqual(onRows);
    // Off through transmission-remote (--no-dht), and on again (--dht).
    expect((await remote('-O')).stdout).toMatch(/success/);
    expect((await qb.getPreferences()).dht).toBe(false);
    expect(await rows()).toEqual(offRows);
    expect((await remote('-o')).stdout).toMatch(/success/);
    expect((await qb.getPreferences()).dht).toBe(true);
    expect((await remote('-si')).stdout).toMatch(/Distributed hash table enabled: Yes/);
    await s.stop();
  }, 60_000);

  it("replays Sonarr's qBittorrent calls: the version check, login, preferences, categories, add, polling, properties, files, share limits, delete", async () => {
    const { s, data } = await swarm('sonarr-qbt');
    await sonarrQbittorrent(`http://127.0.0.1:${s.webPort}`, t[2]!, data);
    await s.stop();
  }, 120_000);

  it("replays Sonarr's Transmission calls: the 409, session-get, torrent-add with labels and download-dir, torrent-get, torrent-set seed limits, torrent-remove", async () => {
    const { s, data } = await swarm('sonarr-tr');
    await sonarrTransmission(`http://127.0.0.1:${s.webPort}`, t[2]!, data);
    await s.stop();
  }, 120_000);

  describe.skipIf(!needNats.available)('a fleet', () => {
    it("answers Sonarr from any replica: a login on one peer-worker is good on the other, and both APIs' calls pass through either", async () => {
      const nats = await startNatsServer();
      await startOpentracker({ infoHashes: t.map((x) => x.infoHash), port: trackerPort });
      const seed = await startLibtorrentSeed({ torrentPath: [...t, lonely].map((x) => x.torrentPath), dataRoot: t[0]!.dataRoot });
      const fleet = await startFleetWithLogin(nats.url);
      try {
        const [a, b] = fleet.peerWorkers;
        const one = new QbtSession(`http://127.0.0.1:${a!.webPort}`);
        expect((await one.call('auth/login', { form: { username: USER, password: PASS } })).text).toBe('Ok.');
        const other = new QbtSession(`http://127.0.0.1:${b!.webPort}`);
        other.cookie = one.cookie;
        expect((await other.call('app/webapiVersion')).status).toBe(200);
        // Encryption is the fleet's setting: switched on one replica, read through either API on the other, then back.
        expect((await other.call('app/setPreferences', { form: { json: JSON.stringify({ encryption: 1 }) } })).status).toBe(200);
        expect((await one.call('app/preferences')).json()).toMatchObject({ encryption: 1 });
        const rpc = new TransmissionRpc(`http://127.0.0.1:${a!.webPort}/transmission/rpc`, { username: USER, password: PASS });
        expect((await rpc.call('session-get', { fields: ['encryption'] })).arguments).toEqual({ encryption: 'required' });
        expect((await rpc.call('session-set', { encryption: 'preferred' })).result).toBe('success');
        expect((await other.call('app/preferences')).json()).toMatchObject({ encryption: 0 });
        // So is DHT: off through the qBittorrent WebAPI on one replica, read through Transmission on the other, then on again.
        expect((await other.call('app/setPreferences', { form: { json: JSON.stringify({ dht: false }) } })).status).toBe(200);
        expect((await rpc.call('session-get', { fields: ['dht-enabled'] })).arguments).toEqual({ 'dht-enabled': false });
        expect((await rpc.call('session-set', { 'dht-enabled': true })).result).toBe('success');
        expect((await other.call('app/preferences')).json()).toMatchObject({ dht: true });
        await sonarrQbittorrent(`http://127.0.0.1:${b!.webPort}`, t[2]!, fleet.dataDir);
        await sonarrTransmission(`http://127.0.0.1:${a!.webPort}`, t[1]!, fleet.dataDir);
        // Added on one replica, its peer handed over on the other: the worker running it dials it.
        await addFromPeer(`http://127.0.0.1:${b!.webPort}`, `http://127.0.0.1:${a!.webPort}`, seed, fleet.dataDir);
      } finally {
        await fleet.stop();
      }
    }, 180_000);
  });

  /** Adds the torrent without a tracker on one replica and hands it the seed's address on another; it downloads byte-identical. */
  async function addFromPeer(addOn: string, peersOn: string, seed: RunningPeer, dataDir: string): Promise<void> {
    const adder = new QbtSession(addOn);
    await adder.login(USER, PASS);
    const form = new FormData();
    form.append('torrents', new Blob([readFileSync(lonely.torrentPath)]), 'lonely.torrent');
    expect((await adder.call('torrents/add', { form })).text).toBe('Ok.');
    const other = new QbtSession(peersOn);
    other.cookie = adder.cookie;
    const handed = await other.call('torrents/addPeers', { form: { hashes: lonely.infoHash, peers: `${seed.host}:${seed.port}|nonsense` } });
    expect(handed.json()).toEqual({ [lonely.infoHash]: { added: 1, failed: 1 } });
    await waitFor(async () => (await adder.call('torrents/info', { query: { hashes: lonely.infoHash } })).json<Json[]>()[0]?.progress === 1, 60_000, 'the download complete', { intervalMs: 250 });
    expect(await compareTrees(lonely.contentPath, join(dataDir, lonely.infoHash, lonely.name))).toBeNull();
  }

  async function startFleetWithLogin(natsUrl: string) {
    const env = { SEEDBOX_WEB_USERNAME: USER, SEEDBOX_WEB_PASSWORD: PASS, SEEDBOX_WEB_HOST: '127.0.0.1' };
    return startFleet({ natsUrl, peerWorkers: 2, env });
  }
});

/** Sonarr's QBittorrentProxyV2, call by call, as it adds a release and follows it to the end. */
async function sonarrQbittorrent(base: string, x: TestTorrent, dataDir: string): Promise<void> {
  const q = new QbtSession(base);
  // IsApiSupported: unauthenticated, a 403 means "v2, log in".
  expect((await q.call('app/webapiVersion')).status).toBe(403);
  const login = await q.call('auth/login', { form: { username: USER, password: PASS } });
  expect(login).toMatchObject({ status: 200, text: 'Ok.' });
  expect(q.cookie).toMatch(/^SID=/);
  const api = (await q.call('app/webapiVersion')).text;
  expect(api).toMatch(/^2\.(1[1-9]|[2-9]\d)\.\d+$/);
  expect((await q.call('app/version')).text).toMatch(/^v5\./);
  const prefs = (await q.call('app/preferences')).json() as Record<string, unknown>;
  expect(prefs).toMatchObject({ save_path: dataDir, max_ratio_enabled: false, queueing_enabled: false });
  // Sonarr reads dht (whether a magnet without trackers can resolve): the process's or the fleet's setting, a boolean.
  expect(typeof prefs.dht).toBe('boolean');
  expect(typeof prefs.max_ratio).toBe('number');
  expect(typeof prefs.max_seeding_time).toBe('number');
  expect(typeof prefs.max_ratio_act).toBe('number');
  // GetLabels, then AddLabel for a category it lacks.
  expect((await q.call('torrents/categories')).json()).not.toHaveProperty('tv-sonarr');
  expect((await q.call('torrents/createCategory', { form: { category: 'tv-sonarr' } })).status).toBe(200);
  expect((await q.call('torrents/categories')).json()).toMatchObject({ 'tv-sonarr': { name: 'tv-sonarr' } });
  // AddTorrentFromFile: the file as a multipart upload, with the category and the initial state.
  const form = new FormData();
  form.append('torrents', new Blob([readFileSync(x.torrentPath)]), `${x.name}.torrent`);
  form.append('category', 'tv-sonarr');
  form.append('stopped', 'false');
  const add = await q.call('torrents/add', { form });
  expect(add.status).toBe(200);
  expect(add.text).not.toBe('Fails.');
  // IsTorrentLoaded, then GetTorrents by category until done.
  expect((await q.call('torrents/properties', { query: { hash: x.infoHash } })).status).toBe(200);
  let mine: Record<string, unknown> | undefined;
  await waitFor(
    async () => {
      const list = (await q.call('torrents/info', { query: { category: 'tv-sonarr' } })).json() as Record<string, unknown>[];
      mine = list.find((y) => y.hash === x.infoHash);
      return mine?.progress === 1;
    },
    60_000,
    'Sonarr seeing the download complete',
    { intervalMs: 250 },
  );
  expect(mine).toMatchObject({ name: x.name, category: 'tv-sonarr', size: x.totalSize, amount_left: 0, save_path: dataDir, content_path: join(dataDir, x.name) });
  expect(['uploading', 'stalledUP', 'queuedUP', 'forcedUP']).toContain(mine!.state);
  expect(typeof mine!.eta).toBe('number');
  expect(typeof mine!.ratio).toBe('number');
  const props = (await q.call('torrents/properties', { query: { hash: x.infoHash } })).json() as Record<string, unknown>;
  expect(props).toMatchObject({ save_path: dataDir, seeding_time: expect.any(Number) });
  const files = (await q.call('torrents/files', { query: { hash: x.infoHash } })).json() as Record<string, unknown>[];
  expect(files).toMatchObject([{ name: x.name, size: x.totalSize, progress: 1, priority: 1 }]);
  expect(await compareTrees(x.contentPath, join(dataDir, x.name))).toBeNull();
  // SetTorrentSeedingConfiguration, MoveTorrentToTopInQueue (409 with queueing off is fine), then remove.
  expect((await q.call('torrents/setShareLimits', { form: { hashes: x.infoHash, ratioLimit: '2', seedingTimeLimit: '1440' } })).status).toBe(200);
  const limited = ((await q.call('torrents/info', { query: { hashes: x.infoHash } })).json() as Record<string, unknown>[])[0];
  expect(limited).toMatchObject({ ratio_limit: 2, seeding_time_limit: 1440 });
  expect([200, 409]).toContain((await q.call('torrents/topPrio', { form: { hashes: x.infoHash } })).status);
  expect((await q.call('torrents/delete', { form: { hashes: x.infoHash, deleteFiles: 'true' } })).status).toBe(200);
  await waitFor(() => !existsSync(join(dataDir, x.name)), 20_000, 'the download deleted');
  expect((await q.call('torrents/info', { query: { category: 'tv-sonarr' } })).json()).toEqual([]);
}

/** Sonarr's TransmissionProxy, call by call. */
async function sonarrTransmission(base: string, x: TestTorrent, dataDir: string): Promise<void> {
  const url = `${base}/transmission/rpc`;
  const auth = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`;
  // GetSessionId: a bare request, expecting 409 and the header.
  const bare = await fetch(url, { headers: { Authorization: auth } });
  expect(bare.status).toBe(409);
  const sessionId = bare.headers.get('x-transmission-session-id');
  expect(sessionId).toBeTruthy();
  const rpc = new TransmissionRpc(url, { username: USER, password: PASS });
  rpc.sessionId = sessionId!;
  const session = await rpc.call('session-get');
  expect(session.result).toBe('success');
  expect(session.arguments).toMatchObject({ 'rpc-version': 17, 'download-dir': dataDir });
  expect(String(session.arguments.version)).toMatch(/^4\.0\./);
  const dir = join(dataDir, 'tv-sonarr');
  const added = await rpc.call('torrent-add', { metainfo: readFileSync(x.torrentPath).toString('base64'), 'download-dir': dir, labels: ['tv-sonarr'], paused: false });
  expect(added.result).toBe('success');
  expect(added.arguments['torrent-added']).toMatchObject({ hashString: x.infoHash, name: x.name, id: expect.any(Number) });
  const fields = ['id', 'hashString', 'name', 'downloadDir', 'totalSize', 'leftUntilDone', 'isFinished', 'eta', 'status', 'secondsDownloading', 'secondsSeeding', 'errorString', 'uploadedEver', 'downloadedEver', 'seedRatioLimit', 'seedRatioMode', 'seedIdleLimit', 'seedIdleMode', 'fileCount', 'labels'];
  let mine: Record<string, unknown> | undefined;
  await waitFor(
    async () => {
      const got = await rpc.call('torrent-get', { fields });
      mine = (got.arguments.torrents as Record<string, unknown>[]).find((y) => y.hashString === x.infoHash);
      return mine?.leftUntilDone === 0;
    },
    60_000,
    'Sonarr seeing the download complete',
    { intervalMs: 250 },
  );
  expect(Object.keys(mine!).sort()).toEqual([...fields].sort());
  expect(mine).toMatchObject({ name: x.name, downloadDir: dir, totalSize: x.totalSize, labels: ['tv-sonarr'], fileCount: 1, errorString: '' });
  expect([5, 6]).toContain(mine!.status);
  expect(await compareTrees(x.contentPath, join(dir, x.name))).toBeNull();
  const set = await rpc.call('torrent-set', { ids: [x.infoHash], seedRatioLimit: 1.5, seedRatioMode: 1, seedIdleLimit: 60, seedIdleMode: 1 });
  expect(set.result).toBe('success');
  const after = ((await rpc.call('torrent-get', { ids: [x.infoHash], fields: ['seedRatioLimit', 'seedRatioMode', 'seedIdleLimit', 'seedIdleMode'] })).arguments.torrents as unknown[])[0];
  expect(after).toEqual({ seedRatioLimit: 1.5, seedRatioMode: 1, seedIdleLimit: 60, seedIdleMode: 1 });
  expect((await rpc.call('queue-move-top', { ids: [x.infoHash] })).result).toBe('success');
  expect((await rpc.call('torrent-remove', { ids: [x.infoHash], 'delete-local-data': true })).result).toBe('success');
  await waitFor(() => !existsSync(join(dir, x.name)), 20_000, 'the download deleted');
  expect((await rpc.call('torrent-get', { fields: ['id'] })).arguments.torrents).toEqual([]);
}
