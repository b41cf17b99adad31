/**
 * `seedbox download` (the built CLI, embedded mode) against real seeds:
 * libtorrent, Transmission (in a network namespace: it refuses peers on
 * 127.0.0.0/8), aria2 and WebTorrent. Every download is compared with the
 * source byte for byte.
 *
 * Torrents: a multi-file torrent with nested folders and a zero-length file,
 * a single file whose last piece is one byte, and a larger single file that
 * three seeds serve at once.
 *
 * Subnets: this file uses 10.213.20.0/24.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compareTrees, makeTorrent, type TestTorrent } from './support/data.js';
import { createNetns, type Netns } from './support/netns.js';
import {
  startAria2Seed,
  startLibtorrentSeed,
  startTransmissionSeed,
  startWebTorrentSeed,
  type PeerAddress,
  type RunningPeer,
} from './support/peers.js';
import { cleanupAfter, cleanupAll, cleanupMark, freePort, makeTempDir, runToExit, sleep, type CommandResult } from './support/processes.js';
import { needTools, tools } from './support/tools.js';
import { startOpentracker } from './support/tracker.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'packages/cli/bin/seedbox.js');

const lt = needTools(tools.libtorrent, tools.mktorrent);
const transmission = needTools(tools.transmission, tools.netns, tools.mktorrent);
const aria2 = needTools(tools.aria2, tools.mktorrent);
const webtorrent = needTools(tools.webtorrent, tools.mktorrent);
const ltTracker = needTools(tools.libtorrent, tools.mktorrent, tools.opentracker);

type Download = CommandResult;

/** Runs `seedbox download --json` to completion (killed by pid on timeout). */
function seedboxDownload(torrent: string, out: string, peers: PeerAddress[], timeoutMs = 60_000, extraArgs: string[] = []): Promise<Download> {
  const args = [cli, 'download', torrent, '--out', out, '--json', ...peers.flatMap((p) => ['--peer', `${p.host}:${p.port}`]), ...extraArgs];
  return runToExit(process.execPath, args, timeoutMs);
}

async function expectIdentical(torrent: TestTorrent, out: string, d: Download): Promise<void> {
  expect(d.stderr, d.stderr).toBe('');
  expect(d.code).toBe(0);
  // The summary line (announces of `stopped` may follow it).
  const last = d.jsonLines.findLast((x) => 'done' in x)!;
  expect(last.done).toBe(true);
  expect(last.piecesVerified).toBe(last.pieceCount);
  expect(await compareTrees(torrent.contentPath, join(out, torrent.name))).toBeNull();
}

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

let work: string;
let multi: TestTorrent;
let oneByteTail: TestTorrent;
let big: TestTorrent;

beforeAll(async () => {
  if (!lt.available && !aria2.available && !webtorrent.available) return;
  work = makeTempDir('download-interop');
  multi = await makeTorrent({
    dir: join(work, 'multi'),
    name: 'multi',
    pieceLength: 32 * 1024,
    files: [
      { path: 'a.bin', size: 300_000 },
      { path: 'empty.txt', size: 0 },
      { path: 'sub/b.bin', size: 1_000_001 },
      { path: 'sub/deeper/c.txt', size: 70_000 },
      { path: 'z.bin', size: 33_333 },
    ],
  });
  oneByteTail = await makeTorrent({ dir: join(work, 'tail'), name: 'tail.bin', pieceLength: 32 * 1024, files: { size: 3 * 32 * 1024 + 1 } });
  big = await makeTorrent({ dir: join(work, 'big'), name: 'big.bin', pieceLength: 256 * 1024, files: { size: 24 * 1024 * 1024 } });
}, 120_000);

