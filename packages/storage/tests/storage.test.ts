import { afterEach, describe, expect, it, vi } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync, writeSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Bitfield } from '@seedbox/protocol';
import { makeResumeData } from '../src/resume.js';
import { InlineSha1 } from '../src/sha1-pool.js';
import { StorageError, TorrentStorage, type StorageLayout } from '../src/storage.js';
import type { TargetsWritten } from '../src/write-targets.js';
import { contentFor, layoutFor, pieceBlocks, TempDirs, type FileSpec } from './support/fixtures.js';

const dirs = new TempDirs();
const opened: TorrentStorage[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await dirs.cleanup();
});

async function openStorage(layout: StorageLayout, dir: string, options: { create: boolean; maxOpenFiles?: number } = { create: true }) {
  const s = await TorrentStorage.open(layout, dir, options);
  opened.push(s);
  return s;
}

/** What `promise` rejected with, expected to be a StorageError. */
async function storageError(promise: Promise<unknown>): Promise<StorageError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StorageError);
  return err as StorageError;
}

/** Every file and folder under `dir`, relative, sorted. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.sort();
}

const multi: FileSpec[] = [
  { path: ['a.bin'], length: 40_000 },
  { path: ['empty.txt'], length: 0 },
  { path: ['sub', 'deeper', 'b.bin'], length: 25_000 },
  { path: ['.pad', '7768'], length: 7768, padding: true },
  { path: ['sub', 'c.bin'], length: 16_384 },
];

describe('TorrentStorage layout', () => {
  it('creates a single-file torrent as DIR/<name> at its full size, at its first write', async () => {
    const dir = await dirs.make();
    const files = [{ path: ['movie.mkv'], length: 100_000 }];
    const data = contentFor(files);
    const s = await openStorage(layoutFor(data, files, 32_768, { name: 'movie.mkv', multiFile: false }), dir);
    expect(await tree(dir)).toEqual([]);
    // A read creates nothing either.
    expect(await s.verifyPiece(0, new InlineSha1())).toBe(false);
    expect(await tree(dir)).toEqual([]);
    await s.writePiece(1, pieceBlocks(data, 32_768, 1));
    expect(await tree(dir)).toEqual(['movie.mkv']);
    expect((await stat(join(dir, 'movie.mkv'))).size).toBe(100_000);
  });

  it('creates nested folders and files of a multi-file torrent under DIR/<name> as pieces land, zero-length files at once, padding files never', async () => {
    const dir = await dirs.make();
    const data = contentFor(multi);
    const s = await openStorage(layoutFor(data, multi, 16_384, { name: 'album' }), dir);
    expect(await tree(dir)).toEqual(['album', 'album/empty.txt']);
    for (let i = 0; i < s.geometry.pieceCount; i++) await s.writePiece(i, pieceBlocks(data, 16_384, i));
    expect(await tree(dir)).toEqual([
      'album',
      'album/a.bin',
      'album/empty.txt',
      'album/sub',
      'album/sub/c.bin',
      'album/sub/deeper',
      'album/sub/deeper/b.bin',
    ]);
    expect((await stat(join(dir, 'album/a.bin'))).size).toBe(40_000);
    expect((await stat(join(dir, 'album/empty.txt'))).size).toBe(0);
    expect((await stat(join(dir, 'album/sub/deeper/b.bin'))).size).toBe(25_000);
    expect((await stat(join(dir, 'album/sub/c.bin'))).size).toBe(16_384);
  });

  it('sizes files sparse: a 4 GiB file takes almost no blocks', async () => {
    const dir = await dirs.make();
    const length = 4 * 1024 ** 3;
    const pieceLength = 1 << 22;
    const layout: StorageLayout = {
      infoHashHex: '00'.repeat(20),
      name: 'big',
      multiFile: false,
      pieceLength,
      totalLength: length,
      pieceHashes: new Uint8Array((length / pieceLength) * 20),
      files: [{ path: ['big'], length }],
    };
    const s = await openStorage(layout, dir);
    // The hashes are zeros: write the piece straight through storage (no hash check there).
    await s.writePiece(0, [new Uint8Array(pieceLength)]);
    const st = await stat(join(dir, 'big'));
    expect(st.size).toBe(length);
    expect(st.blocks * 512).toBeLessThan(pieceLength + 1024 * 1024);
  });

  it('keeps existing data: a file of the right size or longer is untouched, a shorter one only extended', async () => {
    const dir = await dirs.make();
    await mkdir(join(dir, 'album', 'sub', 'deeper'), { recursive: true });
    const a = Buffer.alloc(40_000, 7);
    await writeFile(join(dir, 'album/a.bin'), a);
    await writeFile(join(dir, 'album/sub/deeper/b.bin'), Buffer.alloc(100, 9));
    await writeFile(join(dir, 'album/sub/c.bin'), Buffer.alloc(20_000, 5));
    await openStorage(layoutFor(contentFor(multi), multi, 16_384, { name: 'album' }), dir);
    expect((await readFile(join(dir, 'album/a.bin'))).equals(a)).toBe(true);
    const b = await readFile(join(dir, 'album/sub/deeper/b.bin'));
    expect(b.length).toBe(25_000);
    expect(b.subarray(0, 100).every((x) => x === 9)).toBe(true);
    expect(b.subarray(100).every((x) => x === 0)).toBe(true);
    expect((await stat(join(dir, 'album/sub/c.bin'))).size).toBe(20_000);
  });

  it('refuses inconsistent layouts', async () => {
    const dir = await dirs.make();
    const data = contentFor(multi);
    const good = layoutFor(data, multi, 16_384, { name: 'album' });
    expect((await storageError(openStorage({ ...good, pieceHashes: good.pieceHashes.subarray(20) }, dir))).code).toBe('STORAGE_BAD_LAYOUT');
    expect((await storageError(openStorage({ ...good, totalLength: good.totalLength + 1 }, dir))).code).toBe('STORAGE_BAD_LAYOUT');
    const twice = [
      { path: ['x'], length: 10 },
      { path: ['x'], length: 10 },
    ];
    expect((await storageError(openStorage(layoutFor(contentFor(twice), twice, 16), dir))).code).toBe('STORAGE_BAD_LAYOUT');
    const fileAndFolder = [
      { path: ['x'], length: 10 },
      { path: ['x', 'y'], length: 10 },
    ];
    expect((await storageError(openStorage(layoutFor(contentFor(fileAndFolder), fileAndFolder, 16), dir))).code).toBe('STORAGE_BAD_LAYOUT');
    expect(await tree(dir)).toEqual([]);
  });
});

describe('TorrentStorage path safety', () => {
  it.each([
    [['..', 'x'], 'STORAGE_PATH_ESCAPES'],
    [['sub', '..', '..', 'x'], 'STORAGE_PATH_ESCAPES'],
    [['/etc', 'x'], 'STORAGE_PATH_ESCAPES'],
    [['a/../../x'], 'STORAGE_PATH_ESCAPES'],
    [['a\\..\\x'], 'STORAGE_PATH_ESCAPES'],
    [['', 'x'], 'STORAGE_BAD_PATH'],
    [['.'], 'STORAGE_BAD_PATH'],
    [['x\0y'], 'STORAGE_BAD_PATH'],
    [[], 'STORAGE_BAD_PATH'],
  ])('refuses the path %j with %s, and creates nothing', async (path, code) => {
    const parent = await dirs.make();
    const dir = join(parent, 'downloads');
    const files = [
      { path: ['ok'], length: 10 },
      { path, length: 10 },
    ];
    const err = await storageError(openStorage(layoutFor(contentFor(files), files, 16, { name: 't' }), dir));
    expect(err.code).toBe(code);
    expect(await tree(parent)).toEqual(['downloads']);
  });

  it.each([['..'], ['.'], ['a/b'], ['']])('refuses the torrent name %j', async (name) => {
    const parent = await dirs.make();
    const dir = join(parent, 'downloads');
    const files = [{ path: [name], length: 10 }];
    await storageError(openStorage(layoutFor(contentFor(files), files, 16, { name, multiFile: false }), dir));
    await storageError(openStorage(layoutFor(contentFor(files), [{ path: ['f'], length: 10 }], 16, { name, multiFile: true }), dir));
    expect(await tree(parent)).toEqual(['downloads']);
  });

  it('does not follow a symlinked folder inside the download folder that points outside', async () => {
    const dir = await dirs.make();
    const outside = await dirs.make();
    await symlink(outside, join(dir, 'album'));
    const err = await storageError(openStorage(layoutFor(contentFor(multi), multi, 16_384, { name: 'album' }), dir));
    expect(err.code).toBe('STORAGE_SYMLINK');
    expect(err.path).toBe(join(dir, 'album'));
    expect(await tree(outside)).toEqual([]);
  });

  it('does not follow a symlink deeper in the tree', async () => {
    const dir = await dirs.make();
    const outside = await dirs.make();
    await mkdir(join(dir, 'album'));
    await symlink(outside, join(dir, 'album', 'sub'));
    const err = await storageError(openStorage(layoutFor(contentFor(multi), multi, 16_384, { name: 'album' }), dir));
    expect(err.code).toBe('STORAGE_SYMLINK');
    expect(await tree(outside)).toEqual([]);
  });

  it('does not follow a symlink in place of the file itself', async () => {
    const dir = await dirs.make();
    const outside = await dirs.make();
    const target = join(outside, 'precious');
    await writeFile(target, 'do not touch');
    await symlink(target, join(dir, 'movie.mkv'));
    const files = [{ path: ['movie.mkv'], length: 100_000 }];
    const err = await storageError(openStorage(layoutFor(contentFor(files), files, 32_768, { name: 'movie.mkv', multiFile: false }), dir));
    expect(err.code).toBe('STORAGE_SYMLINK');
    expect(await readFile(target, 'utf8')).toBe('do not touch');
  });

  /**
   * A torrent of sub/x.bin and y.bin, both written, whose storage keeps one
   * handle at most (writing y closed x's, so x is opened again); then `sub`
   * is moved away and a symlink to `outside/evil` (made by `plant`) put in
   * its place.
   */
  async function swappedFolder(plant: (evil: string) => Promise<void> = async () => {}) {
    const dir = await dirs.make();
    const outside = await dirs.make();
    const files = [
      { path: ['sub', 'x.bin'], length: 16_384 },
      { path: ['y.bin'], length: 16_384 },
    ];
    const data = contentFor(files);
    const s = await openStorage(layoutFor(data, files, 16_384, { name: 't' }), dir, { create: true, maxOpenFiles: 1 });
    await s.writePiece(0, pieceBlocks(data, 16_384, 0));
    await s.writePiece(1, pieceBlocks(data, 16_384, 1));
    await rename(join(dir, 't', 'sub'), join(outside, 'moved'));
    const evil = join(outside, 'evil');
    await mkdir(evil);
    await plant(evil);
    await symlink(evil, join(dir, 't', 'sub'));
    return { s, data, evil };
  }

  it('checks again when a file is reopened: a folder swapped for a symlink later is refused', async () => {
    const { s, data, evil } = await swappedFolder();
    const err = await storageError(s.writePiece(0, pieceBlocks(data, 16_384, 0)));
    expect(err.code).toBe('STORAGE_SYMLINK');
    expect(await tree(evil)).toEqual([]);
  });

  it('checks again when a file is reopened: a swapped folder leading to a file of the same name is refused, for a read and for a write', async () => {
    const precious = Buffer.alloc(16_384, 1);
    const { s, data, evil } = await swappedFolder((at) => writeFile(join(at, 'x.bin'), precious));
    expect((await storageError(s.readBlock(0, 0, 100))).code).toBe('STORAGE_SYMLINK');
    await s.readBlock(1, 0, 100); // y.bin, in place: x.bin's handle is closed again
    expect((await storageError(s.writePiece(0, pieceBlocks(data, 16_384, 0)))).code).toBe('STORAGE_SYMLINK');
    expect((await readFile(join(evil, 'x.bin'))).equals(precious)).toBe(true);
  });

  it('checks a file planted after storage opened, before its first write: a symlink is refused, a longer file kept', async () => {
    const dir = await dirs.make();
    const outside = await dirs.make();
    const files = [
      { path: ['x.bin'], length: 16_384 },
      { path: ['y.bin'], length: 16_384 },
    ];
    const data = contentFor(files);
    const s = await openStorage(layoutFor(data, files, 16_384, { name: 't' }), dir);
    // Not there at open: the first write creates it exclusively, and finds it taken.
    await writeFile(join(outside, 'precious'), 'do not touch');
    await mkdir(join(dir, 't'));
    await symlink(join(outside, 'precious'), join(dir, 't', 'x.bin'));
    expect((await storageError(s.writePiece(0, pieceBlocks(data, 16_384, 0)))).code).toBe('STORAGE_SYMLINK');
    expect(await readFile(join(outside, 'precious'), 'utf8')).toBe('do not touch');
    const longer = Buffer.alloc(20_000, 3);
    await writeFile(join(dir, 't', 'y.bin'), longer);
    await s.writePiece(1, pieceBlocks(data, 16_384, 1));
    const y = await readFile(join(dir, 't', 'y.bin'));
    expect(y.length).toBe(20_000);
    expect(y.subarray(0, 16_384).equals(data.subarray(16_384))).toBe(true);
  });

  it('sizes a new file whichever of its pieces lands first: its end, its start, or one in the middle', async () => {
    for (const first of [3, 0, 1]) {
      const dir = await dirs.make();
      const files = [{ path: ['movie.mkv'], length: 100_000 }];
      const data = contentFor(files);
      const s = await openStorage(layoutFor(data, files, 32_768, { name: 'movie.mkv', multiFile: false }), dir);
      await s.writePiece(first, pieceBlocks(data, 32_768, first));
      expect((await stat(join(dir, 'movie.mkv'))).size).toBe(100_000);
      for (let i = 0; i < 4; i++) if (i !== first) await s.writePiece(i, pieceBlocks(data, 32_768, i));
      expect((await readFile(join(dir, 'movie.mkv'))).equals(data)).toBe(true);
    }
  });

  it('lists which files exist, one folder at a time, where a folder holds many of them; asks no folder for one or two', async () => {
    const dir = await dirs.make();
    const files = [
      ...Array.from({ length: 10 }, (_, i) => ({ path: ['many', `f${i}.bin`], length: 100 })),
      { path: ['few', 'x.bin'], length: 100 },
      { path: ['few', 'y.bin'], length: 100 },
    ];
    await mkdir(join(dir, 't', 'many'), { recursive: true });
    await mkdir(join(dir, 't', 'few'), { recursive: true });
    for (const name of ['many/f0.bin', 'many/f7.bin', 'few/x.bin']) await writeFile(join(dir, 't', name), Buffer.alloc(100));
    const s = await openStorage(layoutFor(contentFor(files), files, 256, { name: 't' }), dir, { create: false });
    const listed = await s.listed();
    expect(listed.slice(0, 10)).toEqual([true, false, false, false, false, false, false, true, false, false]);
    // Too few to list: a save folder shared with thousands of torrents is not read for one file.
    expect(listed.slice(10)).toEqual([undefined, undefined]);
  });

  it('lists no folder whose files were all seen to exist: they are asked, a file gone since too', async () => {
    const dir = await dirs.make();
    const files = [
      ...Array.from({ length: 10 }, (_, i) => ({ path: ['done', `f${i}.bin`], length: 100 })),
      ...Array.from({ length: 10 }, (_, i) => ({ path: ['part', `g${i}.bin`], length: 100 })),
    ];
    const data = contentFor(files);
    const s = await openStorage(layoutFor(data, files, 100, { name: 't' }), dir);
    // Every file of done/, and one of part/, written (and so seen).
    for (const i of [...Array.from({ length: 10 }, (_, k) => k), 10]) await s.writePiece(i, pieceBlocks(data, 100, i));
    const listed = await s.listed();
    expect(listed.slice(0, 10)).toEqual(Array.from({ length: 10 }, () => undefined));
    expect(listed.slice(10)).toEqual([true, ...Array.from({ length: 9 }, () => false)]);
    // The resume data asks each of them: one removed behind our back is missing there.
    await rm(join(dir, 't', 'done', 'f3.bin'));
    const resume = await makeResumeData(s, new Bitfield(20));
    expect(resume.files.map((f) => f?.size)).toEqual([100, 100, 100, -1, ...Array.from({ length: 6 }, () => 100), 100, ...Array.from({ length: 9 }, () => -1)]);
  });

  it('refuses a FIFO in place of a file without blocking on it', async () => {
    const dir = await dirs.make();
    try {
      execFileSync('mkfifo', [join(dir, 'movie.mkv')]);
    } catch {
      return; // no mkfifo here
    }
    const files = [{ path: ['movie.mkv'], length: 100 }];
    const layout = layoutFor(contentFor(files), files, 64, { name: 'movie.mkv', multiFile: false });
    const ro = await openStorage(layout, dir, { create: false });
    expect((await storageError(ro.readBlock(0, 0, 10))).code).toBe('STORAGE_NOT_A_FILE');
    expect((await storageError(openStorage(layout, dir))).code).toBe('STORAGE_NOT_A_FILE');
  });

  it('refuses a folder in place of a file', async () => {
    const dir = await dirs.make();
    await mkdir(join(dir, 'movie.mkv'));
    const files = [{ path: ['movie.mkv'], length: 100 }];
    const err = await storageError(openStorage(layoutFor(contentFor(files), files, 64, { name: 'movie.mkv', multiFile: false }), dir));
    expect(err.code).toBe('STORAGE_NOT_A_FILE');
  });

  it('refuses a file in place of a folder of the torrent at the write that needs the folder', async () => {
    const dir = await dirs.make();
    const files = [
      { path: ['sub', 'x.bin'], length: 16_384 },
      { path: ['y.bin'], length: 16_384 },
    ];
    const data = contentFor(files);
    const s = await openStorage(layoutFor(data, files, 16_384, { name: 't' }), dir);
    await mkdir(join(dir, 't'));
    await writeFile(join(dir, 't', 'sub'), 'a file');
    expect((await storageError(s.writePiece(0, pieceBlocks(data, 16_384, 0)))).code).toBe('STORAGE_NOT_A_FILE');
    await s.writePiece(1, pieceBlocks(data, 16_384, 1));
    expect(await readFile(join(dir, 't', 'sub'), 'utf8')).toBe('a file');
  });
});

