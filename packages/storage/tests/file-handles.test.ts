/**
 * The process's open files: every torrent's storage counts against one
 * cap, and files nobody uses are closed, so thousands of seeding torrents
 * do not hold thousands of descriptors. Counted in /proc/self/fd.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_PROCESS_MAX_OPEN_FILES, FileHandlePool, processFiles, type PooledFile } from '../src/file-handles.js';
import { TorrentStorage } from '../src/storage.js';
import { contentFor, layoutFor, TempDirs } from './support/fixtures.js';

const dirs = new TempDirs();
const opened: TorrentStorage[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await dirs.cleanup();
});

const hasProc = existsSync('/proc/self/fd');

/** Descriptors this process holds on files under `dir`. */
function fdsUnder(dir: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
    } catch {
      return false;
    }
  }).length;
}

/** Fields of `o` holding an empty Map or Set: ~170 bytes each, which thousands of idle torrents would keep for nothing. */
function emptyCollections(o: object): string[] {
  return Object.entries(o)
    .filter(([, v]) => (v instanceof Map || v instanceof Set) && v.size === 0)
    .map(([field]) => field);
}

/** `count` single-file torrents seeded read-only from `dir`, as the peer-worker opens them. */
async function seeds(dir: string, count: number, files: FileHandlePool | undefined): Promise<{ storage: TorrentStorage; data: Buffer }[]> {
  const out = [];
  for (let i = 0; i < count; i++) {
    const spec = [{ path: [`t${i}.bin`], length: 20_000 + i }];
    const data = contentFor(spec);
    await writeFile(join(dir, `t${i}.bin`), data);
    const storage = await TorrentStorage.open(layoutFor(data, spec, 16_384, { name: `t${i}.bin`, multiFile: false }), dir, { create: false, ...(files ? { files } : {}) });
    opened.push(storage);
    out.push({ storage, data });
  }
  return out;
}

describe('the open files of the process', () => {
  it('holds every storage to one cap, and a file closed for it opens again when read', async () => {
    const dir = await dirs.make();
    const pool = new FileHandlePool({ maxOpen: 4 });
    const all = await seeds(dir, 12, pool);
    for (let round = 0; round < 2; round++) {
      for (const { storage, data } of all) expect((await storage.readBlock(1, 0, 100)).equals(data.subarray(16_384, 16_484))).toBe(true);
    }
    expect(pool.openCount).toBe(4);
    // Closes run in the background.
    if (hasProc) await vi.waitFor(() => expect(fdsUnder(dir)).toBe(4));
  });

  it('lets reads in flight finish over the cap, then closes down to it', async () => {
    const dir = await dirs.make();
    const pool = new FileHandlePool({ maxOpen: 2 });
    const all = await seeds(dir, 8, pool);
    const reads = await Promise.all(all.map(({ storage }) => storage.readBlock(0, 0, 16_384)));
    reads.forEach((r, i) => expect(r.equals(all[i]!.data.subarray(0, 16_384))).toBe(true));
    expect(pool.openCount).toBeLessThanOrEqual(2);
    if (hasProc) await vi.waitFor(() => expect(fdsUnder(dir)).toBeLessThanOrEqual(2));
  });

  it('closes the files nobody used for idleMs, whichever torrent they belong to', async () => {
    const dir = await dirs.make();
    let now = 0;
    const pool = new FileHandlePool({ idleMs: 60_000, now: () => now });
    const all = await seeds(dir, 3, pool);
    for (const { storage } of all) await storage.readBlock(0, 0, 10);
    now = 30_000;
    await all[2]!.storage.readBlock(0, 0, 10);
    now = 60_000;
    pool.closeIdle();
    // The two read at 0 went; the one read at 30 s stays.
    expect(pool.openCount).toBe(1);
    if (hasProc) await vi.waitFor(() => expect(fdsUnder(dir)).toBe(1));
    now = 90_000;
    pool.closeIdle();
    expect(pool.openCount).toBe(0);
    if (hasProc) await vi.waitFor(() => expect(fdsUnder(dir)).toBe(0));
    expect((await all[0]!.storage.readBlock(1, 0, 5)).equals(all[0]!.data.subarray(16_384, 16_389))).toBe(true);
    expect(pool.openCount).toBe(1);
  });

  it('leaves a storage whose files it closed holding no empty Map or Set; a read opens the file again', async () => {
    const dir = await dirs.make();
    let now = 0;
    const pool = new FileHandlePool({ idleMs: 60_000, now: () => now });
    const [one] = await seeds(dir, 1, pool);
    const { storage, data } = one!;
    await storage.readBlock(0, 0, 10);
    now = 60_000;
    pool.closeIdle();
    expect(pool.openCount).toBe(0);
    // The handle closes in the background; the storage lets go of it once it has.
    await vi.waitFor(() => expect(emptyCollections(storage)).toEqual([]));
    expect((await storage.readBlock(1, 0, 5)).equals(data.subarray(16_384, 16_389))).toBe(true);
    expect(pool.openCount).toBe(1);
  });

  it('closes idle files by its own timer', async () => {
    const dir = await dirs.make();
    const pool = new FileHandlePool({ idleMs: 1 });
    const [one] = await seeds(dir, 1, pool);
    await one!.storage.readBlock(0, 0, 10);
    expect(pool.openCount).toBe(1);
    // The sweep runs every second at most often.
    await vi.waitFor(() => expect(pool.openCount).toBe(0), { timeout: 5000 });
    if (hasProc) await vi.waitFor(() => expect(fdsUnder(dir)).toBe(0));
  });

  it('lets go of a storage’s files when it closes', async () => {
    const dir = await dirs.make();
    const pool = new FileHandlePool();
    const all = await seeds(dir, 3, pool);
    for (const { storage } of all) await storage.readBlock(0, 0, 10);
    expect(pool.openCount).toBe(3);
    await all[1]!.storage.close();
    expect(pool.openCount).toBe(2);
  });

  it('is one pool for the process unless a storage is given its own', async () => {
    const dir = await dirs.make();
    expect(processFiles.maxOpen).toBe(DEFAULT_PROCESS_MAX_OPEN_FILES);
    const before = processFiles.openCount;
    const all = await seeds(dir, 3, undefined);
    for (const { storage } of all) await storage.readBlock(0, 0, 10);
    expect(processFiles.openCount).toBe(before + 3);
    for (const { storage } of all) await storage.close();
    expect(processFiles.openCount).toBe(before);
  });
});

describe('FileHandlePool, many files in use', () => {
  it('closes idle files over the cap without looking at the files in use', () => {
    const pool = new FileHandlePool({ maxOpen: 4, idleMs: 60_000, now: () => 0 });
    let reads = 0;
    const closedFiles: string[] = [];
    const file = (name: string, users: number): PooledFile => {
      const f = { users, lastUsed: 0, evict: () => void closedFiles.push(name) };
      return f;
    };
    // Ten files in use (a write over many small files), their `users` watched from now on.
    const busy = Array.from({ length: 10 }, (_, i) => file(`busy${i}`, 1));
    for (const f of busy) pool.touch(f);
    for (const f of busy) {
      Object.defineProperty(f, 'users', {
        get: () => {
          reads++;
          return 1;
        },
      });
    }
    const idle = [file('idle0', 0), file('idle1', 0)];
    for (const f of idle) pool.touch(f);
    pool.trim();
    pool.closeIdle();
    expect(closedFiles).toEqual(['idle0', 'idle1']);
    expect(pool.openCount).toBe(10);
    expect(reads).toBe(0);
    for (const f of busy) pool.forget(f);
  });
});
