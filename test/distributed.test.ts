/**
 * The distributed mode, as processes: a real nats-server (JetStream), the
 * three services started from their built `main.js` with environment
 * configuration, opentracker, and a libtorrent seed. Torrents are added
 * through the gRPC control API; every download is compared byte for byte.
 *
 * - a download across the three services, 16 MiB pieces through a server
 *   whose max_payload is 1 MiB;
 * - two disk-writers, one killed with SIGKILL in the middle;
 * - NATS restarted in the middle;
 * - the control API through the CLI, and metrics that move.
 */
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { SeedboxControlClient, TorrentState, type GetTorrentResponse, type Torrent } from '@seedbox/proto';
import { compareTrees, makeTorrent, type TestTorrent } from './support/data.js';
import { call, scrape, startFleet, type Fleet } from './support/fleet.js';
import { startNatsServer, type RunningNats } from './support/nats.js';
import { startLibtorrentLeech, startLibtorrentSeed } from './support/peers.js';
import { cleanupAfter, cleanupAll, cleanupMark, freePort, makeTempDir, runToExit, sleep, waitFor } from './support/processes.js';
import { needTools, tools } from './support/tools.js';
import { startOpentracker } from './support/tracker.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'packages/cli/bin/seedbox.js');
const need = needTools(tools.natsServer, tools.libtorrent, tools.mktorrent, tools.opentracker);

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

