/**
 * `seedbox seed` (the built CLI) serving real leeches, and resuming an
 * interrupted `seedbox download`. Every download is compared with the
 * source byte for byte.
 *
 * aria2 finds peers only through a tracker, and seedbox does not announce
 * yet (the tracker-client is another issue), so the test announces our seed
 * to an opentracker itself.
 *
 * Subnets: 10.213.21.0/24 (Transmission refuses peers on 127.0.0.0/8).
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compareTrees, makeTorrent, type TestTorrent } from './support/data.js';
import { createNetns } from './support/netns.js';
import { startLibtorrentLeech, startLibtorrentSeed, startTransmissionLeech } from './support/peers.js';
import {
  cleanupAfter,
  cleanupAll,
  cleanupMark,
  freePort,
  makeTempDir,
  runToExit,
  spawnProcess,
  waitFor,
  type ManagedProcess,
} from './support/processes.js';
import { needTools, tools } from './support/tools.js';
import { startOpentracker } from './support/tracker.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'packages/cli/bin/seedbox.js');

const lt = needTools(tools.libtorrent, tools.mktorrent);
const aria2 = needTools(tools.aria2, tools.mktorrent, tools.opentracker);
const webtorrent = needTools(tools.webtorrent, tools.mktorrent);
const transmission = needTools(tools.transmission, tools.netns, tools.mktorrent, tools.opentracker);

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

let work: string;
let trackerPort: number;
let multi: TestTorrent;

beforeAll(async () => {
  if (!lt.available && !aria2.available && !webtorrent.available) return;
  work = makeTempDir('seed-interop');
  trackerPort = await freePort();
  multi = await makeTorrent({
    dir: join(work, 'multi'),
    name: 'multi',
    pieceLength: 64 * 1024,
    tracker: `http://127.0.0.1:${trackerPort}/announce`,
    files: [
      { path: 'a.bin', size: 2_000_000 },
      { path: 'empty.txt', size: 0 },
      { path: 'sub/b.bin', size: 3_000_001 },
      { path: 'sub/deeper/c.txt', size: 123_456 },
    ],
  });
}, 120_000);

/** Starts `seedbox seed` on a fixed port and waits until it serves. */
async function startSeedboxSeed(t: TestTorrent, host = '127.0.0.1'): Promise<{ port: number; proc: ManagedProcess }> {
  const port = await freePort();
  const proc = spawnProcess(
    process.execPath,
    [cli, 'seed', t.torrentPath, '--data', t.dataRoot, '--listen', `${host}:${port}`, '--json', '--resume-dir', makeTempDir('resume')],
    { name: 'seedbox seed', logFile: join(makeTempDir('seedbox-seed'), 'seed.log') },
  );
  await proc.waitForLine(/"event":"seeding"/, 30_000, 'seedbox to seed');
  return { port, proc };
}

/** Runs a command to completion; answers its exit code and output. */
function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
  return runToExit(cmd, args, timeoutMs);
}

describe.skipIf(!lt.available)('seedbox seed to libtorrent', () => {
  it('serves a multi-file torrent byte-identical', async () => {
    const seed = await startSeedboxSeed(multi);
    const save = makeTempDir('lt-leech');
    const leech = await startLibtorrentLeech({ torrentPath: multi.torrentPath, saveDir: save, peers: [{ host: '127.0.0.1', port: seed.port }] });
    await leech.waitDone(60_000);
    expect(await compareTrees(multi.contentPath, join(save, multi.name))).toBeNull();
  }, 90_000);

  it('serves four leeches at once', async () => {
    const seed = await startSeedboxSeed(multi);
    const leeches = await Promise.all(
      [0, 1, 2, 3].map(async () => {
        const save = makeTempDir('lt-leech');
        const leech = await startLibtorrentLeech({ torrentPath: multi.torrentPath, saveDir: save, peers: [{ host: '127.0.0.1', port: seed.port }] });
        return { save, leech };
      }),
    );
    await Promise.all(leeches.map((l) => l.leech.waitDone(90_000)));
    for (const l of leeches) expect(await compareTrees(multi.contentPath, join(l.save, multi.name))).toBeNull();
  }, 120_000);
});

describe.skipIf(!lt.available)('seedbox download --seed', () => {
  it('keeps seeding what it downloaded, and exits 0 on SIGINT', async () => {
    const origin = await startLibtorrentSeed({ torrentPath: multi.torrentPath, dataRoot: multi.dataRoot });
    const port = await freePort();
    const out = makeTempDir('download-seed');
    const proc = spawnProcess(
      process.execPath,
      [cli, 'download', multi.torrentPath, '--out', out, '--peer', `127.0.0.1:${origin.port}`, '--seed', '--listen', `127.0.0.1:${port}`, '--json', '--resume-dir', makeTempDir('resume')],
      { name: 'seedbox download --seed', logFile: join(makeTempDir('download-seed-log'), 'log') },
    );
    await proc.waitForLine(/"event":"seeding"/, 60_000, 'the download to finish and seeding to start');
    // The original seed is gone: whatever the leech gets comes from us.
    await origin.stop();
    const save = makeTempDir('lt-leech');
    const leech = await startLibtorrentLeech({ torrentPath: multi.torrentPath, saveDir: save, peers: [{ host: '127.0.0.1', port }] });
    await leech.waitDone(60_000);
    expect(await compareTrees(multi.contentPath, join(save, multi.name))).toBeNull();
    proc.child.kill('SIGINT');
    expect((await proc.exited).code).toBe(0);
  }, 120_000);
});

