/**
 * `seedbox download --skip` against a real libtorrent seed of a multi-file
 * torrent: the wanted files end byte-identical, the skipped files are
 * absent or hold only the bytes of pieces they share with wanted files
 * (full length, sparse, zeros elsewhere; see packages/storage/src/storage.ts),
 * and the torrent reaches seeding with every wanted piece verified.
 *
 * No network namespace: loopback only.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTorrent } from './support/data.js';
import { startLibtorrentSeed } from './support/peers.js';
import { cleanupAfter, cleanupAll, cleanupMark, makeTempDir, runToExit } from './support/processes.js';
import { needTools, tools } from './support/tools.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'packages/cli/bin/seedbox.js');
const lt = needTools(tools.libtorrent, tools.mktorrent);

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

const PIECE = 32 * 1024;
// Files in torrent order (mktorrent sorts paths). a.bin ends on a piece
// boundary, so skipping 1 and 2 leaves b.bin wholly inside skipped pieces,
// and c.bin sharing its first piece with b.bin and its last with d.bin.
const FILES = [
  { path: 'a.bin', size: 10 * PIECE },
  { path: 'b.bin', size: 200_000 },
  { path: 'c.bin', size: 150_001 },
  { path: 'd.bin', size: 70_000 },
];

describe.skipIf(!lt.available)('seedbox download with files skipped, from a libtorrent seed', () => {
  it('writes the wanted files byte for byte, never the skipped one, and seeds', async () => {
    const work = makeTempDir('file-selection');
    const t = await makeTorrent({ dir: join(work, 'src'), name: 'multi', pieceLength: PIECE, files: FILES });
    const seed = await startLibtorrentSeed({ torrentPath: t.torrentPath, dataRoot: t.dataRoot });
    const out = makeTempDir('seedbox-out');
    const d = await runToExit(
      process.execPath,
      [cli, 'download', t.torrentPath, '--out', out, '--json', '--no-trackers', '--resume-dir', join(work, 'resume'), '--peer', `${seed.host}:${seed.port}`, '--skip', '1-2'],
      60_000,
    );
    expect(d.stderr, d.stderr).toBe('');
    expect(d.code).toBe(0);
    const last = d.jsonLines.findLast((x) => 'done' in x && 'state' in x)!;
    expect(last).toMatchObject({ done: true, state: 'seeding', complete: false, wantedLeft: 0 });

    const offsets = [0];
    for (const f of FILES) offsets.push(offsets.at(-1)! + f.size);
    const source = Buffer.concat(await Promise.all(FILES.map((f) => readFile(join(t.contentPath, f.path)))));
    const dir = join(out, t.name);
    for (const i of [0, 3]) expect((await readFile(join(dir, FILES[i]!.path))).equals(source.subarray(offsets[i], offsets[i + 1])), FILES[i]!.path).toBe(true);

    // b.bin lies only in skipped pieces: never created.
    const firstPiece = (o: number): number => Math.floor(o / PIECE);
    expect(firstPiece(offsets[1]!)).toBeLessThan(firstPiece(offsets[2]!));
    expect(existsSync(join(dir, 'b.bin'))).toBe(false);

    // c.bin (skipped) shares its first piece with b.bin (skipped: not fetched) and its last with d.bin (wanted):
    // it holds exactly the bytes of that last piece, zeros elsewhere, at its full length.
    const c = await readFile(join(dir, 'c.bin'));
    expect(c.length).toBe(FILES[2]!.size);
    const sharedFrom = firstPiece(offsets[3]!) * PIECE - offsets[2]!;
    expect(sharedFrom).toBeGreaterThan(0);
    expect(c.subarray(0, sharedFrom).every((b) => b === 0)).toBe(true);
    expect(c.subarray(sharedFrom).equals(source.subarray(offsets[2]! + sharedFrom, offsets[3]))).toBe(true);
    const files = last.files as { path: string; verified: number; priority: string }[];
    expect(files.map((f) => f.priority)).toEqual(['normal', 'skip', 'skip', 'normal']);
    expect(files[2]!.verified).toBe(FILES[2]!.size - sharedFrom);
    expect(files[1]!.verified).toBe(0);

    // A second run finds the wanted part done from resume data, with the skipped file still missing, and exits at once.
    const again = await runToExit(process.execPath, [cli, 'download', t.torrentPath, '--out', out, '--json', '--no-trackers', '--resume-dir', join(work, 'resume'), '--skip', '1-2'], 30_000);
    expect(again.stderr, again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(again.jsonLines.find((x) => x.event === 'checked')).toMatchObject({ fastPath: true });
  }, 90_000);

  it('refuses a bad file list with one line', async () => {
    const work = makeTempDir('file-selection-bad');
    const t = await makeTorrent({ dir: join(work, 'src'), name: 'multi', pieceLength: PIECE, files: FILES });
    for (const [flag, list, message] of [
      ['--skip', '9', /file 9 does not exist; the torrent has 4 files \(0-3\)/],
      ['--only', '1,x', /'x' is not a file number/],
      ['--only', '3-1', /runs backwards/],
    ] as const) {
      const d = await runToExit(process.execPath, [cli, 'download', t.torrentPath, '--out', makeTempDir('o'), '--no-trackers', '--peer', '127.0.0.1:1', flag, list], 10_000);
      expect(d.code).not.toBe(0);
      expect(d.stderr.trim().split('\n')).toHaveLength(1);
      expect(d.stderr).toMatch(message);
    }
  }, 30_000);
});
