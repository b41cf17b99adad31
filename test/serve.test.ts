/**
 * `seedbox serve`, the one-machine seedbox, as a real process: torrents
 * added over the gRPC control API, found through opentracker, downloaded
 * from a libtorrent session that seeds them all, and compared byte for
 * byte. It is killed with SIGKILL in the middle and started again; a
 * torrent added over data already in place seeds without downloading; the
 * watch folder takes good, bad and half-written files; bad settings are
 * one line and exit 1.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TorrentState } from '@seedbox/proto';
import { compareTrees, makeTorrent, type TestTorrent } from './support/data.js';
import { call } from './support/fleet.js';
import { startLibtorrentSeed } from './support/peers.js';
import { listTorrents, logLines, startServe } from './support/serve.js';
import { cleanupAfter, cleanupAll, cleanupMark, freePort, makeTempDir, runToExit, sleep, spawnProcess, waitFor } from './support/processes.js';
import { needTools, tools } from './support/tools.js';
import { startOpentracker } from './support/tracker.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'packages/cli/bin/seedbox.js');
const need = needTools(tools.libtorrent, tools.mktorrent, tools.opentracker);

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

const list = listTorrents;

describe.skipIf(!need.available)('seedbox serve', () => {
  let work: string;
  let trackerPort: number;
  const torrents: TestTorrent[] = [];

  beforeAll(async () => {
    work = makeTempDir('serve');
    trackerPort = await freePort();
    const tracker = `http://127.0.0.1:${trackerPort}/announce`;
    // Twenty torrents in one folder, seeded by one libtorrent session; sizes differ, one is multi-file.
    for (let i = 0; i < 20; i++) {
      const name = `t${String(i).padStart(2, '0')}`;
      const size = (1 + (i % 4)) * 1024 * 1024 + i * 4099;
      torrents.push(
        await makeTorrent({
          dir: join(work, 'src'),
          name,
          pieceLength: 32 * 1024,
          tracker,
          files: i === 7 ? [{ path: 'a.bin', size }, { path: 'sub/b.bin', size: 12345 }, { path: 'empty', size: 0 }] : { size },
        }),
      );
    }
  }, 180_000);

  it('downloads 20 torrents, survives kill -9 in the middle, and after a restart completes them all, hashing nothing that did not change', async () => {
    await startOpentracker({ infoHashes: torrents.map((t) => t.infoHash), port: trackerPort });
    // Slow enough that a kill lands in the middle: about 6 s for the 50 MiB.
    await startLibtorrentSeed({ torrentPath: torrents.map((t) => t.torrentPath), dataRoot: torrents[0]!.dataRoot, uploadLimit: 8 * 1024 * 1024 });
    const data = join(work, 'box1', 'data');
    mkdirSync(data, { recursive: true });
    let s = await startServe(data);
    for (const t of torrents) await call(s.control, 'addTorrent', { torrentFile: readFileSync(t.torrentPath), paused: false });
    expect(await list(s)).toHaveLength(20);
    // Some complete, some not: then kill -9.
    await waitFor(async () => {
      const all = await list(s);
      const done = all.filter((t) => t.state === TorrentState.TORRENT_STATE_SEEDING).length;
      return done >= 3 && done <= 17;
    }, 60_000, 'a few torrents complete and others not');
    const completeBeforeKill = new Set((await list(s)).filter((t) => t.state === TorrentState.TORRENT_STATE_SEEDING).map((t) => t.infoHash));
    s.control.close();
    s.process.child.kill('SIGKILL');
    expect((await s.process.exited).signal).toBe('SIGKILL');

    s = await startServe(data, [], 'serve-after-kill');
    expect((await list(s)).map((t) => t.infoHash).sort()).toEqual(torrents.map((t) => t.infoHash).sort());
    await waitFor(async () => (await list(s)).every((t) => t.state === TorrentState.TORRENT_STATE_SEEDING), 90_000, 'every torrent seeding');
    // What completed before the kill had its resume data saved at completion: trusted, not hashed.
    const checks = new Map(logLines(s.process, 'checked').map((l) => [l.infoHash as string, l]));
    for (const hex of completeBeforeKill) expect(checks.get(hex), hex).toMatchObject({ fastPath: true, hashed: 0 });
    await s.stop();
    expect(s.process.exitInfo).toEqual({ code: 0, signal: null });
    for (const t of torrents) expect(await compareTrees(t.contentPath, join(data, t.infoHash, t.name)), t.name).toBeNull();

    // A clean restart: every torrent comes back seeding, and nothing is hashed at all.
    s = await startServe(data, [], 'serve-third');
    await waitFor(async () => (await list(s)).filter((t) => t.state === TorrentState.TORRENT_STATE_SEEDING).length === 20, 30_000, 'all seeding again');
    const third = logLines(s.process, 'checked');
    expect(third).toHaveLength(20);
    for (const c of third) expect(c).toMatchObject({ fastPath: true, hashed: 0 });
    await s.stop();
  }, 300_000);

  it('a torrent added over data already in place is checked and seeds, with nothing downloaded', async () => {
    const t = torrents[3]!;
    const data = join(work, 'box2', 'data');
    // The files as another client would have left them, with no seed anywhere.
    const dir = join(data, t.infoHash);
    mkdirSync(dir, { recursive: true });
    copyFileSync(t.contentPath, join(dir, t.name));
    const s = await startServe(data);
    await call(s.control, 'addTorrent', { torrentFile: readFileSync(t.torrentPath), paused: false });
    await waitFor(async () => (await list(s))[0]?.state === TorrentState.TORRENT_STATE_SEEDING, 30_000, 'the torrent seeding');
    const [one] = await list(s);
    expect(one!.stats?.downloadedBytes ?? 0).toBe(0);
    expect(logLines(s.process, 'checked')[0]).toMatchObject({ fastPath: false, hashed: Math.ceil(t.totalSize / t.pieceLength), have: Math.ceil(t.totalSize / t.pieceLength) });
    // The CLI's recheck hashes it all again.
    const r = await runToExit(process.execPath, [cli, 'recheck', t.infoHash.slice(0, 12), '--server', `127.0.0.1:${s.grpcPort}`]);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(() => logLines(s.process, 'checked').length === 2, 20_000, 'a second check');
    expect(logLines(s.process, 'checked')[1]).toMatchObject({ fastPath: false, hashed: Math.ceil(t.totalSize / t.pieceLength) });
    // The CLI pauses and resumes it, and watches it.
    const server = `127.0.0.1:${s.grpcPort}`;
    expect((await runToExit(process.execPath, [cli, 'pause', t.infoHash, '--server', server])).code).toBe(0);
    await waitFor(async () => (await list(s))[0]?.state === TorrentState.TORRENT_STATE_PAUSED, 10_000, 'paused');
    expect((await runToExit(process.execPath, [cli, 'resume', t.infoHash, '--server', server])).code).toBe(0);
    await waitFor(async () => (await list(s))[0]?.state === TorrentState.TORRENT_STATE_SEEDING, 20_000, 'seeding again');
    const watcher = spawnProcess(process.execPath, [cli, 'watch', '--json', '--server', server], { name: 'watch', logFile: join(work, 'box2', 'watch.log') });
    await watcher.waitForLine(new RegExp(t.infoHash), 10_000, 'a watch line for the torrent');
    await watcher.stop();
    // The CLI lists it, and removes it with its data.
    const ls = await runToExit(process.execPath, [cli, 'ls', '--server', `127.0.0.1:${s.grpcPort}`]);
    expect(ls.stdout).toMatch(new RegExp(`${t.infoHash.slice(0, 12)}\\s+${t.name}\\s+seeding`));
    const rm = await runToExit(process.execPath, [cli, 'rm', t.infoHash, '--delete-data', '--server', `127.0.0.1:${s.grpcPort}`]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(existsSync(dir)).toBe(false);
    expect(await list(s)).toEqual([]);
    await s.stop();
  }, 120_000);

  it('a torrent whose files cannot be opened is in error with the reason; once mended, a recheck brings it back', async () => {
    const t = torrents[4]!;
    const data = join(work, 'box6', 'data');
    // A folder where the torrent's file must go.
    mkdirSync(join(data, t.infoHash, t.name), { recursive: true });
    const s = await startServe(data);
    await call(s.control, 'addTorrent', { torrentFile: readFileSync(t.torrentPath), paused: false });
    await waitFor(async () => (await list(s))[0]?.state === TorrentState.TORRENT_STATE_ERROR, 20_000, 'the error state');
    expect((await list(s))[0]!.error).toMatch(/is a folder, not a file/);
    const ls = await runToExit(process.execPath, [cli, 'ls', '--server', `127.0.0.1:${s.grpcPort}`]);
    expect(ls.stdout).toMatch(/error/);
    rmSync(join(data, t.infoHash, t.name), { recursive: true });
    copyFileSync(t.contentPath, join(data, t.infoHash, t.name));
    await call(s.control, 'recheckTorrent', { infoHash: t.infoHash });
    await waitFor(async () => (await list(s))[0]?.state === TorrentState.TORRENT_STATE_SEEDING, 20_000, 'seeding after the recheck');
    expect((await list(s))[0]!.error).toBe('');
    await s.stop();
  }, 60_000);

  it('takes .torrent files from the watch folder: good ones added, bad ones marked invalid, a file still being written left alone', async () => {
    const data = join(work, 'box3', 'data');
    const watch = join(work, 'box3', 'watch');
    mkdirSync(data, { recursive: true });
    mkdirSync(watch, { recursive: true });
    const s = await startServe(data, ['--watch-dir', watch]);
    const good = torrents[5]!;
    copyFileSync(good.torrentPath, join(watch, 'good.torrent'));
    writeFileSync(join(watch, 'garbage.torrent'), 'd8:announce3:abc');
    writeFileSync(join(watch, 'broken.magnet'), 'magnet:?xt=urn:btih:nothex');
    // Half of a torrent file, the rest written later: it must not be taken for a broken one meanwhile.
    const bytes = readFileSync(torrents[6]!.torrentPath);
    writeFileSync(join(watch, 'slow.torrent'), bytes.subarray(0, bytes.length >> 1));
    await waitFor(() => existsSync(join(watch, 'good.torrent.added')), 15_000, 'good.torrent.added');
    await sleep(2500);
    expect(readdirSync(watch)).toContain('slow.torrent');
    writeFileSync(join(watch, 'slow.torrent'), bytes);
    await waitFor(() => existsSync(join(watch, 'slow.torrent.added')), 15_000, 'slow.torrent.added');
    // Files that do not parse are declared invalid once they have been still for the settle time (10 s).
    await waitFor(() => existsSync(join(watch, 'garbage.torrent.invalid')), 20_000, 'garbage.torrent.invalid');
    await waitFor(() => existsSync(join(watch, 'broken.magnet.invalid')), 20_000, 'broken.magnet.invalid');
    expect((await list(s)).map((t) => t.infoHash).sort()).toEqual([good.infoHash, torrents[6]!.infoHash].sort());
    expect(logLines(s.process, 'watch folder: invalid').map((l) => l.file).sort()).toEqual(['broken.magnet', 'garbage.torrent']);
    await s.stop();
  }, 120_000);

  it('a .magnet file in the watch folder: the metadata comes through the tracker, then the download, byte-identical', async () => {
    const t = torrents[9]!;
    await startOpentracker({ infoHashes: [t.infoHash], port: trackerPort });
    await startLibtorrentSeed({ torrentPath: t.torrentPath, dataRoot: t.dataRoot });
    const data = join(work, 'box5', 'data');
    const watch = join(work, 'box5', 'watch');
    mkdirSync(data, { recursive: true });
    mkdirSync(watch, { recursive: true });
    const s = await startServe(data, ['--watch-dir', watch]);
    writeFileSync(join(watch, 'm.magnet'), `magnet:?xt=urn:btih:${t.infoHash}&tr=${encodeURIComponent(`http://127.0.0.1:${trackerPort}/announce`)}\n`);
    await waitFor(() => existsSync(join(watch, 'm.magnet.added')), 60_000, 'm.magnet.added');
    await waitFor(async () => (await list(s))[0]?.state === TorrentState.TORRENT_STATE_SEEDING, 60_000, 'the magnet torrent seeding');
    expect(await compareTrees(t.contentPath, join(data, t.infoHash, t.name))).toBeNull();
    await s.stop();
  }, 150_000);

  it('a bad flag, a missing data folder setting and an unusable state folder are one line each, exit 1', async () => {
    const data = join(work, 'box4', 'data');
    mkdirSync(data, { recursive: true });
    const bogus = await runToExit(process.execPath, [cli, 'serve', '--data', data, '--listen-port', 'seventy']);
    expect(bogus.code).toBe(1);
    expect(bogus.stderr.trim().split('\n')).toHaveLength(1);
    expect(bogus.stderr).toMatch(/SEEDBOX_LISTEN_PORT|--listen-port/);
    const missing = await runToExit(process.execPath, [cli, 'serve']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^seedbox serve: SEEDBOX_DATA_DIR \(or --data-dir\) is required/);
    // A state folder where a file stands: it cannot be made, whoever we are (root included).
    writeFileSync(join(work, 'box4', 'a-file'), 'x');
    const unusable = await runToExit(process.execPath, [cli, 'serve', '--data', data, '--state-dir', join(work, 'box4', 'a-file', 'state'), '--grpc-port', String(await freePort())]);
    expect(unusable.code).toBe(1);
    expect(unusable.stderr.trim().split('\n')).toHaveLength(1);
    expect(unusable.stderr).toMatch(/^seedbox serve: SEEDBOX_STATE_DIR \(--state-dir\): the state folder .* cannot be used/);
    // A gRPC port already taken, named.
    const s = await startServe(data);
    const taken = await runToExit(process.execPath, [cli, 'serve', '--data', join(work, 'box4', 'other'), '--grpc-port', String(s.grpcPort), '--metrics-port', '0', '--listen-port', '0']);
    expect(taken.code).toBe(1);
    expect(taken.stderr.trim()).toMatch(/^seedbox serve: SEEDBOX_GRPC_PORT \(--grpc-port\) \d+: cannot listen: address already in use$/);
    await s.stop();
    await sleep(10);
  }, 60_000);
});
