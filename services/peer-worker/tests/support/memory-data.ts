import { createHash } from 'node:crypto';
import { Bitfield, type Metainfo } from '@seedbox/protocol';
import type { PieceSink, PieceWrite, PieceWriteOutcome } from '@seedbox/cluster';
import type { TorrentData } from '../../src/torrent.js';

/** A PieceSink that verifies like the disk-writer and keeps pieces in memory. */
export class MemorySink implements PieceSink {
  readonly pieces = new Map<number, Buffer>();
  constructor(private readonly meta: Pick<Metainfo, 'pieceHashes'>) {}
  async writePiece(w: PieceWrite): Promise<PieceWriteOutcome> {
    const h = createHash('sha1');
    for (const b of w.blocks) h.update(b as Uint8Array);
    const expected = this.meta.pieceHashes.subarray(w.index * 20, w.index * 20 + 20);
    if (!h.digest().equals(expected)) return { status: 'hash-mismatch' };
    this.pieces.set(w.index, Buffer.concat(w.blocks.map((b) => Buffer.from(b))));
    return { status: 'written', micros: 0 };
  }
  content(): Buffer {
    return Buffer.concat([...this.pieces.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b));
  }
}

/** TorrentData with nothing on disk yet, or with `have` (and reads that `read` answers). */
export function memoryData(pieceCount: number, o: { have?: Bitfield; read?: TorrentData['read'] } = {}): TorrentData & { saved: Bitfield[] } {
  const saved: Bitfield[] = [];
  return {
    saved,
    check: async () => ({ have: o.have ?? new Bitfield(pieceCount), fastPath: false, hashed: 0 }),
    ...(o.read ? { read: o.read } : {}),
    save: async (have) => void saved.push(have.clone()),
  };
}
