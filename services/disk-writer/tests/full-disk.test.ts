/**
 * The DiskWriter on a real small filesystem (a size-limited tmpfs the test
 * mounts; root only): a full disk and a read-only one answer io-error in
 * plain words with the path and the code, a piece cut short by the full
 * disk is not taken for written, the files are let go so the volume could
 * be unmounted, and once space is back the same pieces are written. Resume
 * data whose save fails for lack of space leaves the old file whole.
 */
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskWriter } from '../src/disk-writer.js';
import { InlineSha1, loadResumeData, saveResumeData, StorageIoError, type ResumeData } from '@seedbox/storage';
import { contentFor, layoutFor, pieceBlocks, type FileSpec } from '../../../packages/storage/tests/support/fixtures.js';
import { mountTmpfs } from '../../../test/support/mounts.js';
import { cleanupAfter, cleanupAll, cleanupMark, makeTempDir } from '../../../test/support/processes.js';
import { needTool, tools } from '../../../test/support/tools.js';

const mounts = needTool(tools.mounts);

const PIECE = 64 * 1024;
const files: FileSpec[] = [{ path: ['big.bin'], length: 8 * PIECE }];
const data = contentFor(files);
const layout = layoutFor(data, files, PIECE, { name: 'big.bin', multiFile: false });
const write = (index: number) => ({ infoHash: layout.infoHashHex, index, blocks: pieceBlocks(data, PIECE, index) });

/** This process's descriptors open on something under `dir`. */
function openUnder(dir: string): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(join('/proc/self/fd', fd));
      return target.startsWith(`${dir}/`) ? [target] : [];
    } catch {
      return [];
    }
  });
}

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

describe.skipIf(!mounts.available)('the DiskWriter on a full or read-only disk', () => {
  const writers: DiskWriter[] = [];
  afterEach(async () => {
    await Promise.all(writers.splice(0).map((w) => w.close()));
  });
  const writer = (): DiskWriter => {
    const w = new DiskWriter({ hasher: new InlineSha1(), retryDelayMs: 1 });
    writers.push(w);
    return w;
  };

  it('answers "no space left on device" for a full disk, counts no piece cut short, lets its files go, and writes once space is back', async () => {
    const vol = mountTmpfs(join(makeTempDir('full-disk'), 'vol'), '256k');
    // 40 KiB taken: 216 KiB left, three pieces and a third of a fourth.
    writeFileSync(join(vol.dir, 'filler'), Buffer.alloc(40 * 1024, 1));
    const w = writer();
    const storage = await w.addTorrent(layout, vol.dir);
    const path = join(storage.root, 'big.bin');
    const outcomes = [];
    for (let i = 0; i < 8; i++) outcomes.push(await w.writePiece(write(i)));
    expect(outcomes.slice(0, 3).map((o) => o.status)).toEqual(['written', 'written', 'written']);
    // Piece 3 is the short write: part of it went down before the disk was full.
    for (const o of outcomes.slice(3)) expect(o).toEqual({ status: 'io-error', error: `no space left on device writing ${path} (ENOSPC)`, code: 'ENOSPC' });
    // Nothing of the torrent is held open: the volume could be unmounted.
    await new Promise((r) => setTimeout(r, 50));
    expect(openUnder(vol.dir)).toEqual([]);
    const verified = [];
    for (let i = 0; i < 8; i++) verified.push(await storage.verifyPiece(i, w.sha1));
    expect(verified).toEqual([true, true, true, false, false, false, false, false]);
    // The short write did land part of piece 3: on disk, and still not counted.
    const onDisk = readFileSync(path);
    expect(onDisk.subarray(3 * PIECE, 3 * PIECE + 16 * 1024).equals(data.subarray(3 * PIECE, 3 * PIECE + 16 * 1024))).toBe(true);

    vol.remount('size=2m');
    for (let i = 3; i < 8; i++) expect((await w.writePiece(write(i))).status).toBe('written');
    for (let i = 0; i < 8; i++) expect(await storage.verifyPiece(i, w.sha1), `piece ${i}`).toBe(true);
  });

  it('answers "read-only file system" for a volume that turned read-only, and writes once it is read-write again', async () => {
    const vol = mountTmpfs(join(makeTempDir('ro-disk'), 'vol'), '1m');
    const w = writer();
    const storage = await w.addTorrent(layout, vol.dir);
    // Files are made by their first write: nothing is open, so the volume can turn read-only.
    vol.remount('ro');
    const o = await w.writePiece(write(0));
    expect(o).toEqual({ status: 'io-error', error: `read-only file system opening ${join(storage.root, 'big.bin')} (EROFS)`, code: 'EROFS' });
    vol.remount('rw');
    expect((await w.writePiece(write(0))).status).toBe('written');
    expect(await storage.verifyPiece(0, w.sha1)).toBe(true);
  });

  it('says "read-only file system" when the folder of a torrent cannot be made (Node itself says ENOENT)', async () => {
    const vol = mountTmpfs(join(makeTempDir('ro-folder'), 'vol'), '1m');
    vol.remount('ro');
    const err = await writer()
      .addTorrent(layout, join(vol.dir, 'a', 'b'))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageIoError);
    expect(err).toMatchObject({ code: 'EROFS', message: `read-only file system making the folder ${join(vol.dir, 'a')} (EROFS)` });
  });

  it('keeps the old resume data whole when saving new one fails for lack of space, and leaves no partial file', async () => {
    const vol = mountTmpfs(join(makeTempDir('resume-disk'), 'vol'), '64k');
    const path = join(vol.dir, 'resume', 'torrent.json');
    const old: ResumeData = { version: 1, infoHash: layout.infoHashHex, files: [{ size: 1, mtimeMs: 2 }], have: Buffer.from([0x80]).toString('base64') };
    await saveResumeData(path, old);
    // Fill the rest of the disk.
    expect(() => writeFileSync(join(vol.dir, 'filler'), Buffer.alloc(64 * 1024))).toThrow(/ENOSPC/);
    const next: ResumeData = { ...old, have: Buffer.alloc(20_000, 0xff).toString('base64') };
    const err = await saveResumeData(path, next).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageIoError);
    expect((err as StorageIoError).message).toMatch(/^no space left on device writing .*torrent\.json\.\d+\.tmp \(ENOSPC\)$/);
    expect(await loadResumeData(path)).toEqual(old);
    expect(readdirSync(join(vol.dir, 'resume'))).toEqual(['torrent.json']);
  });
});