/** The seeds under test, each started for a torrent; Transmission runs in a namespace. */
const SEEDS: { name: string; tool: { available: boolean }; start: (t: TestTorrent, ns: () => Promise<Netns>) => Promise<RunningPeer> }[] = [
  { name: 'libtorrent', tool: lt, start: (t) => startLibtorrentSeed({ torrentPath: t.torrentPath, dataRoot: t.dataRoot }) },
  {
    name: 'Transmission',
    tool: transmission,
    start: async (t, ns) => startTransmissionSeed({ torrentPath: t.torrentPath, dataRoot: t.dataRoot, netns: await ns() }),
  },
  { name: 'aria2', tool: aria2, start: (t) => startAria2Seed({ torrentPath: t.torrentPath, dataRoot: t.dataRoot }) },
  { name: 'WebTorrent', tool: webtorrent, start: (t) => startWebTorrentSeed({ torrentPath: t.torrentPath, dataRoot: t.dataRoot }) },
];

for (const seed of SEEDS) {
  describe.skipIf(!seed.tool.available)(`seedbox download from a ${seed.name} seed`, () => {
    const ns = () => createNetns({ subnet: '10.213.20' });
    for (const [label, pick] of [
      ['a multi-file torrent with a zero-length file', () => multi],
      ['a torrent whose last piece is one byte', () => oneByteTail],
    ] as const) {
      it(label, async () => {
        const torrent = pick();
        const peer = await seed.start(torrent, ns);
        const out = makeTempDir('seedbox-out');
        const d = await seedboxDownload(torrent.torrentPath, out, [peer]);
        await expectIdentical(torrent, out, d);
      }, 90_000);
    }
  });
}

describe.skipIf(!lt.available || !aria2.available || !webtorrent.available)('seedbox download from three seeds at once', () => {
  it('takes blocks from libtorrent, aria2 and WebTorrent and ends byte-identical', async () => {
    // Each is held to 3 MB/s: unthrottled, the first to answer (aria2, or
    // libtorrent) would finish the download before the others unchoke us.
    const peers = await Promise.all([
      startLibtorrentSeed({ torrentPath: big.torrentPath, dataRoot: big.dataRoot, uploadLimit: 3_000_000 }),
      startAria2Seed({ torrentPath: big.torrentPath, dataRoot: big.dataRoot, uploadLimit: 3_000_000 }),
      startWebTorrentSeed({ torrentPath: big.torrentPath, dataRoot: big.dataRoot, uploadLimit: 3_000_000 }),
    ]);
    const out = makeTempDir('seedbox-out');
    const d = await seedboxDownload(big.torrentPath, out, peers);
    await expectIdentical(big, out, d);
    // All three were connected at the end, and blocks came from more than
    // one of them. (Which ones depends on who unchokes first: a seed may
    // still be choking us when the last block arrives.)
    const sources = d.jsonLines.findLast((x) => 'done' in x)!.sources as Record<string, number>;
    for (const p of peers) expect(Object.keys(sources), `${p.name} was not connected`).toContain(`${p.host}:${p.port}`);
    expect(Object.values(sources).filter((b) => b > 0).length, JSON.stringify(sources)).toBeGreaterThanOrEqual(2);
  }, 120_000);
});

