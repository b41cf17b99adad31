import { ProtocolError } from './errors.js';

/**
 * Piece geometry: how a torrent's bytes are cut into pieces and 16 KiB
 * blocks, and where each byte range lands in the torrent's files.
 *
 * A torrent is one contiguous byte sequence (its files concatenated in
 * order); files are not padded to piece boundaries, so one piece can cross
 * many files and a file can be empty.
 */

/**
 * The block size every client requests (2^14), in pieces and in the wire's
 * `request` and `piece` messages. BEP 3 leaves it open, but practice fixes
 * it: larger requests are commonly refused.
 */
export const BLOCK_LENGTH = 16 * 1024;

export type GeometryErrorCode = 'GEOMETRY_PIECE_INDEX' | 'GEOMETRY_RANGE' | 'GEOMETRY_INVALID';

export class GeometryError extends ProtocolError {
  override name = 'GeometryError';
  declare readonly code: GeometryErrorCode;
  constructor(code: GeometryErrorCode, message: string) {
    super(code, message);
  }
}

/** The part of a file that a byte range of the torrent covers. */
export interface FileSpan {
  fileIndex: number;
  /** Where the span starts inside the file. */
  fileOffset: number;
  length: number;
}

export interface GeometryInput {
  pieceLength: number;
  totalLength: number;
  /** Files in torrent order; offsets are derived, so only lengths are needed. */
  files: readonly { length: number }[];
}

export class PieceGeometry {
  readonly pieceLength: number;
  readonly totalLength: number;
  readonly pieceCount: number;
  /** Byte offset of each file in the torrent, plus a final entry equal to totalLength. */
  readonly fileOffsets: readonly number[];
  readonly fileLengths: readonly number[];

  constructor(input: GeometryInput) {
    const { pieceLength, totalLength } = input;
    if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) {
      throw new GeometryError('GEOMETRY_INVALID', `piece length ${pieceLength} is not a positive integer`);
    }
    if (!Number.isSafeInteger(totalLength) || totalLength <= 0) {
      throw new GeometryError('GEOMETRY_INVALID', `total length ${totalLength} is not a positive integer`);
    }
    const offsets: number[] = [];
    let at = 0;
    for (const f of input.files) {
      offsets.push(at);
      at += f.length;
    }
    offsets.push(at);
    if (at !== totalLength) {
      throw new GeometryError('GEOMETRY_INVALID', `files add up to ${at} bytes, not the total length ${totalLength}`);
    }
    this.pieceLength = pieceLength;
    this.totalLength = totalLength;
    this.pieceCount = Math.ceil(totalLength / pieceLength);
    this.fileOffsets = offsets;
    this.fileLengths = input.files.map((f) => f.length);
  }

  /** Length of piece `index`: pieceLength, except a shorter last piece. */
  pieceSize(index: number): number {
    this.checkPiece(index);
    if (index === this.pieceCount - 1) return this.totalLength - index * this.pieceLength;
    return this.pieceLength;
  }

  /** Number of blocks in piece `index`. */
  blockCount(index: number): number {
    return Math.ceil(this.pieceSize(index) / BLOCK_LENGTH);
  }

  /** Length of block `block` of piece `index`: 16 KiB, except a shorter last block. */
  blockSize(index: number, block: number): number {
    const size = this.pieceSize(index);
    const begin = block * BLOCK_LENGTH;
    if (!Number.isInteger(block) || block < 0 || begin >= size) {
      throw new GeometryError('GEOMETRY_RANGE', `block ${block} is outside piece ${index} of ${size} bytes`);
    }
    return Math.min(BLOCK_LENGTH, size - begin);
  }

  /** Torrent-wide byte offset of piece `index`. */
  pieceOffset(index: number): number {
    this.checkPiece(index);
    return index * this.pieceLength;
  }

  /** Whether (index, begin, length) lies within piece `index`. For validating peers' requests. */
  isValidRange(index: number, begin: number, length: number): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) return false;
    if (!Number.isInteger(begin) || !Number.isInteger(length) || begin < 0 || length <= 0) return false;
    return begin + length <= this.pieceSize(index);
  }

  /**
   * The file spans that bytes [begin, begin+length) of piece `index` cover,
   * in order. Zero-length files get no span: there is nothing to write.
   */
  spans(index: number, begin = 0, length?: number): FileSpan[] {
    const size = this.pieceSize(index);
    const len = length ?? size - begin;
    if (begin < 0 || len < 0 || begin + len > size) {
      throw new GeometryError('GEOMETRY_RANGE', `range ${begin}+${len} is outside piece ${index} of ${size} bytes`);
    }
    return this.torrentSpans(index * this.pieceLength + begin, len);
  }

  /** The file spans of torrent-wide bytes [offset, offset+length). */
  torrentSpans(offset: number, length: number): FileSpan[] {
    if (offset < 0 || length < 0 || offset + length > this.totalLength) {
      throw new GeometryError('GEOMETRY_RANGE', `range ${offset}+${length} is outside the torrent's ${this.totalLength} bytes`);
    }
    const out: FileSpan[] = [];
    if (length === 0) return out;
    let file = this.fileAt(offset);
    let at = offset;
    const end = offset + length;
    while (at < end) {
      const fileStart = this.fileOffsets[file]!;
      const fileEnd = this.fileOffsets[file + 1]!;
      if (fileEnd > at) {
        const n = Math.min(fileEnd, end) - at;
        out.push({ fileIndex: file, fileOffset: at - fileStart, length: n });
        at += n;
      }
      file++;
    }
    return out;
  }

  /** Pieces that hold at least one byte of file `fileIndex` (empty for a zero-length file). */
  piecesOfFile(fileIndex: number): { first: number; last: number } | undefined {
    const start = this.fileOffsets[fileIndex];
    const end = this.fileOffsets[fileIndex + 1];
    if (start === undefined || end === undefined || end === start) return undefined;
    return { first: Math.floor(start / this.pieceLength), last: Math.floor((end - 1) / this.pieceLength) };
  }

  /** Index of the non-empty file holding byte `offset` (binary search: torrents can have 100k files). */
  private fileAt(offset: number): number {
    const offs = this.fileOffsets;
    let lo = 0;
    let hi = offs.length - 2; // last real file
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (offs[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    // Skip zero-length files that share this offset with the next file.
    while (lo < offs.length - 2 && offs[lo + 1]! <= offset) lo++;
    return lo;
  }

  private checkPiece(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) {
      throw new GeometryError('GEOMETRY_PIECE_INDEX', `piece ${index} is outside 0..${this.pieceCount - 1}`);
    }
  }
}
