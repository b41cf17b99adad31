import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Bitfield, encodeBencode, parseMetainfo, type Metainfo } from '@seedbox/protocol';
import type { AddTorrentOptions, Engine, EngineTick } from '../../src/engine.js';
import type { EncryptionPolicy } from '../../src/encryption/encryption-policy.js';
import type { TorrentSnapshot } from '../../src/torrent.js';

/**
 * An engine for FleetRunner's tests: what the runner asks of the engine
 * (add, remove, snapshot, the tick, stop) with no peers, no files and no
 * hashing, so a test can run 10,000 torrents and count what the runner
 * did to them. Each torrent opens its data at once, as a check would, and
 * then holds the pieces the check found.
 */
export class FakeTorrent extends EventEmitter {
  private readonly bits: Bitfield;
  /** Until its check is done, it has nothing to adopt pieces into (as a Torrent has no download side yet). */
  private checking = true;
  /** Reads of `have`: the runner looking at this run (pieces to adopt). */
  haveReads = 0;
  rechecks = 0;
  adopted = 0;
  readonly settingsCalls: string[] = [];

  constructor(
    readonly meta: Metainfo,
    readonly options: AddTorrentOptions,
  ) {
    super();
    this.bits = new Bitfield(meta.pieceCount);
    void options.data
      .check(() => {}, { force: false })
      .then((outcome) => {
        for (const i of outcome.have.setIndices()) this.bits.set(i);
        this.checking = false;
        this.emit('checked', outcome);
      })
      .catch(() => {});
  }

  get have(): Bitfield {
    this.haveReads++;
    return this.bits;
  }

  /** A piece verified here (as a download would). */
  verify(index: number): void {
    this.bits.set(index);
    this.emit('piece', index);
  }

  adoptPieces(verified: Bitfield): void {
    if (this.checking) return;
    this.adopted++;
    for (const i of verified.setIndices()) this.bits.set(i);
  }

  recheck(): void {
    this.rechecks++;
  }

  setFilePriorities(): void {
    this.settingsCalls.push('priorities');
  }

  setLimits(): void {
    this.settingsCalls.push('limits');
  }

  setSequential(): void {
    this.settingsCalls.push('sequential');
  }

  setFirstLastPiece(): void {
    this.settingsCalls.push('firstLastPiece');
  }

  snapshot(): TorrentSnapshot {
    const complete = this.bits.isComplete;
    const left = (this.meta.pieceCount - this.bits.count) * this.meta.pieceLength;
    return {
      infoHash: this.meta.infoHashHex,
      name: this.meta.name,
      state: complete ? 'seeding' : 'downloading',
      error: undefined,
      checked: { done: this.meta.pieceCount, total: this.meta.pieceCount },
      downloadRate: 0,
      uploadRate: 0,
      downloaded: 0,
      uploaded: 0,
      wasted: 0,
      ratio: 0,
      peers: 0,
      seeds: 0,
      peersSending: 0,
      peersGetting: 0,
      piecesVerified: 0,
      piecesFailed: 0,
      pieceCount: this.meta.pieceCount,
      left,
      totalLength: this.meta.totalLength,
      wanted: this.meta.totalLength,
      wantedLeft: left,
      eta: undefined,
      complete,
      done: complete,
      closed: {},
      refused: {},
    };
  }
}

export class FakeEngine extends EventEmitter<{ tick: [EngineTick] }> {
  readonly peerId = new Uint8Array(20).fill(7);
  encryption: EncryptionPolicy = 'prefer';
  readonly torrents = new Map<string, FakeTorrent>();
  /** Every run ever added, removed ones included. */
  readonly added: FakeTorrent[] = [];
  removes = 0;

  add(meta: Metainfo, options: AddTorrentOptions): FakeTorrent {
    const t = new FakeTorrent(meta, options);
    this.torrents.set(meta.infoHashHex, t);
    this.added.push(t);
    return t;
  }

  async remove(infoHashHex: string): Promise<boolean> {
    this.removes++;
    return this.torrents.delete(infoHashHex);
  }

  snapshot(): EngineTick {
    return { time: Date.now(), torrents: [...this.torrents.values()].map((t) => t.snapshot()), connections: { open: 0, handshaking: 0, refused: {} as EngineTick['connections']['refused'] } };
  }

  tick(): void {
    this.emit('tick', this.snapshot());
  }

  setLimits(): void {}

  setEncryption(policy: EncryptionPolicy): void {
    this.encryption = policy;
  }

  /** A fetch that finds nothing and gives up when told to. */
  fetchMetadata(_magnet: unknown, o: { signal?: AbortSignal }): Promise<never> {
    return new Promise((_, reject) => o.signal?.addEventListener('abort', () => reject(new Error('given up'))));
  }

  async stop(): Promise<void> {
    this.torrents.clear();
  }

  /** Reads of `have` over every run. */
  get haveReads(): number {
    return this.added.reduce((n, t) => n + t.haveReads, 0);
  }

  get asEngine(): Engine {
    return this as unknown as Engine;
  }
}

/** A small single-file torrent, different for each `n`: its .torrent file and metainfo. */
export function fakeTorrent(n: number, pieces = 4, o: { private?: boolean } = {}): { file: Uint8Array; meta: Metainfo } {
  const pieceLength = 16384;
  const hashes = Buffer.alloc(pieces * 20);
  for (let i = 0; i < pieces; i++) createHash('sha1').update(`${n}:${i}`).digest().copy(hashes, i * 20);
  const info = { length: pieces * pieceLength - 100, name: `t${n}.bin`, 'piece length': pieceLength, pieces: hashes, ...(o.private ? { private: 1 } : {}) };
  const file = encodeBencode({ announce: 'http://t.invalid/announce', info });
  return { file, meta: parseMetainfo(file) };
}
