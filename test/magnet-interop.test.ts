/**
 * Magnet links (BEP 9) against libtorrent, both ways:
 *
 * - `seedbox download <magnet>` (the built CLI) given nothing but the URI,
 *   fetching the info dictionary from a libtorrent seed found through the
 *   link's `x.pe`, or through its `tr` (an opentracker), then downloading;
 *   every download is compared with the source byte for byte.
 * - a libtorrent leech given only a magnet URI fetching the info dictionary
 *   from `seedbox seed`: proof that we serve ut_metadata.
 *
 * No network namespaces: everything is on 127.0.0.1.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compareTrees, makeTorrent, type TestTorrent } from './support/data.js';
import { startLibtorrentLeech, startLibtorrentSeed } from './support/peers.js';
import { cleanupAfter, cleanupAll, cleanupMark, freePort, makeTempDir, runToExit, spawnProcess, type CommandResult } from './support/processes.js';
import { needTools, tools } from './support/tools.js';
import { startOpentracker } from './support/tracker.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'packages/cli/bin/seedbox.js');

const lt = needTools(tools.libtorrent, tools.mktorrent);
const ltTracker = needTools(tools.libtorrent, tools.mktorrent, tools.opentracker);

type Run = CommandResult;

/** Runs `seedbox download <magnet> --out DIR --json` to completion (killed by pid on timeout). */
function seedboxDownload(magnet: string, out: string, extraArgs: string[] = [], timeoutMs = 60_000): Promise<Run> {
  const args = [cli, 'download', magnet, '--out', out, '--json', '--resume-dir', makeTempDir('resume'), ...extraArgs];
  return runToExit(process.execPath, args, timeoutMs);
}

async function expectIdentical(torrent: TestTorrent, out: string, d: Run): Promise<void> {
  expect(d.stderr, d.stderr).toBe('');
  expect(d.code, d.stdout).toBe(0);
  const last = d.jsonLines.findLast((x) => 'done' in x)!;
  expect(last.done).toBe(true);
  expect(last.piecesVerified).toBe(last.pieceCount);
  expect(await compareTrees(torrent.contentPath, join(out, torrent.name))).toBeNull();
}

/** The magnet a user would be given: the hash, the name, and whatever else. */
function magnetOf(t: TestTorrent, extra = ''): string {
  return `magnet:?xt=urn:btih:${t.infoHash}&dn=${encodeURIComponent(t.name)}${extra}`;
}

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

let work: string;
let multi: TestTorrent;

beforeAll(async () => {
  if (!lt.available) return;
  work = makeTempDir('magnet-interop');
  // Multi-file, so the layout has to survive the trip through the
  // metadata; 30 MB in 32 KiB pieces is 916 piece hashes, an info
  // dictionary of two 16 KiB metadata pieces, so it is assembled.
  multi = await makeTorrent({
    dir: join(work, 'multi'),
    name: 'magnet-multi',
    pieceLength: 32 * 1024,
    files: [
      { path: 'a.bin', size: 20_000_000 },
      { path: 'empty.txt', size: 0 },
      { path: 'sub/b.bin', size: 10_000_001 },
      { path: 'sub/deeper/c.txt', size: 70_000 },
    ],
  });
}, 120_000);

