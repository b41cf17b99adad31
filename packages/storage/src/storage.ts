import { ftruncate as ftruncateCb, read as readCb, writev as writevCb } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { promisify } from 'node:util';
import { PieceGeometry, type FileSpan } from '@seedbox/protocol';
import { processFiles, type FileHandlePool } from './file-handles.js';
import { FileOpener, type OpenHow } from './file-opener.js';
import { OpenFiles, type FileCloser, type OpenFile } from './open-files.js';
import { filePaths } from './file-paths.js';
import { makeFolders } from './make-folders.js';
import { describeIoError, StorageError, StorageIoError } from './storage-errors.js';
import type { FileStats, Sha1Hasher } from './sha1-pool.js';
import { cutAtSpans, writeAll } from './vectored-write.js';
import { WriteTargetError, type TargetsWritten, type WriteTarget } from './write-targets.js';
import { WrittenStates } from './written-states.js';

/**
 * The files of one torrent on the shared volume: `DIR/<name>` for a
 * single-file torrent, `DIR/<name>/<path…>` for a multi-file one, as every
 * client lays them out.
 *
 * Nothing is ever read or written outside DIR. The metainfo parser already
 * refuses `..`, separators and absolute segments; storage checks again,
 * because a layout can reach it by other ways (the registry, a message),
 * and it refuses to follow a symlink planted inside DIR. The file itself
 * is opened with O_NOFOLLOW; for the folders on the way, on Linux each
 * opened file's real place is read from /proc/self/fd after the open (one
 * system call, answered from memory, and no window between a check and the
 * open); a file created somewhere else that way is removed again. Where
 * there is no /proc, every folder on the way is lstat'ed before each open
 * (a folder swapped for a symlink between the lstat and the open would
 * then still be followed; closing that needs openat2's RESOLVE_BENEATH,
 * which Node does not offer). Folders are always checked as they are
 * made, and when storage opens.
 *
 * Files are created lazily, by the first write that lands in them, and
 * sized sparse to their final length then; reads never create anything.
 * So a file whose pieces are never fetched (a skipped file, see the
 * peer-worker's file-selection.ts) is never created, nor its folders. A
 * piece shared between a skipped and a wanted file is written whole (its
 * hash covers both): the skipped file then exists at its full length,
 * sparse, holding only the bytes of those shared pieces (at most one piece
 * at each end of it) and holes, which read as zeros, everywhere else.
 * Zero-length files hold no piece, so they are made when storage opens.
 * A file seen to exist and gone since (a volume unmounted, a file deleted)
 * is not made again by a write, which fails with STORAGE_FILE_MISSING,
 * until a check has looked at the disk (forgetFiles).
 */
export interface StorageLayout {
  infoHashHex: string;
  name: string;
  multiFile: boolean;
  pieceLength: number;
  totalLength: number;
  /** The 20-byte SHA-1 of every piece, concatenated. */
  pieceHashes: Uint8Array;
  files: readonly { path: readonly string[]; length: number; padding?: boolean }[];
}

export { StorageError, type StorageErrorCode } from './storage-errors.js';

export interface StorageOptions {
  /**
   * Writable: folders and files are created as pieces are written (sparse,
   * at their final size), zero-length files at once, and existing files
   * shorter than the torrent says are extended. Without it, storage is
   * read-only (seeding, resume checks).
   */
  create: boolean;
  /** Most file handles this torrent keeps open; the least recently used idle ones are closed beyond it. */
  maxOpenFiles?: number;
  /**
   * The open files of the process, which every storage's count against,
   * and which closes files unused for a while (file-handles.ts). Default:
   * the process's one pool.
   */
  files?: FileHandlePool;
  /**
   * Closes the storage's descriptors in another thread, where a close costs
   * no handoff (Sha1Pool.closeFile). Default: closed through libuv's pool.
   */
  closer?: FileCloser;
}

export type { FileCloser } from './open-files.js';

export const DEFAULT_MAX_OPEN_FILES = 256;

