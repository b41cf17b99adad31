import { cp, mkdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { torrentContentPath, torrentDir } from './layout.js';

export class MoveError extends Error {
  override readonly name = 'MoveError';
  constructor(
    readonly code: 'MOVE_TARGET_EXISTS',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Moves a torrent's content (see layout.ts) from one save folder to
 * another inside the data folder. A rename when both are on one
 * filesystem, so readers with the files open go on reading them at the
 * new place (an open file follows its inode); a copy, then the old one
 * removed, across filesystems. Nothing there yet (a torrent that never
 * wrote a byte) is nothing to move. It refuses to overwrite content
 * already at the target, which may be another torrent's.
 */
export async function moveTorrentContent(dataDir: string, infoHashHex: string, name: string, from: string | undefined, to: string): Promise<void> {
  const source = torrentContentPath(dataDir, infoHashHex, name, from);
  const target = torrentContentPath(dataDir, infoHashHex, name, to);
  if (source === target) return;
  const exists = async (p: string): Promise<boolean> =>
    stat(p).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return false;
        throw e;
      },
    );
  if (!(await exists(source))) return;
  if (await exists(target)) throw new MoveError('MOVE_TARGET_EXISTS', `${target} exists already`);
  await mkdir(dirname(target), { recursive: true });
  try {
    await rename(source, target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    await cp(source, target, { recursive: true, errorOnExist: true, force: false, preserveTimestamps: true });
    await rm(source, { recursive: true, force: true });
  }
  // A torrent's own folder (no save folder) is empty once its content left.
  if (from === undefined) await rmdir(torrentDir(dataDir, infoHashHex)).catch(() => {});
}
