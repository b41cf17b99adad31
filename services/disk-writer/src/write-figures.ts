import type { PieceSink, PieceWriteOutcome } from './piece-sink.js';

/**
 * A disk-writer's figures for the fleet view: pieces and bytes written
 * per second, pieces that failed (a hash mismatch or an I/O error, since
 * the start), and pieces in progress.
 *
 * Writes are counted into one-second buckets, and a rate is the average
 * of the last whole seconds: reading the figures changes nothing, needs
 * no timer, and a heartbeat every 2 s sees every write once.
 */

export interface WriteFiguresView {
  piecesPerSecond: number;
  bytesPerSecond: number;
  failedPieces: number;
  piecesInProgress: number;
}

interface Bucket {
  second: number;
  pieces: number;
  bytes: number;
}

export class WriteFigures {
  private readonly buckets: Bucket[];
  private failed = 0;
  private writing = 0;

  constructor(
    /** Whole seconds a rate averages over. */
    private readonly windowSeconds = 2,
    private readonly now: () => number = Date.now,
  ) {
    // The second under way is never read (it is not over), so one more bucket than the window.
    this.buckets = Array.from({ length: windowSeconds + 1 }, () => ({ second: -1, pieces: 0, bytes: 0 }));
  }

  /** A piece's write began (a PieceSink wrapped by `counted` calls this itself). */
  begin(): void {
    this.writing++;
  }

  end(): void {
    this.writing = Math.max(0, this.writing - 1);
  }

  /** A piece's outcome; bytes count only when it was written. An unknown torrent is neither: the piece is offered again. */
  record(outcome: PieceWriteOutcome, bytes: number): void {
    if (outcome.status === 'hash-mismatch' || outcome.status === 'io-error') {
      this.failed++;
      return;
    }
    if (outcome.status !== 'written') return;
    const second = Math.floor(this.now() / 1000);
    const b = this.buckets[second % this.buckets.length]!;
    if (b.second !== second) {
      b.second = second;
      b.pieces = 0;
      b.bytes = 0;
    }
    b.pieces++;
    b.bytes += bytes;
  }

  /** The figures now; `inProgress` overrides the count of begun writes (the NATS server knows its pieces being assembled too). */
  figures(inProgress?: number): WriteFiguresView {
    const current = Math.floor(this.now() / 1000);
    let pieces = 0;
    let bytes = 0;
    for (const b of this.buckets) {
      if (b.second < current && b.second >= current - this.windowSeconds) {
        pieces += b.pieces;
        bytes += b.bytes;
      }
    }
    return {
      piecesPerSecond: pieces / this.windowSeconds,
      bytesPerSecond: Math.round(bytes / this.windowSeconds),
      failedPieces: this.failed,
      piecesInProgress: inProgress ?? this.writing,
    };
  }
}

/** `sink` with its writes counted into `figures`: how `seedbox serve` counts the DiskWriter it calls directly. */
export function counted(sink: PieceSink, figures: WriteFigures): PieceSink {
  return {
    async writePiece(w) {
      let bytes = 0;
      for (const b of w.blocks) bytes += b.byteLength;
      figures.begin();
      try {
        const outcome = await sink.writePiece(w);
        figures.record(outcome, bytes);
        return outcome;
      } finally {
        figures.end();
      }
    },
  };
}
