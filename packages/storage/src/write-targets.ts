/**
 * A piece written by the hash thread (Sha1Pool.hashAndWrite): the files it
 * covers are opened on the event loop (TorrentStorage.writePieceVia, with
 * every check), and their descriptors, which every thread of the process
 * shares, go to the thread with the piece. There it is hashed and, when the
 * hash matches, written with synchronous positional writes, then answered:
 * one hop between threads per piece, where an asynchronous write costs one
 * per file it covers (each a handoff to libuv's pool and back, 15-40 µs of
 * the loop's time on this machine, against 2 µs for the write itself).
 */
export interface WriteTarget {
  /** The open file's descriptor, held open by the storage until the write is answered. */
  fd: number;
  /** Where in the file the bytes go. */
  position: number;
  /** Where in the piece they start, and how many. */
  pieceOffset: number;
  length: number;
  /** Truncate the file to this length first: a new, empty file this write does not size by itself. */
  sizeTo?: number | undefined;
}

/** A write to `targets[target]` failed: `cause` is the system's error (with its code and call). */
export class WriteTargetError extends Error {
  override name = 'WriteTargetError';
  /** The piece's buffers to use afterwards (see HashResult), when the thread gave them back. */
  buffers: Uint8Array[] | undefined;
  constructor(
    readonly target: number,
    cause: NodeJS.ErrnoException,
  ) {
    super(cause.message, { cause });
  }
}
