import type { FilePriority } from '@seedbox/cluster';
import type { Metainfo } from '@seedbox/protocol';
import type { TorrentRecord, TorrentStatsView } from '../../control/backend.js';
import { visibleFiles } from '../../control/control-mapping.js';

/**
 * How far a torrent is, in Transmission's terms, over the files the APIs
 * show (BEP 47 padding files left out, as everywhere else: their bytes
 * count in no size here). Pure.
 *
 * Bytes per file come from the best source there is: the workers' figures
 * (which the fleet fills from its bitfield), else the fleet's bitfield
 * itself (a paused torrent no worker reports), else, when only the total
 * left is known, a complete torrent is complete and a partial one has no
 * per-file figures.
 */

export interface Progress {
  /** Metainfo index of each file shown; Transmission's file index is the position in this list. */
  files: number[];
  /** Priority of each file shown. */
  priorities: FilePriority[];
  /** Bytes in verified pieces, per file shown. */
  fileDone: number[];
  /** Sum of the files shown (Transmission's totalSize). */
  totalSize: number;
  /** Sum of the wanted files. */
  sizeWhenDone: number;
  /** Bytes of wanted files not verified yet. */
  leftUntilDone: number;
  /** Bytes verified, of the files shown. */
  haveValid: number;
}

/** Bytes of each metainfo file covered by the set bits of a BEP 3 bitfield (which may be shorter than the piece count). */
export function bytesPerFile(m: Pick<Metainfo, 'files' | 'pieceLength' | 'pieceCount' | 'totalLength'>, bits: Uint8Array): number[] {
  const out = new Array<number>(m.files.length).fill(0);
  let first = 0;
  for (let p = 0; p < m.pieceCount; p++) {
    if (((bits[p >>> 3] ?? 0) & (0x80 >>> (p & 7))) === 0) continue;
    const start = p * m.pieceLength;
    const end = Math.min(start + m.pieceLength, m.totalLength);
    while (first < m.files.length && m.files[first]!.offset + m.files[first]!.length <= start) first++;
    for (let f = first; f < m.files.length && m.files[f]!.offset < end; f++) {
      const file = m.files[f]!;
      const overlap = Math.min(end, file.offset + file.length) - Math.max(start, file.offset);
      if (overlap > 0) out[f]! += overlap;
    }
  }
  return out;
}

function anySet(bits: Uint8Array | undefined): bits is Uint8Array {
  return bits !== undefined && bits.some((b) => b !== 0);
}

/** A magnet link without its metadata: no files, nothing to count. */
const NO_FILES: Progress = { files: [], priorities: [], fileDone: [], totalSize: 0, sizeWhenDone: 0, leftUntilDone: 0, haveValid: 0 };

export function progressOf(record: TorrentRecord, stats: TorrentStatsView | undefined, bitfield: () => Uint8Array | undefined): Progress {
  const m = record.metainfo;
  if (!m) return NO_FILES;
  const files = visibleFiles(m);
  const own = record.settings.filePriorities;
  const priorities = files.map((i) => own[i] ?? 'normal');
  const lengths = files.map((i) => m.files[i]!.length);
  const totalSize = lengths.reduce((a, b) => a + b, 0);
  const sizeWhenDone = lengths.reduce((a, len, k) => (priorities[k] === 'skip' ? a : a + len), 0);

  let perFile: number[] | undefined;
  if (stats?.fileDone) perFile = files.map((i) => stats.fileDone![i] ?? 0);
  else {
    const bits = bitfield();
    if (anySet(bits)) {
      const all = bytesPerFile(m, bits);
      perFile = files.map((i) => all[i]!);
    } else if (stats?.complete || stats?.left === 0) perFile = lengths;
  }
  if (perFile) {
    const fileDone = perFile.map((d, k) => Math.max(0, Math.min(d, lengths[k]!)));
    const haveValid = fileDone.reduce((a, b) => a + b, 0);
    const leftUntilDone = fileDone.reduce((a, d, k) => (priorities[k] === 'skip' ? a : a + lengths[k]! - d), 0);
    return { files, priorities, fileDone, totalSize, sizeWhenDone, leftUntilDone, haveValid };
  }
  // Only the total left is known (or nothing): no per-file split to give.
  const fileDone = lengths.map(() => 0);
  if (!stats) return { files, priorities, fileDone, totalSize, sizeWhenDone, leftUntilDone: sizeWhenDone, haveValid: 0 };
  const haveValid = Math.max(0, Math.min(totalSize, m.totalLength - stats.left));
  return { files, priorities, fileDone, totalSize, sizeWhenDone, leftUntilDone: Math.min(stats.left, sizeWhenDone), haveValid };
}

/** The bitfield as Transmission's `pieces`: base64 of exactly ceil(pieceCount / 8) bytes, spare bits clear. */
export function piecesBase64(pieceCount: number, bits: Uint8Array | undefined): string {
  const out = new Uint8Array(Math.ceil(pieceCount / 8));
  if (bits) out.set(bits.subarray(0, out.length));
  const spare = out.length * 8 - pieceCount;
  if (spare > 0) out[out.length - 1]! &= (0xff << spare) & 0xff;
  return Buffer.from(out).toString('base64');
}
