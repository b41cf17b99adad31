import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Bitfield, BLOCK_LENGTH, PieceGeometry, type Handshake, type Metainfo } from '@seedbox/protocol';
import type { PieceSink, PieceWriteOutcome } from '@seedbox/disk-writer';
import { PieceDownload } from './piece-download.js';
import { PiecePicker } from './piece-picker.js';
import {
  PeerSession,
  type CloseReason,
  type RequestKey,
  type SessionOwner,
  type SessionTimeouts,
} from './peer-session.js';
import type { PipelineOptions } from './request-pipeline.js';
import { RateMeter } from './rate.js';
import { Choker, type ChokerOptions } from './choker.js';
import { ReadCache, type ReadCacheOptions, type SpanReader } from './read-cache.js';
import { dialPeer, type PeerAddress } from './dial.js';

/**
 * One torrent in a peer-worker: its peers, the piece picker, the pieces
 * under way, and the hand-off of complete pieces to the disk-writer.
 *
 * All of it runs on the one event loop that serves the sockets. Peer
 * sessions call into the torrent synchronously, so the picker and the
 * downloads are shared without locks: a call can never interleave with
 * another. SHA-1 and disk I/O run elsewhere (the disk-writer's hash workers
 * and libuv's pool), behind the PieceSink promise.
 */

export type { PeerAddress };

export interface TorrentOptions {
  meta: Metainfo;
  sink: PieceSink;
  peerId: Uint8Array;
  /** Pieces already verified on disk (resume). */
  have?: Bitfield;
  listenPort?: number;
  /** Most peer connections at once. */
  maxPeers?: number;
  /** Stop starting new pieces while this many bytes wait for the disk-writer. */
  maxWriteBacklogBytes?: number;
  /** Endgame sends a block to at most this many peers at once. */
  endgameDuplicates?: number;
  pipeline?: PipelineOptions;
  timeouts?: Partial<SessionTimeouts>;
  /** Connection attempts a peer may fail in a row before we stop dialling it. */
  maxDialFailures?: number;
  /** Reads verified data for seeding (positional reads of the shared volume). Without it we serve nothing. */
  readBlock?: SpanReader;
  readCache?: ReadCacheOptions;
  choker?: ChokerOptions;
  /** A peer that sent nothing for this long while we waited on its requests is snubbed, s. */
  snubSeconds?: number;
  /** Opens a TCP connection; injectable for tests. */
  connect?: (peer: PeerAddress) => Socket;
  now?: () => number;
}

/** Statistics of one torrent over one tick: the single source for the progress bar, JSON lines and metrics. */
export interface TorrentTick {
  infoHash: string;
  name: string;
  /** Bytes per second of block payload over the tick. */
  downloadRate: number;
  uploadRate: number;
  downloaded: number;
  uploaded: number;
  /** Block bytes that were not needed (endgame duplicates, late blocks). */
  wasted: number;
  /** Uploaded over downloaded; over the torrent's size for data we never downloaded (a seed). */
  ratio: number;
  peers: number;
  seeds: number;
  piecesVerified: number;
  piecesFailed: number;
  pieceCount: number;
  left: number;
  totalLength: number;
  /** Seconds to completion at the current rate; undefined when unknown. */
  eta: number | undefined;
  complete: boolean;
  /** Sessions closed during the tick, by reason. */
  closed: Partial<Record<CloseReason, number>>;
  /** Peer requests refused during the tick, by reason. */
  refused: Partial<Record<RefusedRequest, number>>;
}

/** Why we refused a peer's request; counted, since each is a peer breaking a rule or asking the impossible. */
export type RefusedRequest = 'oversize' | 'out-of-range' | 'missing-piece' | 'choked' | 'read-error';

interface KnownPeer {
  address: PeerAddress;
  session: PeerSession | undefined;
  failures: number;
  nextDialAt: number;
  banned: boolean;
}

export interface TorrentEvents {
  piece: [index: number];
  complete: [];
  error: [error: Error];
  closed: [session: PeerSession, reason: CloseReason, error: Error | undefined];
}

