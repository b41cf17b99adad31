import { join } from 'node:path';

/**
 * Where a torrent's files live in a data folder shared by many torrents
 * (the fleet's volume, `seedbox serve`'s folder). Written here once: the
 * disk-writers create it, the peer-workers read it, deleting removes it.
 *
 * - Without a save folder, a torrent has a folder of its own named by its
 *   info hash, so two torrents never share a path and deleting one is one
 *   `rm -r`.
 * - With one (`savePath`, relative to the data folder, '' for the folder
 *   itself), its content goes straight in it, as in qBittorrent and
 *   Transmission: `<save folder>/<name>`, the file of a single-file
 *   torrent or the top folder of a multi-file one. Two torrents with the
 *   same content may then share files on purpose (cross-seeding).
 */
export function torrentDir(dataDir: string, infoHashHex: string, savePath?: string): string {
  return savePath === undefined ? join(dataDir, infoHashHex.toLowerCase()) : join(dataDir, savePath);
}

/**
 * The torrent's content: the file of a single-file torrent, the top folder
 * of a multi-file one. `name` must be one plain path segment (TorrentStorage
 * refuses to open a torrent whose name is not).
 */
export function torrentContentPath(dataDir: string, infoHashHex: string, name: string, savePath?: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\u0000')) {
    throw new Error(`the torrent's name ${JSON.stringify(name)} is not one path segment`);
  }
  return join(torrentDir(dataDir, infoHashHex, savePath), name);
}

/** What deleting a torrent's data removes: its own folder, or in a save folder its content alone, never the save folder. */
export function torrentRemovalPath(dataDir: string, infoHashHex: string, name: string, savePath?: string): string {
  return savePath === undefined ? torrentDir(dataDir, infoHashHex) : torrentContentPath(dataDir, infoHashHex, name, savePath);
}
