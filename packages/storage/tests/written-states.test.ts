/**
 * The resume data of files our writes left as they know (WrittenStates):
 * the hash thread fstats each file it writes, and the resume data saved
 * after a download stats none of them by path.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Bitfield } from '@seedbox/protocol';
import { checkPieces, makeResumeData } from '../src/resume.js';
import { Sha1Pool } from '../src/sha1-pool.js';
import { TorrentStorage } from '../src/storage.js';
import { WrittenStates } from '../src/written-states.js';
import { contentFor, layoutFor, pieceBlocks, TempDirs, type FileSpec } from './support/fixtures.js';

const dirs = new TempDirs();
const closing: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of closing.splice(0).reverse()) await c.close();
  await dirs.cleanup();
});

const state = (size: number) => ({ size, mtimeMs: 1, blocks: 8 });

describe('WrittenStates', () => {
  it('keeps the state a write left when it had the file to itself, and none while one is under way', () => {
    const w = new WrittenStates();
    w.begin(0);
    expect(w.get(0)).toBeUndefined();
    w.end(0, state(1));
    expect(w.get(0)).toEqual(state(1));
    // A new write: the old state is gone from its start, the new one kept at its end.
    w.begin(0);
    expect(w.get(0)).toBeUndefined();
    w.end(0, state(2));
    expect(w.get(0)).toEqual(state(2));
    // A write that wrote nothing (a hash that did not match, an error): no state.
    w.begin(0);
    w.end(0, undefined);
    expect(w.get(0)).toBeUndefined();
    // Forgotten when the disk is to be looked at afresh.
    w.begin(1);
    w.end(1, state(5));
    w.forget();
    expect(w.get(1)).toBeUndefined();
  });

  it('keeps no state from writes that overlapped, in whatever order they end, until one writes alone again', () => {
    const w = new WrittenStates();
    w.begin(3);
    w.begin(3);
    w.end(3, state(1));
    expect(w.get(3)).toBeUndefined();
    w.begin(3);
    w.end(3, state(2));
    w.end(3, state(3));
    expect(w.get(3)).toBeUndefined();
    w.begin(3);
    w.end(3, state(4));
    expect(w.get(3)).toEqual(state(4));
    // Other files are their own.
    expect(w.get(4)).toBeUndefined();
  });
});

describe('resume data after writes in a hash thread', () => {
  const PIECE = 16_384;
  const files: FileSpec[] = Array.from({ length: 12 }, (_, i) => ({ path: ['d', `f${i}.bin`], length: 5_000 + i * 1_000 }));
  const data = contentFor(files);
  const layout = layoutFor(data, files, PIECE, { name: 't' });

  async function downloaded(): Promise<{ s: TorrentStorage; pool: Sha1Pool; have: Bitfield; dir: string }> {
    const dir = await dirs.make();
    const pool = new Sha1Pool(1);
    closing.push(pool);
    const s = await TorrentStorage.open(layout, dir, { create: true });
    closing.push(s);
    const have = new Bitfield(s.geometry.pieceCount);
    for (let p = 0; p < s.geometry.pieceCount; p++) {
      const blocks = pieceBlocks(data, PIECE, p);
      const wrote = await s.writePieceVia(
        p,
        async (targets) => {
          const r = await pool.hashAndWrite(blocks, s.expectedHash(p), targets);
          return { wrote: r.match, opened: r.opened, stats: r.stats };
        },
        true,
      );
      expect(wrote).toBe(true);
      have.set(p);
    }
    return { s, pool, have, dir };
  }

  it('records each file as the stat after its last write saw it, and stats none by path', async () => {
    const { s, pool, have, dir } = await downloaded();
    const statFiles = vi.spyOn(pool, 'statFiles');
    const resume = await makeResumeData(s, have, pool);
    expect(statFiles).not.toHaveBeenCalled();
    for (let i = 0; i < files.length; i++) {
      const st = await stat(join(dir, 't', 'd', `f${i}.bin`));
      expect(resume.files[i]).toEqual({ size: st.size, mtimeMs: st.mtimeMs });
    }
    // And the next start trusts it.
    expect((await checkPieces(s, { hasher: pool, resume })).fastPath).toBe(true);
    // A check that looks at the disk afresh (a recheck, a resume from error) forgets them: asked again.
    statFiles.mockClear();
    s.forgetFiles();
    expect(await makeResumeData(s, have, pool)).toEqual(resume);
    expect(statFiles).toHaveBeenCalledTimes(1);
  });

  it('a file changed after its last write fails the next start’s fast path, as a file changed after the save does', async () => {
    const { s, pool, have, dir } = await downloaded();
    const path = join(dir, 't', 'd', 'f5.bin');
    // Same size, other bytes, a later modification time.
    await writeFile(path, Buffer.alloc(files[5]!.length, 1));
    const later = new Date(Date.now() + 5_000);
    await utimes(path, later, later);
    const resume = await makeResumeData(s, have, pool);
    const check = await checkPieces(s, { hasher: pool, resume });
    expect(check.fastPath).toBe(false);
    expect(check.have.count).toBeLessThan(have.count);
  });
});