describe.skipIf(!need.available)('distributed mode: three services over NATS', () => {
  let work: string;
  let trackerPort: number;
  let big: TestTorrent;
  let many: TestTorrent;

  beforeAll(async () => {
    work = makeTempDir('distributed');
    trackerPort = await freePort();
    const tracker = `http://127.0.0.1:${trackerPort}/announce`;
    // 16 MiB pieces: each crosses NATS in many chunks.
    big = await makeTorrent({ dir: join(work, 'big'), name: 'big.bin', pieceLength: 16 * 1024 * 1024, files: { size: 40 * 1024 * 1024 + 12345 }, tracker });
    // Many small pieces, so a kill or a restart lands in the middle.
    many = await makeTorrent({
      dir: join(work, 'many'),
      name: 'many',
      pieceLength: 64 * 1024,
      tracker,
      files: [
        { path: 'a.bin', size: 20 * 1024 * 1024 },
        { path: 'b/c.bin', size: 4 * 1024 * 1024 + 7 },
        { path: 'empty', size: 0 },
      ],
    });
  }, 120_000);

  let nats: RunningNats;
  let fleet: Fleet | undefined;

  async function setUp(t: TestTorrent, o: { diskWriters?: number; peerWorkers?: number; seedLimit?: number; env?: Record<string, string> } = {}): Promise<Fleet> {
    nats = await startNatsServer({ maxPayload: 1024 * 1024 });
    await startOpentracker({ infoHashes: [big.infoHash, many.infoHash], port: trackerPort });
    const seed = await startLibtorrentSeed({ torrentPath: t.torrentPath, dataRoot: t.dataRoot, awaitAnnounce: true, ...(o.seedLimit ? { uploadLimit: o.seedLimit } : {}) });
    originSeed = seed;
    fleet = await startFleet({ natsUrl: nats.url, diskWriters: o.diskWriters ?? 1, peerWorkers: o.peerWorkers ?? 1, ...(o.env ? { env: o.env } : {}) });
    return fleet;
  }
  let originSeed: { stop(): Promise<void> } | undefined;
  afterEach(async () => {
    await fleet?.stop();
    fleet = undefined;
  });

  async function add(f: Fleet, t: TestTorrent): Promise<Torrent> {
    const r = await call<{ torrentFile: Buffer; paused: boolean }, { torrent: Torrent }>(f.control, 'addTorrent', { torrentFile: readFileSync(t.torrentPath), paused: false });
    return r.torrent;
  }

  async function progress(f: Fleet, hex: string): Promise<Torrent> {
    return (await call<{ infoHash: string }, GetTorrentResponse>(f.control, 'getTorrent', { infoHash: hex })).torrent!;
  }

  async function waitComplete(f: Fleet, t: TestTorrent, timeoutMs: number): Promise<void> {
    await waitFor(
      async () => {
        const s = (await progress(f, t.infoHash)).stats;
        return s !== undefined && s.pieceCount > 0 && s.leftBytes === 0;
      },
      timeoutMs,
      `${t.name} to complete`,
      { watch: f.all().filter((p) => p.process.running).map((p) => p.process), intervalMs: 250 },
    );
    expect(await compareTrees(t.contentPath, join(f.dataDir, t.infoHash, t.name))).toBeNull();
  }

  it('downloads through peer-worker → NATS → disk-writer, 16 MiB pieces through a 1 MiB max_payload, byte-identical', async () => {
    const f = await setUp(big);
    const added = await add(f, big);
    expect(added.infoHash).toBe(big.infoHash);
    expect(added.pieceCount).toBe(3);
    await waitComplete(f, big, 60_000);
    // The pieces crossed NATS: the writer counted them, the worker timed them.
    const dw = await scrape(f.diskWriters[0]!.metricsPort);
    expect(dw.get('seedbox_disk_pieces_total{result="written"}')).toBe(3);
    expect(dw.get('seedbox_disk_written_bytes_total')).toBe(40 * 1024 * 1024 + 12345);
    const pw = await scrape(f.peerWorkers[0]!.metricsPort);
    expect(pw.get('seedbox_piece_nats_round_trip_seconds_count')).toBe(3);
    // SIGTERM: a clean exit, and the tracker-client announces it `stopped`.
    const worker = f.peerWorkers[0]!.process;
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
    expect(worker.text()).toMatch(/"msg":"shutdown complete"/);
    await f.trackerClient!.process.waitForLine(/"msg":"announced".*"event":"stopped"/, 10_000, 'a stopped announce');
  }, 120_000);

  it('a torrent added over data already on the shared volume is hashed and seeds, nothing downloaded; recheck hashes it again', async () => {
    // No seed anywhere: the files are all there is.
    nats = await startNatsServer();
    fleet = await startFleet({ natsUrl: nats.url, trackerClient: false });
    const f = fleet;
    cpSync(many.contentPath, join(f.dataDir, many.infoHash, many.name), { recursive: true });
    await add(f, many);
    await waitComplete(f, many, 30_000);
    const worker = f.peerWorkers[0]!.process;
    const pieces = Math.ceil(many.totalSize / many.pieceLength);
    await worker.waitForLine(new RegExp(`"msg":"checked".*"hashed":${pieces}`), 10_000, 'the check that hashed it');
    expect((await progress(f, many.infoHash)).stats!.downloadedBytes).toBe(0);
    const r = await run([cli, 'recheck', many.infoHash, '--server', `127.0.0.1:${f.peerWorkers[0]!.grpcPort}`], 10_000);
    expect(r.code, r.output).toBe(0);
    await waitFor(() => worker.text().split('\n').filter((l) => l.includes('"msg":"checked"')).length === 2, 20_000, 'a second check');
    await waitComplete(f, many, 20_000);
  }, 90_000);

  it('a file deleted from a complete torrent: a recheck finds it missing, and the disk-writer makes it again as it downloads', async () => {
    const f = await setUp(many);
    await add(f, many);
    await waitComplete(f, many, 60_000);
    // The disk-writer wrote c.bin and saw it; without the recheck it would refuse to make it again (a volume unmounted looks the same).
    rmSync(join(f.dataDir, many.infoHash, many.name, 'b', 'c.bin'));
    const worker = f.peerWorkers[0]!.process;
    const r = await run([cli, 'recheck', many.infoHash, '--server', `127.0.0.1:${f.peerWorkers[0]!.grpcPort}`], 10_000);
    expect(r.code, r.output).toBe(0);
    await waitFor(() => worker.text().split('\n').filter((l) => l.includes('"msg":"checked"')).length === 2, 20_000, 'the recheck');
    const inA = (20 * 1024 * 1024) / many.pieceLength;
    const pieces = Math.ceil(many.totalSize / many.pieceLength);
    expect(worker.text()).toMatch(new RegExp(`"msg":"checked".*"have":${inA},`));
    // The figures the API shows lag a tick: done once the writer has written c.bin's pieces a second time.
    const written = async (): Promise<number> => (await scrape(f.diskWriters[0]!.metricsPort)).get('seedbox_disk_pieces_total{result="written"}') ?? 0;
    await waitFor(async () => (await written()) >= 2 * pieces - inA, 60_000, "c.bin's pieces written again");
    await waitComplete(f, many, 10_000);
    expect(f.diskWriters[0]!.process.text()).not.toContain('piece not written');
  }, 150_000);

  it('seeds a complete torrent from two of three peer-workers (rendezvous hashing), and from the third when one of them dies', async () => {
    nats = await startNatsServer();
    fleet = await startFleet({ natsUrl: nats.url, trackerClient: false, peerWorkers: 3 });
    const f = fleet;
    // Every worker has seen the others' heartbeats (read every 2 s) before the torrent comes.
    await sleep(3000);
    cpSync(many.contentPath, join(f.dataDir, many.infoHash, many.name), { recursive: true });
    await add(f, many);
    await waitComplete(f, many, 30_000);
    const runs = (pw: (typeof f.peerWorkers)[number]): boolean => {
      const lines = pw.process.text().split('\n').filter((l) => l.includes(many.infoHash));
      const last = lines.filter((l) => /"msg":"(running|stopped) torrent"/.test(l)).at(-1);
      return last !== undefined && last.includes('"msg":"running torrent"');
    };
    await waitFor(() => f.peerWorkers.filter(runs).length === 2, 20_000, 'two workers to seed it');
    await sleep(3000);
    const seeding = f.peerWorkers.filter(runs);
    expect(seeding).toHaveLength(2);
    const spare = f.peerWorkers.find((pw) => !seeding.includes(pw))!;
    // One of the two dies: once its heartbeat expires (15 s), the third takes its place.
    seeding[0]!.process.child.kill('SIGKILL');
    await seeding[0]!.process.exited;
    await waitFor(() => runs(spare), 40_000, `${spare.id} to take over the seeding`);
    expect(runs(seeding[1]!)).toBe(true);
  }, 120_000);

  it('a port already in use, or a web API open with no login, is one line naming the setting, exit 1', async () => {
    nats = await startNatsServer();
    const { createServer } = await import('node:net');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const cases: [string, Record<string, string>, RegExp][] = [
        ['peer-worker', { SEEDBOX_METRICS_PORT: String(port) }, /^seedbox peer-worker: SEEDBOX_METRICS_PORT \(--metrics-port\) \d+: cannot listen: address already in use$/],
        ['peer-worker', { SEEDBOX_GRPC_PORT: String(port) }, /^seedbox peer-worker: SEEDBOX_GRPC_PORT \(--grpc-port\) \d+: cannot listen: address already in use$/],
        ['peer-worker', { SEEDBOX_LISTEN_PORT: String(port) }, /^seedbox peer-worker: SEEDBOX_LISTEN_PORT \(--listen-port\) \d+: cannot listen: address already in use$/],
        ['peer-worker', { SEEDBOX_WEB_PORT: String(port) }, /^seedbox peer-worker: SEEDBOX_WEB_PORT \(--web-port\) \d+: cannot listen: address already in use$/],
        // The web APIs beyond loopback with no login: refused, naming the setting.
        ['peer-worker', { SEEDBOX_WEB_HOST: '0.0.0.0' }, /^seedbox peer-worker: SEEDBOX_WEB_HOST \(--web-host\) 0\.0\.0\.0: the web APIs would answer anyone there without a login; set SEEDBOX_WEB_USERNAME/],
        ['peer-worker', { SEEDBOX_WEB_USERNAME: 'admin' }, /^seedbox peer-worker: SEEDBOX_WEB_PASSWORD \(--web-password\) is not set: the web login needs both a user name and a password$/],
        ['disk-writer', { SEEDBOX_GRPC_PORT: String(port) }, /^seedbox disk-writer: SEEDBOX_GRPC_PORT \(--grpc-port\) \d+: cannot listen: address already in use$/],
      ];
      for (const [kind, env, line] of cases) {
        const base = { SEEDBOX_NATS_URL: nats.url, SEEDBOX_DATA_DIR: makeTempDir('ports'), SEEDBOX_METRICS_HOST: '127.0.0.1', SEEDBOX_METRICS_PORT: '0', SEEDBOX_GRPC_HOST: '127.0.0.1', SEEDBOX_GRPC_PORT: '0', SEEDBOX_LISTEN_HOST: '127.0.0.1', SEEDBOX_LISTEN_PORT: '0', SEEDBOX_WEB_PORT: '0' };
        const r = await runToExit('env', [...Object.entries({ ...base, ...env }).map(([k, v]) => `${k}=${v}`), process.execPath, join(root, 'services', kind, 'dist', 'main.js')], 20_000);
        expect(r.code, `${kind} ${JSON.stringify(env)}: ${r.stderr}`).toBe(1);
        expect(r.stderr.trim()).toMatch(line);
      }
    } finally {
      taken.close();
    }
  }, 90_000);

  it('adds a magnet URI: the fleet fetches the metadata (BEP 9) through the tracker, then downloads byte-identical', async () => {
    const f = await setUp(big);
    const magnet = `magnet:?xt=urn:btih:${big.infoHash}&tr=${encodeURIComponent(`http://127.0.0.1:${trackerPort}/announce`)}`;
    const r = await run([cli, 'add', magnet, '--server', `127.0.0.1:${f.peerWorkers[0]!.grpcPort}`, '--json'], 120_000);
    expect(r.code, r.output).toBe(0);
    const added = JSON.parse(r.output.trim().split('\n').pop()!) as { created: boolean; torrent: { name: string; pieceCount: number } };
    expect(added).toMatchObject({ created: true, torrent: { name: 'big.bin', pieceCount: 3 } });
    await waitComplete(f, big, 60_000);
  }, 150_000);

  it('with two peer-workers: either answers the API, one downloads, and both then seed from the shared volume', async () => {
    const f = await setUp(many, { peerWorkers: 2 });
    await add(f, many);
    await waitComplete(f, many, 60_000);
    // The other replica answers from the shared state.
    const other = new SeedboxControlClient(`127.0.0.1:${f.peerWorkers[1]!.grpcPort}`, grpc.credentials.createInsecure());
    try {
      const listed = await call<object, { torrents: Torrent[] }>(other, 'listTorrents', {});
      expect(listed.torrents.map((t) => t.infoHash)).toEqual([many.infoHash]);
    } finally {
      other.close();
    }
    // The origin seed leaves; a libtorrent leech that knows only one worker,
    // then only the other, gets the whole torrent from each.
    await originSeed!.stop();
    for (const pw of f.peerWorkers) {
      await waitFor(() => /"msg":"running torrent"/.test(pw.process.text()), 15_000, `${pw.id} to run the torrent`);
      const save = makeTempDir('lt-leech');
      const leech = await startLibtorrentLeech({ torrentPath: many.torrentPath, saveDir: save, peers: [{ host: '127.0.0.1', port: pw.listenPort! }] });
      await leech.waitDone(60_000);
      expect(await compareTrees(many.contentPath, join(save, many.name))).toBeNull();
      await leech.process.stop();
    }
  }, 180_000);

  it('loses nothing when one of two disk-writers is killed with SIGKILL in the middle', async () => {
    const f = await setUp(many, { diskWriters: 2, seedLimit: 4_000_000 });
    await add(f, many);
    const pieceCount = Math.ceil((24 * 1024 * 1024 + 7) / (64 * 1024));
    await waitFor(async () => (await progress(f, many.infoHash)).stats!.piecesVerified > pieceCount / 5, 60_000, 'a fifth of the pieces', { intervalMs: 100 });
    const victim = f.diskWriters[0]!;
    const before = await scrape(victim.metricsPort);
    expect(before.get('seedbox_disk_pieces_total{result="written"}'), 'the victim had taken pieces').toBeGreaterThan(0);
    victim.process.child.kill('SIGKILL');
    await victim.process.exited;
    expect((await progress(f, many.infoHash)).stats!.leftBytes).toBeGreaterThan(0);
    await waitComplete(f, many, 90_000);
    const survivor = await scrape(f.diskWriters[1]!.metricsPort);
    expect(survivor.get('seedbox_disk_pieces_total{result="written"}')).toBeGreaterThan(0);
  }, 150_000);

  it('with SEEDBOX_PIECE_DATA=direct, the bytes go over TCP to the writers, and one killed with SIGKILL in the middle loses nothing', async () => {
    // Port 0: each writer listens on a free port and gives it in its answers.
    const env = { SEEDBOX_PIECE_DATA: 'direct', SEEDBOX_PIECE_DATA_HOST: '127.0.0.1', SEEDBOX_PIECE_DATA_PORT: '0' };
    const f = await setUp(many, { diskWriters: 2, seedLimit: 4_000_000, env });
    await add(f, many);
    const pieceCount = Math.ceil((24 * 1024 * 1024 + 7) / (64 * 1024));
    await waitFor(async () => (await progress(f, many.infoHash)).stats!.piecesVerified > pieceCount / 5, 60_000, 'a fifth of the pieces', { intervalMs: 100 });
    const victim = f.diskWriters[0]!;
    victim.process.child.kill('SIGKILL');
    await victim.process.exited;
    await waitComplete(f, many, 90_000);
    // The survivor's bytes came over its TCP listener, not through NATS.
    const survivor = await scrape(f.diskWriters[1]!.metricsPort);
    const written = survivor.get('seedbox_disk_written_bytes_total')!;
    expect(written).toBeGreaterThan(0);
    expect(survivor.get('seedbox_piece_data_received_bytes_total')).toBeGreaterThanOrEqual(written - 8 * 64 * 1024);
  }, 150_000);

  it('a peer-worker killed with SIGKILL in the middle of its pieces: the other takes the download over and it completes, inline and direct', async () => {
    const modes: Record<string, string>[] = [{}, { SEEDBOX_PIECE_DATA: 'direct', SEEDBOX_PIECE_DATA_HOST: '127.0.0.1', SEEDBOX_PIECE_DATA_PORT: '0' }];
    for (const env of modes) {
      const f = await setUp(many, { peerWorkers: 2, seedLimit: 4_000_000, env });
      await add(f, many);
      const pieceCount = Math.ceil((24 * 1024 * 1024 + 7) / (64 * 1024));
      await waitFor(async () => ((await progress(f, many.infoHash)).stats?.piecesVerified ?? 0) > pieceCount / 5, 60_000, 'a fifth of the pieces', { intervalMs: 100, watch: f.all().map((p) => p.process) });
      // The owner of the download is the one running it; the other starts it only once the owner is gone.
      const owner = f.peerWorkers.find((pw) => /"msg":"running torrent"/.test(pw.process.text()))!;
      const other = f.peerWorkers.find((pw) => pw !== owner)!;
      owner.process.child.kill('SIGKILL');
      await owner.process.exited;
      // Ask the survivor from now on: the fleet's state answers the same on every replica.
      const control = new SeedboxControlClient(`127.0.0.1:${other.grpcPort}`, grpc.credentials.createInsecure());
      try {
        await waitFor(
          async () => {
            const s = (await call<{ infoHash: string }, GetTorrentResponse>(control, 'getTorrent', { infoHash: many.infoHash })).torrent?.stats;
            return s !== undefined && s.leftBytes === 0;
          },
          90_000,
          'the other worker to finish the download',
          { intervalMs: 250 },
        );
      } finally {
        control.close();
      }
      expect(await compareTrees(many.contentPath, join(f.dataDir, many.infoHash, many.name))).toBeNull();
      await f.stop();
      fleet = undefined;
      await originSeed?.stop();
      await nats.stop();
    }
  }, 300_000);

  it('completes when NATS restarts in the middle of the download', async () => {
    const f = await setUp(many, { seedLimit: 4_000_000 });
    await add(f, many);
    const pieceCount = Math.ceil((24 * 1024 * 1024 + 7) / (64 * 1024));
    await waitFor(async () => (await progress(f, many.infoHash)).stats!.piecesVerified > pieceCount / 5, 60_000, 'a fifth of the pieces', { intervalMs: 100 });
    await nats.restart(1000);
    // Everyone reconnects; readiness says so meanwhile.
    await waitFor(
      async () => (await Promise.all(f.all().map(async (p) => (await fetch(`http://127.0.0.1:${p.metricsPort}/readyz`)).status))).every((s) => s === 200),
      30_000,
      'every service to be ready again',
    );
    await waitComplete(f, many, 90_000);
    const pw = await scrape(f.peerWorkers[0]!.metricsPort);
    expect(pw.get('seedbox_nats_connected')).toBe(1);
  }, 150_000);

  it('is driven through the CLI (add, ls, pause, resume, rm --delete-data), and its metrics move', async () => {
    const f = await setUp(many, { seedLimit: 6_000_000 });
    const server = `127.0.0.1:${f.peerWorkers[0]!.grpcPort}`;
    const addOut = await run([cli, 'add', many.torrentPath, '--server', server]);
    expect(addOut.code, addOut.output).toBe(0);
    // Metrics move per tick while it downloads.
    const series = `seedbox_torrent_downloaded_bytes_total{info_hash="${many.infoHash}"}`;
    const first = await waitFor(async () => (await scrape(f.peerWorkers[0]!.metricsPort)).get(series), 30_000, 'a downloaded-bytes series');
    await sleep(1500);
    const second = (await scrape(f.peerWorkers[0]!.metricsPort)).get(series)!;
    expect(second).toBeGreaterThan(first);
    const ls = await run([cli, 'ls', '--server', server]);
    expect(ls.code, ls.output).toBe(0);
    expect(ls.output).toContain('many');
    expect((await run([cli, 'pause', many.infoHash, '--server', server])).code).toBe(0);
    await waitFor(async () => (await progress(f, many.infoHash)).state === TorrentState.TORRENT_STATE_PAUSED, 10_000, 'paused');
    expect((await run([cli, 'resume', many.infoHash, '--server', server])).code).toBe(0);
    await waitComplete(f, many, 90_000);
    const tc = await scrape(f.trackerClient!.metricsPort);
    expect(tc.get('seedbox_tracker_announces_total{result="ok"}')).toBeGreaterThan(0);
    const rm = await run([cli, 'rm', many.infoHash, '--delete-data', '--server', server]);
    expect(rm.code, rm.output).toBe(0);
    expect(existsSync(join(f.dataDir, many.infoHash))).toBe(false);
    const again = await run([cli, 'rm', many.infoHash, '--server', server]);
    expect(again.code).toBe(1);
    expect(again.output.trim().split('\n')).toHaveLength(1);
  }, 150_000);
});

function run(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; output: string }> {
  return runToExit(process.execPath, args, timeoutMs);
}
