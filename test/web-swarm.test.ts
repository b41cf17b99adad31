/**
 * What the web APIs say about a torrent's swarm, against real processes:
 * `seedbox serve`, opentracker and a libtorrent seed held to a slow upload
 * so the download lasts long enough to be watched. Each tracker's status
 * (working with the swarm's counts, or refusing a torrent it does not
 * serve, in its own words), a reannounce that reaches the tracker, and
 * the connected peers with their client, through both APIs and
 * transmission-remote. Then a fleet of two peer-workers: the replica that
 * does not run the download lists its peers too, and one started after
 * the announces reads the trackers' statuses at once.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compareTrees, makeTorrent, type TestTorrent } from './support/data.js';
import { startFleet, startService } from './support/fleet.js';
import { startNatsServer } from './support/nats.js';
import { startLibtorrentSeed } from './support/peers.js';
import { cleanupAfter, cleanupAll, cleanupMark, freePort, makeTempDir, runToExit, waitFor } from './support/processes.js';
import { startServe } from './support/serve.js';
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

const USER = 'qbit_manage';
const PASS = 'unregistered torrent';

/** The libtorrent seed's upload limit: 1.5 MiB then takes some ten seconds. */
const SLOW = 150_000;

/** A qBittorrent WebAPI session with the calls qbit_manage makes. */
class Qbt extends QbtSession {
  override async login(): Promise<void> {
    await super.login(USER, PASS);
  }
  async add(x: TestTorrent): Promise<void> {
    const form = new FormData();
    form.append('torrents', new Blob([readFileSync(x.torrentPath)]), `${x.name}.torrent`);
    expect((await this.call('torrents/add', { form })).text).toBe('Ok.');
  }
  async info(hash: string): Promise<Json | undefined> {
    return (await this.call('torrents/info', { query: { hashes: hash } })).json<Json[]>()[0];
  }
  /** The real trackers (the DHT, PeX and LSD lines left out). */
  async trackers(hash: string): Promise<Json[]> {
    return (await this.call('torrents/trackers', { query: { hash } })).json<Json[]>().slice(3);
  }
  async peers(hash: string): Promise<Record<string, Json>> {
    return (await this.call('sync/torrentPeers', { query: { hash } })).json<{ peers: Record<string, Json> }>().peers;
  }
}

const isLibtorrent = (client: unknown): boolean => typeof client === 'string' && /libtorrent|LT/i.test(client);

