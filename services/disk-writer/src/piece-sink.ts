/**
 * The one interface between peer-worker and disk-writer. It has two
 * transports: in-process (the embedded mode calls a DiskWriter directly)
 * and NATS (the cluster), and the peer-worker cannot tell them apart.
 */
export interface PieceWrite {
  /** Hex info hash. */
  infoHash: string;
  index: number;
  /** The piece's bytes in order, as received; never concatenated on the way. */
  blocks: readonly Uint8Array[];
}

export type PieceWriteOutcome =
  | { status: 'written'; micros: number }
  | { status: 'hash-mismatch' }
  | { status: 'io-error'; error: string }
  | { status: 'unknown-torrent' };

export interface PieceSink {
  writePiece(w: PieceWrite): Promise<PieceWriteOutcome>;
}
