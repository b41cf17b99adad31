import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Bitfield, PieceGeometry, type Metainfo, type PeerAddress, type PexMessage } from '@seedbox/protocol';
import type { PeerInfo } from '@seedbox/cluster';
import { Bandwidth, type BandwidthLimits, type ResolvedLimits, type TorrentBandwidth } from './bandwidth/bandwidth.js';
import type { BlockRef } from './block-key.js';
import { DownloadScheduler } from './download-scheduler.js';
import type { IncomingOpening } from './encryption/incoming-handshake.js';
import { FileSelectionState, type FileProgress, type FileSelection } from './file-selection.js';
import { openingOptions } from './peer-handler.js';
import { peerInfoOf } from './peer-info.js';
import { PeerExchange } from './peer-exchange.js';
import { PeerList } from './peer-list.js';
import { PeerSession, type BlockAnswer, type CloseReason, type PeerHandler, type SessionContext, type SessionRefusal } from './peer-session.js';
import type { CheckOutcome, TorrentData, TorrentEvents, TorrentOptions } from './torrent-options.js';
import { TorrentCounters } from './torrent-counters.js';
import { SnapshotCache, type TorrentSnapshot, type TorrentState } from './torrent-snapshot.js';
import { UploadServer, type RefusedRequest } from './upload-server.js';

/**
 * One torrent in a peer-worker: its lifecycle, its peers (a PeerList), and
 * the two sides of the trade, download scheduling and upload serving. It
 * is the PeerHandler of its sessions and routes each call to the side it
 * concerns.
 *
 * The lifecycle (docs/ARCHITECTURE.md draws it):
 *
 *   checking ──► downloading ──(last wanted piece verified)──► seeding
 *      │  └────────────────────────────────────────────► seeding (all wanted there)
 *      ├──► paused  (added paused)       downloading | seeding ──pause()──► paused
 *      └──► error   (data unreadable)    paused ──resume()──► downloading | seeding
 *                                        downloading ──(a write failed)──► error
 *                                        seeding ──(a skipped file wanted again)──► downloading
 *                                        error ──resume()──► checking
 *   recheck(): downloading | seeding | paused | error ──► checking (hashing everything)
 *   stop(): any state ──► stopped (final)
 *
 * Only `downloading` and `seeding` have sessions. What is verified on
 * disk is found by the torrent itself when it starts, through its
 * TorrentData: resume data or a hash check in the embedded mode, the
 * fleet's record in the distributed one.
 */

export type { CheckOutcome, TorrentData, TorrentEvents, TorrentOptions, TorrentSnapshot, TorrentState, RefusedRequest };

export class Torrent extends EventEmitter<TorrentEvents> implements PeerHandler {
  readonly meta: Metainfo;
  readonly infoHashHex: string;
  readonly geometry: PieceGeometry;
  readonly have: Bitfield;
  private readonly o: TorrentOptions;
  private readonly now: () => number;
  private readonly peers: PeerList;
  /** BEP 11; off for a private torrent (BEP 27). */
  private readonly pex: PeerExchange;
  private readonly context: SessionContext;
  private readonly bandwidth: TorrentBandwidth;
  private download: DownloadScheduler | undefined;
  private upload: UploadServer | undefined;
  private stateNow: TorrentState = 'checking';
  private errorNow: string | undefined;
  private checkedNow: { done: number; total: number } = { done: 0, total: 0 };
  private checkOutcome: CheckOutcome | undefined;
  /** Which check is the latest: an older one finishing late is ignored. */
  private checkRun = 0;
  /** Which files are wanted, and the figures that follow (file-selection.ts). */
  private readonly selection: FileSelectionState;
  private readonly counters = new TorrentCounters();
  private readonly figures: SnapshotCache;
  /** The last tick() was skipped (see dormant). */
  private skipped = false;
  private stopping: Promise<void> | undefined;

