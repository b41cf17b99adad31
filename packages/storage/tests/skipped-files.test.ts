/**
 * What lands on disk for a file whose pieces are never fetched (a skipped
 * file): storage creates files by their first write, so a skipped file is
 * absent unless a piece it shares with a wanted file was written; then it
 * exists at full length, sparse, holding exactly those shared bytes and
 * zeros (holes) elsewhere. The check on start does not trip over either.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkPieces, makeResumeData } from '../src/resume.js';
import { InlineSha1, Sha1Pool } from '../src/sha1-pool.js';
import { TorrentStorage } from '../src/storage.js';
import { contentFor, layoutFor, pieceBlocks, TempDirs, type FileSpec } from './support/fixtures.js';

const dirs = new TempDirs();
const opened: TorrentStorage[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await dirs.cleanup();
});

const PIECE = 16_384;
// a and c are wanted; s1, s2, s3 skipped. s2 lies wholly inside skipped pieces.
const files: FileSpec[] = [
  { path: ['a.bin'], length: 40_000 },
  { path: ['mid', 's1.bin'], length: 50_000 },
  { path: ['gone', 's2.bin'], length: 40_000 },
  { path: ['mid', 's3.bin'], length: 50_000 },
  { path: ['c.bin'], length: 30_000 },
];
const wantedFiles = [0, 4];
const data = contentFor(files);
const layout = layoutFor(data, files, PIECE, { name: 't' });

describe('a skipped file on disk', () => {
  it('is never created unless it shares a written piece; then it holds only those bytes, sparse at full length', async () => {
    const dir = await dirs.make();
    const s = await TorrentStorage.open(layout, dir, { create: true });
    opened.push(s);
    const g = s.geometry;
    const written = new Set<number>();
    for (const f of wantedFiles) {
      const r = g.piecesOfFile(f)!;
      for (let p = r.first; p <= r.last; p++) written.add(p);
    }
    for (const p of written) await s.writePiece(p, pieceBlocks(data, PIECE, p));

    const root = join(dir, 't');
    expect(existsSync(join(root, 'gone'))).toBe(false);
    expect((await readFile(join(root, 'a.bin'))).equals(data.subarray(0, 40_000))).toBe(true);
    expect((await readFile(join(root, 'c.bin'))).equals(data.subarray(g.fileOffsets[4]!))).toBe(true);

    // s1 starts inside a.bin's last piece: it holds that piece's tail, then zeros.
    const s1 = await readFile(join(root, 'mid/s1.bin'));
    expect(s1.length).toBe(50_000);
    const s1Start = g.fileOffsets[1]!;
    const sharedWithA = (g.piecesOfFile(0)!.last + 1) * PIECE - s1Start;
    expect(s1.subarray(0, sharedWithA).equals(data.subarray(s1Start, s1Start + sharedWithA))).toBe(true);
    expect(s1.subarray(sharedWithA).every((b) => b === 0)).toBe(true);

    // s3 ends inside c.bin's first piece: zeros, then that piece's head.
    const s3 = await readFile(join(root, 'mid/s3.bin'));
    expect(s3.length).toBe(50_000);
    const s3Start = g.fileOffsets[3]!;
    const sharedFrom = g.piecesOfFile(4)!.first * PIECE - s3Start;
    expect(s3.subarray(0, sharedFrom).every((b) => b === 0)).toBe(true);
    expect(s3.subarray(sharedFrom).equals(data.subarray(s3Start + sharedFrom, s3Start + 50_000))).toBe(true);

    // The check on start: no error for the missing file, exactly the written pieces found.
    const hasher = new InlineSha1();
    const check = await checkPieces(s, { hasher });
    expect([...check.have.setIndices()]).toEqual([...written].sort((x, y) => x - y));
    // And resume data recorded with a file missing is trusted while it stays missing.
    const resume = await makeResumeData(s, check.have);
    expect(resume.files[2]!.size).toBe(-1);
    const again = await checkPieces(s, { hasher, resume });
    expect(again.fastPath).toBe(true);
    expect(again.have.count).toBe(written.size);
    // The same, with the files stat'ed in a hash thread (Sha1Pool.statFiles).
    const pool = new Sha1Pool(1);
    try {
      await pool.hash([Buffer.from('up')]); // a thread running: statFiles waits for none to start
      const statFiles = vi.spyOn(pool, 'statFiles');
      expect(await makeResumeData(s, check.have, pool)).toEqual(resume);
      expect(await statFiles.mock.results[0]!.value).toBeDefined();
      expect((await checkPieces(s, { hasher: pool, resume })).fastPath).toBe(true);
    } finally {
      await pool.close();
    }
  });
});
