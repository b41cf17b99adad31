/**
 * The open files of every torrent's storage in the process, as one LRU
 * with one cap, and closed once nobody has used them for a while.
 *
 * A seedbox keeps thousands of torrents, nearly all idle: their files must
 * not stay open because someone once read them (10,000 seeding torrents
 * would hold 10,000 descriptors and more, past the usual `ulimit -n` of
 * 1024). Each TorrentStorage keeps its own cap too (a many-file torrent
 * alone is held to it); this pool is what all of them share: past
 * `maxOpen`, the least recently used file that no operation is using is
 * closed, whichever torrent it belongs to, and one timer for the process
 * closes those unused for `idleMs`. A closed file is opened again on its
 * next use.
 */

/** One open file of some storage, as the pool sees it. */
export interface PooledFile {
  /** Operations using the file now: it is closed only when idle. */
  users: number;
  /** When an operation last finished with it (or it was opened), by the pool's clock. */
  lastUsed: number;
  /** Its storage forgets it and closes it (the pool has already let it go). */
  evict(): void;
}

export interface FileHandlePoolOptions {
  /** Most files open at once over the process (more only while in use). Default 512. */
  maxOpen?: number;
  /** A file nobody used for this long is closed. Default 60 s. */
  idleMs?: number;
  now?: () => number;
}

export const DEFAULT_PROCESS_MAX_OPEN_FILES = 512;
export const DEFAULT_IDLE_CLOSE_MS = 60_000;

export class FileHandlePool {
  readonly maxOpen: number;
  readonly idleMs: number;
  private readonly now: () => number;
  /** Every file open (or opening). */
  private readonly files = new Set<PooledFile>();
  /**
   * The files no operation uses, least to most recently used (a Set keeps
   * insertion order): what the cap and the idle sweep close. Kept apart
   * so neither walks the files in use (see OpenFiles.idleFiles).
   */
  private readonly idle = new Set<PooledFile>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(options: FileHandlePoolOptions = {}) {
    this.maxOpen = Math.max(1, options.maxOpen ?? DEFAULT_PROCESS_MAX_OPEN_FILES);
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_CLOSE_MS;
    this.now = options.now ?? Date.now;
  }

  /** Files open now (or opening), every storage's. */
  get openCount(): number {
    return this.files.size;
  }

  /**
   * A file was opened or is used (its `users` counted first), or an
   * operation finished with it: most recently used now, and idle when
   * nobody uses it.
   */
  touch(f: PooledFile): void {
    this.files.add(f);
    this.idle.delete(f);
    if (f.users === 0) this.idle.add(f);
    f.lastUsed = this.now();
    // One timer for the process, and only while something is open: an idle process wakes for nothing.
    this.sweeper ??= setInterval(() => this.closeIdle(), Math.max(1000, this.idleMs / 2)).unref();
  }

  /** Its storage closed it. */
  forget(f: PooledFile): void {
    this.files.delete(f);
    this.idle.delete(f);
    if (this.files.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** Closes the least recently used files no operation is using, until the cap holds. */
  trim(): void {
    for (const f of this.idle) {
      if (this.files.size <= this.maxOpen) break;
      this.close(f);
    }
  }

  /** Closes the files nobody has used for `idleMs`. */
  closeIdle(): void {
    const t = this.now();
    for (const f of this.idle) {
      // In order of last use: the rest are newer.
      if (t - f.lastUsed < this.idleMs) break;
      this.close(f);
    }
  }

  private close(f: PooledFile): void {
    this.forget(f);
    f.evict();
  }
}

/** The pool every TorrentStorage of the process shares unless given its own. */
export const processFiles = new FileHandlePool();
