import type { FileStats } from './sha1-hasher.js';

/**
 * A piece written by the hash thread (Sha1Pool.hashAndWrite): the files it
 * covers are opened on the event loop (TorrentStorage.writePieceVia, with
 * every check), and their descriptors, which every thread of the process
 * shares, go to the thread with the piece. There it is hashed and, when the
 * hash matches, written with synchronous positional writes, then answered:
 * one hop between threads per piece, where an asynchronous write costs one
 * per file it covers (each a handoff to libuv's pool and back, 15-40 µs of
 * the loop's time on this machine, against 2 µs for the write itself).
 *
 * A file never written before is created by the thread itself, with its
 * missing folders, once the piece has checked out (`create`): opening
 * 10,000 new files one handoff each cost the loop a second. The thread
 * checks each folder it makes and the file's place as FileOpener does,
 * and answers the file's descriptor, which the storage owns from then on.
 */
export interface WriteTarget {
  /** The open file's descriptor, held open by the storage until the write is answered; undefined with `create`. */
  fd?: number | undefined;
  /** The file is new: the thread creates it (see NewFile) and answers its descriptor (TargetsWritten.opened). */
  create?: NewFile | undefined;
  /** Where in the file the bytes go. */
  position: number;
  /** Where in the piece they start, and how many. */
  pieceOffset: number;
  length: number;
  /** Truncate the file to this length first: a new, empty file this write does not size by itself. */
  sizeTo?: number | undefined;
}

/**
 * A file to create: `path` opened with `flags` (O_CREAT | O_EXCL and
 * O_NOFOLLOW among them), and refused (removed, closed, STORAGE_SYMLINK)
 * unless /proc/self/fd shows it opened at `path` itself. Its missing
 * folders below `root` are made first, each lstat'ed: a symlink on the way
 * is STORAGE_SYMLINK, anything else but a folder STORAGE_NOT_A_FILE.
 */
export interface NewFile {
  root: string;
  path: string;
  flags: number;
}

/** What writing to the targets did. */
export interface TargetsWritten {
  /** The piece was written (false: its hash did not match, nothing was written or created). */
  wrote: boolean;
  /** The descriptor of each target the thread created, by target index: the storage's to keep and close. */
  opened?: readonly (number | undefined)[] | undefined;
  /**
   * Each target's file as the write left it (fstat'ed after its bytes were
   * down), by target index: what the resume data keeps of it, so that
   * saving it need not stat every file by path (see WrittenStates).
   */
  stats?: readonly (FileStats | undefined)[] | undefined;
}

/**
 * A write to `targets[target]` failed, or its create did: `cause` is the
 * system's error (with its code and call; STORAGE_SYMLINK for a file
 * created elsewhere than its path).
 */
export class WriteTargetError extends Error {
  override name = 'WriteTargetError';
  /** The piece's buffers to use afterwards (see HashResult), when the thread gave them back. */
  buffers: Uint8Array[] | undefined;
  /** The targets created before it failed, as TargetsWritten.opened: still the storage's to keep and close. */
  opened: readonly (number | undefined)[] | undefined;
  constructor(
    readonly target: number,
    cause: NodeJS.ErrnoException,
  ) {
    super(cause.message, { cause });
  }
}
