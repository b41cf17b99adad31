/**
 * The one interface between peer-worker and disk-writer. It has two
 * transports: in-process (the embedded mode calls a DiskWriter directly)
 * and NATS (the cluster), and the peer-worker cannot tell them apart.
 */
export interface PieceWrite {
  /** Hex info hash. */
  infoHash: string;
  index: number;
  /**
   * The piece's bytes in order, as received; never concatenated on the way.
   * The sink owns them from the call on: an in-process sink may transfer
   * them to a worker thread, which leaves the caller's views detached. Once
   * it answers (with anything but unknown-torrent, which a caller may send
   * again as it is), it may give them to the process's piece buffers
   * (@seedbox/runtime's pieceBuffers) for the next piece: the caller must
   * not read them after the answer.
   */
  blocks: readonly Uint8Array[];
}

export type PieceWriteOutcome =
  | { status: 'written'; micros: number }
  | { status: 'hash-mismatch' }
  /**
   * Not written. `code` is the system's error code (ENOSPC, EROFS, EIO…)
   * when the writer's disk failed, and absent when the piece itself was
   * wrong (a length, an index): only the first is a reason for the writer
   * to step back (piece-write-server.ts).
   */
  | { status: 'io-error'; error: string; code?: string }
  | { status: 'unknown-torrent' };

export interface PieceSink {
  /**
   * Verifies and writes a piece. Answers io-error only after the sink's own
   * retries: it holds the piece until then, so the caller never sends it again.
   */
  writePiece(w: PieceWrite): Promise<PieceWriteOutcome>;
}
