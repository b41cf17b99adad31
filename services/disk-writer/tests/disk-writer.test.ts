import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { DiskWriter } from '../src/disk-writer.js';
import type { PieceWrite } from '../src/piece-sink.js';
import { InlineSha1, Sha1Pool, type HashResult, type Sha1Hasher } from '@seedbox/storage';
import { StorageError } from '@seedbox/storage';
import { contentFor, layoutFor, pieceBlocks, TempDirs, type FileSpec } from '../../../packages/storage/tests/support/fixtures.js';

const files: FileSpec[] = [
  { path: ['a.bin'], length: 50_000 },
  { path: ['empty'], length: 0 },
  { path: ['.pad', '15536'], length: 15_536, padding: true },
  { path: ['sub', 'b.bin'], length: 70_000 },
];
const PIECE = 32 * 1024;
const data = contentFor(files);
const layout = layoutFor(data, files, PIECE, { name: 'album' });

const dirs = new TempDirs();
const writers: DiskWriter[] = [];
afterEach(async () => {
  await Promise.all(writers.splice(0).map((w) => w.close()));
  await dirs.cleanup();
});

async function setup(hasher: Sha1Hasher, options: { retries?: number } = {}) {
  const w = new DiskWriter({ hasher, retryDelayMs: 1, ...options });
  writers.push(w);
  const dir = await dirs.make();
  await w.addTorrent(layout, dir);
  return { w, dir };
}

const write = (index: number, blocks: Uint8Array[] = pieceBlocks(data, PIECE, index)): PieceWrite => ({
  infoHash: layout.infoHashHex,
  index,
  blocks,
});

/** Neither data file exists (the zero-length one is made at once). */
async function notCreated(dir: string): Promise<boolean> {
  return !existsSync(join(dir, 'album/a.bin')) && !existsSync(join(dir, 'album/sub')) && existsSync(join(dir, 'album/empty'));
}

/** The torrent's bytes as they are on disk (padding as zeros). */
async function onDisk(dir: string): Promise<Buffer> {
  return Buffer.concat([await readFile(join(dir, 'album/a.bin')), Buffer.alloc(15_536), await readFile(join(dir, 'album/sub/b.bin'))]);
}

describe.each([
  ['a Sha1Pool', () => new Sha1Pool(2)],
  ['InlineSha1', () => new InlineSha1()],
])('DiskWriter with %s', (_name, hasher: () => Sha1Hasher) => {
  it('writes good pieces, which read back byte for byte', async () => {
    const { w, dir } = await setup(hasher());
    const count = w.storage(layout.infoHashHex)!.geometry.pieceCount;
    const outcomes = await Promise.all(Array.from({ length: count }, (_, i) => w.writePiece(write(i))));
    for (const o of outcomes) {
      expect(o.status).toBe('written');
      if (o.status === 'written') expect(o.micros).toBeGreaterThan(0);
    }
    expect((await onDisk(dir)).equals(data)).toBe(true);
    const s = w.storage(layout.infoHashHex)!;
    expect((await s.readBlock(1, 100, 20_000)).equals(data.subarray(PIECE + 100, PIECE + 20_100))).toBe(true);
    expect(await s.verifyPiece(2, w.sha1)).toBe(true);
  });

  it('answers hash-mismatch for a corrupt piece and writes nothing', async () => {
    const { w, dir } = await setup(hasher());
    const blocks = pieceBlocks(data, PIECE, 1);
    blocks[1]![7]! ^= 0x01;
    expect(await w.writePiece(write(1, blocks))).toEqual({ status: 'hash-mismatch' });
    // Files are created by their first write: none has happened.
    expect(await notCreated(dir)).toBe(true);
  });

  it('answers hash-mismatch for a corrupt piece whose files are open, and writes none of it', async () => {
    const { w, dir } = await setup(hasher());
    // Piece 0 opens a.bin; piece 1 lies in a.bin only, so it goes out in one hop with its check.
    expect((await w.writePiece(write(0))).status).toBe('written');
    const blocks = pieceBlocks(data, PIECE, 1);
    blocks[1]![7]! ^= 0x01;
    expect(await w.writePiece(write(1, blocks))).toEqual({ status: 'hash-mismatch' });
    const a = await readFile(join(dir, 'album/a.bin'));
    expect(a.length).toBe(50_000);
    expect(a.subarray(0, PIECE).equals(data.subarray(0, PIECE))).toBe(true);
    expect(a.subarray(PIECE).every((x) => x === 0)).toBe(true);
    expect((await w.writePiece(write(1))).status).toBe('written');
    expect((await readFile(join(dir, 'album/a.bin'))).equals(data.subarray(0, 50_000))).toBe(true);
  });

  it('answers io-error for blocks that do not add up to the piece, or a piece that does not exist', async () => {
    const { w, dir } = await setup(hasher());
    const short = pieceBlocks(data, PIECE, 0).slice(1);
    const o1 = await w.writePiece(write(0, short));
    expect(o1).toEqual({ status: 'io-error', error: `piece 0 came with ${PIECE - 16_384} bytes; it has ${PIECE}` });
    const long = [...pieceBlocks(data, PIECE, 0), Buffer.alloc(1)];
    expect((await w.writePiece(write(0, long))).status).toBe('io-error');
    // The last piece is short: a full-length one does not fit.
    const last = w.storage(layout.infoHashHex)!.geometry.pieceCount - 1;
    expect((await w.writePiece(write(last, [Buffer.alloc(PIECE)]))).status).toBe('io-error');
    const o2 = await w.writePiece(write(99, [Buffer.alloc(PIECE)]));
    expect(o2).toEqual({ status: 'io-error', error: `piece 99 is outside 0..${last}` });
    expect(await notCreated(dir)).toBe(true);
  });

  it('answers unknown-torrent for a torrent it does not have (or no longer has)', async () => {
    const { w } = await setup(hasher());
    expect(await w.writePiece({ ...write(0), infoHash: 'ab'.repeat(20) })).toEqual({ status: 'unknown-torrent' });
    await w.removeTorrent(layout.infoHashHex);
    expect(w.storage(layout.infoHashHex)).toBeUndefined();
    expect(await w.writePiece(write(0))).toEqual({ status: 'unknown-torrent' });
  });

  it('writes the same piece twice, one after the other or at once, harmlessly', async () => {
    const { w, dir } = await setup(hasher());
    expect((await w.writePiece(write(1))).status).toBe('written');
    expect((await w.writePiece(write(1))).status).toBe('written');
    const both = await Promise.all([w.writePiece(write(2)), w.writePiece(write(2))]);
    expect(both.map((o) => o.status)).toEqual(['written', 'written']);
    const disk = await onDisk(dir);
    expect(disk.subarray(PIECE, 3 * PIECE).equals(data.subarray(PIECE, 3 * PIECE))).toBe(true);
    expect(disk.subarray(0, PIECE).every((b) => b === 0)).toBe(true);
    expect(disk.subarray(3 * PIECE).every((b) => b === 0)).toBe(true);
  });

  it('writes pieces whose blocks live in shared memory, in one buffer, or in a larger buffer', async () => {
    const { w, dir } = await setup(hasher());
    const p0 = data.subarray(0, PIECE);
    const sab = new SharedArrayBuffer(PIECE);
    new Uint8Array(sab).set(p0);
    const shared = [new Uint8Array(sab, 0, 10_000), new Uint8Array(sab, 10_000)];
    expect((await w.writePiece(write(0, shared))).status).toBe('written');
    // One whole buffer per piece, as the peer-worker sends it.
    expect((await w.writePiece(write(1, [Buffer.from(data.subarray(PIECE, 2 * PIECE))]))).status).toBe('written');
    // Views into a larger message, as a NATS transport would get them.
    const message = Buffer.concat([Buffer.from('header'), data.subarray(2 * PIECE, 3 * PIECE)]);
    expect((await w.writePiece(write(2, [message.subarray(6, 20_006), message.subarray(20_006)]))).status).toBe('written');
    const last = Math.ceil(data.length / PIECE) - 1;
    expect((await w.writePiece(write(3))).status).toBe('written');
    expect((await w.writePiece(write(last))).status).toBe('written');
    expect((await onDisk(dir)).equals(data)).toBe(true);
  });
});