describe('TorrentStorage reads and writes', () => {
  it('writes pieces across files and padding, reads blocks back, and verifies pieces', async () => {
    const dir = await dirs.make();
    const data = contentFor(multi);
    const s = await openStorage(layoutFor(data, multi, 16_384, { name: 'album' }), dir);
    const hasher = new InlineSha1();
    expect(await s.verifyPiece(0, hasher)).toBe(false);
    for (let i = 0; i < s.geometry.pieceCount; i++) await s.writePiece(i, pieceBlocks(data, 16_384, i, 5000));
    for (let i = 0; i < s.geometry.pieceCount; i++) expect(await s.verifyPiece(i, hasher)).toBe(true);
    // A read across a.bin, empty.txt and b.bin, and one over the padding (zeros).
    expect((await s.readBlock(2, 4000, 10_000)).equals(data.subarray(32_768 + 4000, 32_768 + 14_000))).toBe(true);
    // The padding file is torrent bytes 65_000..72_768: the end of piece 3 and the start of piece 4.
    expect((await s.readBlock(3, 65_000 - 3 * 16_384, 4 * 16_384 - 65_000)).every((b) => b === 0)).toBe(true);
    expect((await s.readBlock(4, 0, 72_768 - 4 * 16_384)).every((b) => b === 0)).toBe(true);
    const onDisk = Buffer.concat([
      await readFile(join(dir, 'album/a.bin')),
      await readFile(join(dir, 'album/sub/deeper/b.bin')),
      Buffer.alloc(7768),
      await readFile(join(dir, 'album/sub/c.bin')),
    ]);
    expect(onDisk.equals(data)).toBe(true);
  });

  it('keeps at most maxOpenFiles handles open', async () => {
    const dir = await dirs.make();
    const files = Array.from({ length: 20 }, (_, i) => ({ path: [`f${i}`], length: 3000 }));
    const data = contentFor(files);
    const s = await openStorage(layoutFor(data, files, 16_384, { name: 't' }), dir, { create: true, maxOpenFiles: 3 });
    const openInto = (): number => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(join(dir, 't'));
      } catch {
        return false;
      }
    }).length;
    await Promise.all(Array.from({ length: s.geometry.pieceCount }, (_, i) => s.writePiece(i, pieceBlocks(data, 16_384, i))));
    // Evicted handles close in the background.
    if (existsSync('/proc/self/fd')) await vi.waitFor(() => expect(openInto()).toBeLessThanOrEqual(3));
    for (let i = 0; i < s.geometry.pieceCount; i++) expect(await s.verifyPiece(i, new InlineSha1())).toBe(true);
    await s.close();
    if (existsSync('/proc/self/fd')) expect(openInto()).toBe(0);
  });

  it('read-only storage creates nothing and fails checks of missing data', async () => {
    const dir = await dirs.make();
    const data = contentFor(multi);
    const s = await openStorage(layoutFor(data, multi, 16_384, { name: 'album' }), dir, { create: false });
    expect(await s.verifyPiece(0, new InlineSha1())).toBe(false);
    expect((await storageError(s.writePiece(0, pieceBlocks(data, 16_384, 0)))).code).toBe('STORAGE_READ_ONLY');
    expect(await tree(dir)).toEqual([]);
  });

  it('answers STORAGE_SHORT_FILE when a file is shorter than the torrent says', async () => {
    const dir = await dirs.make();
    await writeFile(join(dir, 'f'), Buffer.alloc(10));
    const files = [{ path: ['f'], length: 100 }];
    const s = await openStorage(layoutFor(contentFor(files), files, 64, { name: 'f', multiFile: false }), dir, { create: false });
    expect((await storageError(s.readBlock(1, 0, 36))).code).toBe('STORAGE_SHORT_FILE');
    expect(await s.verifyPiece(1, new InlineSha1())).toBe(false);
  });

  it('close() waits for a write another thread makes through its descriptors, so none is closed (and its number reused) under it', async () => {
    const dir = await dirs.make();
    const files = [{ path: ['movie.mkv'], length: 32_768 }];
    const data = contentFor(files);
    const s = await openStorage(layoutFor(data, files, 32_768, { name: 'movie.mkv', multiFile: false }), dir);
    let answer!: (written: TargetsWritten) => void;
    let fd = -1;
    const writing = s.writePieceVia(0, (targets) => {
      fd = targets[0]!.fd!;
      return new Promise<TargetsWritten>((resolve) => (answer = resolve));
    });
    while (fd < 0) await new Promise((r) => setTimeout(r, 1));
    let closed = false;
    const closing = s.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(false);
    // The thread's write, as the hash thread makes it: the descriptor is still ours.
    writeSync(fd, data, 0, data.length, 0);
    answer({ wrote: true });
    expect(await writing).toBe(true);
    await closing;
    expect((await readFile(join(dir, 'movie.mkv'))).equals(data)).toBe(true);
  });

  it('refuses use after close', async () => {
    const dir = await dirs.make();
    const files = [{ path: ['f'], length: 100 }];
    const data = contentFor(files);
    const s = await openStorage(layoutFor(data, files, 64, { name: 'f', multiFile: false }), dir);
    await s.close();
    expect((await storageError(s.readBlock(0, 0, 10))).code).toBe('STORAGE_CLOSED');
  });
});