  constructor(options: TorrentOptions) {
    super();
    this.o = options;
    this.meta = options.meta;
    this.infoHashHex = options.meta.infoHashHex;
    this.now = options.now ?? Date.now;
    this.geometry = new PieceGeometry(options.meta);
    this.have = new Bitfield(this.geometry.pieceCount);
    // Throws a FileSelectionError for priorities that do not fit the torrent.
    this.selection = new FileSelectionState(this.geometry, options.meta.files, options.files);
    this.selection.reset(this.have);
    const geometry = this.geometry;
    const meta = options.meta;
    this.context = {
      infoHash: meta.infoHash,
      localPeerId: options.peerId,
      listenPort: options.listenPort,
      pieceCount: geometry.pieceCount,
      have: this.have,
      // BEP 9 lets a magnet link start from us; BEP 27 keeps a private
      // torrent's info dictionary to those its tracker gave it to, as libtorrent does.
      metadata: meta.private || meta.infoBytes.length === 0 ? undefined : meta.infoBytes,
      pex: !meta.private,
      blockLength: (index, begin) => Math.min(16384, geometry.pieceSize(index) - begin),
    };
    this.bandwidth = options.bandwidth ?? new Bandwidth().torrent();
    if (options.limits) this.bandwidth.setLimits(options.limits);
    const paths = this.bandwidth.paths;
    this.peers = new PeerList({
      maxPeers: options.maxPeers ?? 50,
      maxDialFailures: options.maxDialFailures,
      connect: options.connect,
      budget: options.connections,
      encryption: options.encryption,
      now: this.now,
      createSession: (socket, peer, how) =>
        new PeerSession({ socket, context: this.context, handler: this, peer, ...openingOptions(how), timeouts: options.timeouts, pipeline: options.pipeline, bandwidth: paths }),
    });
    this.pex = new PeerExchange({ enabled: !meta.private, addPeers: (peers) => this.addPeers(peers), knownCount: () => this.peers.knownCount, now: this.now });
    this.figures = new SnapshotCache({ meta, have: this.have, selection: this.selection, counters: this.counters, live: this.peers.live });
    // Listeners attach before the check reports anything.
    queueMicrotask(() => void this.check());
  }

  get state(): TorrentState {
    return this.stateNow;
  }

  /** Every piece is verified (a full seed). */
  get isComplete(): boolean {
    return this.have.isComplete;
  }

  /** Every wanted piece is verified: nothing left to download; the torrent seeds what it has. */
  get isDone(): boolean {
    return this.selection.wantedLeft === 0;
  }

  get pieceCount(): number {
    return this.geometry.pieceCount;
  }

  /** What the check on start found; undefined while checking. */
  get checked(): CheckOutcome | undefined {
    return this.checkOutcome;
  }

  get sessionCount(): number {
    return this.peers.sessionCount;
  }

  // ---- the lifecycle ----

  private setState(next: TorrentState, error?: string): void {
    this.errorNow = next === 'error' ? error : undefined;
    if (this.stateNow === next) return;
    this.stateNow = next;
    this.emit('wake');
    this.emit('state', next);
  }

  private get active(): boolean {
    return this.stateNow === 'downloading' || this.stateNow === 'seeding';
  }

  private async check(force = false): Promise<void> {
    const resumeAfter = force && this.stateNow === 'paused' ? 'paused' : undefined;
    this.setState('checking');
    this.checkedNow = { done: 0, total: this.pieceCount };
    const run = ++this.checkRun;
    let outcome: CheckOutcome;
    try {
      outcome = await this.o.data.check((done, total) => (this.checkedNow = { done, total }), { force });
    } catch (e) {
      if (this.stateNow === 'checking') this.fail(new Error(`checking the data failed: ${(e as Error).message}`, { cause: e }));
      return;
    }
    if (this.stateNow !== 'checking' || run !== this.checkRun) return; // stopped, or checked again, meanwhile
    this.checkOutcome = outcome;
    for (let i = 0; i < this.pieceCount; i++) {
      if (outcome.have.has(i)) this.have.set(i);
      else this.have.clear(i);
    }
    this.selection.reset(this.have);
    this.build();
    this.emit('checked', outcome);
    if (this.o.paused || resumeAfter === 'paused') this.setState('paused');
    else this.activate();
  }

