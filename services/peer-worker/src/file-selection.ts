import type { Bitfield, PieceGeometry } from '@seedbox/protocol';

/**
 * Which files of a torrent are wanted, and how much: the per-file
 * priorities a user sets (at add time or later), turned into the per-piece
 * priorities the picker works from, and the figures that follow from them
 * (bytes wanted, bytes of them still missing, bytes verified per file).
 *
 * A piece is as wanted as the most wanted file it overlaps: a piece shared
 * by a skipped and a wanted file is fetched (its hash covers both, so it
 * cannot be fetched in part), and is written whole, so the skipped file
 * then holds those bytes on disk (see packages/storage/src/storage.ts).
 */

import { FILE_PRIORITIES, type FilePriority } from '@seedbox/cluster/torrent-settings';
// One vocabulary with the stored settings (packages/cluster/src/torrent-settings.ts).
export { FILE_PRIORITIES, type FilePriority } from '@seedbox/cluster/torrent-settings';

/** How a torrent's files are fetched: given to `Engine.add` and changed later through the Torrent. */
export interface FileSelection {
  /**
   * One per entry of the torrent's `files` (BEP 47 padding files included:
   * their value is ignored). Default: every file `normal`.
   */
  priorities?: readonly FilePriority[] | undefined;
  /** Start pieces in index order (among the wanted ones) instead of rarest first: for watching while downloading. */
  sequential?: boolean | undefined;
  /** Fetch the first and last piece of every wanted file before anything else (media headers and indexes). */
  firstLastPiece?: boolean | undefined;
}

export type FileSelectionErrorCode =
  /** The priorities array has not one entry per file of the torrent. */
  | 'FILE_PRIORITIES_LENGTH'
  /** An entry is not one of 'skip', 'normal', 'high'. */
  | 'FILE_PRIORITY_UNKNOWN';

export class FileSelectionError extends Error {
  override name = 'FileSelectionError';
  constructor(
    readonly code: FileSelectionErrorCode,
    message: string,
    /** The file whose entry broke the rule, for FILE_PRIORITY_UNKNOWN. */
    readonly fileIndex?: number,
  ) {
    super(message);
  }
}

/** Checks a priorities array against the torrent's file count; answers a copy, or throws a FileSelectionError. */
export function checkPriorities(priorities: readonly unknown[], fileCount: number): FilePriority[] {
  if (!Array.isArray(priorities) || priorities.length !== fileCount) {
    const n = Array.isArray(priorities) ? priorities.length : typeof priorities;
    throw new FileSelectionError('FILE_PRIORITIES_LENGTH', `file priorities need one entry per file of the torrent: ${fileCount} files, ${n} given`);
  }
  return priorities.map((p, i) => {
    if (!FILE_PRIORITIES.includes(p as FilePriority)) {
      throw new FileSelectionError('FILE_PRIORITY_UNKNOWN', `file ${i}: priority ${JSON.stringify(p)} is not one of ${FILE_PRIORITIES.join(', ')}`, i);
    }
    return p as FilePriority;
  });
}

/** The picker's piece priority levels: 0 is never started, higher levels start first. */
export const PIECE_SKIP = 0;
export const PIECE_NORMAL = 1;
export const PIECE_HIGH = 2;
/** The first and last piece of a wanted file under `firstLastPiece`. */
export const PIECE_TOP = 3;

const LEVEL: Record<FilePriority, number> = { skip: PIECE_SKIP, normal: PIECE_NORMAL, high: PIECE_HIGH };

export interface SelectionFile {
  length: number;
  padding?: boolean | undefined;
}

/**
 * Each piece's priority: the highest of the files it overlaps, so it is 0
 * only when every file it touches is skipped. With `firstLastPiece`, the
 * first and last piece of every wanted file go to PIECE_TOP. A piece that
 * holds only padding (BEP 47) belongs to no file: it is wanted as long as
 * any file is, so a torrent with every file wanted still completes.
 *
 * O(pieces + files): each file marks only its own range of pieces.
 */