export class Torrent extends EventEmitter<TorrentEvents> implements SessionOwner {
  readonly meta: Metainfo;
  readonly infoHash: Uint8Array;
  readonly infoHashHex: string;
  readonly localPeerId: Uint8Array;
  readonly geometry: PieceGeometry;
  readonly have: Bitfield;
  readonly listenPort: number | undefined;
  get pieceCount(): number {
    return this.geometry.pieceCount;
  }

  private readonly sink: PieceSink;
  private readonly picker: PiecePicker;
  private readonly downloads = new Map<number, PieceDownload>();
  private readonly writing = new Map<number, PieceDownload>();
  private writeBacklog = 0;
  private readonly sessions = new Set<PeerSession>();
  private readonly peers = new Map<string, KnownPeer>();
  /** Per session: pieces it has that we lack. Interest follows it without rescanning bitfields. */
  private readonly interesting = new Map<PeerSession, number>();
  private readonly options: TorrentOptions;
  private readonly now: () => number;
  private readonly downMeter: RateMeter;
  private readonly upMeter: RateMeter;
  private wasted = 0;
  private verified = 0;
  private failed = 0;
  private leftBytes: number;
  private closedThisTick: Partial<Record<CloseReason, number>> = {};
  /** Bytes from sessions that have closed, by address. */
  private readonly contributed: Record<string, number> = {};
  private refusedThisTick: Partial<Record<RefusedRequest, number>> = {};
  private readonly reader: ReadCache | undefined;
  private readonly choker: Choker;
  private stopped = false;

  constructor(options: TorrentOptions) {
    super();
    this.options = options;
    this.meta = options.meta;
    this.infoHash = options.meta.infoHash;
    this.infoHashHex = options.meta.infoHashHex;
    this.localPeerId = options.peerId;
    this.listenPort = options.listenPort;
    this.sink = options.sink;
    this.now = options.now ?? Date.now;
    this.geometry = new PieceGeometry(options.meta);
    this.have = options.have ?? new Bitfield(this.geometry.pieceCount);
    this.picker = new PiecePicker(this.have);
    this.downMeter = new RateMeter();
    this.upMeter = new RateMeter();
    this.choker = new Choker(options.choker);
    this.reader = options.readBlock
      ? new ReadCache(options.readBlock, (i) => this.geometry.pieceSize(i), options.readCache)
      : undefined;
    this.leftBytes = 0;
    for (let i = 0; i < this.geometry.pieceCount; i++) if (!this.have.has(i)) this.leftBytes += this.geometry.pieceSize(i);
  }

  get isComplete(): boolean {
    return this.have.isComplete;
  }

