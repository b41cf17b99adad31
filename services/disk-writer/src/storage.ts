import { constants as fsConstants } from 'node:fs';
import { lstat, mkdir, open, realpath, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { PieceGeometry } from '@seedbox/protocol';
import type { Sha1Hasher } from './sha1-pool.js';
import { writeSpans } from './vectored-write.js';

/**
 * The files of one torrent on the shared volume: `DIR/<name>` for a
 * single-file torrent, `DIR/<name>/<path…>` for a multi-file one, as every
 * client lays them out.
 *
 * Nothing is ever written outside DIR. The metainfo parser already refuses
 * `..`, separators and absolute segments; storage checks again, because a
 * torrent's layout can reach it by other ways (the registry, a message),
 * and it refuses to follow a symlink planted inside DIR.
 */
export interface StorageLayout {
  infoHashHex: string;
  name: string;
  multiFile: boolean;
  pieceLength: number;
  totalLength: number;
  pieceHashes: Uint8Array;
  files: readonly { path: readonly string[]; length: number; padding?: boolean }[];
}

export type StorageErrorCode = 'STORAGE_PATH_ESCAPES' | 'STORAGE_SYMLINK' | 'STORAGE_NOT_A_FILE' | 'STORAGE_IO';

export class StorageError extends Error {
  override name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const MAX_OPEN_FILES = 256;

export class TorrentStorage {
  readonly layout: StorageLayout;
  readonly geometry: PieceGeometry;
  readonly root: string;
  /** Absolute path of each file; undefined for padding files, which are never created. */
  readonly paths: readonly (string | undefined)[];
  private readonly handles = new Map<number, Promise<FileHandle>>();
  private readonly readOnly: boolean;

  private constructor(layout: StorageLayout, root: string, paths: (string | undefined)[], readOnly: boolean) {
    this.layout = layout;
    this.root = root;
    this.paths = paths;
    this.readOnly = readOnly;
    this.geometry = new PieceGeometry(layout);
  }

  /**
   * Opens a torrent's storage under `dir`. With `create`, makes the folders
   * and the files, sized sparse to their final length (existing data of the
   * right size is kept). Without it, only reads are possible (seeding).
   */
  static async open(layout: StorageLayout, dir: string, options: { create: boolean }): Promise<TorrentStorage> {
    if (options.create) await mkdir(dir, { recursive: true });
    const root = await realpath(dir);
    const paths = layout.files.map((f) => {
      if (f.padding) return undefined;
      const segments = layout.multiFile ? [layout.name, ...f.path] : [layout.name];
      for (const seg of segments) {
        if (seg === '' || seg === '.' || seg === '..' || seg.includes('/') || seg.includes('\\') || seg.includes('\0')) {
          throw new StorageError('STORAGE_PATH_ESCAPES', `path segment ${JSON.stringify(seg)} is not allowed`, segments.join('/'));
        }
      }
      const full = resolve(root, ...segments);
      const rel = relative(root, full);
      if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
        throw new StorageError('STORAGE_PATH_ESCAPES', `${full} is outside ${root}`, full);
      }
      return full;
    });
    const storage = new TorrentStorage(layout, root, paths, !options.create);
    if (options.create) await storage.createFiles();
    return storage;
  }

  private async createFiles(): Promise<void> {
    for (let i = 0; i < this.paths.length; i++) {
      const path = this.paths[i];
      if (path === undefined) continue;
      await this.makeParents(path);
      const fh = await this.openFile(i, true);
      const st = await fh.stat();
      if (!st.isFile()) throw new StorageError('STORAGE_NOT_A_FILE', `${path} exists and is not a regular file`, path);
      const length = this.layout.files[i]!.length;
      // Sparse: truncate only extends, so blocks are allocated as pieces land.
      if (st.size < length) await fh.truncate(length);
    }
  }

  /** mkdir each folder between root and the file, refusing symlinked folders. */
  private async makeParents(path: string): Promise<void> {
    const rel = relative(this.root, path).split(sep).slice(0, -1);
    let at = this.root;
    for (const seg of rel) {
      at = join(at, seg);
      try {
        const st = await lstat(at);
        if (st.isSymbolicLink()) throw new StorageError('STORAGE_SYMLINK', `${at} is a symlink; refusing to follow it`, at);
        if (!st.isDirectory()) throw new StorageError('STORAGE_NOT_A_FILE', `${at} exists and is not a folder`, at);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        await mkdir(at);
      }
    }
  }

  private openFile(index: number, create: boolean): Promise<FileHandle> {
    const existing = this.handles.get(index);
    if (existing) {
      // LRU: mark as recently used.
      this.handles.delete(index);
      this.handles.set(index, existing);
      return existing;
    }
    const path = this.paths[index];
    if (path === undefined) throw new Error(`file ${index} is a padding file`);
    const flags =
      (this.readOnly ? fsConstants.O_RDONLY : fsConstants.O_RDWR) |
      (create ? fsConstants.O_CREAT : 0) |
      // The last component must not be a symlink either.
      fsConstants.O_NOFOLLOW;
    const p = open(path, flags, 0o644).catch((err: NodeJS.ErrnoException) => {
      this.handles.delete(index);
      if (err.code === 'ELOOP') throw new StorageError('STORAGE_SYMLINK', `${path} is a symlink; refusing to follow it`, path);
      throw err;
    });
    this.handles.set(index, p);
    if (this.handles.size > MAX_OPEN_FILES) {
      const [oldest, fh] = this.handles.entries().next().value as [number, Promise<FileHandle>];
      this.handles.delete(oldest);
      void fh.then((h) => h.close()).catch(() => undefined);
    }
    return p;
  }

  /** Writes a verified piece: one vectored positional write per file it covers. */
  async writePiece(index: number, blocks: readonly Uint8Array[]): Promise<void> {
    const spans = this.geometry.spans(index);
    await writeSpans(spans, blocks, async (fileIndex) =>
      this.paths[fileIndex] === undefined ? undefined : this.openFile(fileIndex, false),
    );
  }

  /** Bytes [begin, begin+length) of piece `index`, read with positional reads. */
  async read(index: number, begin: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    let at = 0;
    for (const span of this.geometry.spans(index, begin, length)) {
      if (this.paths[span.fileIndex] !== undefined) {
        const fh = await this.openFile(span.fileIndex, false);
        let done = 0;
        while (done < span.length) {
          const { bytesRead } = await fh.read(out, at + done, span.length - done, span.fileOffset + done);
          if (bytesRead === 0) throw new StorageError('STORAGE_IO', `file ${this.paths[span.fileIndex]} is shorter than the torrent says`, this.paths[span.fileIndex]!);
          done += bytesRead;
        }
      }
      at += span.length;
    }
    return out;
  }

  /** Reads piece `index` and checks its hash (resume). Missing files count as a failed check. */
  async verifyPiece(index: number, hasher: Sha1Hasher): Promise<boolean> {
    let data: Buffer;
    try {
      data = await this.read(index, 0, this.geometry.pieceSize(index));
    } catch {
      return false;
    }
    const { digest } = await hasher.hash([data]);
    return digest.equals(this.layout.pieceHashes.subarray(index * 20, index * 20 + 20));
  }

  async close(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(all.map((p) => p.then((h) => h.close()).catch(() => undefined)));
  }
}
