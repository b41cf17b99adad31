import { EventEmitter } from 'node:events';
import type { Bitfield, Metainfo } from '@seedbox/protocol';
import type { SpanReader } from './read-cache.js';
import type { PieceSink } from '@seedbox/disk-writer';
import { PeerListener } from './peer-listener.js';
import { generatePeerId } from './peer-id.js';
import { Torrent, type TorrentOptions, type TorrentTick } from './torrent.js';

/**
 * A peer-worker: the torrents it runs, the one port it listens on, and the
 * 1-second tick that drives them all. Where complete pieces go is a
 * PieceSink: the disk-writer in this process (embedded mode) or the
 * disk-writer fleet over NATS.
 */
export interface WorkerOptions {
  sink: PieceSink;
  peerId?: Uint8Array;
  /** Where to accept peers; false for none. */
  listen?: { host?: string; port?: number } | false;
  /** Defaults for every torrent. */
  torrent?: Omit<TorrentOptions, 'meta' | 'sink' | 'peerId' | 'have' | 'listenPort' | 'readBlock'>;
  tickMs?: number;
}

export interface WorkerTick {
  /** Unix time in ms at the end of the tick. */
  time: number;
  torrents: TorrentTick[];
}

export class PeerWorker extends EventEmitter<{ tick: [WorkerTick] }> {
  readonly peerId: Uint8Array;
  private readonly options: WorkerOptions;
  private readonly torrents = new Map<string, Torrent>();
  private listener: PeerListener | undefined;
  private timer: NodeJS.Timeout | undefined;
  listenPort: number | undefined;

  constructor(options: WorkerOptions) {
    super();
    this.options = options;
    this.peerId = options.peerId ?? generatePeerId();
  }

  async start(): Promise<void> {
    if (this.options.listen !== false) {
      this.listener = new PeerListener({
        ...(this.options.listen ?? {}),
        lookup: (hex) => this.torrents.get(hex),
      });
      this.listenPort = (await this.listener.listen()).port;
    }
    this.timer = setInterval(() => this.tick(), this.options.tickMs ?? 1000);
  }

  /**
   * Starts a torrent. `have` is what is already verified on disk (resume);
   * `readBlock` reads verified data for seeding.
   */
  addTorrent(meta: Metainfo, extra: { have?: Bitfield; readBlock?: SpanReader } = {}): Torrent {
    const existing = this.torrents.get(meta.infoHashHex);
    if (existing) return existing;
    const torrent = new Torrent({
      ...this.options.torrent,
      meta,
      sink: this.options.sink,
      peerId: this.peerId,
      ...(extra.have ? { have: extra.have } : {}),
      ...(extra.readBlock ? { readBlock: extra.readBlock } : {}),
      ...(this.listenPort !== undefined ? { listenPort: this.listenPort } : {}),
    });
    this.torrents.set(meta.infoHashHex, torrent);
    return torrent;
  }

  removeTorrent(infoHashHex: string): void {
    this.torrents.get(infoHashHex)?.stop();
    this.torrents.delete(infoHashHex);
  }

  torrent(infoHashHex: string): Torrent | undefined {
    return this.torrents.get(infoHashHex);
  }

  /** One tick for every torrent; the statistics go to every listener of 'tick'. */
  tick(): WorkerTick {
    const t: WorkerTick = { time: Date.now(), torrents: [...this.torrents.values()].map((x) => x.tick()) };
    this.emit('tick', t);
    return t;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const t of this.torrents.values()) t.stop();
    await Promise.all([...this.torrents.values()].map((t) => t.drain()));
    await this.listener?.close();
  }
}