export function piecePriorities(geometry: PieceGeometry, files: readonly SelectionFile[], priorities: readonly FilePriority[], firstLastPiece: boolean): Uint8Array {
  const out = new Uint8Array(geometry.pieceCount);
  let anyWanted = false;
  files.forEach((f, i) => {
    const level = LEVEL[priorities[i] ?? 'normal'];
    const range = geometry.piecesOfFile(i);
    if (f.padding || level === PIECE_SKIP || !range) return;
    anyWanted = true;
    for (let p = range.first; p <= range.last; p++) if (out[p]! < level) out[p] = level;
    if (firstLastPiece) out[range.first] = out[range.last] = PIECE_TOP;
  });
  if (anyWanted) {
    files.forEach((f, i) => {
      const range = f.padding ? geometry.piecesOfFile(i) : undefined;
      if (!range) return;
      for (let p = range.first; p <= range.last; p++) {
        if (out[p] === PIECE_SKIP && geometry.spans(p).every((s) => files[s.fileIndex]!.padding)) out[p] = PIECE_NORMAL;
      }
    });
  }
  return out;
}

/** One file's figures, as `Torrent.fileProgress()` answers them. */
export interface FileProgress {
  path: string;
  length: number;
  priority: FilePriority;
  /** Bytes of the file in verified pieces. */
  verified: number;
  padding: boolean;
}

/**
 * A torrent's selection and the figures derived from it, kept up to date
 * as pieces verify (one piece's spans per verified piece), so nothing
 * rescans the torrent per tick. Only a change of priorities or a check
 * walks every piece.
 */
export class FileSelectionState {
  priorities: FilePriority[];
  sequential: boolean;
  firstLastPiece: boolean;
  /** Per piece, the picker's priority (see piecePriorities). Replaced, never mutated, on a change. */
  piecePriority: Uint8Array;
  /** Bytes of the pieces not verified, wanted or not (what trackers hear as `left`). */
  left = 0;
  /** Bytes of the pieces whose priority is above 0. */
  wanted = 0;
  /** Bytes of those pieces not yet verified. */
  wantedLeft = 0;
  private readonly verified: Float64Array;

  constructor(
    private readonly geometry: PieceGeometry,
    private readonly files: readonly (SelectionFile & { path: readonly string[] })[],
    selection: FileSelection | undefined,
  ) {
    this.priorities = selection?.priorities ? checkPriorities(selection.priorities, files.length) : files.map(() => 'normal');
    this.sequential = selection?.sequential ?? false;
    this.firstLastPiece = selection?.firstLastPiece ?? false;
    this.verified = new Float64Array(files.length);
    this.piecePriority = piecePriorities(geometry, files, this.priorities, this.firstLastPiece);
  }

  /** Sets the priorities (checked) and the piece priorities that follow; `have` recounts what is wanted. */
  setPriorities(priorities: readonly unknown[], have: Bitfield): void {
    this.priorities = checkPriorities(priorities, this.files.length);
    this.recompute(have);
  }

  setFirstLastPiece(on: boolean, have: Bitfield): void {
    this.firstLastPiece = on;
    this.recompute(have);
  }

  /** The piece priorities and the wanted figures, over what is verified now. */
  recompute(have: Bitfield): void {
    this.piecePriority = piecePriorities(this.geometry, this.files, this.priorities, this.firstLastPiece);
    this.countWanted(have);
  }

  private countWanted(have: Bitfield): void {
    let wanted = 0;
    let wantedLeft = 0;
    let left = 0;
    const pri = this.piecePriority;
    for (let i = 0; i < pri.length; i++) {
      const size = this.geometry.pieceSize(i);
      const missing = !have.has(i);
      if (missing) left += size;
      if (pri[i] === PIECE_SKIP) continue;
      wanted += size;
      if (missing) wantedLeft += size;
    }
    this.wanted = wanted;
    this.wantedLeft = wantedLeft;
    this.left = left;
  }

  /** After a check: every figure from the verified bitfield. */
  reset(have: Bitfield): void {
    this.verified.fill(0);
    for (const i of have.setIndices()) this.addSpans(i);
    this.countWanted(have);
  }

  /** One more piece verified. */
  pieceVerified(index: number): void {
    this.addSpans(index);
    this.left -= this.geometry.pieceSize(index);
    if (this.piecePriority[index] !== PIECE_SKIP) this.wantedLeft -= this.geometry.pieceSize(index);
  }

  private addSpans(index: number): void {
    for (const s of this.geometry.spans(index)) this.verified[s.fileIndex]! += s.length;
  }

  /** Every file's length, priority and verified bytes. A copy: O(files). */
  progress(): FileProgress[] {
    return this.files.map((f, i) => ({
      path: f.path.join('/'),
      length: f.length,
      priority: this.priorities[i]!,
      verified: this.verified[i]!,
      padding: f.padding ?? false,
    }));
  }
}