// On the plain descriptors the storage holds (open-files.ts).
const ftruncate = promisify(ftruncateCb);
const writev = promisify(writevCb);
const read = promisify(readCb);

export class TorrentStorage {
  readonly layout: StorageLayout;
  readonly geometry: PieceGeometry;
  /** The download folder, symlinks resolved: the boundary nothing may leave. */
  readonly root: string;
  /** Absolute path of each file; undefined for padding files, which are never created. */
  readonly paths: readonly (string | undefined)[];
  private readonly readOnly: boolean;
  private readonly files: OpenFiles;
  private readonly opener: FileOpener;
  /** Each file as our last write through a hash thread left it (writePieceVia), for the resume data; made by the first such write (a seeding torrent never has one). */
  private written: WrittenStates | undefined;
  private closed = false;

  private constructor(layout: StorageLayout, geometry: PieceGeometry, root: string, paths: (string | undefined)[], options: StorageOptions) {
    this.layout = layout;
    this.geometry = geometry;
    this.root = root;
    this.paths = paths;
    this.readOnly = !options.create;
    this.files = new OpenFiles(options.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES, options.files ?? processFiles, options.closer);
    this.opener = new FileOpener(
      root,
      paths,
      layout.files.map((f) => f.length),
      this.readOnly,
    );
  }

  /**
   * Opens a torrent's storage under `dir`. With `create`, makes `dir`, the
   * zero-length files, and extends existing files to their final length
   * (sparse; a file is only ever extended, so existing data, a resumed
   * download, is kept); the other files come with their first write.
   * A symlink or a non-file where an existing file of the torrent stands
   * is refused here, at open.
   */
  static async open(layout: StorageLayout, dir: string, options: StorageOptions): Promise<TorrentStorage> {
    let geometry: PieceGeometry;
    try {
      geometry = new PieceGeometry(layout);
    } catch (err) {
      throw new StorageError('STORAGE_BAD_LAYOUT', (err as Error).message, layout.name, { cause: err });
    }
    if (layout.pieceHashes.length !== geometry.pieceCount * 20) {
      throw new StorageError(
        'STORAGE_BAD_LAYOUT',
        `${layout.pieceHashes.length} bytes of piece hashes for ${geometry.pieceCount} pieces`,
        layout.name,
      );
    }
    let root: string;
    try {
      if (options.create) await makeFolders(dir);
      // The download folder itself may be a symlink (the operator's choice);
      // only what lies below it is the torrent's.
      root = await realpath(dir);
    } catch (err) {
      throw describeIoError(err, dir);
    }
    const paths = filePaths(layout, root);
    const storage = new TorrentStorage(layout, geometry, root, paths, options);
    if (options.create) {
      try {
        await storage.createFiles();
      } catch (err) {
        await storage.close();
        throw err;
      }
    }
    return storage;
  }

