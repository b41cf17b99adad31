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
