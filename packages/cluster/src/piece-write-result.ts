import type { PieceWriteOutcome } from './piece-sink.js';
import { PieceWriteStatus, type PieceWriteResult } from '@seedbox/proto';

/**
 * A writer's answer to a piece, both ways: the writer sends its sink's
 * PieceWriteOutcome as a PieceWriteResult status, the worker reads that
 * status back into an outcome. Kept side by side so the two ends cannot
 * disagree on the mapping.
 */

/** The writer's side: the status that carries an outcome. */
export const OUTCOME_STATUS: Record<PieceWriteOutcome['status'], PieceWriteStatus> = {
  written: PieceWriteStatus.PIECE_WRITE_STATUS_WRITTEN,
  'hash-mismatch': PieceWriteStatus.PIECE_WRITE_STATUS_HASH_MISMATCH,
  'io-error': PieceWriteStatus.PIECE_WRITE_STATUS_IO_ERROR,
  'unknown-torrent': PieceWriteStatus.PIECE_WRITE_STATUS_UNKNOWN_TORRENT,
};

/** The worker's side: the outcome a writer's answer stands for. */
export function toOutcome(r: PieceWriteResult): PieceWriteOutcome {
  switch (r.status) {
    case PieceWriteStatus.PIECE_WRITE_STATUS_WRITTEN:
      return { status: 'written', micros: r.writeMicros };
    case PieceWriteStatus.PIECE_WRITE_STATUS_HASH_MISMATCH:
      return { status: 'hash-mismatch' };
    case PieceWriteStatus.PIECE_WRITE_STATUS_UNKNOWN_TORRENT:
      return { status: 'unknown-torrent' };
    default:
      return { status: 'io-error', error: r.error || `writer ${r.writerId} answered status ${r.status}` };
  }
}