describe.skipIf(!need.available)('trackers, reannounce and peers through the web APIs, against seedbox serve', () => {
  let work: string;
  let trackerPort: number;
  let served: TestTorrent;
  let refused: TestTorrent;

  beforeAll(async () => {
    work = makeTempDir('web-swarm');
    trackerPort = await freePort();
    const announce = `http://127.0.0.1:${trackerPort}/announce`;
    served = await makeTorrent({ dir: join(work, 'src'), name: 'served.bin', pieceLength: 32 * 1024, tracker: announce, files: { size: 1536 * 1024 } });
    refused = await makeTorrent({ dir: join(work, 'src'), name: 'refused.bin', pieceLength: 32 * 1024, tracker: announce, files: { size: 64 * 1024 } });
  }, 120_000);

  it("shows each tracker's status and counts, reannounces, and lists the libtorrent peer with its client, in both APIs", async () => {
    // The whitelist lacks `refused`: opentracker refuses it, in its own words.
    const tracker = await startOpentracker({ infoHashes: [served.infoHash], port: trackerPort });
    await startLibtorrentSeed({ torrentPath: served.torrentPath, dataRoot: served.dataRoot, uploadLimit: SLOW });
    const data = join(work, 'serve', 'data');
    mkdirSync(data, { recursive: true });
    const s = await startServe(data, ['--web-username', USER, '--web-password', PASS]);
    const base = `http://127.0.0.1:${s.webPort}`;
    const q = new Qbt(base);
    await q.login();
    const rpc = new TransmissionRpc(`${base}/transmission/rpc`, { username: USER, password: PASS });
    await q.add(served);

    // While it downloads: the libtorrent seed is connected, sending.
    const peers = await waitFor(
      async () => {
        const list = Object.values(await q.peers(served.infoHash));
        return list.some((p) => isLibtorrent(p.client) && (p.dl_speed as number) > 0) ? list : undefined;
      },
      30_000,
      'sync/torrentPeers listing the libtorrent seed sending',
      { intervalMs: 250, watch: [s.process] },
    );
    expect((await q.info(served.infoHash))!.progress).toBeLessThan(1);
    const lt = peers.find((p) => isLibtorrent(p.client))!;
    expect(lt).toMatchObject({ ip: '127.0.0.1', connection: 'BT', progress: 1 });
    expect(lt.flags).toMatch(/D/);
    expect(lt.peer_id_client).toMatch(/^libtorrent \(Rasterbar\) \d/);
    const t = await rpc.torrent(served.infoHash, ['peers', 'peersConnected', 'peersSendingToUs']);
    expect((t.peers as Json[]).some((p) => isLibtorrent(p.clientName) && p.address === '127.0.0.1')).toBe(true);
    expect(t.peersConnected).toBeGreaterThanOrEqual(1);
    const remote = (...args: string[]) => runToExit('transmission-remote', [`127.0.0.1:${s.webPort}`, '--auth', `${USER}:${PASS}`, ...args], 20_000);
    expect((await remote('-t', '1', '-ip')).stdout).toMatch(/^127\.0\.0\.1\s+\S*D\S*\s+100\.0\s+.*(libtorrent|LT)/im);

    await waitFor(async () => (await q.info(served.infoHash))?.progress === 1, 60_000, 'the download complete', { intervalMs: 250, watch: [s.process] });
    expect(await compareTrees(served.contentPath, join(data, served.infoHash, served.name))).toBeNull();

    // The tracker works, and counts the libtorrent seed (and seedbox, now).
    const [working] = await q.trackers(served.infoHash);
    expect(working).toMatchObject({ url: tracker.announceUrl, status: 2, msg: '' });
    expect(working!.num_seeds).toBeGreaterThanOrEqual(1);
    expect((await q.info(served.infoHash))!.num_complete).toBeGreaterThanOrEqual(1);
    expect((await q.info(served.infoHash))!.reannounce).toBeGreaterThan(0);
    const shown = (await remote('-t', '1', '-it')).stdout;
    expect(shown).toMatch(/Tracker 0: http:\/\/127\.0\.0\.1:\d+\n\s+Active in tier 0\n\s+Got a list of \d+ peers .* ago\n\s+Asking for more peers in /);

    // A reannounce reaches the tracker at once, its min interval notwithstanding.
    const before = (await rpc.torrent(served.infoHash, ['trackerStats'])).trackerStats as Json[];
    expect(before[0]).toMatchObject({ hasAnnounced: true, lastAnnounceSucceeded: true, lastAnnounceResult: 'Success' });
    expect((await q.call('torrents/reannounce', { form: { hashes: served.infoHash } })).status).toBe(200);
    await waitFor(
      async () => ((await rpc.torrent(served.infoHash, ['trackerStats'])).trackerStats as Json[])[0]!.lastAnnounceTime! > before[0]!.lastAnnounceTime!,
      20_000,
      'a newer announce after torrents/reannounce',
      { intervalMs: 250, watch: [s.process] },
    );
    expect((await rpc.call('torrent-reannounce', { ids: [served.infoHash] })).result).toBe('success');

    // The refused torrent: not working, with opentracker's words, in both APIs.
    await q.add(refused);
    const notWorking = await waitFor(
      async () => (await q.trackers(refused.infoHash)).find((x) => x.status === 4),
      20_000,
      'the tracker refusing the torrent it does not serve',
      { intervalMs: 250, watch: [s.process] },
    );
    expect(notWorking).toMatchObject({ url: tracker.announceUrl, num_seeds: -1 });
    expect(notWorking.msg).toMatch(/not authorized/i);
    const r = await rpc.torrent(refused.infoHash, ['error', 'errorString', 'trackerStats']);
    expect(r).toMatchObject({ error: 2, errorString: notWorking.msg });
    expect((r.trackerStats as Json[])[0]).toMatchObject({ hasAnnounced: true, lastAnnounceSucceeded: false, lastAnnounceResult: notWorking.msg });
    expect((await remote('-t', '2', '-i')).stdout).toMatch(/Tracker gave an error: .*not authorized/i);
    await s.stop();
  }, 180_000);

  describe.skipIf(!needNats.available)('a fleet', () => {
    it('lists the peers from the replica that does not run the download, and a replica started later reads the trackers at once', async () => {
      const nats = await startNatsServer();
      const tracker = await startOpentracker({ infoHashes: [served.infoHash], port: trackerPort });
      await startLibtorrentSeed({ torrentPath: served.torrentPath, dataRoot: served.dataRoot, uploadLimit: SLOW });
      const env = { SEEDBOX_WEB_USERNAME: USER, SEEDBOX_WEB_PASSWORD: PASS, SEEDBOX_WEB_HOST: '127.0.0.1' };
      const fleet = await startFleet({ natsUrl: nats.url, peerWorkers: 2, env });
      try {
        const [a, b] = fleet.peerWorkers.map((w) => new Qbt(`http://127.0.0.1:${w.webPort}`));
        await a!.login();
        b!.cookie = a!.cookie;
        await a!.add(served);
        // Downloading runs on one worker only; both replicas list the seed it is connected to.
        for (const replica of [a!, b!]) {
          await waitFor(
            async () => Object.values(await replica.peers(served.infoHash)).some((p) => isLibtorrent(p.client)),
            30_000,
            'the libtorrent seed listed by each replica',
            { intervalMs: 250, watch: fleet.all().map((p) => p.process) },
          );
        }
        expect((await a!.info(served.infoHash))!.progress).toBeLessThan(1);
        const rpc = new TransmissionRpc(`http://127.0.0.1:${fleet.peerWorkers[1]!.webPort}/transmission/rpc`, { username: USER, password: PASS });
        expect(((await rpc.torrent(served.infoHash, ['peers'])).peers as Json[]).some((p) => isLibtorrent(p.clientName))).toBe(true);

        for (const replica of [a!, b!]) {
          const [t] = await waitFor(async () => ((await replica.trackers(served.infoHash))[0]?.status === 2 ? replica.trackers(served.infoHash) : undefined), 20_000, 'the tracker working on each replica');
          expect(t).toMatchObject({ url: tracker.announceUrl, status: 2 });
          expect(t!.num_seeds).toBeGreaterThanOrEqual(1);
        }
        await waitFor(async () => (await a!.info(served.infoHash))?.progress === 1, 60_000, 'the download complete', { intervalMs: 250 });
        expect(await compareTrees(served.contentPath, join(fleet.dataDir, served.infoHash, served.name))).toBeNull();

        // A replica that just started has the statuses from the bucket, before it announced anything.
        const late = await startService('peer-worker', { natsUrl: nats.url, dataDir: fleet.dataDir, id: 'pw-late', env });
        fleet.peerWorkers.push(late);
        const c = new Qbt(`http://127.0.0.1:${late.webPort}`);
        c.cookie = a!.cookie;
        const [t] = await c.trackers(served.infoHash);
        expect(t).toMatchObject({ url: tracker.announceUrl, status: 2 });
        // A reannounce through any replica goes to the tracker-client.
        expect((await c.call('torrents/reannounce', { form: { hashes: served.infoHash } })).status).toBe(200);
      } finally {
        await fleet.stop();
      }
    }, 240_000);
  });
});
