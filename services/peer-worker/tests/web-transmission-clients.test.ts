/**
 * The Transmission RPC driven by real clients over a real HTTP server on
 * 127.0.0.1 (port 0), with an in-memory backend: the @ctrl/transmission
 * library, and Debian's transmission-remote (3.00), whose table and
 * detail output are checked line by line. Each change is checked where it
 * lands: in the backend's records and config.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Transmission } from '@ctrl/transmission';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseMetainfo } from '@seedbox/protocol';
import { silentLogger } from '@seedbox/runtime';
import { MemoryControlBackend } from '../../../test/support/memory-control-backend.js';
import { needTool, tools } from '../../../test/support/tools.js';
import { createTransmissionApi } from '../src/web/transmission/transmission-api.js';
import type { WebApiContext } from '../src/web/web-api.js';
import { WebAuth } from '../src/web/web-auth.js';
import { startWebServer, type WebServer } from '../src/web/web-server.js';

const fixtures = join(import.meta.dirname, '../../../test/fixtures/torrents');
const MULTI_PATH = join(fixtures, 'mktorrent-multi.torrent');
const SINGLE_PATH = join(fixtures, 'mktorrent-single.torrent');
const MULTI = readFileSync(MULTI_PATH);
const SINGLE = readFileSync(SINGLE_PATH);
const MULTI_HASH = parseMetainfo(MULTI).infoHashHex;
const SINGLE_HASH = parseMetainfo(SINGLE).infoHashHex;

const USER = 'radarr';
const PASS = 'battery staple';
const DATA = '/srv/seedbox-clients';
const FREE = 987_654_321;

let backend: MemoryControlBackend;
let server: WebServer;
let port: number;

beforeEach(async () => {
  backend = new MemoryControlBackend(DATA);
  const auth = new WebAuth({ username: USER, password: PASS });
  const ctx: WebApiContext = {
    backend,
    auth,
    dataDir: DATA,
    version: '0.1.0-test',
    log: silentLogger,
    now: Date.now,
    fetchTorrent: async (url) => {
      throw new Error(`no torrent is fetched in this test (${url})`);
    },
    freeSpace: async () => FREE,
  };
  server = await startWebServer({ host: '127.0.0.1', port: 0, apis: [createTransmissionApi(ctx)], log: silentLogger });
  port = server.port;
});
afterEach(async () => {
  await server.close();
});

describe('@ctrl/transmission', () => {
  it('adds, lists, pauses, resumes, sets, verifies, moves, queues and removes; each change reaches the backend', async () => {
    const tr = new Transmission({ baseUrl: `http://127.0.0.1:${port}/`, username: USER, password: PASS });
    const options = { 'download-dir': `${DATA}/movies`, labels: ['films'] };
    const added = await tr.addTorrent(new Uint8Array(MULTI), options);
    expect(added.result).toBe('success');
    const id = added.arguments['torrent-added'].id;
    const record = backend.records.get(MULTI_HASH)!;
    expect(added.arguments['torrent-added']).toEqual({ id: record.id, name: 'tree', hashString: MULTI_HASH });
    expect(record).toMatchObject({ savePath: `${DATA}/movies`, desired: 'running', settings: { tags: ['films'] } });

    backend.setStats(MULTI_HASH, { downloadRate: 2500, uploadRate: 100, left: 40_000, eta: 16, peers: 5 });
    const all = await tr.getAllData();
    expect(all.torrents).toHaveLength(1);
    expect(all.torrents[0]).toMatchObject({ id: MULTI_HASH, name: 'tree', state: 'downloading', progress: 0.5, isCompleted: false, label: 'films', savePath: `${DATA}/movies`, downloadSpeed: 2500, uploadSpeed: 100, eta: 16, totalSize: 80_000, totalPeers: 5 });
    expect(all.labels).toEqual([{ id: 'films', name: 'films', count: 1 }]);

    await tr.pauseTorrent(id);
    expect(record.desired).toBe('paused');
    expect(await tr.getTorrent(MULTI_HASH)).toMatchObject({ state: 'paused', downloadSpeed: 0 });
    await tr.resumeTorrent(MULTI_HASH);
    expect(record.desired).toBe('running');

    const set = await tr.setTorrent(id, { downloadLimit: 100, downloadLimited: true, seedRatioLimit: 2, seedRatioMode: 1, labels: ['films', 'hd'] });
    expect(set.result).toBe('success');
    expect(record.settings).toMatchObject({ limits: { download: 100_000 }, share: { ratio: 2 }, tags: ['films', 'hd'] });
    await tr.verifyTorrent(id);
    expect(backend.rechecked).toEqual([MULTI_HASH]);
    await tr.moveTorrent(id, `${DATA}/archive`);
    expect(backend.moved).toEqual([{ infoHashHex: MULTI_HASH, savePath: `${DATA}/archive` }]);

    // Its addTorrent asks for /downloads unless told otherwise: outside this data folder, so refused with the reason.
    const outside = await tr.addTorrent(new Uint8Array(SINGLE));
    expect(outside.result).toMatch(/^save-path: the save folder \/downloads is outside the data folder \/srv\/seedbox-clients/);
    expect((await tr.addTorrent(new Uint8Array(SINGLE), { 'download-dir': DATA })).result).toBe('success');
    await tr.queueTop(SINGLE_HASH);
    expect(backend.records.get(SINGLE_HASH)!.queuePosition).toBe(1);
    await tr.queueBottom(SINGLE_HASH);
    expect(backend.records.get(SINGLE_HASH)!.queuePosition).toBe(2);

    const session = await tr.getSession();
    expect(session.arguments).toMatchObject({ 'rpc-version': 17, version: '4.0.6 (seedbox 0.1.0-test)', 'download-dir': DATA });
    expect((await tr.setSession({ 'speed-limit-up': 50, 'speed-limit-up-enabled': true })).result).toBe('success');
    expect(backend.fleetConfig.speed.upload).toBe(50_000);
    expect((await tr.freeSpace(DATA)).arguments).toEqual({ path: DATA, 'size-bytes': FREE });

    await tr.removeTorrent(id, true);
    expect(backend.removed).toEqual([{ infoHashHex: MULTI_HASH, deleteData: true }]);
    expect((await tr.getAllData()).torrents.map((t) => t.id)).toEqual([SINGLE_HASH]);
  });
});

const remoteTool = needTool(tools.transmissionRemote);
if (!remoteTool.available && process.env.CI) throw new Error(`the transmission-remote tests ${remoteTool.reason}: in CI nothing may skip`);

describe.skipIf(!remoteTool.available)('transmission-remote (transmission-cli 3.00)', () => {
  const exec = promisify(execFile);
  async function remote(...args: string[]): Promise<string> {
    const { stdout } = await exec('transmission-remote', [`127.0.0.1:${port}`, '--auth', `${USER}:${PASS}`, ...args], { timeout: 15_000 });
    return stdout;
  }
  const line = (output: string, start: string): string | undefined => output.split('\n').find((l) => l.trimStart().startsWith(start));

  it('adds, lists, shows, stops, starts, limits and removes; its table and detail output checked', async () => {
    expect(await remote('-a', MULTI_PATH)).toMatch(/responded: "success"/);
    expect(await remote('-a', SINGLE_PATH)).toMatch(/responded: "success"/);
    const multi = backend.records.get(MULTI_HASH)!;
    const single = backend.records.get(SINGLE_HASH)!;
    expect([multi.id, single.id]).toEqual([1, 2]);
    backend.setStats(MULTI_HASH, { downloadRate: 5000, uploadRate: 1000, left: 40_000, eta: 8, peers: 3 });
    backend.setStats(SINGLE_HASH, { left: 0, complete: true, state: 'seeding' });
    single.ratio = 2;

    const list = await remote('-l');
    expect(line(list, 'ID')).toMatch(/^\s*ID\s+Done\s+Have\s+ETA\s+Up\s+Down\s+Ratio\s+Status\s+Name$/);
    // Rates in kB/s; "Idle": no peer sent to it or took from it in the last tick.
    expect(line(list, '1 ')).toMatch(/^\s*1\s+50%\s+40\.00 kB\s+8 sec\s+1\.0\s+5\.0\s+0\.0\s+Idle\s+tree$/);
    expect(line(list, '2 ')).toMatch(/^\s*2\s+100%\s+65\.54 kB\s+Done\s+0\.0\s+0\.0\s+2\.0\s+Idle\s+single\.bin$/);
    expect(line(list, 'Sum:')).toMatch(/^Sum:\s+105\.5 kB\s+1\.0\s+5\.0$/);

    const info = await remote('-t', '1', '-i');
    expect(line(info, 'Id:')).toBe('  Id: 1');
    expect(line(info, 'Name:')).toBe('  Name: tree');
    expect(line(info, 'Hash:')).toBe(`  Hash: ${MULTI_HASH}`);
    expect(line(info, 'Location:')).toBe(`  Location: ${DATA}/${MULTI_HASH}`);
    expect(line(info, 'Percent Done:')).toBe('  Percent Done: 50.0%');
    expect(line(info, 'Download Speed:')).toBe('  Download Speed: 5 kB/s');
    expect(line(info, 'Total size:')).toBe('  Total size: 80.00 kB (80.00 kB wanted)');
    expect(line(info, 'Comment:')).toBe('  Comment: multi-file fixture');
    expect(line(info, 'Piece Count:')).toBe('  Piece Count: 3');
    expect(line(info, 'Download Limit:')).toBe('  Download Limit: Unlimited');

    await remote('-t', '1', '-S');
    expect(multi.desired).toBe('paused');
    expect(line(await remote('-l'), '1 ')).toMatch(/^\s*1\s+50%\s+40\.00 kB\s+Unknown\s+0\.0\s+0\.0\s+0\.0\s+Stopped\s+tree$/);
    await remote('-t', '1', '-s');
    expect(multi.desired).toBe('running');

    // Limits in kB/s of 1000 bytes, as transmission-remote sends them.
    await remote('-t', '1', '-d', '300', '-u', '200');
    expect(multi.settings.limits).toEqual({ download: 300_000, upload: 200_000 });
    const limited = await remote('-t', '1', '-i');
    expect(line(limited, 'Download Limit:')).toBe('  Download Limit: 300 kB/s');
    expect(line(limited, 'Upload Limit:')).toBe('  Upload Limit: 200 kB/s');
    await remote('-t', '1', '-D');
    expect(multi.settings.limits).toEqual({ download: 0, upload: 200_000 });

    const session = await remote('-si');
    expect(line(session, 'Daemon version:')).toBe('  Daemon version: 4.0.6 (seedbox 0.1.0-test)');
    expect(line(session, 'RPC version:')).toBe('  RPC version: 17');
    expect(line(session, 'Download directory:')).toBe(`  Download directory: ${DATA}`);
    // This process's SEEDBOX_DHT (its default, on) until the fleet's config switches it: off with --no-dht, on with --dht.
    expect(line(session, 'Distributed hash table enabled:')).toBe('  Distributed hash table enabled: Yes');
    await remote('-O');
    expect(backend.fleetConfig.dht).toBe(false);
    expect(line(await remote('-si'), 'Distributed hash table enabled:')).toBe('  Distributed hash table enabled: No');
    await remote('-o');
    expect(backend.fleetConfig.dht).toBe(true);
    expect(line(await remote('-si'), 'Distributed hash table enabled:')).toBe('  Distributed hash table enabled: Yes');

    await remote('-t', '2', '-r');
    await remote('-t', '1', '--remove-and-delete');
    expect(backend.removed).toEqual([
      { infoHashHex: SINGLE_HASH, deleteData: false },
      { infoHashHex: MULTI_HASH, deleteData: true },
    ]);
    expect(line(await remote('-l'), 'Sum:')).toMatch(/^Sum:\s+None\s+0\.0\s+0\.0$/);
  });

  it('shows the trackers (-it) as transmission-remote prints them, the peers (-ip), and reannounces', async () => {
    await remote('-a', MULTI_PATH);
    backend.setStats(MULTI_HASH, { state: 'seeding', left: 0, complete: true, peers: 1, peersGetting: 1 });
    const now = Date.now();
    backend.trackerStatus.set(MULTI_HASH, [
      { url: 'http://a.example/announce', lastAnnounceStartAt: now - 150_500, lastAnnounceAt: now - 150_000, ok: true, peers: 4, seeders: 3, leechers: 1, nextAnnounceAt: now + 1_680_000 },
      { url: 'udp://c.example:6969/announce', lastAnnounceStartAt: now - 125_000, lastAnnounceAt: now - 125_000, ok: false, failure: 'refused', error: 'Unregistered torrent' },
    ]);
    // Times far from a whole minute: transmission-remote prints "2 minutes, 30 seconds", whichever second it reads the clock.
    const trackers = await remote('-t', '1', '-it');
    expect(trackers).toMatch(/Tracker 0: http:\/\/a\.example:80\n\s+Active in tier 0\n\s+Got a list of 4 peers 2 minutes, \d+ seconds \(15\d seconds\) ago\n\s+Asking for more peers in 2[78] minutes/);
    expect(trackers).toMatch(/Tracker 1: http:\/\/b\.example:80\n\s+Backup on tier 0/);
    expect(trackers).toMatch(/Tracker 2: udp:\/\/c\.example:6969\n\s+Active in tier 1\n\s+Got an error "Unregistered torrent" 2 minutes/);
    const info = await remote('-t', '1', '-i');
    expect(line(info, 'Peers:')).toBe('  Peers: connected to 1, uploading to 1, downloading from 0');
    backend.connectedPeers.set(MULTI_HASH, [
      { host: '10.0.0.9', port: 51413, client: 'libtorrent/2.0.8.0', peerIdClient: 'libtorrent (Rasterbar) 2.0.8', incoming: true, amChoking: false, amInterested: false, peerChoking: true, peerInterested: true, optimistic: false, snubbed: false, progress: 0.5, relevance: 0, downloadRate: 0, uploadRate: 20_000, downloaded: 0, uploaded: 1 << 20 },
    ]);
    const peers = await remote('-t', '1', '-ip');
    expect(line(peers, 'Address')).toMatch(/^Address\s+Flags\s+Done\s+Down\s+Up\s+Client$/);
    expect(line(peers, '10.0.0.9')).toMatch(/^10\.0\.0\.9\s+UI\s+50\.0\s+0\.0\s+20\.0\s+libtorrent\/2\.0\.8\.0$/);
    expect(await remote('-t', '1', '--reannounce')).toMatch(/responded: "success"/);
    expect(backend.reannounced).toEqual([MULTI_HASH]);
  });

  it('says a wrong password is one, and a refusal is shown as the result sentence', async () => {
    const wrong = await exec('transmission-remote', [`127.0.0.1:${port}`, '--auth', `${USER}:wrong`, '-l'], { timeout: 15_000 }).then(
      () => 'exit 0',
      (e: { stdout: string; stderr: string }) => `${e.stdout}${e.stderr}`,
    );
    expect(wrong).toMatch(/401|Unauthorized/);
    await remote('-a', SINGLE_PATH);
    // -pr (the peer limit) is SEEDBOX_MAX_PEERS, not a torrent setting.
    const refused = await exec('transmission-remote', [`127.0.0.1:${port}`, '--auth', `${USER}:${PASS}`, '-t', '1', '-pr', '20'], { timeout: 15_000 }).then(
      (r) => `${r.stdout}${r.stderr}`,
      (e: { stdout: string; stderr: string }) => `${e.stdout}${e.stderr}`,
    );
    expect(refused).toMatch(/peer-limit cannot be set: the peer limit is SEEDBOX_MAX_PEERS/);
  });
});