  /**
   * Checks the data again, hashing every piece whatever a record says
   * (qBittorrent's and Transmission's "verify"): sessions close, pieces
   * under way are dropped, and the torrent goes on from what it finds. A
   * paused torrent stays paused.
   */
  recheck(): void {
    if (this.stateNow === 'stopped' || this.stateNow === 'checking') return;
    if (this.active) this.quiesce('paused');
    void this.check(true);
  }

  /** The two sides of the trade, over the bitfield the check found. */
  private build(): void {
    const download: DownloadScheduler = (this.download = new DownloadScheduler({
      infoHashHex: this.infoHashHex,
      geometry: this.geometry,
      have: this.have,
      sink: this.o.sink,
      sessions: () => this.peers.live,
      maxWriteBacklogBytes: this.o.maxWriteBacklogBytes,
      endgameDuplicates: this.o.endgameDuplicates,
      priorities: this.selection.piecePriority,
      sequential: this.selection.sequential,
      onVerified: (index) => this.pieceVerified(index),
      onBadPeer: (address) => this.badPeer(address),
      // A late answer for a scheduler a check has since replaced is not this run's failure.
      onWriteError: (_index, error) => this.download === download && this.fail(error),
    }));
    this.upload = new UploadServer({
      geometry: this.geometry,
      have: this.have,
      read: this.o.data.read,
      readCache: this.o.readCache,
      choker: this.o.choker,
      snubSeconds: this.o.snubSeconds,
      now: this.now,
    });
    this.counters.attach(download, this.upload);
  }

  private activate(): void {
    this.download!.resume();
    this.setState(this.isDone ? 'seeding' : 'downloading');
    this.dial();
  }

  // ---- which files are fetched ----

  /** The selection now: priorities (one per file of `meta.files`), sequential, first and last piece first. */
  get files(): Required<FileSelection> {
    const s = this.selection;
    return { priorities: [...s.priorities], sequential: s.sequential, firstLastPiece: s.firstLastPiece };
  }

  /**
   * Sets every file's priority, one per file of `meta.files` (else a
   * FileSelectionError, and nothing changes). Newly wanted pieces are
   * fetched at once (seeding goes back to downloading); newly skipped ones
   * are not started, and pieces under way may finish.
   */
  setFilePriorities(priorities: FileSelection['priorities'] & {}): void {
    this.selection.setPriorities(priorities, this.have);
    this.selectionChanged();
  }

  /** Starts pieces in index order (true) or rarest first (false), from the next pick on. */
  setSequential(on: boolean): void {
    this.selection.sequential = on;
    this.download?.setSequential(on);
  }

  /** Puts the first and last piece of every wanted file before everything else, or stops doing so. */
  setFirstLastPiece(on: boolean): void {
    this.selection.setFirstLastPiece(on, this.have);
    this.selectionChanged();
  }

  private selectionChanged(): void {
    this.emit('wake');
    this.download?.setPriorities(this.selection.piecePriority);
    if (this.stateNow === 'seeding' && !this.isDone) {
      this.setState('downloading');
      this.dial();
    } else if (this.stateNow === 'downloading' && this.isDone) this.finished();
  }

  /** Bytes verified per file (updated as pieces verify), with each file's length and priority. O(files). */
  fileProgress(): FileProgress[] {
    return this.selection.progress();
  }

  /** Closes every session and waits; verified pieces stay, pieces under way are dropped. */
  pause(): void {
    if (!this.active) return;
    this.quiesce('paused');
    this.setState('paused');
    void this.o.data.save?.(this.have).catch(() => {});
  }

  /** From `paused`, back to trading; from `error`, a fresh check first (the disk may have changed). */
  resume(): void {
    if (this.stateNow === 'paused' && this.download) this.activate();
    else if (this.stateNow === 'paused' || this.stateNow === 'error') void this.check();
  }

