import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * `mkdir -p dir`, failing with the real reason. Node's recursive mkdir
 * answers ENOENT when a folder cannot be made on a read-only or full
 * volume; the first missing folder is then made alone, which fails with
 * the system's own code (EROFS, ENOSPC…), or succeeds (another process
 * made the one before it) and the rest follow.
 */
export async function makeFolders(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    let first = dir;
    while (dirname(first) !== first && !(await isFolder(dirname(first)))) first = dirname(first);
    await mkdir(first).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    });
    await mkdir(dir, { recursive: true });
  }
}

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
