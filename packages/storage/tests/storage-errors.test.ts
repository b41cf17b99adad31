import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkPieces } from '../src/resume.js';
import { InlineSha1 } from '../src/sha1-hasher.js';
import { describeIoError, plainIoWords, StorageError, StorageIoError } from '../src/storage-errors.js';
import { TorrentStorage } from '../src/storage.js';
import { contentFor, layoutFor, pieceBlocks, TempDirs, type FileSpec } from './support/fixtures.js';

function errno(code: string, syscall: string, message: string, path?: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code, syscall, errno: -1, ...(path !== undefined ? { path } : {}) });
}

describe('describeIoError: a system error in plain words, with the path', () => {
  it('says "no space left on device" for ENOSPC and EDQUOT, "read-only file system" for EROFS, "I/O error" for EIO', () => {
    const full = describeIoError(errno('ENOSPC', 'write', 'ENOSPC: no space left on device, write'), '/data/big.bin');
    expect(full).toBeInstanceOf(StorageIoError);
    expect(full).toMatchObject({ code: 'ENOSPC', path: '/data/big.bin', syscall: 'write', message: 'no space left on device writing /data/big.bin (ENOSPC)' });
    expect((describeIoError(errno('EDQUOT', 'write', 'EDQUOT: disk quota exceeded, write'), '/q/f') as Error).message).toBe('no space left on device writing /q/f (EDQUOT)');
    expect((describeIoError(errno('EROFS', 'open', "EROFS: read-only file system, open '/ro/f'", '/ro/f'), '/ro/f') as Error).message).toBe('read-only file system opening /ro/f (EROFS)');
    expect((describeIoError(errno('EIO', 'read', 'EIO: i/o error, read'), '/bad/f') as Error).message).toBe('I/O error reading /bad/f (EIO)');
    expect(plainIoWords('ENOSPC')).toBe('no space left on device');
    expect(plainIoWords('EPERM')).toBeUndefined();
  });

  it("names the path the call failed on (a folder on the way) and keeps Node's words for other codes", () => {
    const e = describeIoError(errno('EACCES', 'mkdir', "EACCES: permission denied, mkdir '/data/sub'", '/data/sub'), '/data/sub/f.bin') as StorageIoError;
    expect(e.message).toBe('permission denied making the folder /data/sub (EACCES)');
    expect(e.path).toBe('/data/sub');
    expect(e.cause).toBeInstanceOf(Error);
  });

  it('leaves what is not a system error as it is', () => {
    const plain = new Error('writev wrote 0 bytes at offset 5');
    expect(describeIoError(plain, '/x')).toBe(plain);
    expect(describeIoError('text', '/x')).toBe('text');
  });
});

describe('TorrentStorage after a system error', () => {
  const dirs = new TempDirs();
  afterEach(() => dirs.cleanup());

  const files: FileSpec[] = [
    { path: ['a.bin'], length: 40_000 },
    { path: ['b.bin'], length: 40_000 },
  ];
  const data = contentFor(files);
  const layout = layoutFor(data, files, 16_384, { name: 'two' });

  /** This process's descriptors open on files under `dir`. */
  const openUnder = (dir: string): string[] =>
    readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        const target = readlinkSync(join('/proc/self/fd', fd));
        return target.startsWith(dir) ? [target] : [];
      } catch {
        return [];
      }
    });

  it('releaseFiles closes every handle, and the next use opens its file again', async () => {
    const dir = await dirs.make();
    const s = await TorrentStorage.open(layout, dir, { create: true });
    await s.writePiece(0, pieceBlocks(data, 16_384, 0));
    await s.writePiece(4, pieceBlocks(data, 16_384, 4));
    expect(openUnder(s.root)).toHaveLength(2);
    s.releaseFiles();
    await new Promise((r) => setTimeout(r, 50));
    expect(openUnder(s.root)).toEqual([]);
    expect((await s.readBlock(0, 0, 100)).equals(data.subarray(0, 100))).toBe(true);
    expect(openUnder(s.root)).toHaveLength(1);
    await s.close();
  });

  it('a file written and gone since is not made again (STORAGE_FILE_MISSING) until a check has looked at the disk', async () => {
    const dir = await dirs.make();
    const s = await TorrentStorage.open(layout, dir, { create: true });
    await s.writePiece(0, pieceBlocks(data, 16_384, 0));
    const a = join(s.root, 'two', 'a.bin');
    // Its volume fails (files let go) and is unmounted: the file is not there any more.
    s.releaseFiles();
    rmSync(a);
    const err = await s.writePiece(1, pieceBlocks(data, 16_384, 1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err).toMatchObject({ code: 'STORAGE_FILE_MISSING', path: a, message: expect.stringContaining(`${a} is gone`) });
    expect(existsSync(a)).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    expect(openUnder(s.root)).toEqual([]);
    // A check counts its pieces as missing, and from then on a write makes it.
    const checked = await checkPieces(s, { hasher: new InlineSha1() });
    expect(checked.have.count).toBe(0);
    await s.writePiece(1, pieceBlocks(data, 16_384, 1));
    expect(readFileSync(a).subarray(16_384, 32_768).equals(data.subarray(16_384, 32_768))).toBe(true);
    await s.close();
  });

  it('a read of a file never written is ENOENT, in words, and lets nothing go', async () => {
    const dir = await dirs.make();
    const s = await TorrentStorage.open(layout, dir, { create: true });
    await s.writePiece(0, pieceBlocks(data, 16_384, 0));
    const err = await s.readBlock(4, 0, 100).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageIoError);
    expect(err).toMatchObject({ code: 'ENOENT', message: `no such file or directory opening ${join(s.root, 'two', 'b.bin')} (ENOENT)` });
    expect(openUnder(s.root)).toHaveLength(1);
    await s.close();
  });
});
