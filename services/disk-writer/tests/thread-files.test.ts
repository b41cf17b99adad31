import { afterEach, describe, expect, it, vi } from 'vitest';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DiskWriter } from '../src/disk-writer.js';
import type { PieceWrite } from '../src/piece-sink.js';
import { Sha1Pool, type WriteTarget } from '@seedbox/storage';
import { contentFor, layoutFor, pieceBlocks, TempDirs, type FileSpec } from '../../../packages/storage/tests/support/fixtures.js';

// The hash thread creates new files and closes the storage's files itself
// (write-targets.ts, Sha1Pool.closeFile): the same rules as on the event
// loop, the same bytes on disk, no descriptor left behind. Linux only: the
// thread checks where a file it created is through /proc.
const linux = process.platform === 'linux';

// `sub` holds an empty file, made when storage opens: the folder is seen
// from then on, and x.bin and y.bin are new files in it.
const files: FileSpec[] = [
  { path: ['sub', 'empty'], length: 0 },
  { path: ['sub', 'x.bin'], length: 16_384 },
  { path: ['sub', 'y.bin'], length: 16_384 },
];
const PIECE = 16_384;
const data = contentFor(files);
const layout = layoutFor(data, files, PIECE, { name: 't' });

const dirs = new TempDirs();
const writers: DiskWriter[] = [];
afterEach(async () => {
  await Promise.all(writers.splice(0).map((w) => w.close()));
  await dirs.cleanup();
});

const piece = (index: number, blocks = pieceBlocks(data, PIECE, index)): PieceWrite => ({ infoHash: layout.infoHashHex, index, blocks });

/** A disk-writer with one hash thread, whose write jobs' targets are recorded, and `of` added to it. */
async function setup(options: { maxOpenFiles?: number } = {}, of = layout) {
  const pool = new Sha1Pool(1);
  const targets: WriteTarget[][] = [];
  const hashAndWrite = pool.hashAndWrite.bind(pool);
  vi.spyOn(pool, 'hashAndWrite').mockImplementation((buffers, expected, t) => {
    targets.push(t.map((x) => ({ ...x })));
    return hashAndWrite(buffers, expected, t);
  });
  const closeFile = vi.spyOn(pool, 'closeFile');
  const w = new DiskWriter({ hasher: pool, retries: 5, retryDelayMs: 10_000, ...options });
  writers.push(w);
  const dir = await dirs.make();
  await w.addTorrent(of, dir);
  return { w, dir, targets, closeFile, sub: join(dir, 't', 'sub') };
}

