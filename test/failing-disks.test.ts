/**
 * Full and failing disks (issue 21), on filesystems the test makes (root
 * only; unmounted by the cleanup even when a test fails):
 *
 * - `seedbox serve` downloading a torrent into a 4 MiB tmpfs (its save
 *   folder) from a libtorrent seed: it goes to error saying "no space left
 *   on device", every piece the API shows as downloaded is on disk and
 *   hashes right, a second torrent on the other filesystem still seeds to
 *   a libtorrent leech, and once the tmpfs is grown `seedbox resume`
 *   completes it byte-identical;
 * - the same into a loop-mounted ext4 that the kernel turns read-only in
 *   the middle (errors=remount-ro, as on a disk error): error "read-only
 *   file system"; the volume is unmounted (serve holds nothing on it) and
 *   mounted again, and resume completes it, with nothing made under the
 *   mount point meanwhile (a file written before and gone is never made
 *   again until a check);
 * - the fleet with two disk-writers, one of which sees the shared volume
 *   through a read-only bind mount: it steps back from the queue group
 *   (log line and metric), and the torrent completes through the other.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TorrentState, type Torrent } from '@seedbox/proto';
import { parseMetainfo } from '@seedbox/protocol';
import { compareTrees, makeTorrent, type TestTorrent } from './support/data.js';
import { call, scrape, startFleet, startService } from './support/fleet.js';
import { bindReadOnly, mountExt4, mountTmpfs } from './support/mounts.js';
import { startNatsServer } from './support/nats.js';
import { startLibtorrentLeech, startLibtorrentSeed, type RunningPeer } from './support/peers.js';
import { cleanupAfter, cleanupAll, cleanupMark, makeTempDir, runToExit, waitFor } from './support/processes.js';
import { listTorrents, startServe, type Serve } from './support/serve.js';
import { needTools, tools } from './support/tools.js';
import { QbtSession, TransmissionRpc } from './support/web-clients.js';

const cli = join(import.meta.dirname, '..', 'packages/cli/bin/seedbox.js');
const need = needTools(tools.mounts, tools.libtorrent, tools.mktorrent, tools.natsServer);

const USER = 'admin';
const PASS = 'disk full';
const LOGIN = ['--web-username', USER, '--web-password', PASS];

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

describe.skipIf(!need.available)('full and failing disks', () => {
  let work: string;
  let big: TestTorrent;
  let small: TestTorrent;
  let steady: TestTorrent;

  beforeAll(async () => {
    work = makeTempDir('failing-disks');
    // Three times the 4 MiB tmpfs it is downloaded into.
    big = await makeTorrent({ dir: join(work, 'big'), name: 'big.bin', pieceLength: 64 * 1024, files: { size: 12 * 1024 * 1024 + 777 } });
    small = await makeTorrent({ dir: join(work, 'small'), name: 'small.bin', pieceLength: 32 * 1024, files: { size: 2 * 1024 * 1024 + 99 } });
    steady = await makeTorrent({ dir: join(work, 'steady'), name: 'steady.bin', pieceLength: 128 * 1024, files: { size: 24 * 1024 * 1024 + 5 } });
  }, 120_000);

  async function torrent(s: Serve, hex: string): Promise<Torrent | undefined> {
    return (await listTorrents(s)).find((t) => t.infoHash === hex);
  }

  async function add(s: Serve, t: TestTorrent, savePath?: string): Promise<void> {
    await call(s.control, 'addTorrent', { torrentFile: readFileSync(t.torrentPath), paused: false, ...(savePath !== undefined ? { savePath } : {}) });
  }

  async function addPeer(qb: QbtSession, t: TestTorrent, peer: RunningPeer): Promise<void> {
    expect((await qb.call('torrents/addPeers', { form: { hashes: t.infoHash, peers: `${peer.host}:${peer.port}` } })).json()).toEqual({ [t.infoHash]: { added: 1, failed: 0 } });
  }

  async function waitState(s: Serve, t: TestTorrent, state: TorrentState, ms: number, what: string): Promise<Torrent> {
    await waitFor(async () => (await torrent(s, t.infoHash))?.state === state, ms, what, { watch: [s.process], intervalMs: 200 });
    return (await torrent(s, t.infoHash))!;
  }

  /**
   * The pieces the qBittorrent API shows as downloaded (pieceStates 2, from
   * the recorded bitfield), each read back from `file` and hashed: none may
   * be recorded that is not on disk. Answers how many there were.
   */
  async function recordedPiecesAreOnDisk(qb: QbtSession, t: TestTorrent, file: string): Promise<number> {
    const meta = parseMetainfo(readFileSync(t.torrentPath));
    const states = (await qb.call('torrents/pieceStates', { query: { hash: t.infoHash } })).json<number[]>();
    expect(states).toHaveLength(meta.pieceCount);
    const bytes = readFileSync(file);
    const recorded = states.flatMap((st, i) => (st === 2 ? [i] : []));
    for (const i of recorded) {
      const digest = createHash('sha1').update(bytes.subarray(i * meta.pieceLength, (i + 1) * meta.pieceLength)).digest();
      expect(digest.equals(meta.pieceHashes.subarray(i * 20, i * 20 + 20)), `piece ${i} recorded but not on disk`).toBe(true);
    }
    return recorded.length;
  }

  /** Until the recorded bitfield (flushed once a tick) has every piece verified before the error. */
  async function waitRecorded(s: Serve, qb: QbtSession, t: TestTorrent): Promise<void> {
    await waitFor(
      async () => {
        const verified = (await torrent(s, t.infoHash))?.stats?.piecesVerified;
        const states = (await qb.call('torrents/pieceStates', { query: { hash: t.infoHash } })).json<number[]>();
        return verified !== undefined && states.filter((st) => st === 2).length === verified;
      },
      10_000,
      'the verified pieces recorded',
      { watch: [s.process], intervalMs: 200 },
    );
  }

  async function resume(s: Serve, t: TestTorrent): Promise<void> {
    const r = await runToExit(process.execPath, [cli, 'resume', t.infoHash, '--server', `127.0.0.1:${s.grpcPort}`]);
    expect(r.code, r.stderr).toBe(0);
  }

  it('a full disk: error "no space left on device", only pieces on disk recorded, another torrent still seeds, and resume completes it once space is freed', async () => {
    const data = join(work, 'box-full', 'data');
    const disk = mountTmpfs(join(data, 'tiny'), '4m');
    // The small torrent's file in place on the other filesystem: it is checked and seeds from there.
    mkdirSync(join(data, small.infoHash), { recursive: true });
    copyFileSync(small.contentPath, join(data, small.infoHash, small.name));
    const s = await startServe(data, LOGIN);
    const qb = new QbtSession(`http://127.0.0.1:${s.webPort}`);
    await qb.login(USER, PASS);
    await add(s, small);
    await waitState(s, small, TorrentState.TORRENT_STATE_SEEDING, 20_000, 'the small torrent seeding');

    const seed = await startLibtorrentSeed({ torrentPath: big.torrentPath, dataRoot: big.dataRoot, encryption: 'disabled' });
    await add(s, big, 'tiny');
    await addPeer(qb, big, seed);
    const failed = await waitState(s, big, TorrentState.TORRENT_STATE_ERROR, 60_000, 'the big torrent in error');
    const file = join(disk.dir, big.name);
    expect(failed.error).toMatch(new RegExp(`^piece \\d+ could not be written: no space left on device writing ${file} \\(ENOSPC\\)$`));
    // The same words in the Transmission RPC and `seedbox ls`.
    const rpc = new TransmissionRpc(`http://127.0.0.1:${s.webPort}/transmission/rpc`, { username: USER, password: PASS });
    expect(await rpc.torrent(big.infoHash, ['error', 'errorString'])).toEqual({ error: 3, errorString: failed.error });
    const ls = await runToExit(process.execPath, [cli, 'ls', '--server', `127.0.0.1:${s.grpcPort}`]);
    expect(ls.stdout).toContain('no space left on device');
    await waitRecorded(s, qb, big);
    const recorded = await recordedPiecesAreOnDisk(qb, big, file);
    expect(recorded).toBeGreaterThan(0);
    expect(recorded).toBeLessThan(parseMetainfo(readFileSync(big.torrentPath)).pieceCount);

    // The torrent on the other filesystem is untouched: a leech gets all of it.
    const leechDir = join(work, 'box-full', 'leech');
    const leech = await startLibtorrentLeech({ torrentPath: small.torrentPath, saveDir: leechDir, peers: [{ host: '127.0.0.1', port: s.listenPort }], encryption: 'disabled' });
    await leech.waitDone(60_000);
    expect(await compareTrees(small.contentPath, join(leechDir, small.name))).toBeNull();
    expect((await torrent(s, small.infoHash))!.state).toBe(TorrentState.TORRENT_STATE_SEEDING);

    disk.remount('size=64m');
    await resume(s, big);
    await waitState(s, big, TorrentState.TORRENT_STATE_SEEDING, 60_000, 'the big torrent complete after resume');
    expect((await torrent(s, big.infoHash))!.error).toBe('');
    expect(await compareTrees(big.contentPath, file)).toBeNull();
    await s.stop();
  }, 240_000);

  it('a volume that turns read-only: error "read-only file system"; mounted again, resume completes it', async () => {
    const data = join(work, 'box-ro', 'data');
    const disk = mountExt4(join(data, 'vol'), 64);
    const s = await startServe(data, LOGIN);
    const qb = new QbtSession(`http://127.0.0.1:${s.webPort}`);
    await qb.login(USER, PASS);
    // About 6 s for the whole torrent, so the volume fails in the middle.
    const seed = await startLibtorrentSeed({ torrentPath: steady.torrentPath, dataRoot: steady.dataRoot, encryption: 'disabled', uploadLimit: 4 * 1024 * 1024 });
    await add(s, steady, 'vol');
    await addPeer(qb, steady, seed);
    await waitFor(async () => {
      const st = (await torrent(s, steady.infoHash))?.stats;
      return st !== undefined && st.pieceCount > 0 && st.piecesVerified >= st.pieceCount / 4;
    }, 60_000, 'a quarter of the pieces verified', { watch: [s.process], intervalMs: 100 });
    disk.failReadOnly();
    const failed = await waitState(s, steady, TorrentState.TORRENT_STATE_ERROR, 30_000, 'the torrent in error');
    const file = join(disk.dir, steady.name);
    expect(failed.error).toMatch(new RegExp(`could not be written: read-only file system (writing|opening) ${file} \\(EROFS\\)$`));
    await waitRecorded(s, qb, steady);
    expect(await recordedPiecesAreOnDisk(qb, steady, file)).toBeGreaterThan(0);

    // The kernel refuses remount,rw after an error: unmounted (serve must hold no file there) and mounted again.
    await disk.mountAgain(10_000);
    await resume(s, steady);
    await waitState(s, steady, TorrentState.TORRENT_STATE_SEEDING, 60_000, 'the torrent complete after resume');
    expect(await compareTrees(steady.contentPath, file)).toBeNull();
    await s.stop();
    // Nothing was written under the mount point while the volume was away (a write retried then made the file there once).
    await disk.unmount();
    expect(readdirSync(disk.dir)).toEqual([]);
  }, 240_000);

  it('the fleet: a disk-writer whose writes fail steps back, and the pieces go to the other writer', async () => {
    const nats = await startNatsServer();
    const env = { SEEDBOX_WEB_USERNAME: USER, SEEDBOX_WEB_PASSWORD: PASS, SEEDBOX_WEB_HOST: '127.0.0.1' };
    const f = await startFleet({ natsUrl: nats.url, diskWriters: 1, trackerClient: false, env });
    // A second writer that sees the shared volume read-only: every write of it fails.
    const view = bindReadOnly(f.dataDir, join(work, 'fleet-ro-view'));
    const failing = await startService('disk-writer', { natsUrl: nats.url, dataDir: view.dir, id: 'dw-ro', workDir: makeTempDir('fleet-ro') });
    const seed = await startLibtorrentSeed({ torrentPath: steady.torrentPath, dataRoot: steady.dataRoot, encryption: 'disabled', uploadLimit: 8 * 1024 * 1024 });
    await call(f.control, 'addTorrent', { torrentFile: readFileSync(steady.torrentPath), paused: false });
    const qb = new QbtSession(`http://127.0.0.1:${f.peerWorkers[0]!.webPort}`);
    await qb.login(USER, PASS);
    await addPeer(qb, steady, seed);
    const procs = [...f.all(), failing].map((p) => p.process);
    await waitFor(
      async () => {
        const t = (await call<{ infoHash: string }, { torrent: Torrent }>(f.control, 'getTorrent', { infoHash: steady.infoHash })).torrent;
        expect(t.state).not.toBe(TorrentState.TORRENT_STATE_ERROR);
        return t.stats !== undefined && t.stats.pieceCount > 0 && t.stats.leftBytes === 0;
      },
      90_000,
      'the torrent complete',
      { watch: procs, intervalMs: 250 },
    );
    expect(await compareTrees(steady.contentPath, join(f.dataDir, steady.infoHash, steady.name))).toBeNull();
    // The failing writer stepped back, said why, and counted it; the other wrote every piece.
    expect(failing.process.text()).toMatch(/"msg":"stepping back from the disk-writers queue group".*read-only file system/);
    const m = await scrape(failing.metricsPort);
    expect(m.get('seedbox_disk_step_backs_total')).toBeGreaterThanOrEqual(1);
    const written = await scrape(f.diskWriters[0]!.metricsPort);
    expect(written.get('seedbox_disk_pieces_total{result="written"}')).toBe(parseMetainfo(readFileSync(steady.torrentPath)).pieceCount);
    // The worker sent those pieces again, to the writer that could write them.
    expect(f.peerWorkers[0]!.process.text()).toMatch(/"msg":"piece sent again".*could not write it: .*read-only file system/);
    await f.stop();
  }, 240_000);
});