describe.skipIf(!webtorrent.available)('seedbox seed to WebTorrent', () => {
  it('serves a multi-file torrent byte-identical', async () => {
    const seed = await startSeedboxSeed(multi);
    const out = makeTempDir('wt-leech');
    const r = await run(process.execPath, [join(root, 'bench/webtorrent_leech.mjs'), multi.torrentPath, out, `127.0.0.1:${seed.port}`]);
    expect(r.code, r.output).toBe(0);
    expect(await compareTrees(multi.contentPath, join(out, multi.name))).toBeNull();
  }, 90_000);
});

describe.skipIf(!aria2.available)('seedbox seed to aria2', () => {
  it('serves a multi-file torrent byte-identical (found through opentracker)', async () => {
    await startOpentracker({ infoHashes: [multi.infoHash], port: trackerPort });
    const seed = await startSeedboxSeed(multi);
    // aria2 finds peers only through trackers: our seed announced itself.
    await seed.proc.waitForLine(/"event":"announce".*"announceEvent":"started"/, 15_000, 'seedbox to announce');
    const out = makeTempDir('aria2-leech');
    const r = await run('aria2c', [
      '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
      '--seed-time=0', '--file-allocation=none', '--console-log-level=warn', '--summary-interval=0',
      `--listen-port=${await freePort()}`, '-d', out, multi.torrentPath,
    ]);
    expect(r.code, r.output).toBe(0);
    expect(await compareTrees(multi.contentPath, join(out, multi.name))).toBeNull();
  }, 90_000);
});

describe.skipIf(!transmission.available)('seedbox seed to Transmission', () => {
  it('serves a multi-file torrent byte-identical to a Transmission leech in a namespace', async () => {
    const ns = await createNetns({ subnet: '10.213.21' });
    const port = await freePort();
    const t = await makeTorrent({
      dir: join(work, 'for-transmission'),
      name: 'tr-multi',
      pieceLength: 64 * 1024,
      tracker: `http://${ns.hostIp}:${port}/announce`,
      // No zero-length file here: Transmission 3.00 never creates those.
      files: [
        { path: 'one.bin', size: 1_500_000 },
        { path: 'dir/two.bin', size: 700_001 },
        { path: 'dir/three.txt', size: 12_345 },
      ],
    });
    // Transmission reaches the tracker and us through the host side of the veth.
    await startOpentracker({ infoHashes: [t.infoHash], host: ns.hostIp, port });
    const seed = await startSeedboxSeed(t, ns.hostIp);
    // Transmission finds us through the tracker our seed announced to.
    await seed.proc.waitForLine(/"event":"announce".*"announceEvent":"started"/, 15_000, 'seedbox to announce');
    const save = makeTempDir('tr-leech');
    const leech = await startTransmissionLeech({ torrentPath: t.torrentPath, dataRoot: save, netns: ns });
    await leech.waitDone(60_000);
    expect(await compareTrees(t.contentPath, join(save, t.name))).toBeNull();
  }, 120_000);
});

describe.skipIf(!lt.available)('resume', () => {
  let big: TestTorrent;
  beforeAll(async () => {
    big = await makeTorrent({ dir: join(work, 'big'), name: 'big.bin', pieceLength: 256 * 1024, files: { size: 16 * 1024 * 1024 } });
  }, 60_000);

  function downloadArgs(out: string, resumeDir: string, port: number): string[] {
    return [cli, 'download', big.torrentPath, '--out', out, '--peer', `127.0.0.1:${port}`, '--json', '--resume-dir', resumeDir];
  }

  it('fetches only the missing pieces after a download is killed half way', async () => {
    // A slow seed, so that the kill lands in the middle.
    const slow = await startLibtorrentSeed({ torrentPath: big.torrentPath, dataRoot: big.dataRoot, uploadLimit: 2_000_000 });
    const out = makeTempDir('resume-out');
    const resumeDir = makeTempDir('resume-dir');
    const first = spawnProcess(process.execPath, downloadArgs(out, resumeDir, slow.port), {
      name: 'seedbox download',
      logFile: join(makeTempDir('resume-log'), 'first.log'),
    });
    // Kill it hard (no resume data saved) once a third of the pieces are verified.
    await waitFor(() => {
      const ticks = first.text().split('\n').filter((l) => l.includes('"piecesVerified"'));
      const last = ticks.at(-1);
      return last !== undefined && (JSON.parse(last) as { piecesVerified: number }).piecesVerified >= 20;
    }, 60_000, 'a third of the pieces');
    first.child.kill('SIGKILL');
    await first.exited;

    const fast = await startLibtorrentSeed({ torrentPath: big.torrentPath, dataRoot: big.dataRoot });
    const second = await run(process.execPath, downloadArgs(out, resumeDir, fast.port));
    expect(second.code, second.output).toBe(0);
    const lines = second.output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const checked = lines.find((l) => l.event === 'checked')!;
    expect(checked.fastPath).toBe(false); // killed: no resume data, every piece was checked
    expect(checked.piecesPresent).toBeGreaterThanOrEqual(20);
    const done = lines.findLast((l) => 'done' in l)!;
    expect(done.done).toBe(true);
    // Only what was missing came over the wire.
    expect(done.downloaded).toBe(big.totalSize - (checked.piecesPresent as number) * 256 * 1024);
    expect(await compareTrees(big.contentPath, join(out, big.name))).toBeNull();

    // A clean finish saved resume data: the next start trusts it and reads nothing.
    const third = await run(process.execPath, downloadArgs(out, resumeDir, fast.port));
    expect(third.code, third.output).toBe(0);
    const again = third.output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(again.find((l) => l.event === 'checked')).toMatchObject({ fastPath: true, piecesPresent: big.totalSize / (256 * 1024) });
  }, 120_000);
});
