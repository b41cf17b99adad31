import { close as closeCb, constants as fsConstants, existsSync, fstat as fstatCb, ftruncate as ftruncateCb, open as openCb, readlinkSync } from 'node:fs';
import { lstat, mkdir, readdir, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { basename, dirname, join, relative, sep } from 'node:path';
import { describeIoError, StorageError } from './storage-errors.js';
import type { NewFile } from './write-targets.js';

/**
 * Opening a torrent's files without ever leaving its folder (see the
 * class comment of TorrentStorage for the rules): the file itself is
 * opened with O_NOFOLLOW; on Linux its real place is read from
 * /proc/self/fd after the open (one system call, answered from memory, with
 * no window between a check and the open), and a file created somewhere
 * else that way is removed again; where there is no /proc, every folder on
 * the way is lstat'ed before each open. Folders are checked as they are
 * made. A file not seen to exist is created with O_EXCL, and creates run
 * one at a time; one seen and gone since is not created again
 * (STORAGE_FILE_MISSING) until a check forgets what was seen. A new file
 * may be created by the thread that writes it instead, under the same
 * rules (createElsewhere, write-targets.ts).
 */

/**
 * Whether /proc/self/fd names where each open file really is (Linux; a
 * readlink there is answered from memory, never by the disk, so it is done
 * synchronously). Then a file is opened first and its place checked after.
 */
export const OPENED_PATH_KNOWN = process.platform === 'linux' && existsSync('/proc/self/fd');

// Plain descriptors, not FileHandles: another thread closes them (see
// TorrentStorage's FileCloser), which a FileHandle would not know of.
const openFd = promisify(openCb);
const fstat = promisify(fstatCb);
const ftruncate = promisify(ftruncateCb);
/** Closes a descriptor on this thread (through libuv's pool). */
export const closeFd = promisify(closeCb);

/** A folder holding at least this many of a torrent's files is listed (see listed) rather than its files asked one by one. */
export const LIST_MIN = 8;

/** How a file is to be opened. */
export interface OpenHow {
  /** A write: a missing file is created, and its missing folders. */
  create?: boolean | undefined;
  /** Its folders were checked just now (a listing's pass): not again. */
  foldersChecked?: boolean | undefined;
}

export interface OpenedFile {
  fd: number;
  /** Created just now, empty, and not yet sized to its length. */
  unsized: boolean;
}

export class FileOpener {
  /**
   * 1 for each file seen to exist (opened or created since): a write opens
   * it as it is, and refuses to make it again if it is gone; any other is
   * created exclusively, which proves it new, so its type and size need no
   * check. Made by the first write (a seeding torrent never has one).
   */
  private seen: Uint8Array | undefined;
  /** The last create queued (oneCreateAtATime), until it ends. */
  private creating: Promise<void> | undefined;

  /**
   * `root`: the download folder, symlinks resolved; `paths`: each file's
   * absolute path under it (undefined for padding files); `lengths`: each
   * file's length.
   */
  constructor(
    private readonly root: string,
    private readonly paths: readonly (string | undefined)[],
    private readonly lengths: readonly number[],
    private readonly readOnly: boolean,
  ) {}

  /**
   * Whether each file is listed in its folder now (padding files never are):
   * one `readdir` per folder that holds LIST_MIN or more of the torrent's
   * files, not a `stat` per file. For a folder with fewer, undefined: a
   * listing could cost more than the files (a single-file torrent in a save
   * folder shared with thousands of others), so ask the file itself. With
   * `check`, every folder on the way is checked first (no symlinks; see
   * checkFolders). A file listed may still be a symlink or a folder:
   * opening it tells. Without `check`, a folder whose files were all seen to
   * exist is not listed either (undefined: ask them): at the end of a
   * download every file was, and the listing of every folder for the
   * resume data cost 30 ms of 10,000 files for nothing.
   */
  async listed(check = false): Promise<(boolean | undefined)[]> {
    const byFolder = new Map<string, number[]>();
    this.paths.forEach((p, i) => {
      if (p === undefined) return;
      const folder = dirname(p);
      const files = byFolder.get(folder);
      if (files) files.push(i);
      else byFolder.set(folder, [i]);
    });
    const out: (boolean | undefined)[] = this.paths.map((p) => (p === undefined ? false : undefined));
    for (const [folder, files] of byFolder) {
      let names: Set<string>;
      try {
        if (check) await this.checkFolders(folder, false);
        if (files.length < LIST_MIN || (!check && this.allSeen(files))) continue;
        names = new Set(await readdir(folder));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
          for (const i of files) out[i] = false;
          continue;
        }
        throw describeIoError(err, folder);
      }
      for (const i of files) out[i] = names.has(basename(this.paths[i]!));
    }
    return out;
  }

  /**
   * Opens file `index`, refusing a symlink anywhere on the way (see the
   * class comment). Where /proc tells where an open file really is (Linux),
   * the file is opened first and its place checked after, with no race and
   * one system call; elsewhere every folder is lstat'ed before the open.
   */
  async open(index: number, how: OpenHow = {}): Promise<OpenedFile> {
    const path = this.paths[index]!;
    const create = how.create === true && !this.readOnly;
    if (!how.foldersChecked && !OPENED_PATH_KNOWN) await this.checkFolders(dirname(path), create);
    if (create && this.seen?.[index] !== 1) {
      const made = await this.createNew(index);
      if (made) return made;
    }
    let fd: number;
    try {
      fd = await this.openPath(path, this.flags);
    } catch (err) {
      // Seen before, gone now, and not made again: the pieces it held would
      // be counted as there when they are not, and a volume unmounted under
      // the download would have the file made on the disk below its mount
      // point, where the data goes on landing unseen. A check (forgetFiles)
      // looks at the disk again first.
      if (create && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        // A folder on the way swapped for a symlink is said as that.
        await this.checkFolders(dirname(path), false).catch((e: unknown) => {
          if (e instanceof StorageError) throw e;
        });
        throw new StorageError('STORAGE_FILE_MISSING', `${path} is gone: it was there before (its volume unmounted, or the file deleted); a recheck finds what is left`, path, { cause: err });
      }
      throw err;
    }
    try {
      await this.checkPlace(fd, path);
      const st = await fstat(fd);
      if (!st.isFile()) throw new StorageError('STORAGE_NOT_A_FILE', `${path} is not a regular file`, path);
      if (!this.readOnly) this.markSeen(index);
      // Sparse: extending leaves a hole, and blocks are allocated as pieces
      // land. Never shortened: a longer file is someone's data, not ours to cut.
      const length = this.lengths[index]!;
      if (!this.readOnly && st.size < length) await ftruncate(fd, length);
    } catch (err) {
      await closeFd(fd);
      throw err;
    }
    return { fd, unsized: false };
  }

  /**
   * Creates file `index` exclusively, and its missing folders; undefined
   * when it exists already (or a symlink stands there: O_EXCL refuses those
   * too), to be opened as it is. Success proves a new empty regular file of
   * ours, so neither its type nor its size needs a check. It is left empty
   * (`unsized`): its first write sizes it, by reaching its end or by a
   * truncate before it (see TorrentStorage.writePiece).
   */
  private async createNew(index: number): Promise<OpenedFile | undefined> {
    const path = this.paths[index]!;
    const flags = this.flags | fsConstants.O_CREAT | fsConstants.O_EXCL;
    let fd: number;
    try {
      fd = await this.oneCreateAtATime(() => this.openPath(path, flags));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return undefined;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      // A folder is missing (or not a folder: checkFolders says so): made (each folder on the way checked), then once more.
      await this.checkFolders(dirname(path), true);
      try {
        fd = await this.oneCreateAtATime(() => this.openPath(path, flags));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
        throw e;
      }
    }
    try {
      await this.checkPlace(fd, path, true);
    } catch (err) {
      await closeFd(fd);
      throw err;
    }
    this.markSeen(index);
    return { fd, unsized: this.lengths[index]! > 0 };
  }

  /**
   * Runs the creates of this storage one after the other. Creates in one
   * folder take its lock in the kernel, and a thread waiting for it spins
   * (ext4 without a journal also scans past recently freed inodes under
   * it): creates issued from every thread of the pool at once burnt a core
   * for nothing while downloading 10,000 small files.
   */
  private oneCreateAtATime<T>(create: () => Promise<T>): Promise<T> {
    const run = (this.creating ?? Promise.resolve()).then(create, create);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.creating = tail;
    void tail.then(() => {
      if (this.creating === tail) this.creating = undefined;
    });
    return run;
  }

  /**
   * How another thread may create file `index` (a write's
   * WriteTarget.create, write-targets.ts), or undefined when this thread
   * must open it (open). Only a file never seen: the other thread creates
   * it exclusively, and its missing folders, checking each as checkFolders
   * does and the file's place through /proc as createNew does; anything
   * else (it exists already) is left to open.
   */
  createElsewhere(index: number): NewFile | undefined {
    if (!OPENED_PATH_KNOWN || this.readOnly || this.seen?.[index] === 1) return undefined;
    const path = this.paths[index];
    if (path === undefined) return undefined;
    return { root: this.root, path, flags: this.flags | fsConstants.O_CREAT | fsConstants.O_EXCL };
  }

  /**
   * Forgets which files were seen: a check is looking at the disk again
   * (a volume mounted again, files deleted on purpose), and a file missing
   * now is one to create.
   */
  forgetSeen(): void {
    this.seen = undefined;
  }

  /** File `index` exists now (created by another thread): a write opens it as it is. */
  private allSeen(files: readonly number[]): boolean {
    const seen = this.seen;
    return seen !== undefined && files.every((i) => seen[i] === 1);
  }

  markSeen(index: number): void {
    (this.seen ??= new Uint8Array(this.paths.length))[index] = 1;
  }

  /**
   * Refuses a file opened somewhere other than `path` (a folder on the way
   * is a symlink) with STORAGE_SYMLINK. One it created just now
   * (`created`: empty, and its own) is removed again first. Nothing to
   * check without /proc (checkFolders ran instead).
   */
  private async checkPlace(fd: number, path: string, created = false): Promise<void> {
    if (!OPENED_PATH_KNOWN) return;
    const real = readlinkSync(`/proc/self/fd/${fd}`);
    if (real === path) return;
    if (created) await unlink(real).catch(() => {});
    throw new StorageError('STORAGE_SYMLINK', `${path} leads to ${real}: a folder on the way is a symlink; refusing to follow it`, path);
  }

  /** The open flags of every file. */
  private get flags(): number {
    return (
      (this.readOnly ? fsConstants.O_RDONLY : fsConstants.O_RDWR) |
      // The file itself must not be a symlink either.
      fsConstants.O_NOFOLLOW |
      // A FIFO planted in place of a file would block the open forever;
      // on a regular file the flag changes nothing.
      fsConstants.O_NONBLOCK
    );
  }

  private async openPath(path: string, flags: number): Promise<number> {
    try {
      return await openFd(path, flags, 0o644);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw new StorageError('STORAGE_SYMLINK', `${path} is a symlink; refusing to follow it`, path, { cause: err });
      if (code === 'EISDIR') throw new StorageError('STORAGE_NOT_A_FILE', `${path} is a folder, not a file`, path, { cause: err });
      throw err;
    }
  }

  /** lstat each folder from the root down to `folder`, refusing symlinks; creates missing ones for a write (`create`). */
  private async checkFolders(folder: string, create: boolean): Promise<void> {
    const folders = folder === this.root ? [] : relative(this.root, folder).split(sep);
    let at = this.root;
    for (const seg of folders) {
      at = join(at, seg);
      let st;
      try {
        st = await lstat(at);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !create) throw err;
        try {
          await mkdir(at);
        } catch (e) {
          // Another torrent (or a concurrent open) made it first: check what it made.
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        st = await lstat(at);
      }
      if (st.isSymbolicLink()) throw new StorageError('STORAGE_SYMLINK', `${at} is a symlink; refusing to follow it`, at);
      if (!st.isDirectory()) throw new StorageError('STORAGE_NOT_A_FILE', `${at} is not a folder`, at);
    }
  }
}
