/**
 * Storage's two kinds of failure. A StorageError is a rule broken (a
 * symlink, a path that leaves the folder, a bad layout): the same on every
 * retry. A StorageIoError is the operating system refusing (a full disk, a
 * read-only or failing volume), which may pass.
 *
 * A StorageIoError says what happened in the words a person reads in
 * `seedbox ls`, the web APIs and the logs. Node's own text names the call
 * but not the file for calls on an open handle ("ENOSPC: no space left on
 * device, write"), and its wording differs by call. The codes a full or
 * failing volume gives are put in plain words here, once, with the path
 * kept: "no space left on device writing /srv/data/big.bin (ENOSPC)".
 */

export type StorageErrorCode =
  /** The layout itself is inconsistent (lengths, piece hashes, two files on one path). */
  | 'STORAGE_BAD_LAYOUT'
  /** A name or path segment that is not a plain file name (empty, `.`, NUL). */
  | 'STORAGE_BAD_PATH'
  /** A path that would leave the download folder (`..`, a separator, an absolute path). */
  | 'STORAGE_PATH_ESCAPES'
  /** A symlink where a folder or file of the torrent should be. */
  | 'STORAGE_SYMLINK'
  /** Something other than a regular file (or folder) stands where one should be. */
  | 'STORAGE_NOT_A_FILE'
  /** A file is shorter than the torrent says (when reading). */
  | 'STORAGE_SHORT_FILE'
  /**
   * A file seen to exist (written, or there when storage opened) is gone:
   * its volume unmounted, or deleted by hand. Not created again until a
   * check has looked at the disk (TorrentStorage.forgetFiles).
   */
  | 'STORAGE_FILE_MISSING'
  /** A write to storage opened without `create`. */
  | 'STORAGE_READ_ONLY'
  | 'STORAGE_CLOSED';

export class StorageError extends Error {
  override name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    /** The path (or path segments joined by `/`) the rule was broken at. */
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The plain words for the error codes of a volume that is full or failing; other codes keep Node's words. */
const PLAIN: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on device',
  // A quota is a full disk to the one who hit it.
  EDQUOT: 'no space left on device',
  EROFS: 'read-only file system',
  EIO: 'I/O error',
};

/** What was being done, by the failing system call. */
const DOING: Readonly<Record<string, string>> = {
  write: 'writing',
  writev: 'writing',
  read: 'reading',
  open: 'opening',
  mkdir: 'making the folder',
  ftruncate: 'sizing',
  fstat: 'reading the size of',
  realpath: 'resolving',
  lstat: 'looking at',
};

/**
 * A file of the torrent could not be used because the operating system
 * refused (a full disk, a read-only or failing volume). Unlike a
 * StorageError (a rule broken, the same on every retry), the volume may
 * recover: the disk-writer retries these, and a torrent in error may be
 * resumed once the volume is fixed.
 */
export class StorageIoError extends Error {
  override name = 'StorageIoError';
  constructor(
    /** The error code the system gave (ENOSPC, EROFS, EIO…), as Node's `err.code`. */
    readonly code: string,
    message: string,
    /** The file or folder it happened on. */
    readonly path: string,
    /** The system call that failed (write, open…). */
    readonly syscall: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The plain words for an error code: "no space left on device" for ENOSPC; undefined for codes without any. */
export function plainIoWords(code: string): string | undefined {
  return PLAIN[code];
}

/**
 * Wraps an error from a file operation on `path` as a StorageIoError with
 * a sentence that names the path; anything that is not a system error (a
 * `code` and a `syscall`, as Node gives them) is answered unchanged.
 */
export function describeIoError(err: unknown, path: string): unknown {
  if (err instanceof StorageIoError || err instanceof StorageError) return err;
  const e = err as NodeJS.ErrnoException;
  if (!(e instanceof Error) || typeof e.code !== 'string' || typeof e.syscall !== 'string') return err;
  const words = PLAIN[e.code] ?? nodeWords(e);
  const doing = DOING[e.syscall] ?? `${e.syscall} on`;
  // A call on a path names the path it failed on (a folder on the way, say); one on a handle names none.
  const where = typeof e.path === 'string' ? e.path : path;
  return new StorageIoError(e.code, `${words} ${doing} ${where} (${e.code})`, where, e.syscall, { cause: err });
}

/** Node's words without its code prefix and call suffix: "ENOENT: no such file or directory, open '/x'" → "no such file or directory". */
function nodeWords(e: NodeJS.ErrnoException): string {
  const m = /^[A-Z0-9_]+: ([^,]+)/.exec(e.message);
  return m?.[1] ?? e.message;
}
