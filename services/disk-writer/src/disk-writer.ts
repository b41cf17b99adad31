import type { PieceSink, PieceWrite, PieceWriteOutcome } from './piece-sink.js';
import { pieceBuffers } from '@seedbox/runtime/piece-buffers';
import {
  HasherClosedError,
  HashWorkerError,
  Sha1Pool,
  StorageError,
  StorageIoError,
  TorrentStorage,
  WriteTargetError,
  type FileCloser,
  type Sha1Hasher,
  type StorageLayout,
} from '@seedbox/storage';

/**
 * The disk-writer core: verifies each complete piece's SHA-1 and writes it
 * to the torrent's files. The same object serves the embedded mode directly
 * (it is a PieceSink) and the NATS transport in the cluster.
 *
 * A piece is written only once its hash matches, so a corrupt piece never
 * touches the disk. Writing a piece twice writes the same bytes to the same
 * place: retries after a lost answer are harmless.
 */
export interface DiskWriterOptions {
  /** Default: a Sha1Pool of its own, closed by `close()`. A hasher passed in is closed by `close()` too. */
  hasher?: Sha1Hasher;
  /** Write attempts after the first before answering io-error. Default 3. */
  retries?: number;
  /** Delay before the first retry, doubled for each next one. Default 100 ms. */
  retryDelayMs?: number;
  /** Most file handles each torrent keeps open. */
  maxOpenFiles?: number;
}

export class DiskWriter implements PieceSink {
  private readonly hasher: Sha1Hasher;
  private readonly torrents = new Map<string, Promise<TorrentStorage>>();
  private readonly ready = new Map<string, TorrentStorage>();
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly maxOpenFiles: number | undefined;

  constructor(options: DiskWriterOptions = {}) {
    this.hasher = options.hasher ?? new Sha1Pool();
    this.retries = options.retries ?? 3;
    this.retryDelayMs = options.retryDelayMs ?? 100;
    this.maxOpenFiles = options.maxOpenFiles;
  }

  /**
   * Creates (or reopens) the torrent's files under `dir`. Adding a torrent
   * that is already there answers its storage as it is.
   * Throws StorageError for a layout or a folder it will not write to.
   */
  addTorrent(layout: StorageLayout, dir: string): Promise<TorrentStorage> {
    const key = layout.infoHashHex.toLowerCase();
    const existing = this.torrents.get(key);
    if (existing) return existing;
    // The hash thread that writes the files closes them too (Sha1Pool.closeFile).
    const closer = this.hasher.closeFile ? (this.hasher as FileCloser) : undefined;
    const opening = TorrentStorage.open(layout, dir, { create: true, maxOpenFiles: this.maxOpenFiles, closer }).then(
      (s) => {
        this.ready.set(key, s);
        return s;
      },
      (err: unknown) => {
        this.torrents.delete(key);
        throw err;
      },
    );
    this.torrents.set(key, opening);
    return opening;
  }

  /** Forgets the torrent and closes its files (after the writes in flight). Its data stays on disk. */
  async removeTorrent(infoHashHex: string): Promise<void> {
    const key = infoHashHex.toLowerCase();
    const opening = this.torrents.get(key);
    this.torrents.delete(key);
    this.ready.delete(key);
    const storage = await opening?.catch(() => undefined);
    await storage?.close();
  }

  /** The storage of a torrent that has been added (and finished opening). */
  storage(infoHashHex: string): TorrentStorage | undefined {
    return this.ready.get(infoHashHex.toLowerCase());
  }

  get sha1(): Sha1Hasher {
    return this.hasher;
  }

  /** Never rejects: every failure is an outcome. */
  async writePiece(w: PieceWrite): Promise<PieceWriteOutcome> {
    const started = performance.now();
    const storage = this.ready.get(w.infoHash.toLowerCase());
    if (!storage) return { status: 'unknown-torrent' };
    const g = storage.geometry;
    if (!Number.isInteger(w.index) || w.index < 0 || w.index >= g.pieceCount) {
      return { status: 'io-error', error: `piece ${w.index} is outside 0..${g.pieceCount - 1}` };
    }
    let size = 0;
    for (const b of w.blocks) size += b.byteLength;
    const expectedSize = g.pieceSize(w.index);
    if (size !== expectedSize) {
      return { status: 'io-error', error: `piece ${w.index} came with ${size} bytes; it has ${expectedSize}` };
    }
    if (this.hasher.hashAndWrite && this.hasher.writeChecked) return this.hashAndWrite(storage, w.index, w.blocks, started);
    let blocks: Uint8Array[];
    let digest: Buffer;
    try {
      // The hasher may transfer the blocks to a worker: from here on, use the ones it gives back.
      ({ digest, buffers: blocks } = await this.hasher.hash(w.blocks));
    } catch (err) {
      return { status: 'io-error', error: `piece ${w.index} could not be hashed: ${(err as Error).message}` };
    }
    try {
      if (!digest.equals(storage.expectedHash(w.index))) return { status: 'hash-mismatch' };
      return await this.write(storage, w.index, blocks, started);
    } finally {
      // Hashed, written or not: the bytes are done with (the PieceSink contract), so the next piece may use them.
      for (const b of blocks) pieceBuffers.give(b);
    }
  }

