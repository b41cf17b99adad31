import { join } from 'node:path';

/**
 * Where a torrent's files live in a data folder shared by many torrents
 * (the fleet's volume, `seedbox serve`'s folder): one folder per info hash,
 * so two torrents never share a path and deleting one is one `rm -r`.
 * Written here once: the disk-writers create it, the peer-workers read it.
 */
export function torrentDir(dataDir: string, infoHashHex: string): string {
  return join(dataDir, infoHashHex.toLowerCase());
}
