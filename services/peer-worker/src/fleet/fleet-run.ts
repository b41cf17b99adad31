import type { Metainfo } from '@seedbox/protocol';
import type { TorrentSettings } from '@seedbox/cluster';
import type { FileSelection } from '../file-selection.js';
import type { Torrent, TorrentData } from '../torrent.js';

/** One torrent as FleetRunner runs it on this worker, and what is done to it as its registry entry changes. */

/** A running torrent's data, as the runner asks for it: `recorded` is the fleet's bitfield as last seen. */
export type FleetTorrentData = TorrentData & { close?(): Promise<void> };

export interface Running {
  meta: Metainfo;
  torrent: Torrent | undefined;
  /** Opened on the first check. */
  data: Promise<FleetTorrentData> | undefined;
  /** Verified here since the last merge into the fleet's bitfield. */
  unsaved: Set<number>;
  /** The registry's recheck count this run has honoured. */
  rechecks: number;
  /** The save folder it runs from. */
  savePath: string | undefined;
  /** The settings last given to the torrent. */
  settings: TorrentSettings;
}

/** What the engine is told of a torrent's files. */
export function filesOf(s: TorrentSettings, meta: Metainfo): FileSelection {
  return { priorities: s.filePriorities.length === meta.files.length ? s.filePriorities : undefined, sequential: s.sequential, firstLastPiece: s.firstLastPiece };
}

/** Changed settings reach the running torrent. */
export function applySettings(r: Running, next: TorrentSettings): void {
  const was = r.settings;
  r.settings = next;
  const t = r.torrent;
  if (!t || was === next) return;
  if (was.filePriorities.join(',') !== next.filePriorities.join(',') && next.filePriorities.length === r.meta.files.length) t.setFilePriorities(next.filePriorities);
  else if (was.filePriorities.length > 0 && next.filePriorities.length === 0) t.setFilePriorities(r.meta.files.map(() => 'normal'));
  if (was.limits.download !== next.limits.download || was.limits.upload !== next.limits.upload) t.setLimits(next.limits);
  if (was.sequential !== next.sequential) t.setSequential(next.sequential);
  if (was.firstLastPiece !== next.firstLastPiece) t.setFirstLastPiece(next.firstLastPiece);
}

/**
 * The torrent's data as the engine uses it, opened (by `open`) inside the
 * first check rather than before the run: a failure to open it (a folder
 * where a file should be, a volume not mounted) is then the torrent's
 * error state with its reason, and a recheck (or resume) opens it again.
 */
export function lazyData(r: Running, open: () => FleetTorrentData | Promise<FleetTorrentData>): TorrentData {
  const opened = (): Promise<FleetTorrentData> => {
    r.data ??= Promise.resolve()
      .then(open)
      .catch((e: unknown) => {
        r.data = undefined;
        throw e;
      });
    return r.data;
  };
  return {
    check: async (onProgress, options) => (await opened()).check(onProgress, options),
    read: async (index, begin, length, into) => {
      const d = await opened();
      if (!d.read) throw new Error("this torrent's data cannot be read");
      // `into` passed on: the read cache's span buffers are read into again here too.
      return d.read(index, begin, length, into);
    },
    save: async (have) => (await opened()).save?.(have),
  };
}
