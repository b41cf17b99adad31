import { describe, expect, it } from 'vitest';
import { FileHandlePool } from '../src/file-handles.js';
import { OpenFiles } from '../src/open-files.js';

/** OpenFiles with fake descriptors: each opening answers the next number, each close is recorded. */
function setup() {
  const closed: number[] = [];
  let next = 100;
  const files = new OpenFiles(8, new FileHandlePool({ maxOpen: 64, idleMs: 60_000 }), {
    closeFile: async (fd) => void closed.push(fd),
  });
  const opening = (): Promise<number> => Promise.resolve(next++);
  return { files, closed, opening };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('OpenFiles.releaseAll', () => {
  it('closes idle files at once; one in use is out of the open files at once (the next use opens it again) and closed when its user lets go', async () => {
    const { files, closed, opening } = setup();
    const idle = files.hold(1, opening);
    files.letGo(1, idle);
    const busy = files.hold(0, opening);
    expect(await busy.fd).toBe(101);
    files.releaseAll();
    await tick();
    expect(closed).toEqual([100]);
    expect(files.has(0)).toBe(false);
    // A use after the release opens the file afresh, while the first still holds its descriptor.
    const again = files.hold(0, opening);
    expect(await again.fd).toBe(102);
    files.letGo(0, busy);
    await tick();
    expect(closed).toEqual([100, 101]);
    files.letGo(0, again);
    expect(files.has(0)).toBe(true);
    await files.closeAll();
    expect(closed).toEqual([100, 101, 102]);
  });
});

/** Counts reads of `users` on `entry` from now on. */
function watchUsers(entry: { users: number }, seen: { reads: number }): void {
  let users = entry.users;
  Object.defineProperty(entry, 'users', {
    get: () => {
      seen.reads++;
      return users;
    },
    set: (v: number) => void (users = v),
  });
}

describe('OpenFiles eviction', () => {
  it('closes the least recently used idle files over the cap, without looking at the files in use', async () => {
    const { files, closed, opening } = setup(); // a cap of 8
    for (const i of [100, 101, 102]) files.letGo(i, files.hold(i, opening)); // fds 100, 101, 102, idle
    files.letGo(100, files.hold(100, opening)); // used again: 101 is the least recently used now
    // One write holds 20 files: over the cap, and none of them may be closed under it.
    const held = Array.from({ length: 20 }, (_, i) => files.hold(i, opening));
    const seen = { reads: 0 };
    for (const entry of held.slice(1)) watchUsers(entry, seen);
    files.letGo(0, held[0]!);
    await tick();
    // The idle ones went, least recently used first, then the one just let go; the 19 in use stay.
    expect(closed).toEqual([101, 102, 100, 103]);
    expect(seen.reads).toBe(0);
    for (let i = 1; i < 20; i++) expect(files.has(i)).toBe(true);
    held.slice(1).forEach((entry, k) => files.letGo(k + 1, entry));
    await tick();
    expect(closed).toHaveLength(4 + 11); // down to the cap of 8
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].every((i) => !files.has(i))).toBe(true);
    expect([12, 13, 14, 15, 16, 17, 18, 19].every((i) => files.has(i))).toBe(true);
    await files.closeAll();
  });
});