describe('DiskWriter failures', () => {
  it('answers io-error, without retrying, when storage refuses (a folder swapped for a symlink)', async () => {
    const hasher = new InlineSha1();
    const w = new DiskWriter({ hasher, maxOpenFiles: 1, retries: 5, retryDelayMs: 10_000 });
    writers.push(w);
    const dir = await dirs.make();
    const outside = await dirs.make();
    await w.addTorrent(layout, dir);
    // With one handle open at most, b.bin (made by piece 3) was closed once a.bin was opened last.
    expect((await w.writePiece(write(3))).status).toBe('written');
    expect((await w.writePiece(write(0))).status).toBe('written');
    await rename(join(dir, 'album/sub'), join(outside, 'moved'));
    await mkdir(join(outside, 'evil'));
    await symlink(join(outside, 'evil'), join(dir, 'album/sub'));
    const o = await w.writePiece(write(4));
    expect(o.status).toBe('io-error');
    if (o.status === 'io-error') expect(o.error).toMatch(/symlink/);
  });

  it('answers io-error when hashing fails, instead of throwing', async () => {
    const broken: Sha1Hasher = {
      hash: (): Promise<HashResult> => Promise.reject(new Error('worker gone')),
      close: async () => undefined,
    };
    const { w } = await setup(broken);
    expect(await w.writePiece(write(0))).toEqual({ status: 'io-error', error: 'piece 0 could not be hashed: worker gone' });
  });

  it('refuses to add a torrent whose paths leave the download folder', async () => {
    const w = new DiskWriter({ hasher: new InlineSha1() });
    writers.push(w);
    const parent = await dirs.make();
    const bad = [
      { path: ['ok'], length: 10 },
      { path: ['..', '..', 'x'], length: 10 },
    ];
    await expect(w.addTorrent(layoutFor(contentFor(bad), bad, 16, { name: 't' }), join(parent, 'dl'))).rejects.toThrow(StorageError);
    expect(await readFile(join(parent, 'x')).catch(() => 'absent')).toBe('absent');
  });

  it('adds a torrent once, and closes its files and the hasher on close', async () => {
    const pool = new Sha1Pool(1);
    const w = new DiskWriter({ hasher: pool });
    const dir = await dirs.make();
    const [s1, s2] = await Promise.all([w.addTorrent(layout, dir), w.addTorrent(layout, dir)]);
    expect(s1).toBe(s2);
    expect(w.storage(layout.infoHashHex.toUpperCase())).toBe(s1);
    await w.close();
    expect(pool.threads).toBe(0);
    expect(await w.writePiece(write(0))).toEqual({ status: 'unknown-torrent' });
  });
});