describe.skipIf(!ltTracker.available)('seedbox download finds its peers through trackers', () => {
  // No --peer: the only way to the libtorrent seed is the torrent's tracker.
  for (const scheme of ['http', 'udp'] as const) {
    it(`finds a libtorrent seed through opentracker over ${scheme.toUpperCase()}`, async () => {
      // The whitelist needs the info hash, which needs the announce URL in
      // the torrent: pick the port first, make the torrent, then start the
      // tracker on that port.
      const port = await freePort();
      const url = `${scheme}://127.0.0.1:${port}/announce`;
      const t = await makeTorrent({ dir: join(work, `tracked-${scheme}`), name: `tracked-${scheme}.bin`, pieceLength: 32 * 1024, files: { size: 2_000_003 }, tracker: url });
      const ot = await startOpentracker({ infoHashes: [t.infoHash], port });
      const seed = await startLibtorrentSeed({ torrentPath: t.torrentPath, dataRoot: t.dataRoot });
      const out = makeTempDir('seedbox-out');
      const d = await seedboxDownload(t.torrentPath, out, [], 60_000);
      await expectIdentical(t, out, d);
      // The seed came from the tracker's reply, over the scheme under test.
      const announces = d.jsonLines.filter((x) => x.event === 'announce');
      expect(announces.length, d.stdout).toBeGreaterThan(0);
      expect(announces[0]!.url).toBe(url);
      expect(announces.some((a) => (a.peers as number) > 0), JSON.stringify(announces)).toBe(true);
      const sources = d.jsonLines.findLast((x) => 'done' in x)!.sources as Record<string, number>;
      expect(sources[`127.0.0.1:${seed.port}`]).toBeGreaterThan(0);
      // And on the way out it told the tracker it stopped.
      expect(d.jsonLines.some((x) => x.event === 'announce' && x.announceEvent === 'stopped'), d.stdout).toBe(true);
      await ot.stop();
    }, 90_000);
  }

  it('with a dead tracker and no --peer, warns on stderr and keeps trying until stopped', async () => {
    const port = await freePort();
    const t = await makeTorrent({ dir: join(work, 'dead-tracker'), name: 'dead.bin', pieceLength: 32 * 1024, files: { size: 100_000 }, tracker: `http://127.0.0.1:${port}/announce` });
    const out = makeTempDir('seedbox-out');
    const child = spawn(process.execPath, [cli, 'download', t.torrentPath, '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      for (let i = 0; i < 100 && !/tracker: /.test(stderr); i++) await sleep(100);
      expect(stderr).toMatch(new RegExp(`tracker: .*127\\.0\\.0\\.1:${port}`));
      child.kill('SIGINT');
      // Interrupted before done: exit 1, with the reason.
      expect(await exited).toBe(1);
      expect(stderr).toMatch(/interrupted/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 30_000);
});

describe('seedbox download fails clearly', () => {
  it('exits non-zero with one line when no peer can be reached', async () => {
    if (!lt.available) return;
    const out = makeTempDir('seedbox-out');
    // A port nobody listens on: connections are refused at once.
    const d = await seedboxDownload(oneByteTail.torrentPath, out, [{ host: '127.0.0.1', port: 1 }], 120_000);
    expect(d.code).toBe(1);
    expect(d.stderr.trim().split('\n')).toHaveLength(1);
    expect(d.stderr).toMatch(/no peer could be reached/);
  }, 130_000);
});

describe.skipIf(!lt.available)('endgame against real peers', () => {
  it('does not wait for a very slow seed once a fast one has the rest', async () => {
    // The slow seed sends 4 KB/s: each 16 KiB block it holds takes 4 s, so
    // waiting for even the few it is asked for at the start would take far
    // longer than the bound below. Endgame asks the fast seed for them too.
    const slow = await startLibtorrentSeed({ torrentPath: big.torrentPath, dataRoot: big.dataRoot, uploadLimit: 4_000 });
    // The fast seed comes up once the download is connected to the slow one
    // and has had a moment to ask it (the fast one's first dial is refused
    // and retried), so the slow seed holds requests first however long the
    // download took to start.
    const fastPort = await freePort();
    const out = makeTempDir('seedbox-out');
    const started = Date.now();
    const download = seedboxDownload(big.torrentPath, out, [slow, { host: '127.0.0.1', port: fastPort }]);
    await slow.process.waitForLine(/ALERT (incoming_connection_alert|peer_connect_alert)/, 20_000, 'the download to connect to the slow seed');
    await sleep(700);
    await startLibtorrentSeed({ torrentPath: big.torrentPath, dataRoot: big.dataRoot, port: fastPort });
    const d = await download;
    await expectIdentical(big, out, d);
    expect(Date.now() - started).toBeLessThan(15_000);
    const sources = d.jsonLines.findLast((x) => 'done' in x)!.sources as Record<string, number>;
    expect(sources[`127.0.0.1:${slow.port}`], 'the slow seed was never asked').toBeDefined();
  }, 60_000);
});
