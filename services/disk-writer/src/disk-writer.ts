import type { PieceSink, PieceWrite, PieceWriteOutcome } from './piece-sink.js';
import { Sha1Pool, type Sha1Hasher } from './sha1-pool.js';
import { TorrentStorage, type StorageLayout } from './storage.js';

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
  hasher?: Sha1Hasher;
  /** Write attempts after the first before answering io-error. */
  retries?: number;
}

export class DiskWriter implements PieceSink {
  private readonly hasher: Sha1Hasher;
  private readonly torrents = new Map<string, TorrentStorage>();
  private readonly retries: number;

  constructor(options: DiskWriterOptions = {}) {
    this.hasher = options.hasher ?? new Sha1Pool();
    this.retries = options.retries ?? 3;
  }

  /** Creates (or reopens) the torrent's files under `dir`. */
  async addTorrent(layout: StorageLayout, dir: string): Promise<TorrentStorage> {
    const existing = this.torrents.get(layout.infoHashHex);
    if (existing) return existing;
    const storage = await TorrentStorage.open(layout, dir, { create: true });
    this.torrents.set(layout.infoHashHex, storage);
    return storage;
  }

  async removeTorrent(infoHashHex: string): Promise<void> {
    const s = this.torrents.get(infoHashHex);
    this.torrents.delete(infoHashHex);
    await s?.close();
  }

  storage(infoHashHex: string): TorrentStorage | undefined {
    return this.torrents.get(infoHashHex);
  }

  get sha1(): Sha1Hasher {
    return this.hasher;
  }

  async writePiece(w: PieceWrite): Promise<PieceWriteOutcome> {
    const started = performance.now();
    const storage = this.torrents.get(w.infoHash);
    if (!storage) return { status: 'unknown-torrent' };
    const g = storage.geometry;
    if (!Number.isInteger(w.index) || w.index < 0 || w.index >= g.pieceCount) {
      return { status: 'io-error', error: `piece ${w.index} is outside 0..${g.pieceCount - 1}` };
    }
    const size = w.blocks.reduce((n, b) => n + b.length, 0);
    if (size !== g.pieceSize(w.index)) {
      return { status: 'io-error', error: `piece ${w.index} has ${size} bytes, not ${g.pieceSize(w.index)}` };
    }
    // The hasher may transfer the blocks to a worker: from here on, use the ones it gives back.
    const { digest, buffers } = await this.hasher.hash(w.blocks);
    const expected = storage.layout.pieceHashes.subarray(w.index * 20, w.index * 20 + 20);
    if (!digest.equals(expected)) return { status: 'hash-mismatch' };
    for (let attempt = 0; ; attempt++) {
      try {
        await storage.writePiece(w.index, buffers);
        return { status: 'written', micros: Math.round((performance.now() - started) * 1000) };
      } catch (err) {
        // A full or flaky volume may recover; the piece is held and retried
        // a few times before the answer goes back.
        if (attempt >= this.retries) return { status: 'io-error', error: (err as Error).message };
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.torrents.values()].map((s) => s.close()));
    this.torrents.clear();
    await this.hasher.close();
  }
}
