import type { FilePriority } from '@seedbox/cluster';
import type { Metainfo } from '@seedbox/protocol';
import type { ResolvedTorrentRecord } from '../../control/backend.js';
import { visibleFiles } from '../../control/control-mapping.js';
import { QbtError } from './qbt-error.js';
import { hasPiece, type Progress } from './qbt-progress.js';

/**
 * A torrent's files and pieces as torrents/files, torrents/pieceStates and
 * torrents/pieceHashes answer them. Pure.
 *
 * File indices are qBittorrent's: padding files (BEP 47) are not listed
 * and the indices skip them, as qBittorrent's TorrentInfo hides them too;
 * `visibleFiles` maps an index back to the metainfo file.
 */

/** qBittorrent's DownloadPriority values this backend has: Ignored 0, Normal 1, High 6 (Maximum 7 is taken as High: there is no fourth level). */
export const PRIORITY_TO_QBT: Record<FilePriority, number> = { skip: 0, normal: 1, high: 6 };

export function priorityFromQbt(n: number): FilePriority | undefined {
  if (n === 0) return 'skip';
  if (n === 1) return 'normal';
  if (n === 6 || n === 7) return 'high';
  return undefined;
}

export interface QbtFile {
  index: number;
  name: string;
  size: number;
  progress: number;
  priority: number;
  /** Only on index 0, as qBittorrent sends it: whether the torrent is finished. */
  is_seed?: boolean;
  piece_range: [number, number];
  availability: number;
}

/** The file's path as qBittorrent shows it: inside the torrent's folder for a multi-file torrent. */
export function fileName(m: Pick<Metainfo, 'name' | 'multiFile' | 'files'>, metaIndex: number): string {
  return m.multiFile ? [m.name, ...m.files[metaIndex]!.path].join('/') : m.name;
}

/** First and last piece a file's bytes lie in (a zero-length file: the piece it sits at). */
export function pieceRange(m: Pick<Metainfo, 'pieceLength' | 'pieceCount' | 'files'>, metaIndex: number): [number, number] {
  const f = m.files[metaIndex]!;
  const last = Math.max(0, m.pieceCount - 1);
  const first = Math.min(last, Math.floor(f.offset / m.pieceLength));
  const end = Math.min(last, Math.floor((f.offset + Math.max(1, f.length) - 1) / m.pieceLength));
  return [first, end];
}

/** `indexes` of torrents/files: `|`-separated visible indices, refused as qBittorrent does (409) when not one. */
export function fileIndexes(raw: string | undefined, count: number): number[] {
  if (raw === undefined) return Array.from({ length: count }, (_, i) => i);
  return raw.split('|').map((s) => {
    const t = s.trim();
    const n = Number(t);
    if (!/^\d+$/.test(t) || !Number.isSafeInteger(n)) throw new QbtError('conflict', `"${s}" is not a valid file index.`);
    if (n >= count) throw new QbtError('conflict', `Index ${s} is out of bounds.`);
    return n;
  });
}

export function filesView(record: Pick<ResolvedTorrentRecord, 'metainfo' | 'settings'>, progress: Pick<Progress, 'fileDone' | 'finished'>, indexes?: string): QbtFile[] {
  const m = record.metainfo;
  const real = visibleFiles(m);
  return fileIndexes(indexes, real.length).map((index) => {
    const i = real[index]!;
    const f = m.files[i]!;
    const done = Math.min(f.length, Math.max(0, progress.fileDone[i] ?? 0));
    const file: QbtFile = {
      index,
      name: fileName(m, i),
      size: f.length,
      progress: f.length === 0 ? 1 : done / f.length,
      priority: PRIORITY_TO_QBT[record.settings.filePriorities[i] ?? 'normal'],
      piece_range: pieceRange(m, i),
      // The share of the file the swarm's peers have is not gathered by the fleet: unknown.
      availability: -1,
    };
    if (index === 0) file.is_seed = progress.finished;
    return file;
  });
}

/** 2 for a verified piece, 0 otherwise. qBittorrent's 1 ("downloading") is never sent: which pieces are in flight is each worker's, not the fleet's. */
export function pieceStates(m: Pick<Metainfo, 'pieceCount'>, bits: Uint8Array): number[] {
  return Array.from({ length: m.pieceCount }, (_, i) => (hasPiece(bits, i) ? 2 : 0));
}

export function pieceHashes(m: Pick<Metainfo, 'pieceCount' | 'pieceHashes'>): string[] {
  return Array.from({ length: m.pieceCount }, (_, i) => Buffer.from(m.pieceHashes.subarray(i * 20, i * 20 + 20)).toString('hex'));
}