  /**
   * The hash thread checks the piece and writes it (write-targets.ts): one
   * hop between threads per piece when its files are open or new (the
   * thread creates those, and their folders, once the piece has checked
   * out). A file to open here (one that exists) is opened only for a piece
   * that checked out: such a piece is hashed first, then written in a
   * second hop. Retried as `write` is.
   */
  private async hashAndWrite(storage: TorrentStorage, index: number, input: readonly Uint8Array[], started: number): Promise<PieceWriteOutcome> {
    const hasher = this.hasher as Required<Sha1Hasher>;
    const expected = storage.expectedHash(index);
    let blocks: readonly Uint8Array[] = input;
    try {
      let checked = false;
      if (!storage.filesReady(index)) {
        let digest: Buffer;
        try {
          ({ digest, buffers: blocks } = await hasher.hash(blocks));
        } catch (err) {
          return { status: 'io-error', error: `piece ${index} could not be hashed: ${(err as Error).message}` };
        }
        if (!digest.equals(expected)) return { status: 'hash-mismatch' };
        checked = true;
      }
      for (let attempt = 0; ; attempt++) {
        try {
          const wrote = await storage.writePieceVia(
            index,
            async (targets) => {
              try {
                const r = checked ? await hasher.writeChecked(blocks, targets) : await hasher.hashAndWrite(blocks, expected, targets);
                blocks = r.buffers;
                return { wrote: r.match, opened: r.opened, stats: r.stats };
              } catch (err) {
                if (err instanceof WriteTargetError) {
                  // A write (or create) failed: only ever after the hash matched. The
                  // thread gave the piece back with the error, to retry from.
                  checked = true;
                  if (err.buffers) blocks = err.buffers;
                }
                throw err;
              }
            },
            true,
          );
          if (!wrote) return { status: 'hash-mismatch' };
          return { status: 'written', micros: Math.round((performance.now() - started) * 1000) };
        } catch (err) {
          if (err instanceof HashWorkerError || err instanceof HasherClosedError) {
            return { status: 'io-error', error: `piece ${index} could not be hashed: ${err.message}` };
          }
          if (attempt >= this.retries || err instanceof StorageError) return ioError(err);
          await new Promise((r) => setTimeout(r, this.retryDelayMs * 2 ** attempt));
        }
      }
    } finally {
      // Written or not: the bytes are done with (the PieceSink contract).
      for (const b of blocks) pieceBuffers.give(b);
    }
  }

  private async write(storage: TorrentStorage, index: number, blocks: Uint8Array[], started: number): Promise<PieceWriteOutcome> {
    for (let attempt = 0; ; attempt++) {
      try {
        await storage.writePiece(index, blocks);
        return { status: 'written', micros: Math.round((performance.now() - started) * 1000) };
      } catch (err) {
        // A full or flaky volume may recover; the piece is held and retried
        // a few times before the answer goes back, so the caller never has
        // to keep a copy to send again.
        // A StorageError is a rule (a symlink, a closed torrent), not a passing fault.
        if (attempt >= this.retries || err instanceof StorageError) return ioError(err);
        await new Promise((r) => setTimeout(r, this.retryDelayMs * 2 ** attempt));
      }
    }
  }

  /** Closes every torrent's files and the hasher. */
  async close(): Promise<void> {
    const all = [...this.torrents.values()];
    this.torrents.clear();
    this.ready.clear();
    await Promise.all(all.map((p) => p.then((s) => s.close()).catch(() => undefined)));
    await this.hasher.close();
  }
}

/**
 * A write that failed for good, in words; the system's error code goes
 * with them when the disk refused (`cause`, when it is not `err` itself).
 */
export function ioError(err: unknown, cause: unknown = err): PieceWriteOutcome {
  const error = (err as Error).message ?? String(err);
  return cause instanceof StorageIoError ? { status: 'io-error', error, code: cause.code } : { status: 'io-error', error };
}
