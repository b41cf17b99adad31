/**
 * Proves the interop harness (test/support/) before the real interop tests
 * rely on it: one small multi-file torrent, seeded in turn by libtorrent,
 * Transmission (in a namespace), aria2 and WebTorrent, downloaded by a
 * libtorrent leech, and compared byte for byte with the source. Then the
 * harness's own failure paths: an early exit carries the log tail, a timeout
 * says what it waited for, compareTrees finds the first differing byte, and
 * cleanup leaves no process or namespace behind.
 *
 * Subnets: this file uses 10.213.10.0/24 and 10.213.11.0/24.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compareTrees, infoHashOf, makeTorrent, type TestTorrent } from '../support/data.js';
import { createNetns } from '../support/netns.js';
import {
  startAria2Seed,
  startLibtorrentLeech,
  startLibtorrentSeed,
  startTransmissionSeed,
  startWebTorrentSeed,
  type RunningPeer,
} from '../support/peers.js';
import {
  cleanupAfter,
  cleanupAll,
  cleanupMark,
  makeTempDir,
  pendingCleanups,
  ProcessExitedError,
  spawnProcess,
  waitFor,
} from '../support/processes.js';
import { needTool, needTools, SYSTEM_PYTHON, tools } from '../support/tools.js';
import { startOpentracker } from '../support/tracker.js';

const lt = needTools(tools.libtorrent, tools.mktorrent);
const transmission = needTools(tools.transmission, tools.netns);
const aria2 = needTool(tools.aria2);
const webtorrent = needTool(tools.webtorrent);
const netns = needTool(tools.netns);
const tracker = needTool(tools.opentracker);

// Per-test cleanup (peers, namespaces) under per-file fixtures (the torrent).
let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

describe.skipIf(!lt.available)('a libtorrent leech downloads a multi-file torrent from', () => {
  let root: string;
  let torrent: TestTorrent;

  beforeAll(async () => {
    root = makeTempDir('harness');
    torrent = await makeTorrent({
      dir: root,
      name: 'multi',
      pieceLength: 64 * 1024,
      files: [
        { path: 'a.bin', size: 2 * 1024 * 1024 + 123 },
        { path: 'sub/b.bin', size: 1024 * 1024 + 7 },
        { path: 'sub/deeper/c.bin', size: 900 * 1024 },
        { path: 'one-byte.txt', size: 1 },
      ],
    });
  });

  async function leechFrom(seed: RunningPeer, tag: string): Promise<void> {
    const saveDir = join(root, `out-${tag}`);
    const leech = await startLibtorrentLeech({ torrentPath: torrent.torrentPath, saveDir, peers: [seed] });
    await leech.waitDone(40_000);
    expect(await compareTrees(torrent.contentPath, join(saveDir, torrent.name))).toBeNull();
  }

  it('libtorrent', async () => {
    const seed = await startLibtorrentSeed({ torrentPath: torrent.torrentPath, dataRoot: torrent.dataRoot });
    await leechFrom(seed, 'libtorrent');
  });

  it.skipIf(!transmission.available)('Transmission in a network namespace', async () => {
    const ns = await createNetns({ subnet: '10.213.10' });
    const seed = await startTransmissionSeed({ torrentPath: torrent.torrentPath, dataRoot: torrent.dataRoot, netns: ns });
    expect(seed.host).toBe('10.213.10.2');
    await leechFrom(seed, 'transmission');
  });

  it.skipIf(!aria2.available)('aria2', async () => {
    const seed = await startAria2Seed({ torrentPath: torrent.torrentPath, dataRoot: torrent.dataRoot });
    await leechFrom(seed, 'aria2');
  });

  it.skipIf(!webtorrent.available)('WebTorrent', async () => {
    const seed = await startWebTorrentSeed({ torrentPath: torrent.torrentPath, dataRoot: torrent.dataRoot });
    await leechFrom(seed, 'webtorrent');
  });
});

describe('the harness itself', () => {
  it('compareTrees names the first differing file and offset', async () => {
    const dir = makeTempDir('compare');
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    for (const root of [a, b]) {
      mkdirSync(join(root, 'x'), { recursive: true });
      writeFileSync(join(root, 'x', 'one'), Buffer.alloc(3_000_000, 7));
      writeFileSync(join(root, 'two'), 'same');
    }
    expect(await compareTrees(a, b)).toBeNull();

    const fd = openSync(join(b, 'x', 'one'), 'r+');
    writeSync(fd, Buffer.from([8]), 0, 1, 2_500_001);
    closeSync(fd);
    expect(await compareTrees(a, b)).toMatchObject({ file: 'x/one', offset: 2_500_001 });
    expect(await compareTrees(join(a, 'x', 'one'), join(b, 'x', 'one'))).toMatchObject({ file: '', offset: 2_500_001 });

    writeFileSync(join(b, 'two'), 'longer');
    rmSync(join(b, 'x'), { recursive: true });
    expect(await compareTrees(a, b)).toMatchObject({ file: 'x/one', reason: `only in ${a}` });
    writeFileSync(join(b, 'x'), '');
    expect((await compareTrees(a, b))?.reason).toMatch(/only in/);
    expect((await compareTrees(join(a, 'two'), join(b, 'two')))?.reason).toMatch(/^size 4 .* but 6 /);
  });

  it.skipIf(!lt.available)('makeTorrent is deterministic and its info hash agrees with libtorrent', async () => {
    const spec = { name: 'single', pieceLength: 16 * 1024, files: { size: 100_000 } };
    const one = await makeTorrent({ dir: makeTempDir('det1'), ...spec });
    const two = await makeTorrent({ dir: makeTempDir('det2'), ...spec, tracker: 'http://127.0.0.1:1/announce' });
    expect(one.infoHash).toBe(two.infoHash); // the announce URL is outside the info dictionary
    expect(one.contentPath).toBe(join(one.dataRoot, 'single'));
    expect(await compareTrees(one.contentPath, two.contentPath)).toBeNull();
    const fromLibtorrent = execFileSync(
      SYSTEM_PYTHON,
      ['-c', 'import sys, libtorrent as lt; print(lt.torrent_info(sys.argv[1]).info_hash())', one.torrentPath],
      { encoding: 'utf8' },
    ).trim();
    expect(await infoHashOf(one.torrentPath)).toBe(fromLibtorrent);
  });

  it.skipIf(!tracker.available)('opentracker serves whitelisted info hashes only', async () => {
    const served = 'a89d08132f6477c4b5b3548294ce43cd8e745fff';
    const t = await startOpentracker({ infoHashes: [served] });
    const announce = async (hex: string) => {
      const infoHash = hex.replace(/../g, (b) => `%${b}`);
      const url = `${t.announceUrl}?info_hash=${infoHash}&peer_id=-SB0001-abcdefghijkl&port=6881&uploaded=0&downloaded=0&left=0&compact=1`;
      return Buffer.from(await (await fetch(url)).arrayBuffer()).toString('latin1');
    };
    expect(await announce(served)).toMatch(/^d8:completei1e/);
    expect(await announce('00'.repeat(20))).toMatch(/failure reason.*not authorized/);
  });

  it.skipIf(!transmission.available || !lt.available)('startTransmissionSeed fails fast when the data does not verify', async () => {
    const dir = makeTempDir('tr-wrong');
    const t = await makeTorrent({ dir, name: 'small', pieceLength: 32 * 1024, files: { size: 200_000 } });
    const ns = await createNetns({ subnet: '10.213.10' });
    const wrongRoot = join(dir, 'wrong-root');
    mkdirSync(wrongRoot);
    await expect(startTransmissionSeed({ torrentPath: t.torrentPath, dataRoot: wrongRoot, netns: ns })).rejects.toThrow(
      /has only 0(\.0)?%: wrong dataRoot, or the data does not match/,
    );
  });

  it('a process that exits early fails the wait with its log tail', async () => {
    const dir = makeTempDir('early');
    const p = spawnProcess('sh', ['-c', 'echo starting; echo "boom: no such seed" >&2; exit 3'], { logFile: join(dir, 'sh.log') });
    const err = await p.waitForLine(/^READY/, 10_000, 'the process to be ready').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProcessExitedError);
    expect((err as Error).message).toMatch(/exited \(code 3\) before the process to be ready/);
    expect((err as Error).message).toContain('boom: no such seed');

    const waited = await waitFor(() => false, 300, 'something that never happens').catch((e: unknown) => e);
    expect((waited as Error).message).toBe('timed out after 300 ms waiting for something that never happens');
  });

  it('needTool skips locally and throws in CI', () => {
    const missing = { name: 'no-such-tool', check: () => false, install: 'apt-get install no-such-tool' };
    const ci = process.env.CI;
    try {
      process.env.CI = 'false';
      expect(needTool(missing)).toEqual({ available: false, reason: 'needs no-such-tool (apt-get install no-such-tool)' });
      process.env.CI = 'true';
      expect(() => needTool(missing)).toThrow(/needs no-such-tool .*in CI every tool must be installed/);
    } finally {
      if (ci === undefined) delete process.env.CI;
      else process.env.CI = ci;
    }
    expect(() => spawnProcess('/no/such/binary', [], { logFile: '/dev/null' })).toThrow(/could not start/);
  });

  it.skipIf(!lt.available)('a peer that cannot start reports why', async () => {
    const dir = makeTempDir('bad-seed');
    const err = await startLibtorrentSeed({ torrentPath: join(dir, 'missing.torrent'), dataRoot: dir, workDir: dir }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProcessExitedError);
    expect((err as Error).message).toMatch(/libtorrent seed \(pid \d+\) exited \(code 1\) before libtorrent seed to listen/);
    expect((err as Error).message).toMatch(/No such file or directory/);
  });

  it('stop() kills a process that ignores SIGTERM, and its children', async () => {
    const dir = makeTempDir('stubborn');
    const p = spawnProcess('sh', ['-c', 'trap "" TERM; sleep 60 & echo CHILD $!; wait'], { logFile: join(dir, 'sh.log') });
    const [, childPid] = (await p.waitForLine(/^CHILD (\d+)/, 5000))!;
    const started = Date.now();
    await p.stop(300);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(p.exitInfo?.signal).toBe('SIGKILL');
    await waitFor(() => !isAlive(Number(childPid)), 2000, 'the sleep child to die');
    expect(pendingCleanups().some((l) => l.includes(`pid ${p.pid}`))).toBe(false);
  });

  it.skipIf(!netns.available)('a namespace is reachable, refuses a clashing subnet, and is gone after destroy', async () => {
    const ns = await createNetns({ subnet: '10.213.11' });
    expect(ns).toMatchObject({ hostIp: '10.213.11.1', nsIp: '10.213.11.2' });
    expect(ns.name).toMatch(/^sbx-[0-9a-f]{6}$/);
    await expect(createNetns({ subnet: '10.213.11' })).rejects.toThrow(/clashes with the route/);
    await expect(createNetns({ subnet: '192.0.2' })).rejects.toThrow(/not allowed/);

    // A TCP server inside, reached from the host through the veth.
    const dir = makeTempDir('netns');
    const server = ns.spawn(
      process.execPath,
      ['-e', `require('net').createServer(s => s.end('hi ' + s.remoteAddress)).listen(7000, '${ns.nsIp}', () => console.log('UP'))`],
      { logFile: join(dir, 'server.log') },
    );
    await server.waitForLine(/^UP/, 5000);
    const reply = execFileSync(process.execPath, ['-e', `require('net').connect(7000, '${ns.nsIp}').pipe(process.stdout)`], {
      encoding: 'utf8',
    });
    expect(reply).toBe(`hi ${ns.hostIp}`);
    // Something started inside without our spawn still dies with the namespace.
    const stray = spawnSync('ip', ['netns', 'exec', ns.name, 'sh', '-c', 'sleep 60 >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' });
    const strayPid = Number(stray.stdout.trim());
    expect(isAlive(strayPid)).toBe(true);

    await ns.destroy();
    expect(server.running).toBe(false);
    await waitFor(() => !isAlive(strayPid), 3000, 'the stray process in the namespace to die');
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(ns.name);
    expect(spawnSync('ip', ['link', 'show', ns.hostIf]).status).not.toBe(0);
    expect(execFileSync('ip', ['route'], { encoding: 'utf8' })).not.toContain('10.213.11.');
  });
});

/** Alive and not a zombie waiting for init to reap it. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
