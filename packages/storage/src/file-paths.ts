import { resolve, sep } from 'node:path';
import { StorageError } from './storage-errors.js';
import type { StorageLayout } from './storage.js';

/**
 * The absolute path of each file of `layout` under `root` (undefined for
 * padding files, which are never created): `root/<name>` for a single-file
 * torrent, `root/<name>/<path…>` for a multi-file one. Refuses any path
 * that would leave `root` (STORAGE_PATH_ESCAPES), a segment that is no file
 * name (STORAGE_BAD_PATH), and two files on one path or a file where
 * another needs a folder (STORAGE_BAD_LAYOUT). The metainfo parser checks
 * the same; a layout can reach storage by other ways (the registry, a
 * message).
 */
export function filePaths(layout: Pick<StorageLayout, 'name' | 'multiFile' | 'files'>, root: string): (string | undefined)[] {
  // Checked segments (below) are plain names: no separator, not '.' or '..',
  // not absolute. Joined under the resolved root they make a normalized path
  // inside it, so no path is resolved or made relative per file: for 10,000
  // files that was 60,000 calls into node:path and most of a torrent's start.
  const base = resolve(root);
  const prefix = base.endsWith(sep) ? base : `${base}${sep}`;
  checkSegment(layout.name, () => layout.name);
  const top = prefix + layout.name;
  if (!layout.multiFile) return layout.files.map((f) => (f.padding ? undefined : top));
  const files = new Set<string>();
  const folders = new Set<string>();
  let last: readonly string[] = [];
  let lastFolder = top;
  const paths = layout.files.map((f) => {
    if (f.padding) return undefined;
    const path = f.path;
    const where = () => [layout.name, ...path].join('/');
    if (path.length === 0) throw new StorageError('STORAGE_BAD_PATH', 'a file of a multi-file torrent has an empty path', where());
    for (const seg of path) checkSegment(seg, where);
    // Files come folder by folder: a folder's chain is made and added once per run.
    if (!sameFolder(path, last)) {
      folders.add(top);
      lastFolder = top;
      for (let i = 0; i < path.length - 1; i++) folders.add((lastFolder = lastFolder + sep + path[i]!));
      last = path;
    }
    const full = lastFolder + sep + path[path.length - 1]!;
    // Two files on one path would overwrite each other.
    if (files.has(full)) throw new StorageError('STORAGE_BAD_LAYOUT', `two files of the torrent are both ${full}`, full);
    files.add(full);
    return full;
  });
  // Nor may a file stand where another file needs a folder.
  for (const at of folders) {
    if (files.has(at)) throw new StorageError('STORAGE_BAD_LAYOUT', `${at} is both a file and a folder of the torrent`, at);
  }
  return paths;
}

/** Whether two files' paths have the same folders (all but the last segment). */
function sameFolder(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length - 1; i++) if (a[i] !== b[i]) return false;
  return true;
}

function checkSegment(seg: string, where: () => string): void {
  // '/' also catches an absolute segment: this is POSIX.
  if (seg === '..' || seg.includes('/') || seg.includes('\\')) {
    throw new StorageError('STORAGE_PATH_ESCAPES', `path segment ${JSON.stringify(seg)} would leave the download folder`, where());
  }
  if (seg === '' || seg === '.' || seg.includes('\0')) {
    throw new StorageError('STORAGE_BAD_PATH', `path segment ${JSON.stringify(seg)} is not a file name`, where());
  }
}