  private fail(error: Error): void {
    // The first failure is the reason; pieces still at the sink fail after it for the same one.
    if (this.stateNow === 'stopped' || this.stateNow === 'error') return;
    if (this.active) this.quiesce('shutdown');
    this.setState('error', error.message);
    this.emit('error', error);
  }

  private quiesce(reason: CloseReason): void {
    this.peers.closeAll(reason);
    this.download?.pause();
  }

  /** Ends the torrent for good: sessions closed, pieces at the sink answered, then the data's save. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const was = this.stateNow;
      this.quiesce('shutdown');
      this.setState('stopped');
      await this.download?.drain();
      if (was !== 'checking' && this.checkOutcome) await this.o.data.save?.(this.have).catch(() => {});
    })();
    return this.stopping;
  }

  // ---- speed limits ----

  /** The torrent's own limits, bytes/s, 0 for none (the engine's apply as well). */
  get limits(): ResolvedLimits {
    return this.bandwidth.limits;
  }

  /**
   * Replaces the torrent's pair of limits, at once, for the sessions it
   * has and those to come (a direction left out, or 0, is unlimited).
   * Throws a BandwidthLimitError for a value that is not bytes per second.
   */
  setLimits(limits: BandwidthLimits): void {
    this.bandwidth.setLimits(limits);
  }

  // ---- peers ----

  /** Adds peers to dial (known ones are ignored); dialled now while trading, else when it starts. */
  addPeers(addresses: readonly PeerAddress[]): void {
    this.peers.add(addresses);
    this.dial();
  }

  private dial(): void {
    if (this.stateNow === 'downloading') this.peers.dial();
  }

  /** Whether any peer is connected or still worth dialling: when false, the download cannot progress. */
  hasPeerProspects(): boolean {
    return this.peers.hasProspects();
  }

  /** A connection the listener accepted and whose handshake named this torrent. */
  acceptIncoming(socket: Socket, opening: IncomingOpening): void {
    // Checking, paused, stopped: nothing to trade yet.
    if (!this.active) socket.destroy();
    else this.peers.acceptIncoming(socket, opening);
  }

  /** The connected peers as the control APIs list them (peer-info.ts). Side-effect free. */
  peerList(): PeerInfo[] {
    const ctx = { have: this.have, optimistic: this.upload?.optimistic, snubSeconds: this.o.snubSeconds ?? 60 };
    return [...this.peers.live].map((s) => peerInfoOf(s, ctx));
  }

  /** Block bytes received from each peer address, over the torrent's life. */
  peerContributions(): Record<string, number> {
    return this.counters.contributions(this.peers.live);
  }

  private badPeer(address: string): void {
    this.peers.ban(address);
    for (const s of [...this.peers.live]) if (s.address === address) s.close('bad-data');
  }

  /**
   * Pieces verified elsewhere (another worker of the fleet wrote them to
   * the shared volume) become ours to serve, as if we had verified them.
   */
  adoptPieces(verified: Bitfield): void {
    if (!this.download) return;
    for (let i = 0; i < this.pieceCount; i++) if (verified.has(i) && !this.have.has(i)) this.download.adopt(i);
  }

  private pieceVerified(index: number): void {
    this.emit('wake');
    this.selection.pieceVerified(index);
    this.emit('piece', index);
    if (this.isDone && this.stateNow === 'downloading') this.finished();
  }

  /** Every wanted piece is verified: seed what we have. */
  private finished(): void {
    this.setState('seeding');
    // Saved now, after the last write: a restart then trusts it instead of hashing the whole torrent.
    void this.o.data.save?.(this.have).catch(() => {});
    this.emit('complete');
  }

  // ---- PeerHandler: each call goes to the side it concerns ----

  admit(session: PeerSession): CloseReason | undefined {
    if (!this.active) return 'shutdown';
    const refused = this.peers.admit(session, this.context.localPeerId);
    if (refused) return refused;
    this.peers.opened(session);
    this.counters.sessionOpened();
    this.emit('wake');
    return undefined;
  }

