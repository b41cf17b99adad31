import { Bitfield, type Metainfo } from '@seedbox/protocol';
import { readBitfield } from '@seedbox/cluster';
import { checkPieces, TorrentStorage, type Sha1Hasher } from '@seedbox/storage';
import type { FleetTorrentData } from './fleet-runner.js';

/**
 * A torrent's data on the fleet's shared volume, as a peer-worker sees it:
 * read-only (only disk-writers write), opened on first use.
 *
 * The check trusts the fleet's bitfield, the record of what disk-writers
 * verified, once it holds anything. A torrent with no verified piece on
 * record, a torrent just added, may still have its files in place (copied
 * there, or left by another client): those are hashed, so that it seeds
 * what verifies instead of downloading it again. Files that do not exist
 * yet, or were only ever sized, cost nothing to check. A recheck hashes
 * whatever the record says.
 */
export function sharedVolumeData(meta: Metainfo, dir: string, hasher: Sha1Hasher, recorded: () => Uint8Array | undefined): FleetTorrentData {
  let opening: Promise<TorrentStorage> | undefined;
  const storage = (): Promise<TorrentStorage> =>
    (opening ??= TorrentStorage.open(meta, dir, { create: false }).catch((e: unknown) => {
      opening = undefined;
      throw e;
    }));
  return {
    async check(onProgress, { force }) {
      const record = readBitfield(recorded(), meta.pieceCount);
      if (!force && record.count > 0) return { have: record, fastPath: true, hashed: 0 };
      let s: TorrentStorage;
      try {
        s = await storage();
      } catch (e) {
        // No folder yet: nothing was ever written, nothing to hash.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { have: new Bitfield(meta.pieceCount), fastPath: false, hashed: 0 };
        throw e;
      }
      return checkPieces(s, { hasher, onProgress });
    },
    read: async (index, begin, length, into) => (await storage()).readBlock(index, begin, length, into),
    async close() {
      const s = await opening?.catch(() => undefined);
      await s?.close();
    },
  };
}