  /**
   * Opens every file that exists (checking it, extending it) and creates the
   * zero-length ones; the rest wait for a write. Which exist is read from
   * their folders' listings where a folder holds many of them, each folder
   * checked once (FileOpener.listed): probing a fresh download's 10,000
   * files one open at a time took a second.
   */
  private async createFiles(): Promise<void> {
    const listed = await this.opener.listed(true);
    for (let i = 0; i < this.paths.length; i++) {
      if (this.paths[i] === undefined) continue;
      const empty = this.layout.files[i]!.length === 0;
      if (!empty && listed[i] === false) continue;
      try {
        // Its folders were checked by the listing's pass.
        await this.withFile(i, async () => {}, { create: empty, foldersChecked: true });
      } catch (err) {
        // Missing (not listed, or gone since the listing): it will come with its first write.
        if (empty || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }

  /**
   * Runs `fn` with file `index` open, opening it if needed (and closing idle
   * handles beyond the cap). Only `how.create` (a write) makes a missing
   * file and its folders; otherwise a missing one is ENOENT.
   */
  private async withFile<T>(index: number, fn: (fd: number) => Promise<T>, how: OpenHow = {}): Promise<T> {
    const entry = this.hold(index, how);
    try {
      return await fn(await entry.fd);
    } catch (err) {
      throw this.failed(index, err);
    } finally {
      this.letGo(index, entry);
    }
  }

  /** File `index`, opening it if needed, marked in use (not closed) until letGo. */
  private hold(index: number, how: OpenHow): OpenFile {
    return this.holdOpening(index, (entry) =>
      this.opener.open(index, how).then((o) => {
        if (o.unsized) entry.unsized = true;
        return o.fd;
      }),
    );
  }

  /** File `index` held as hold does; when it is not open, `opening` opens it (see OpenFiles.hold). */
  private holdOpening(index: number, opening: (entry: OpenFile) => Promise<number>): OpenFile {
    if (this.closed) throw new StorageError('STORAGE_CLOSED', 'the torrent storage is closed', this.root);
    return this.files.hold(index, opening);
  }

  private letGo(index: number, entry: OpenFile): void {
    this.files.letGo(index, entry);
  }

  /** An operation on file `index` failed: the error in plain words with the path, and a volume that failed (or went) is let go (releaseFiles). */
  private failed(index: number, err: unknown): unknown {
    const e = describeIoError(err, this.paths[index]!);
    if ((e instanceof StorageIoError && e.code !== 'ENOENT') || (e instanceof StorageError && e.code === 'STORAGE_FILE_MISSING')) this.releaseFiles();
    return e;
  }

  /**
   * Closes every file (one in use when its operation ends); the next use
   * reopens. Done after a system error, so that a volume that failed can be
   * unmounted and mounted again under a torrent in error (resume reopens).
   */
  releaseFiles(): void {
    this.files.releaseAll();
  }

  /**
   * Looks at the disk afresh, for a check: every file is closed (as
   * releaseFiles) and reopened by its path, and a file seen before and
   * gone since may be created again (writes refuse to until then:
   * STORAGE_FILE_MISSING), since the check counts its pieces as missing.
   * What our writes left of each file is forgotten too: the resume data
   * stats them again.
   */
  forgetFiles(): void {
    this.releaseFiles();
    this.opener.forgetSeen();
    this.written?.forget();
  }

  /** File `index` as our last write left it, when that is known and nothing writes it now (see WrittenStates). */
  writtenState(index: number): FileStats | undefined {
    return this.written?.get(index);
  }

  /** Whether each file is listed in its folder now; undefined: not known without asking the file (see FileOpener.listed). */
  listed(): Promise<(boolean | undefined)[]> {
    return this.opener.listed();
  }

  /**
   * The length to truncate the file of `span` (held as `entry`) to before
   * writing it: its length, when the file was created empty and this write
   * does not reach its end (a write that does sizes it by itself); else
   * undefined. Asked of the entry held, not of the open files: a
   * releaseFiles meanwhile takes it out of those.
   */
  private sizeFor(span: FileSpan, entry: OpenFile): number | undefined {
    const length = this.layout.files[span.fileIndex]!.length;
    return entry.unsized && span.fileOffset + span.length < length ? length : undefined;
  }

  /**
   * Writes a piece that has been verified, on this thread: one vectored
   * positional write per file it covers, from views of `blocks` (no copy),
   * through writePieceVia as the hash thread's writes go. Spans of padding
   * files are skipped: their bytes are zeros that belong to no file.
   */
  async writePiece(index: number, blocks: readonly Uint8Array[]): Promise<void> {
    // The spans of real files, in order: the targets writePieceVia gives, one for one.
    const cut = cutAtSpans(this.geometry.spans(index), blocks).filter((c) => this.paths[c.span.fileIndex] !== undefined);
    await this.writePieceVia(index, async (targets) => {
      for (let k = 0; k < targets.length; k++) {
        const { fd, position, sizeTo } = targets[k]!;
        try {
          if (sizeTo !== undefined) await ftruncate(fd!, sizeTo);
          await writeAll({ writev: (buffers, at) => writev(fd!, buffers, at) }, cut[k]!.parts, position);
        } catch (err) {
          throw new WriteTargetError(k, err as NodeJS.ErrnoException);
        }
      }
      return { wrote: true };
    });
  }

  /**
   * Whether writing piece `index` with `creates` (see writePieceVia) opens
   * no file on this thread: each file it covers is open (or opening), or
   * new, for the writing thread to create.
   */
  filesReady(index: number): boolean {
    for (const span of this.geometry.spans(index)) {
      const i = span.fileIndex;
      if (this.paths[i] !== undefined && !this.files.has(i) && !this.opener.createElsewhere(i)) return false;
    }
    return true;
  }

  /**
   * Writes piece `index` through `write`, which gets the descriptors of the
   * files it covers, held open until it is answered (write-targets.ts): the
   * hash thread checks the piece and writes it, with no hop back to this
   * thread between the two (Sha1Pool.hashAndWrite). `write` answers whether
   * it wrote (false: the hash did not match, nothing was written; the files
   * may have been created, empty). A WriteTargetError is answered in plain
   * words with its file's path, as writePiece's errors are.
   *
   * With `creates`, a file never written before is not opened here: its
   * target asks `write` to create it, and its missing folders
   * (WriteTarget.create), and the descriptor answered is kept as any other.
   * A create that fails there (the file exists after all) is done here
   * instead, with every check, and the piece written again; a symlink on
   * the way is refused as here.
   */
  async writePieceVia(index: number, write: (targets: WriteTarget[]) => Promise<TargetsWritten>, creates = false): Promise<boolean> {
    if (this.readOnly) throw new StorageError('STORAGE_READ_ONLY', 'the torrent storage was opened read-only', this.root);
    /** Files to open here even if new: their create failed in the other thread. */
    let here: Set<number> | undefined;
    for (;;) {
      const held: { fileIndex: number; entry: OpenFile }[] = [];
      const made = new Map<number, Deferred>();
      try {
        const targets: WriteTarget[] = [];
        let at = 0;
        for (const span of this.geometry.spans(index)) {
          const fileIndex = span.fileIndex;
          if (this.paths[fileIndex] !== undefined) {
            const create = creates && !this.files.has(fileIndex) && !here?.has(fileIndex) ? this.opener.createElsewhere(fileIndex) : undefined;
            const target = { position: span.fileOffset, pieceOffset: at, length: span.length };
            if (create) {
              const d = deferred();
              const entry = this.holdOpening(fileIndex, (e) => {
                e.unsized = this.layout.files[fileIndex]!.length > 0;
                return d.promise;
              });
              held.push({ fileIndex, entry });
              made.set(targets.length, d);
              targets.push({ ...target, create, sizeTo: this.sizeFor(span, entry) });
            } else {
              const entry = this.hold(fileIndex, { create: true });
              held.push({ fileIndex, entry });
              let fd: number;
              try {
                fd = await entry.fd;
              } catch (err) {
                // Its create in another thread's write was abandoned (see settle): opened here now.
                if (err instanceof CreateAbandoned) {
                  (here ??= new Set()).add(fileIndex);
                  throw err;
                }
                throw this.failed(fileIndex, err);
              }
              targets.push({ ...target, fd, sizeTo: this.sizeFor(span, entry) });
            }
          }
          at += span.length;
        }
        let result: TargetsWritten | undefined;
        const written = (this.written ??= new WrittenStates());
        for (const h of held) written.begin(h.fileIndex);
        try {
          result = await write(targets);
        } catch (err) {
          if (!(err instanceof WriteTargetError)) throw err;
          this.settle(held, made, err.opened);
          const failed = held[err.target];
          if (!failed) throw err;
          const cause = err.cause as NodeJS.ErrnoException;
          if (targets[err.target]!.create) {
            const path = this.paths[failed.fileIndex]!;
            if (cause.code === 'STORAGE_SYMLINK' || cause.code === 'STORAGE_NOT_A_FILE') throw new StorageError(cause.code, cause.message, path);
            (here ??= new Set()).add(failed.fileIndex);
            throw new CreateAbandoned();
          }
          throw this.failed(failed.fileIndex, cause);
        } finally {
          held.forEach((h, k) => written.end(h.fileIndex, result?.wrote ? result.stats?.[k] : undefined));
        }
        this.settle(held, made, result.opened);
        // Written: each file has its length now.
        if (result.wrote) for (const h of held) h.entry.unsized = false;
        return result.wrote;
      } catch (err) {
        if (!(err instanceof CreateAbandoned)) throw err;
        // Once more, the file opened here this time.
      } finally {
        this.settle(held, made, undefined);
        for (const h of held) this.letGo(h.fileIndex, h.entry);
      }
    }
  }

  /**
   * The files `write` was to create: each it answered a descriptor for is
   * open from now on (and seen to exist); the others were not created, and
   * are forgotten (a write waiting for one opens it itself).
   */
  private settle(held: readonly { fileIndex: number }[], made: Map<number, Deferred>, opened: readonly (number | undefined)[] | undefined): void {
    for (const [target, d] of made) {
      const fd = opened?.[target];
      if (fd === undefined) {
        d.reject(new CreateAbandoned());
      } else {
        this.opener.markSeen(held[target]!.fileIndex);
        d.resolve(fd);
      }
    }
    made.clear();
  }

  /**
   * Bytes [begin, begin+length) of piece `index`, read with positional
   * reads: for serving peers' requests. Padding bytes read as zeros.
   * `into`, when given, is read into instead of a new buffer (the read
   * cache's spare spans); it must be `length` bytes.
   */
  async readBlock(index: number, begin: number, length: number, into?: Uint8Array): Promise<Buffer> {
    if (into && into.length !== length) throw new RangeError(`readBlock: a ${length}-byte read into ${into.length} bytes`);
    const spans = this.geometry.spans(index, begin, length);
    // Not zeroed: every byte is read into, or is padding and zeroed below.
    const out = into ? Buffer.from(into.buffer, into.byteOffset, into.byteLength) : Buffer.allocUnsafeSlow(length);
    let at = 0;
    for (const span of spans) {
      const path = this.paths[span.fileIndex];
      if (path === undefined) {
        out.fill(0, at, at + span.length);
      } else {
        const start = at;
        await this.withFile(span.fileIndex, async (fd) => {
          let done = 0;
          while (done < span.length) {
            const { bytesRead } = await read(fd, out, start + done, span.length - done, span.fileOffset + done);
            if (bytesRead === 0) throw new StorageError('STORAGE_SHORT_FILE', `${path} is shorter than the torrent says`, path);
            done += bytesRead;
          }
        });
      }
      at += span.length;
    }
    return out;
  }

  /**
   * Reads piece `index` and checks its SHA-1 (resume checks). A piece
   * that cannot be read (a file missing or short) fails the check; other
   * errors, the hasher's included, are thrown.
   */
  async verifyPiece(index: number, hasher: Sha1Hasher): Promise<boolean> {
    let data: Buffer;
    try {
      data = await this.readBlock(index, 0, this.geometry.pieceSize(index));
    } catch (err) {
      if (err instanceof StorageError && err.code === 'STORAGE_SHORT_FILE') return false;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    const { digest } = await hasher.hash([data]);
    return digest.equals(this.expectedHash(index));
  }

  /** The 20-byte SHA-1 the metainfo gives for piece `index`. */
  expectedHash(index: number): Uint8Array {
    return this.layout.pieceHashes.subarray(index * 20, index * 20 + 20);
  }

  /** Closes every file (after the operations using them, another thread's writes among them). Storage cannot be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await this.files.closeAll();
  }
}

/** A file another thread was to create was not: whoever needs it opens it on this thread. */
class CreateAbandoned extends Error {
  override name = 'CreateAbandoned';
}

interface Deferred {
  promise: Promise<number>;
  resolve(fd: number): void;
  reject(err: Error): void;
}

function deferred(): Deferred {
  let resolve!: (fd: number) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<number>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