  /**
   * The info dictionary we give peers that ask over ut_metadata (BEP 9), so
   * that a magnet link can start from us. Not for a private torrent: BEP 27
   * keeps its metadata to those the tracker's .torrent was given to, as
   * libtorrent does.
   */
  get metadata(): Uint8Array | undefined {
    return this.meta.private || this.meta.infoBytes.length === 0 ? undefined : this.meta.infoBytes;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Block bytes received from each peer address, over the torrent's life. */
  peerContributions(): Record<string, number> {
    const out: Record<string, number> = { ...this.contributed };
    for (const s of this.sessions) out[s.address] = (out[s.address] ?? 0) + s.download.total;
    return out;
  }

  /** Whether any peer is connected or still worth dialling: when false, the download cannot progress. */
  hasPeerProspects(): boolean {
    if (this.sessions.size > 0) return true;
    const maxFailures = this.options.maxDialFailures ?? 5;
    for (const p of this.peers.values()) {
      if (!p.banned && p.failures < maxFailures) return true;
    }
    return false;
  }

  /** Adds peers to dial; known ones are ignored. */
  addPeers(addresses: readonly PeerAddress[]): void {
    for (const address of addresses) {
      const key = `${address.host}:${address.port}`;
      const known = this.peers.get(key);
      if (known) continue;
      this.peers.set(key, { address, session: undefined, failures: 0, nextDialAt: 0, banned: false });
    }
    this.dial();
  }

  /** Dials known peers until the cap, skipping those connected, banned or backing off. */
  private dial(): void {
    if (this.stopped || this.isComplete) return;
    const max = this.options.maxPeers ?? 50;
    const t = this.now();
    const maxFailures = this.options.maxDialFailures ?? 5;
    for (const peer of this.peers.values()) {
      if (this.sessions.size >= max) return;
      if (peer.session || peer.banned || peer.nextDialAt > t) continue;
      if (peer.failures >= maxFailures) continue;
      peer.session = dialPeer(peer.address, (socket, address) => this.createSession(socket, 'outgoing', address), this.options.connect);
    }
  }

  /** A connection the listener accepted and whose handshake named this torrent. */
  acceptIncoming(socket: Socket, handshake: Handshake, leftover: Uint8Array): void {
    const address = `${socket.remoteAddress}:${socket.remotePort}`;
    this.createSession(socket, 'incoming', address, handshake, leftover);
  }

  private createSession(
    socket: Socket,
    direction: 'outgoing' | 'incoming',
    address: string,
    handshake?: Handshake,
    leftover?: Uint8Array,
  ): PeerSession {
    const session = new PeerSession({
      socket,
      owner: this,
      direction,
      address,
      ...(handshake ? { handshake } : {}),
      ...(leftover ? { leftover } : {}),
      ...(this.options.timeouts ? { timeouts: this.options.timeouts } : {}),
      ...(this.options.pipeline ? { pipeline: this.options.pipeline } : {}),
    });
    session.blockLengthOf = (index, begin) => Math.min(BLOCK_LENGTH, this.geometry.pieceSize(index) - begin);
    this.sessions.add(session);
    return session;
  }

  // ---- SessionOwner ----

  admit(session: PeerSession): CloseReason | undefined {
    const remote = session.remote!;
    if (Buffer.compare(Buffer.from(remote.peerId), Buffer.from(this.localPeerId)) === 0) {
      const known = this.peers.get(session.address);
      if (known) known.banned = true; // never dial ourselves again
      return 'self-connection';
    }
    for (const other of this.sessions) {
      if (other !== session && other.isOpen && Buffer.compare(Buffer.from(other.remote!.peerId), Buffer.from(remote.peerId)) === 0) {
        return 'duplicate-peer';
      }
    }
    if (session.direction === 'incoming' && this.openSessions() >= (this.options.maxPeers ?? 50)) return 'too-many-peers';
    this.interesting.set(session, 0);
    return undefined;
  }

  private openSessions(): number {
    let n = 0;
    for (const s of this.sessions) if (s.isOpen) n++;
    return n;
  }

  peerPiecesChanged(session: PeerSession, index?: number): void {
    if (index !== undefined) {
      // One HAVE: counted incrementally.
      if (!this.have.has(index)) this.interesting.set(session, (this.interesting.get(session) ?? 0) + 1);
      this.picker.peerHas(index);
    } else {
      // The peer's opening BITFIELD, HAVE_ALL or HAVE_NONE: the session
      // guarantees it comes before any HAVE, so the counts start from it.
      let n = 0;
      for (const i of session.peerPieces.setIndices()) if (!this.have.has(i)) n++;
      this.interesting.set(session, n);
      this.picker.addPeer(session.peerPieces);
    }
    this.updateInterest(session);
  }

  private updateInterest(session: PeerSession): void {
    const want = (this.interesting.get(session) ?? 0) > 0 && !this.isComplete;
    session.setInterested(want);
    if (want) this.refill(session);
  }

  fillRequests(session: PeerSession): void {
    let room = session.requestRoom;
    if (room <= 0 || !session.amInterested) return;
    const peerHas = (i: number): boolean => session.peerPieces.has(i);

    // 1. Finish pieces already under way: fewer partial pieces, sooner HAVEs.
    for (const d of this.downloads.values()) {
      if (room <= 0) break;
      if (!peerHas(d.index)) continue;
      for (let b = d.nextFree(); b !== -1 && room > 0; b = d.nextFree()) {
        d.markRequested(b);
        session.request(d.index, b * BLOCK_LENGTH);
        room--;
      }
    }

    // 2. Start new pieces, rarest first, while the disk-writer keeps up.
    const maxBacklog = this.options.maxWriteBacklogBytes ?? 64 * 1024 * 1024;
    while (room > 0 && this.writeBacklog < maxBacklog) {
      const index = this.picker.pick(session.peerPieces.isComplete ? 'all' : session.peerPieces);
      if (index === undefined) break;
      const d = new PieceDownload(index, this.geometry.pieceSize(index));
      this.downloads.set(index, d);
      this.picker.markBusy(index);
      for (let b = d.nextFree(); b !== -1 && room > 0; b = d.nextFree()) {
        d.markRequested(b);
        session.request(index, b * BLOCK_LENGTH);
        room--;
      }
    }

    // 3. Endgame: every missing block has been asked for. The ones still
    // pending go to this peer too, whoever answers first wins, and the
    // other copies are cancelled. A slow peer then cannot hold up the end.
    if (room > 0 && this.picker.unstartedCount === 0) {
      const maxCopies = this.options.endgameDuplicates ?? 3;
      for (const d of this.downloads.values()) {
        if (room <= 0) break;
        if (!peerHas(d.index) || d.hasFree()) continue;
        for (const b of d.pendingBlocks()) {
          if (room <= 0) break;
          if (d.requestCount(b) >= maxCopies || session.isRequested(d.index, b * BLOCK_LENGTH)) continue;
          d.markRequested(b);
          session.request(d.index, b * BLOCK_LENGTH);
          room--;
        }
      }
    }
    // No flush here: the session sends everything queued in one write
    // after it has decoded a whole read, instead of one write per block.
  }

  /** fillRequests from outside a session's read: send at once. */
  private refill(session: PeerSession): void {
    if (!session.isOpen) return;
    this.fillRequests(session);
    session.flush();
  }

  blockReceived(session: PeerSession, index: number, begin: number, data: Uint8Array, solicited: boolean): void {
    const d = this.downloads.get(index);
    if (!d) {
      this.wasted += data.length;
      return;
    }
    const block = begin / BLOCK_LENGTH;
    if (!Number.isInteger(block) || block >= d.blockCount || data.length !== d.blockLength(block)) {
      session.close('protocol-error', new Error(`block ${index}:${begin}+${data.length} does not match a requested block`));
      return;
    }
    if (solicited) d.release(block);
    if (!d.receive(block, data, session.address)) {
      this.wasted += data.length;
      return;
    }
    this.downMeter.add(data.length);
    if (d.requestCount(block) > 0) {
      // Endgame duplicates or a re-request after a timeout: cancel the other copies.
      for (const other of this.sessions) {
        if (other !== session && other.isRequested(index, begin)) {
          other.cancel(index, begin);
          d.release(block);
        }
      }
    }
    if (d.complete) this.submit(d);
  }

  requestsDropped(_session: PeerSession, blocks: readonly RequestKey[]): void {
    for (const { index, begin } of blocks) this.downloads.get(index)?.release(begin / BLOCK_LENGTH);
    // Freed blocks may go to other peers right away.
    for (const s of this.sessions) if (s !== _session) this.refill(s);
  }

  blockRequested(session: PeerSession, index: number, begin: number, length: number): void {
    let refused: RefusedRequest | undefined;
    if (length > BLOCK_LENGTH) refused = 'oversize';
    else if (!this.geometry.isValidRange(index, begin, length)) refused = 'out-of-range';
    else if (!this.have.has(index) || !this.reader) refused = 'missing-piece';
    if (refused) {
      this.refuse(session, refused, index, begin, length);
      return;
    }
    this.pumpUploads(session);
  }

  peerInterestChanged(session: PeerSession): void {
    // A free slot is filled at once rather than at the next 10 s rotation.
    const slotFree = this.choker.current.size < this.choker.slots;
    if (slotFree || this.choker.current.has(session.address)) this.rechoke(true);
  }

  sessionDrained(session: PeerSession): void {
    this.pumpUploads(session);
  }

  private refuse(session: PeerSession, reason: RefusedRequest, index: number, begin: number, length: number): void {
    this.refusedThisTick[reason] = (this.refusedThisTick[reason] ?? 0) + 1;
    session.reject(index, begin, length);
  }

  /**
   * Serves the session's queued requests: a few disk reads at a time, and
   * only while its socket has room, so a slow peer cannot make us buffer
   * the torrent in memory.
   */
  private pumpUploads(session: PeerSession): void {
    const reader = this.reader;
    if (!reader) return;
    // Everything served in one turn goes out in one writev.
    session.cork();
    try {
      while (session.isOpen && session.writable) {
        const r = session.peekIncoming();
        if (!r) return;
        const cached = reader.peek(r.index, r.begin, r.length);
        if (cached) {
          session.nextIncoming();
          session.finishServing(r.index, r.begin, r.length);
          session.sendBlock(r.index, r.begin, cached);
          this.upMeter.add(cached.length);
          continue;
        }
        if (session.readsInFlight >= 4) return;
        session.nextIncoming();
        session.readsInFlight++;
        reader.block(r.index, r.begin, r.length).then(
          (data) => {
            session.readsInFlight--;
            if (session.finishServing(r.index, r.begin, r.length)) {
              session.sendBlock(r.index, r.begin, data);
              this.upMeter.add(data.length);
            }
            this.pumpUploads(session);
          },
          () => {
            session.readsInFlight--;
            if (session.finishServing(r.index, r.begin, r.length)) this.refuse(session, 'read-error', r.index, r.begin, r.length);
            this.pumpUploads(session);
          },
        );
      }
    } finally {
      session.uncork();
    }
  }

  sessionClosed(session: PeerSession, reason: CloseReason, _error?: Error): void {
    this.sessions.delete(session);
    this.interesting.delete(session);
    if (session.remote) this.picker.removePeer(session.peerPieces);
    this.closedThisTick[reason] = (this.closedThisTick[reason] ?? 0) + 1;
    if (session.download.total > 0) this.contributed[session.address] = (this.contributed[session.address] ?? 0) + session.download.total;
    const known = this.peers.get(session.address);
    if (known && known.session === session) {
      known.session = undefined;
      if (reason === 'connect-failed' || reason === 'connect-timeout' || reason === 'handshake-timeout' || !session.remote) {
        known.failures++;
        // 1 s, 2 s, 4 s, 8 s: a peer that is restarting gets a few chances
        // within a quarter of a minute; one that is gone is given up.
        known.nextDialAt = this.now() + Math.min(60_000, 1000 * 2 ** (known.failures - 1));
      } else {
        known.failures = 0;
        known.nextDialAt = this.now() + 1000;
      }
      if (reason === 'bad-data' || reason === 'self-connection') known.banned = true;
    }
    this.emit('closed', session, reason, _error);
  }

  // ---- pieces to and from the disk-writer ----

  private submit(d: PieceDownload): void {
    this.downloads.delete(d.index);
    this.writing.set(d.index, d);
    this.writeBacklog += d.size;
    void this.write(d);
  }

  /** Hands a complete piece to the disk-writer. The sink retries I/O errors itself; its answer is final. */
  private async write(d: PieceDownload): Promise<void> {
    let outcome: PieceWriteOutcome;
    try {
      outcome = await this.sink.writePiece({ infoHash: this.infoHashHex, index: d.index, blocks: d.blocks() });
    } catch (err) {
      outcome = { status: 'io-error', error: (err as Error).message };
    }
    this.writing.delete(d.index);
    this.writeBacklog -= d.size;
    if (this.stopped) return;
    switch (outcome.status) {
      case 'written':
        this.pieceVerified(d.index);
        break;
      case 'hash-mismatch':
        this.pieceFailed(d);
        break;
      case 'io-error':
      case 'unknown-torrent':
        this.picker.markIdle(d.index);
        this.emit('error', new Error(`piece ${d.index} could not be written: ${outcome.status === 'io-error' ? outcome.error : outcome.status}`));
        break;
    }
    for (const s of this.sessions) this.refill(s);
  }

  private pieceVerified(index: number): void {
    if (this.have.has(index)) return;
    this.picker.markHave(index);
    this.verified++;
    this.leftBytes -= this.geometry.pieceSize(index);
    for (const s of this.sessions) {
      if (!s.isOpen) continue;
      s.sendHave(index);
      if (s.peerPieces.has(index)) {
        this.interesting.set(s, (this.interesting.get(s) ?? 1) - 1);
        this.updateInterest(s);
      }
    }
    this.emit('piece', index);
    if (this.isComplete) {
      for (const s of this.sessions) s.setInterested(false);
      this.emit('complete');
    }
  }

  private pieceFailed(d: PieceDownload): void {
    this.failed++;
    this.picker.markIdle(d.index);
    // Only a peer that alone sent a bad piece is to blame for it; twice and it is dropped.
    if (d.contributors.size === 1) {
      const [address] = d.contributors;
      for (const s of this.sessions) {
        if (s.address === address && ++s.strikes >= 2) s.close('bad-data');
      }
    }
  }

  // ---- the tick ----

  /** Hands out upload slots (see choker.ts). Without data to serve, everyone stays choked. */
  private rechoke(force = false): void {
    if (!this.reader || this.have.isEmpty) return;
    const snubAfter = this.options.snubSeconds ?? 60;
    const candidates = [];
    const byAddress = new Map<string, PeerSession>();
    for (const s of this.sessions) {
      if (!s.isOpen) continue;
      byAddress.set(s.address, s);
      candidates.push({
        id: s.address,
        interested: s.peerInterested,
        downloadRate: s.download.rate,
        uploadRate: s.upload.rate,
        snubbed: s.amInterested && !s.peerChoking && s.outstandingCount > 0 && s.secondsSinceBlock() > snubAfter,
      });
    }
    const unchoke = this.choker.decide(candidates, this.isComplete, this.now(), force);
    for (const [address, s] of byAddress) s.setChoking(!unchoke.has(address));
  }

  /**
   * Pieces verified elsewhere (another worker of the fleet wrote them to
   * the shared volume) become ours to serve, as if we had verified them.
   */
  adoptPieces(verified: Bitfield): void {
    for (let i = 0; i < this.pieceCount; i++) if (verified.has(i) && !this.have.has(i)) this.pieceVerified(i);
  }

  /** Byte totals for tracker announces; unlike tick(), reading them changes nothing. */
  transferTotals(): { uploaded: number; downloaded: number; left: number; complete: boolean } {
    return { uploaded: this.upMeter.total, downloaded: this.downMeter.total, left: this.leftBytes, complete: this.isComplete };
  }

  /** Called once a second: session timeouts and pipelines, dialling, and this tick's statistics. */
  tick(): TorrentTick {
    for (const s of this.sessions) s.tick();
    this.rechoke();
    this.dial();
    const downloadRate = this.downMeter.tick();
    const uploadRate = this.upMeter.tick();
    let peers = 0;
    let seeds = 0;
    for (const s of this.sessions) {
      if (!s.isOpen) continue;
      peers++;
      if (s.peerPieces.isComplete) seeds++;
    }
    const closed = this.closedThisTick;
    this.closedThisTick = {};
    const refused = this.refusedThisTick;
    this.refusedThisTick = {};
    return {
      infoHash: this.infoHashHex,
      name: this.meta.name,
      downloadRate,
      uploadRate,
      downloaded: this.downMeter.total,
      uploaded: this.upMeter.total,
      wasted: this.wasted,
      ratio: this.upMeter.total / Math.max(1, this.downMeter.total > 0 ? this.downMeter.total : this.meta.totalLength),
      peers,
      seeds,
      piecesVerified: this.verified,
      piecesFailed: this.failed,
      pieceCount: this.pieceCount,
      left: this.leftBytes,
      totalLength: this.meta.totalLength,
      eta: this.leftBytes === 0 ? 0 : downloadRate > 0 ? this.leftBytes / downloadRate : undefined,
      complete: this.isComplete,
      closed,
      refused,
    };
  }

  /** Closes every session. Pieces still being written are left to finish. */
  stop(): void {
    this.stopped = true;
    for (const s of [...this.sessions]) s.close('shutdown');
  }

  /** Resolves when no piece is waiting for the disk-writer. */
  async drain(): Promise<void> {
    while (this.writing.size > 0) await new Promise((r) => setTimeout(r, 20));
  }
}
