import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
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
export function filePaths(layout: StorageLayout, root: string): (string | undefined)[] {
  const seen = new Set<string>();
  const paths = layout.files.map((f) => {
    if (f.padding) return undefined;
    const segments = layout.multiFile ? [layout.name, ...f.path] : [layout.name];
    if (layout.multiFile && f.path.length === 0) {
      throw new StorageError('STORAGE_BAD_PATH', 'a file of a multi-file torrent has an empty path', segments.join('/'));
    }
    for (const seg of segments) checkSegment(seg, segments.join('/'));
    const full = resolve(root, ...segments);
    if (!isInside(root, full)) throw new StorageError('STORAGE_PATH_ESCAPES', `${full} is outside ${root}`, full);
    // Two files on one path would overwrite each other.
    if (seen.has(full)) throw new StorageError('STORAGE_BAD_LAYOUT', `two files of the torrent are both ${full}`, full);
    seen.add(full);
    return full;
  });
  // Nor may a file stand where another file needs a folder.
  for (const full of seen) {
    for (let at = dirname(full); at !== root && isInside(root, at); at = dirname(at)) {
      if (seen.has(at)) throw new StorageError('STORAGE_BAD_LAYOUT', `${at} is both a file and a folder of the torrent`, at);
    }
  }
  return paths;
}

function checkSegment(seg: string, where: string): void {
  if (seg === '..' || seg.includes('/') || seg.includes('\\') || isAbsolute(seg)) {
    throw new StorageError('STORAGE_PATH_ESCAPES', `path segment ${JSON.stringify(seg)} would leave the download folder`, where);
  }
  if (seg === '' || seg === '.' || seg.includes('\0')) {
    throw new StorageError('STORAGE_BAD_PATH', `path segment ${JSON.stringify(seg)} is not a file name`, where);
  }
}

function isInside(root: string, full: string): boolean {
  const rel = relative(root, full);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}