/** The descriptors of this process that lead into `dir`. */
function openInto(dir: string): number[] {
  return readdirSync('/proc/self/fd')
    .map(Number)
    .filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${dir}/`);
      } catch {
        return false; // closed meanwhile (the listing's own descriptor)
      }
    });
}

describe.skipIf(!linux)('files the hash thread creates and closes', () => {
  it('creates a new file in a folder storage has seen in the thread that writes it, and a corrupt piece creates none', async () => {
    const { w, sub, targets } = await setup();
    const corrupt = pieceBlocks(data, PIECE, 0);
    corrupt[0]![5]! ^= 1;
    expect(await w.writePiece(piece(0, corrupt))).toEqual({ status: 'hash-mismatch' });
    expect(readdirSync(sub)).toEqual(['empty']);
    expect((await w.writePiece(piece(0))).status).toBe('written');
    expect((await w.writePiece(piece(1))).status).toBe('written');
    // Asked of the thread, not opened here: no descriptor went with the target.
    for (const [job, name] of [[0, 'x.bin'], [1, 'x.bin'], [2, 'y.bin']] as const) {
      expect(targets[job]![0]!.fd).toBeUndefined();
      expect(targets[job]![0]!.create?.path).toBe(join(sub, name));
    }
    expect((await readFile(join(sub, 'x.bin'))).equals(data.subarray(0, PIECE))).toBe(true);
    expect((await readFile(join(sub, 'y.bin'))).equals(data.subarray(PIECE))).toBe(true);
    // Written again, the file is open: its descriptor goes with the piece.
    expect((await w.writePiece(piece(0))).status).toBe('written');
    expect(targets[3]![0]!.fd).toBeGreaterThan(2);
    expect(targets[3]![0]!.create).toBeUndefined();
  });

  it('refuses a file the thread created through a folder swapped for a symlink, and removes it', async () => {
    const { w, sub } = await setup();
    const outside = await dirs.make();
    await rename(sub, join(outside, 'moved'));
    await mkdir(join(outside, 'evil'));
    await symlink(join(outside, 'evil'), sub);
    const o = await w.writePiece(piece(0));
    expect(o.status).toBe('io-error');
    if (o.status === 'io-error') expect(o.error).toMatch(/symlink/);
    expect(readdirSync(join(outside, 'evil'))).toEqual([]);
  });

  it('opens a file that appeared since storage looked, with every check: a longer one is kept, a symlink refused', async () => {
    const { w, sub } = await setup();
    const outside = await dirs.make();
    await writeFile(join(sub, 'x.bin'), Buffer.alloc(20_000, 3));
    await writeFile(join(outside, 'precious'), 'do not touch');
    await symlink(join(outside, 'precious'), join(sub, 'y.bin'));
    expect((await w.writePiece(piece(0))).status).toBe('written');
    const x = await readFile(join(sub, 'x.bin'));
    expect(x.length).toBe(20_000);
    expect(x.subarray(0, PIECE).equals(data.subarray(0, PIECE))).toBe(true);
    const o = await w.writePiece(piece(1));
    expect(o.status).toBe('io-error');
    if (o.status === 'io-error') expect(o.error).toMatch(/symlink/);
    expect(await readFile(join(outside, 'precious'), 'utf8')).toBe('do not touch');
  });

  it('makes a folder removed since storage looked again', async () => {
    const { w, sub } = await setup();
    await rm(sub, { recursive: true });
    expect((await w.writePiece(piece(1))).status).toBe('written');
    expect((await readFile(join(sub, 'y.bin'))).equals(data.subarray(PIECE))).toBe(true);
  });

  it('makes new folders in the thread, each checked: a symlink or a file in place of one is refused, and nothing is made through it', async () => {
    const deep: FileSpec[] = [
      { path: ['a', 'b', 'x.bin'], length: 16_384 },
      { path: ['c', 'd', 'y.bin'], length: 16_384 },
      { path: ['e', 'z.bin'], length: 16_384 },
    ];
    const deepData = contentFor(deep);
    const deepLayout = layoutFor(deepData, deep, PIECE, { name: 'deep' });
    const { w, dir, targets } = await setup({}, deepLayout);
    const outside = await dirs.make();
    const write = (index: number) => w.writePiece({ infoHash: deepLayout.infoHashHex, index, blocks: pieceBlocks(deepData, PIECE, index) });
    expect((await write(0)).status).toBe('written');
    expect(targets[0]![0]!.create?.path).toBe(join(dir, 'deep', 'a', 'b', 'x.bin'));
    expect((await readFile(join(dir, 'deep', 'a', 'b', 'x.bin'))).equals(deepData.subarray(0, PIECE))).toBe(true);
    await symlink(outside, join(dir, 'deep', 'c'));
    const o = await write(1);
    expect(o.status).toBe('io-error');
    if (o.status === 'io-error') expect(o.error).toMatch(/symlink/);
    expect(readdirSync(outside)).toEqual([]);
    await writeFile(join(dir, 'deep', 'e'), 'not a folder');
    const p = await write(2);
    expect(p.status).toBe('io-error');
    if (p.status === 'io-error') expect(p.error).toMatch(/not a folder/);
  });

  it('keeps the files the thread opened after the thread exits, and closes files opened here without a warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const pool = new Sha1Pool(1, { idleMs: 50 });
      const w = new DiskWriter({ hasher: pool, retries: 0 });
      writers.push(w);
      const dir = await dirs.make();
      await w.addTorrent(layout, dir); // sub/empty is opened here, on the event loop
      expect((await w.writePiece(piece(0))).status).toBe('written'); // x.bin, created in the thread
      await vi.waitFor(() => expect(pool.threads).toBe(0), { timeout: 5_000 });
      // A new thread writes through the descriptor the old one opened.
      expect((await w.writePiece(piece(0, pieceBlocks(data, PIECE, 0)))).status).toBe('written');
      expect((await readFile(join(dir, 't', 'sub', 'x.bin'))).equals(data.subarray(0, PIECE))).toBe(true);
      await w.removeTorrent(layout.infoHashHex);
      expect(openInto(dir)).toEqual([]);
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((m) => m.includes('File descriptor'))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('closes the files in the hash thread, over the cap and when the torrent goes, leaving no descriptor open', async () => {
    const { w, dir, closeFile } = await setup({ maxOpenFiles: 1 });
    expect((await w.writePiece(piece(0))).status).toBe('written');
    expect((await w.writePiece(piece(1))).status).toBe('written');
    // One open at most: the empty file (opened when storage opened) and x.bin were closed as the next was opened.
    expect(closeFile).toHaveBeenCalledTimes(2);
    await vi.waitFor(() => expect(openInto(dir)).toHaveLength(1));
    await w.removeTorrent(layout.infoHashHex);
    expect(closeFile).toHaveBeenCalledTimes(3);
    expect(openInto(dir)).toEqual([]);
  });

  it('does not make a file again that was written and is gone (its volume unmounted): io-error, until a check looks again', async () => {
    const one: FileSpec[] = [{ path: ['one.bin'], length: 2 * PIECE }];
    const oneData = contentFor(one);
    const oneLayout = layoutFor(oneData, one, PIECE, { name: 'one.bin' });
    const { w, dir } = await setup({}, oneLayout);
    const write = (index: number) => w.writePiece({ infoHash: oneLayout.infoHashHex, index, blocks: pieceBlocks(oneData, PIECE, index) });
    const file = join(dir, 'one.bin');
    expect((await write(0)).status).toBe('written');
    // The volume fails and is let go (closed files), then is gone from under the folder.
    const storage = w.storage(oneLayout.infoHashHex)!;
    storage.releaseFiles();
    await rm(file);
    const o = await write(1);
    expect(o).toMatchObject({ status: 'io-error', error: expect.stringContaining(`${file} is gone`) });
    await expect(readFile(file)).rejects.toMatchObject({ code: 'ENOENT' });
    // A check (a resume from error, a recheck) looks at the disk again: the file is new now.
    storage.forgetFiles();
    expect((await write(1)).status).toBe('written');
    expect((await write(0)).status).toBe('written');
    expect((await readFile(file)).equals(oneData)).toBe(true);
  });
});
