import { createHash } from 'node:crypto';
import type { PieceSink, PieceWrite, PieceWriteOutcome } from '../../src/index.js';

/**
 * A sink that checks each piece against the expected bytes, as the
 * DiskWriter checks SHA-1, and counts what it wrote; `hold` keeps it
 * from answering (a writer frozen before it dies).
 */
export class CheckingSink implements PieceSink {
  readonly written = new Map<number, number>();
  hold: Promise<void> | undefined;
  calls = 0;
  constructor(private readonly expected: Map<number, Buffer>) {}
  async writePiece(w: PieceWrite): Promise<PieceWriteOutcome> {
    this.calls++;
    if (this.hold) await this.hold;
    const want = this.expected.get(w.index);
    if (!want) return { status: 'unknown-torrent' };
    const h = createHash('sha1');
    for (const b of w.blocks) h.update(b);
    if (!h.digest().equals(createHash('sha1').update(want).digest())) return { status: 'hash-mismatch' };
    this.written.set(w.index, (this.written.get(w.index) ?? 0) + 1);
    return { status: 'written', micros: 1 };
  }
}
