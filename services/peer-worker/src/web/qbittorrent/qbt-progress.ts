import type { Metainfo } from '@seedbox/protocol';
import type { ResolvedTorrentRecord, TorrentStatsView } from '../../control/backend.js';

/**
 * How much of a torrent is here, in qBittorrent's terms: `size` is the
 * wanted bytes (files not skipped), `completed` the verified bytes of
 * those, and a torrent is `finished` when nothing wanted is missing
 * (libtorrent's finished/seeding). Pure.
 *
 * Per-file bytes come from the figures (TorrentStatsView.fileDone) when a
 * worker runs the torrent, else from the fleet's bitfield of verified
 * pieces, so a paused torrent, which no worker reports, still shows what
 * it has. BEP 47 padding files are never counted: they are not data a
 * user has or wants.
 */

export interface Progress {
  /** Bytes in verified pieces, per metainfo file (padding included, counted 0 below). */
  fileDone: number[];
  /** Sum of the real files' lengths. */
  totalSize: number;
  /** Sum of the real files not skipped. */
  wanted: number;
  /** Verified bytes of the wanted files. */
  completed: number;
  finished: boolean;
}

/** Whether bit `i` of a BEP 3 bitfield is set (piece 0 the high bit of byte 0); bits past its end are unset. */
export function hasPiece(bits: Uint8Array, i: number): boolean {
  const byte = bits[i >> 3];
  return byte !== undefined && (byte & (0x80 >> (i & 7))) !== 0;
}

/**
 * Bytes of each file inside verified pieces. One pass over pieces and
 * files together (both are in torrent order), so a torrent of many pieces
 * costs O(pieces + files).
 */
export function fileDoneFromBitfield(m: Pick<Metainfo, 'files' | 'pieceLength' | 'pieceCount' | 'totalLength'>, bits: Uint8Array): number[] {
  const done = new Array<number>(m.files.length).fill(0);
  let f = 0;
  for (let p = 0; p < m.pieceCount; p++) {
    if (!hasPiece(bits, p)) continue;
    const start = p * m.pieceLength;
    const end = Math.min(start + m.pieceLength, m.totalLength);
    while (f < m.files.length && m.files[f]!.offset + m.files[f]!.length <= start) f++;
    for (let g = f; g < m.files.length; g++) {
      const file = m.files[g]!;
      if (file.offset >= end) break;
      const overlap = Math.min(end, file.offset + file.length) - Math.max(start, file.offset);
      if (overlap > 0) done[g]! += overlap;
    }
  }
  return done;
}

export function progressOf(record: Pick<ResolvedTorrentRecord, 'metainfo' | 'settings'>, stats: Pick<TorrentStatsView, 'fileDone' | 'complete' | 'state'> | undefined, bitfield: Uint8Array | undefined): Progress {
  const m = record.metainfo;
  const fileDone = stats?.fileDone ?? fileDoneFromBitfield(m, bitfield ?? new Uint8Array(0));
  const priorities = record.settings.filePriorities;
  let totalSize = 0;
  let wanted = 0;
  let completed = 0;
  m.files.forEach((file, i) => {
    if (file.padding) return;
    totalSize += file.length;
    if ((priorities[i] ?? 'normal') === 'skip') return;
    wanted += file.length;
    completed += Math.min(file.length, Math.max(0, fileDone[i] ?? 0));
  });
  // The engine's own word wins over the sums: it says `seeding` once every wanted piece is verified.
  const finished = stats?.complete === true || stats?.state === 'seeding' || (wanted > 0 && completed >= wanted);
  return { fileDone, totalSize, wanted, completed: finished ? wanted : completed, finished };
}
