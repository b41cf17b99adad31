/**
 * The PieceSink interface lives in @seedbox/cluster, next to its NATS
 * transport; the DiskWriter is its in-process side.
 */
export type { PieceSink, PieceWrite, PieceWriteOutcome } from '@seedbox/cluster';
