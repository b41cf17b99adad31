import type { FileHandlePool, PooledFile } from './file-handles.js';
import { closeFd } from './file-opener.js';

/**
 * The open files of one torrent's storage: a descriptor per file in use or
 * kept for reuse, the least recently used idle ones closed beyond the
 * torrent's cap (and by the process's pool, file-handles.ts, beyond its
 * own), each closed only once no operation uses it.
 *
 * Descriptors are plain numbers, not FileHandles: another thread may close
 * them (FileCloser), which a FileHandle would not know of. Unlike a
 * FileHandle, a plain descriptor closed under a read or another thread's
 * write could be handed to another file, which the operation would then
 * reach: so every operation holds its file (hold, letGo), and `closeAll`
 * waits for them.
 */
export interface OpenFile extends PooledFile {
  /** Its descriptor, once open. */
  fd: Promise<number>;
  /** Let go by releaseAll while in use: no longer in `open`, and closed when its last user lets go. */
  release?: boolean;
  /** Created empty and not yet sized: its first write sizes it (see TorrentStorage.sizeFor). */
  unsized?: boolean;
}

/** Closes descriptors elsewhere than on the event loop (see StorageOptions.closer). */
export interface FileCloser {
  /** Closes `fd`, which nothing uses any more; resolves once it is closed. */
  closeFile(fd: number): Promise<void>;
}

export class OpenFiles {
  // The maps exist only while they hold something (undefined when empty): once
  // the process's pool has closed an idle torrent's files, its storage keeps
  // no empty Map or Set (~170 bytes each, times thousands of torrents).
  /** Every file open (or opening), by index. */
  private open: Map<number, OpenFile> | undefined;
  /**
   * The files of `open` no operation uses, least recently used first (a
   * Map keeps insertion order): what an eviction closes. Kept apart so an
   * eviction never walks the files in use: a write of a piece covering
   * 4,000 small files holds them all, and letting each go with a walk over
   * the rest took 235 ms of the event loop per piece.
   */
  private idleFiles: Map<number, OpenFile> | undefined;
  /** Evicted files still closing: `closeAll()` waits for them too. */
  private closing: Set<Promise<void>> | undefined;
  /** Operations holding a file now. */
  private busy = 0;
  private idle: (() => void)[] | undefined;

  constructor(
    private readonly maxOpen: number,
    private readonly pool: FileHandlePool,
    private readonly closer: FileCloser | undefined,
  ) {}

  /** File `index`, whether open or opening. */
  get(index: number): OpenFile | undefined {
    return this.open?.get(index);
  }

  has(index: number): boolean {
    return this.open?.has(index) ?? false;
  }

  /**
   * File `index` marked in use (not closed) until letGo; when it is not
   * open, `opening` opens it (on this thread or in another), given the new
   * entry to mark. An opening that fails forgets the file.
   */
  hold(index: number, opening: (entry: OpenFile) => Promise<number>): OpenFile {
    const open = (this.open ??= new Map());
    let entry = open.get(index);
    if (entry) {
      if (entry.users === 0) this.notIdle(index);
    } else {
      const opened: OpenFile = { fd: undefined!, users: 0, lastUsed: 0, evict: () => this.evicted(index, opened) };
      opened.fd = opening(opened);
      entry = opened;
      open.set(index, entry);
      opened.fd.catch(() => {
        if (this.open?.get(index) === opened) {
          this.forget(index);
          this.pool.forget(opened);
        }
      });
    }
    // In use before the pool hears of it: the pool too keeps its idle files apart.
    entry.users++;
    this.busy++;
    this.pool.touch(entry);
    return entry;
  }

  /** An operation is done with the file: idle from now, closed if due (hold's other half). */
  letGo(index: number, entry: OpenFile): void {
    entry.users--;
    if (--this.busy === 0 && this.idle) {
      for (const wake of this.idle.splice(0)) wake();
      this.idle = undefined;
    }
    if (entry.release) {
      if (entry.users === 0) this.closeLater(entry);
    } else if (this.open?.get(index) === entry) {
      if (entry.users === 0) (this.idleFiles ??= new Map()).set(index, entry); // idle from now, the most recently used
      this.pool.touch(entry);
    }
    this.evict();
    this.pool.trim();
  }

  /**
   * Closes every file (one in use when its operation ends); the next use
   * opens it again by its path, even while an earlier one still holds the
   * old descriptor.
   */
  releaseAll(): void {
    for (const [index, entry] of this.open ?? []) {
      if (entry.users > 0) {
        entry.release = true;
        this.forget(index);
        this.pool.forget(entry);
        continue;
      }
      this.drop(index, entry);
    }
  }

  /** Closes every file once no operation holds one (a caller makes sure no new one starts). */
  async closeAll(): Promise<void> {
    if (this.busy > 0) await new Promise<void>((wake) => (this.idle ??= []).push(wake));
    const all = [...(this.open?.values() ?? [])];
    this.open = undefined;
    this.idleFiles = undefined;
    for (const e of all) {
      this.pool.forget(e);
      this.closeLater(e);
    }
    await Promise.all(this.closing ?? []);
  }

  /** Forgets a file and closes it. */
  private drop(index: number, entry: OpenFile): void {
    this.forget(index);
    this.pool.forget(entry);
    this.closeLater(entry);
  }

  /** The process's pool closed this file (over its cap, or unused for a while). */
  private evicted(index: number, entry: OpenFile): void {
    if (this.open?.get(index) !== entry) return;
    this.forget(index);
    this.closeLater(entry);
  }

  /** Takes the file out of `open`, and lets the map go with its last file. */
  private forget(index: number): void {
    if (this.open?.delete(index) && this.open.size === 0) this.open = undefined;
    this.notIdle(index);
  }

  private notIdle(index: number): void {
    if (this.idleFiles?.delete(index) && this.idleFiles.size === 0) this.idleFiles = undefined;
  }

  private closeLater(entry: OpenFile): void {
    const closing: Promise<void> = entry.fd.then((fd) => this.closeDescriptor(fd)).catch(() => undefined);
    (this.closing ??= new Set()).add(closing);
    void closing.then(() => {
      if (this.closing?.delete(closing) && this.closing.size === 0) this.closing = undefined;
    });
  }

  /** Closes the least recently used idle files while over the cap; files in use stay open (over the cap for a while rather than closed under a write). */
  private evict(): void {
    while (this.open && this.open.size > this.maxOpen && this.idleFiles) {
      const [index, entry] = this.idleFiles.entries().next().value as [number, OpenFile];
      this.drop(index, entry);
    }
  }

  private closeDescriptor(fd: number): Promise<void> {
    return this.closer ? this.closer.closeFile(fd) : closeFd(fd);
  }
}
