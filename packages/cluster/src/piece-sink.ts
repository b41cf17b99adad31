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
   * them to a worker thread, which leaves the caller's views detached.
   */
  blocks: readonly Uint8Array[];
}

export type PieceWriteOutcome =
  | { status: 'written'; micros: number }
  | { status: 'hash-mismatch' }
  | { status: 'io-error'; error: string }
  | { status: 'unknown-torrent' };

export interface PieceSink {
  /**
   * Verifies and writes a piece. Answers io-error only after the sink's own
   * retries: it holds the piece until then, so the caller never sends it again.
   */
  writePiece(w: PieceWrite): Promise<PieceWriteOutcome>;
}