  sessionClosed(session: PeerSession, reason: CloseReason, error: Error | undefined): void {
    // Its close is counted in the next tick's figures, admitted or not.
    this.emit('wake');
    this.peers.closed(session, reason);
    this.download?.sessionClosed(session);
    this.upload?.sessionClosed(session, this.peers.live.size > 0);
    this.pex.sessionClosed(session);
    this.counters.sessionClosed(session, reason);
    this.emit('closed', session, reason, error);
  }

  peerPiecesChanged(session: PeerSession, index?: number): void {
    this.download?.peerPiecesChanged(session, index);
  }

  fillRequests(session: PeerSession): void {
    this.download?.fillRequests(session);
  }

  blockReceived(session: PeerSession, index: number, begin: number, data: Uint8Array, answer: BlockAnswer): void {
    this.download?.blockReceived(session, index, begin, data, answer);
  }

  requestsDropped(session: PeerSession, blocks: readonly BlockRef[]): void {
    this.download?.requestsDropped(session, blocks);
  }

  blockRequested(session: PeerSession, index: number, begin: number, length: number): void {
    if (this.upload) this.upload.blockRequested(session, index, begin, length);
    else session.reject(index, begin, length);
  }

  requestRefused(_session: PeerSession, reason: SessionRefusal): void {
    this.upload?.countRefusal(reason);
  }

  peerInterestChanged(session: PeerSession): void {
    this.upload?.interestChanged(session, this.peers.live, this.isDone);
  }

  sessionDrained(session: PeerSession): void {
    this.upload?.drained(session);
  }

  pexReceived(session: PeerSession, message: PexMessage): void {
    this.pex.received(session, message);
  }

  // ---- the clock and the figures ----

  /**
   * Byte totals for tracker announces; reading them changes nothing.
   * `left` is the whole torrent's missing bytes, skipped files included,
   * as libtorrent announces it: a partial seed is not a seed (left = 0
   * would have trackers count us as one and send leeches for pieces we
   * will never have), and `completed` is sent once every piece is there.
   */
  transferTotals(): { uploaded: number; downloaded: number; left: number; complete: boolean } {
    const { uploaded, downloaded } = this.counters.totals();
    return { uploaded, downloaded, left: this.selection.left, complete: this.isComplete };
  }

  /**
   * The clock, once a second: session timeouts and pipelines, the choker,
   * dialling, and closing this second's rate window. Figures are read with
   * snapshot(), which changes nothing.
   *
   * A torrent with no peers and nothing counted since the last tick (the
   * thousands a seedbox seeds without anyone asking) skips all of it: a
   * tick would change nothing. A download keeps its tick, which dials.
   */
  tick(): void {
    this.skipped = this.peers.live.size === 0 && this.stateNow !== 'downloading' && this.counters.skipTick();
    if (this.skipped) return;
    for (const s of [...this.peers.live]) s.tick();
    if (this.active && this.upload) this.upload.rechoke(this.peers.live, this.isDone);
    this.pex.tick(this.peers.live);
    this.dial();
    this.counters.tick();
  }

  /**
   * Whether ticks can stop until the torrent emits 'wake': its last tick
   * was skipped (no peers, nothing counted), it is neither checking (its
   * progress moves) nor downloading (it dials), and no piece is at the
   * sink (its answer changes the counts). Its snapshot then stays the same
   * object until one of the events that emit 'wake': a state, a session
   * opened or closed, a piece verified or adopted, the file selection.
   * The engine ticks only the torrents that are not (EngineTick).
   */
  get dormant(): boolean {
    return this.skipped && this.stateNow !== 'checking' && (this.download?.writesPending ?? 0) === 0;
  }

  /**
   * The torrent's figures as of the last tick, and its state now. Side-effect
   * free. While nothing in them changed (a torrent without peers), the same
   * object as before (see SnapshotCache).
   */
  snapshot(): TorrentSnapshot {
    return this.figures.get(this.stateNow, this.errorNow, this.checkedNow);
  }

  /** Resolves when no piece is waiting for the disk-writer. */
  async drain(): Promise<void> {
    await this.download?.drain();
  }
}
