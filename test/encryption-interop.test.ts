/**
 * Message stream encryption (MSE/PE) with real clients that insist on it:
 * libtorrent with in_enc_policy and out_enc_policy forced and RC4 as the
 * only level, and Transmission with `"encryption": 2` (required), each
 * seeding to seedbox and leeching from it. Every transfer is compared with
 * the source byte for byte. Policies between our own engines are in
 * services/peer-worker/tests/encryption.test.ts.
 *
 * Subnets: this file uses 10.213.22.0/24 and 10.213.23.0/24.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compareTrees, makeTorrent, type TestTorrent } from './support/data.js';
import { createNetns } from './support/netns.js';
import { startLibtorrentLeech, startLibtorrentSeed, startTransmissionLeech, startTransmissionSeed } from './support/peers.js';
import { cleanupAfter, cleanupAll, cleanupMark, freePort, makeTempDir, runToExit, spawnProcess, type ManagedProcess } from './support/processes.js';
import { needTools, tools } from './support/tools.js';
import { startOpentracker } from './support/tracker.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'packages/cli/bin/seedbox.js');

const lt = needTools(tools.libtorrent, tools.mktorrent);
const transmission = needTools(tools.transmission, tools.netns, tools.mktorrent, tools.opentracker);

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

let work: string;
let torrent: TestTorrent;

beforeAll(async () => {
  if (!lt.available && !transmission.available) return;
  work = makeTempDir('encryption-interop');
  torrent = await makeTorrent({
    dir: join(work, 'multi'),
    name: 'enc-multi',
    pieceLength: 64 * 1024,
    files: [
      { path: 'a.bin', size: 2_500_000 },
      { path: 'sub/b.bin', size: 1_000_001 },
    ],
  });
}, 60_000);

async function download(t: TestTorrent, peer: { host: string; port: number }, extra: string[] = []): Promise<void> {
  const out = makeTempDir('enc-out');
  const d = await runToExit(
    process.execPath,
    [cli, 'download', t.torrentPath, '--out', out, '--json', '--no-trackers', '--peer', `${peer.host}:${peer.port}`, '--resume-dir', makeTempDir('resume'), ...extra],
    60_000,
  );
  expect(d.stderr, d.stderr).toBe('');
  expect(d.code).toBe(0);
  expect(await compareTrees(t.contentPath, join(out, t.name))).toBeNull();
}

async function seed(t: TestTorrent, host: string, extra: string[] = []): Promise<{ port: number; proc: ManagedProcess }> {
  const port = await freePort();
  const proc = spawnProcess(
    process.execPath,
    [cli, 'seed', t.torrentPath, '--data', t.dataRoot, '--listen', `${host}:${port}`, '--json', '--resume-dir', makeTempDir('resume'), ...extra],
    { name: 'seedbox seed', logFile: join(makeTempDir('enc-seed'), 'seed.log') },
  );
  await proc.waitForLine(/"event":"seeding"/, 30_000, 'seedbox to seed');
  return { port, proc };
}

describe.skipIf(!lt.available)('MSE with libtorrent, encryption forced (RC4 only)', () => {
  it.each([['prefer (the default)', []], ['require', ['--encryption', 'require']]] as const)(
    'downloads from a libtorrent seed with %s, byte-identical',
    async (_label, extra) => {
      const origin = await startLibtorrentSeed({ torrentPath: torrent.torrentPath, dataRoot: torrent.dataRoot, encryption: 'forced' });
      await download(torrent, origin, [...extra]);
    },
    90_000,
  );

  it.each([['prefer (the default)', []], ['require', ['--encryption', 'require']]] as const)('seeds to a libtorrent leech with %s, byte-identical', async (_label, extra) => {
    const s = await seed(torrent, '127.0.0.1', [...extra]);
    const save = makeTempDir('lt-leech');
    const leech = await startLibtorrentLeech({ torrentPath: torrent.torrentPath, saveDir: save, peers: [{ host: '127.0.0.1', port: s.port }], encryption: 'forced' });
    await leech.waitDone(60_000);
    expect(await compareTrees(torrent.contentPath, join(save, torrent.name))).toBeNull();
  }, 90_000);

  it('a libtorrent that forces encryption gets nothing from a seedbox that disables it', async () => {
    const origin = await startLibtorrentSeed({ torrentPath: torrent.torrentPath, dataRoot: torrent.dataRoot, encryption: 'forced' });
    const out = makeTempDir('enc-out');
    const d = await runToExit(
      process.execPath,
      [cli, 'download', torrent.torrentPath, '--out', out, '--json', '--no-trackers', '--peer', `127.0.0.1:${origin.port}`, '--resume-dir', makeTempDir('resume'), '--encryption', 'disable'],
      8_000,
    );
    // Killed at the deadline, never done: libtorrent closes every plain connection.
    expect(d.jsonLines.some((x) => x.done === true)).toBe(false);
  }, 30_000);
});

describe.skipIf(!transmission.available)('MSE with Transmission, encryption required', () => {
  it('downloads from a Transmission seed, byte-identical', async () => {
    const ns = await createNetns({ subnet: '10.213.22' });
    const origin = await startTransmissionSeed({ torrentPath: torrent.torrentPath, dataRoot: torrent.dataRoot, netns: ns, encryption: 2 });
    await download(torrent, origin);
  }, 120_000);

  it('seeds to a Transmission leech, byte-identical', async () => {
    const ns = await createNetns({ subnet: '10.213.23' });
    const trackerPort = await freePort();
    const t = await makeTorrent({
      dir: join(work, 'for-transmission'),
      name: 'enc-tr',
      pieceLength: 64 * 1024,
      tracker: `http://${ns.hostIp}:${trackerPort}/announce`,
      files: [
        { path: 'one.bin', size: 1_500_000 },
        { path: 'dir/two.bin', size: 700_001 },
      ],
    });
    // Transmission finds us only through the tracker our seed announces to.
    await startOpentracker({ infoHashes: [t.infoHash], host: ns.hostIp, port: trackerPort });
    const s = await seed(t, ns.hostIp);
    await s.proc.waitForLine(/"event":"announce".*"announceEvent":"started"/, 15_000, 'seedbox to announce');
    const save = makeTempDir('tr-leech');
    const leech = await startTransmissionLeech({ torrentPath: t.torrentPath, dataRoot: save, netns: ns, encryption: 2 });
    await leech.waitDone(60_000);
    expect(await compareTrees(t.contentPath, join(save, t.name))).toBeNull();
  }, 120_000);
});
