import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Bitfield, encodeBencode, parseMetainfo, type Metainfo } from '@seedbox/protocol';
import type { Engine, EngineTick } from '../../src/engine.js';
import type { AddTorrentOptions } from '../../src/engine-options.js';
import { sumsOf } from '../../src/engine-tick.js';
import type { EncryptionPolicy } from '../../src/encryption/encryption-policy.js';
import type { TorrentSnapshot } from '../../src/torrent.js';

/**
 * An engine for FleetRunner's tests: what the runner asks of the engine
 * (add, remove, snapshot, the tick, stop) with no peers, no files and no
 * hashing, so a test can run 10,000 torrents and count what the runner
 * did to them. Each torrent opens its data at once, as a check would, and
 * then holds the pieces the check found. As a Torrent does, it answers the
 * same snapshot object while nothing in it changed, and the engine's ticks
 * carry what changed (EngineTick.changed, `gone`).
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
  /** Counters a test sets (as peers would move them); call changed() after. */
  uploaded = 0;
  downloaded = 0;
  private cached: TorrentSnapshot | undefined;

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
        this.changed();
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
    this.changed();
    this.emit('piece', index);
  }

  adoptPieces(verified: Bitfield): void {
    if (this.checking) return;
    this.adopted++;
    for (const i of verified.setIndices()) this.bits.set(i);
    this.changed();
  }

  /** Its figures changed: the next snapshot is a new object. */
  changed(): void {
    this.cached = undefined;
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
    this.cached ??= this.figures();
    return this.cached;
  }

  private figures(): TorrentSnapshot {
    const complete = this.bits.isComplete;
    const left = (this.meta.pieceCount - this.bits.count) * this.meta.pieceLength;
    return quietSnapshot({
      infoHash: this.meta.infoHashHex,
      name: this.meta.name,
      state: complete ? 'seeding' : 'downloading',
      checked: { done: this.meta.pieceCount, total: this.meta.pieceCount },
      downloaded: this.downloaded,
      uploaded: this.uploaded,
      pieceCount: this.meta.pieceCount,
      left,
      totalLength: this.meta.totalLength,
      wanted: this.meta.totalLength,
      wantedLeft: left,
      eta: undefined,
      complete,
      done: complete,
    });
  }

}

export class FakeEngine extends EventEmitter<{ tick: [EngineTick] }> {
  readonly peerId = new Uint8Array(20).fill(7);
  encryption: EncryptionPolicy = 'prefer';
  readonly torrents = new Map<string, FakeTorrent>();
  /** Every run ever added, removed ones included. */
  readonly added: FakeTorrent[] = [];
  removes = 0;
  /** Each torrent's snapshot at the last tick, and the torrents removed since. */
  private readonly last = new Map<string, TorrentSnapshot>();
  private gone: string[] = [];

  add(meta: Metainfo, options: AddTorrentOptions): FakeTorrent {
    const t = new FakeTorrent(meta, options);
    this.torrents.set(meta.infoHashHex, t);
    this.added.push(t);
    return t;
  }

  async remove(infoHashHex: string): Promise<boolean> {
    this.removes++;
    const had = this.torrents.delete(infoHashHex);
    if (had) {
      this.last.delete(infoHashHex);
      this.gone.push(infoHashHex);
    }
    return had;
  }

  /** Every torrent's figures now, as Engine.snapshot(): changes nothing. */
  snapshot(time = Date.now()): EngineTick {
    const torrents = [...this.torrents.values()].map((t) => t.snapshot());
    const changed = torrents.filter((s) => this.last.get(s.infoHash) !== s);
    return { time, torrents, changed, gone: [], sums: sumsOf(torrents), connections: { open: 0, handshaking: 0, refused: {} as EngineTick['connections']['refused'] } };
  }

  /** A tick, at `time` (default now): what changed since the last one. */
  tick(time = Date.now()): void {
    const t = { ...this.snapshot(time), gone: this.gone };
    this.gone = [];
    for (const s of t.changed) this.last.set(s.infoHash, s);
    this.emit('tick', t);
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
    this.last.clear();
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

/** A complete torrent's snapshot with nothing going on (no peers, no rates, nothing counted); `over` says what differs. */
export function quietSnapshot(over: Partial<TorrentSnapshot> & Pick<TorrentSnapshot, 'infoHash' | 'name'>): TorrentSnapshot {
  return {
    state: 'seeding',
    error: undefined,
    checked: { done: 1, total: 1 },
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
    pieceCount: 1,
    left: 0,
    totalLength: 16384,
    wanted: 16384,
    wantedLeft: 0,
    eta: 0,
    complete: true,
    done: true,
    closed: {},
    refused: {},
    ...over,
  };
}
