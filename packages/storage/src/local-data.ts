import type { Bitfield } from '@seedbox/protocol';
import { checkPieces, loadResumeData, makeResumeData, saveResumeData, type CheckResult } from './resume.js';
import type { Sha1Hasher } from './sha1-pool.js';
import type { TorrentStorage } from './storage.js';

/**
 * A torrent's data in a folder of this machine, as the engine's torrents
 * want it (the peer-worker's TorrentData, which this has the shape of):
 * checked on start (resume data when the files are unchanged, else a hash
 * of every piece that can hold data), read for seeding, and resume data
 * saved when the torrent pauses or stops.
 */
export interface LocalTorrentData {
  check(onProgress: (checked: number, total: number) => void, options?: { force: boolean }): Promise<CheckResult>;
  read(index: number, begin: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  save(have: Bitfield): Promise<void>;
}

export function localTorrentData(storage: TorrentStorage, hasher: Sha1Hasher, resumePath: string): LocalTorrentData {
  return {
    // A forced check (a recheck) reads every piece that can hold data, whatever the resume data says.
    check: async (onProgress, options) => checkPieces(storage, { hasher, resume: options?.force ? undefined : await loadResumeData(resumePath), onProgress }),
    read: (index, begin, length, into) => storage.readBlock(index, begin, length, into),
    save: async (have) => {
      try {
        await saveResumeData(resumePath, await makeResumeData(storage, have, hasher));
      } catch {
        // Without resume data the next start checks every piece: slower, never wrong.
      }
    },
  };
}