describe.skipIf(!lt.available)('seedbox download <magnet> from a libtorrent seed', () => {
  it('fetches the metadata from the x.pe peer, then downloads byte-identical', async () => {
    const seed = await startLibtorrentSeed({ torrentPath: multi.torrentPath, dataRoot: multi.dataRoot });
    const out = makeTempDir('seedbox-out');
    const d = await seedboxDownload(magnetOf(multi, `&x.pe=127.0.0.1:${seed.port}`), out);
    await expectIdentical(multi, out, d);
    const metadata = d.jsonLines.find((x) => x.event === 'metadata');
    expect(metadata, d.stdout).toMatchObject({
      infoHash: multi.infoHash,
      name: multi.name,
      metadataPieces: 2,
      sources: [`127.0.0.1:${seed.port}`],
      hashFailures: 0,
    });
    // It came before the download started.
    expect(d.jsonLines.indexOf(metadata!)).toBeLessThan(d.jsonLines.findIndex((x) => x.event === 'checked'));
  }, 90_000);

  it('ends with one clear line when no peer gives the metadata in time', async () => {
    const out = makeTempDir('seedbox-out');
    // A port nobody listens on.
    const d = await seedboxDownload(magnetOf(multi, `&x.pe=127.0.0.1:${await freePort()}`), out, ['--metadata-timeout', '2'], 30_000);
    expect(d.code).toBe(1);
    expect(d.stderr.trim().split('\n')).toHaveLength(1);
    expect(d.stderr).toMatch(new RegExp(`no metadata for ${multi.infoHash} after 2 s`));
  }, 40_000);

  it('refuses a magnet link with nowhere to look, before starting anything', async () => {
    const d = await seedboxDownload(magnetOf(multi), makeTempDir('seedbox-out'), [], 10_000);
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/no peers to fetch the metadata from: the magnet link has no trackers/);
  });
});

describe.skipIf(!ltTracker.available)('seedbox download <magnet> through a tracker', () => {
  for (const scheme of ['http', 'udp'] as const) {
    it(`finds a libtorrent seed through the link's tr (opentracker over ${scheme.toUpperCase()}) and downloads byte-identical`, async () => {
      // The seed announces to the tracker in its .torrent; the link names the same one.
      const port = await freePort();
      const url = `${scheme}://127.0.0.1:${port}/announce`;
      const t = await makeTorrent({ dir: join(work, `tracked-${scheme}`), name: `tracked-${scheme}.bin`, pieceLength: 32 * 1024, files: { size: 2_000_003 }, tracker: url });
      const ot = await startOpentracker({ infoHashes: [t.infoHash], port });
      const seed = await startLibtorrentSeed({ torrentPath: t.torrentPath, dataRoot: t.dataRoot });
      const out = makeTempDir('seedbox-out');
      const d = await seedboxDownload(magnetOf(t, `&tr=${encodeURIComponent(url)}`), out);
      await expectIdentical(t, out, d);
      expect(d.jsonLines.find((x) => x.event === 'metadata'), d.stdout).toMatchObject({ infoHash: t.infoHash, sources: [`127.0.0.1:${seed.port}`] });
      const announces = d.jsonLines.filter((x) => x.event === 'announce');
      expect(announces.every((a) => a.url === url), JSON.stringify(announces)).toBe(true);
      // One tracker session for both phases: started once, while fetching
      // the metadata, and stopped once at the end.
      expect(announces.filter((a) => a.announceEvent === 'started')).toHaveLength(1);
      expect(announces.filter((a) => a.announceEvent === 'stopped')).toHaveLength(1);
      expect(d.jsonLines.indexOf(announces[0]!)).toBeLessThan(d.jsonLines.findIndex((x) => x.event === 'metadata'));
      await ot.stop();
    }, 90_000);
  }
});

describe.skipIf(!lt.available)('seedbox seed serves ut_metadata', () => {
  it('a libtorrent leech given only a magnet link gets the metadata and the data from us', async () => {
    const port = await freePort();
    const seed = spawnProcess(
      process.execPath,
      [cli, 'seed', multi.torrentPath, '--data', multi.dataRoot, '--listen', `127.0.0.1:${port}`, '--json', '--resume-dir', makeTempDir('resume')],
      { name: 'seedbox seed', logFile: join(makeTempDir('seedbox-seed'), 'seed.log') },
    );
    await seed.waitForLine(/"event":"seeding"/, 30_000, 'seedbox to seed');
    const save = makeTempDir('lt-magnet-leech');
    const leech = await startLibtorrentLeech({ magnet: magnetOf(multi), saveDir: save, peers: [{ host: '127.0.0.1', port }] });
    await leech.waitMetadata(30_000);
    await leech.waitDone(60_000);
    expect(await compareTrees(multi.contentPath, join(save, multi.name))).toBeNull();
  }, 120_000);
});
