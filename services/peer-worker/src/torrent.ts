import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Bitfield, PieceGeometry, type Metainfo, type PeerAddress } from '@seedbox/protocol';
import type { PeerInfo } from '@seedbox/cluster';
import { Bandwidth, type BandwidthLimits, type ResolvedLimits, type TorrentBandwidth } from './bandwidth/bandwidth.js';
import type { IncomingOpening } from './encryption/incoming-handshake.js';
import { FileSelectionState, type FileProgress, type FileSelection } from './file-selection.js';
import type { CheckOutcome, TorrentData, TorrentEvents, TorrentOptions } from './torrent-options.js';
import { TorrentCounters } from './torrent-counters.js';
import { SnapshotCache, type TorrentSnapshot, type TorrentState } from './torrent-snapshot.js';
import { isTrading, TorrentTrade } from './torrent-trade.js';
import type { RefusedRequest } from './upload-server.js';

/**
 * One torrent in a peer-worker: its lifecycle, which files it fetches, its
 * speed limits and its figures. Its trade with its peers (the peer list,
 * the sessions' calls, download scheduling and upload serving) is a
 * TorrentTrade (torrent-trade.ts); the torrent says when it trades.
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

export class Torrent extends EventEmitter<TorrentEvents> {
  readonly meta: Metainfo;
  readonly infoHashHex: string;
  readonly geometry: PieceGeometry;
  readonly have: Bitfield;
  private readonly o: TorrentOptions;
  private readonly now: () => number;
  private readonly trade: TorrentTrade;
  private readonly bandwidth: TorrentBandwidth;
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
  /** Bumped whenever `have` changes (a check, a piece verified): the data's save is skipped when it has not. */
  private haveVersion = 0;
  private savedVersion = -1;
  /** The data's last save, until it ends. */
  private saving: Promise<void> | undefined;

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
    this.bandwidth = options.bandwidth ?? new Bandwidth().torrent();
    if (options.limits) this.bandwidth.setLimits(options.limits);
    this.trade = new TorrentTrade({
      options,
      geometry: this.geometry,
      have: this.have,
      counters: this.counters,
      bandwidth: this.bandwidth.paths,
      now: this.now,
      owner: this,
    });
    this.figures = new SnapshotCache({ meta: options.meta, have: this.have, selection: this.selection, counters: this.counters, live: this.trade.live });
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
    return this.trade.sessionCount;
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
    return isTrading(this.stateNow);
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
    this.haveVersion++;
    for (let i = 0; i < this.pieceCount; i++) {
      if (outcome.have.has(i)) this.have.set(i);
      else this.have.clear(i);
    }
    this.selection.reset(this.have);
    this.trade.build(
      this.selection.piecePriority,
      this.selection.sequential,
      (index) => this.pieceVerified(index),
      (error) => this.fail(error),
    );
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
    if (this.active) this.trade.quiesce('paused');
    void this.check(true);
  }

  private activate(): void {
    this.trade.resume();
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
    this.trade.setSequential(on);
  }

  /** Puts the first and last piece of every wanted file before everything else, or stops doing so. */
  setFirstLastPiece(on: boolean): void {
    this.selection.setFirstLastPiece(on, this.have);
    this.selectionChanged();
  }

  private selectionChanged(): void {
    this.emit('wake');
    this.trade.setPriorities(this.selection.piecePriority);
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
    this.trade.quiesce('paused');
    this.setState('paused');
    void this.save();
  }

  /** From `paused`, back to trading; from `error`, a fresh check first (the disk may have changed). */
  resume(): void {
    if (this.stateNow === 'paused' && this.trade.built) this.activate();
    else if (this.stateNow === 'paused' || this.stateNow === 'error') void this.check();
  }

  private fail(error: Error): void {
    // The first failure is the reason; pieces still at the sink fail after it for the same one.
    if (this.stateNow === 'stopped' || this.stateNow === 'error') return;
    if (this.active) this.trade.quiesce('shutdown');
    this.setState('error', error.message);
    this.emit('error', error);
  }

  /** Ends the torrent for good: sessions closed, pieces at the sink answered, then the data's save. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const was = this.stateNow;
      this.trade.quiesce('shutdown');
      this.setState('stopped');
      await this.trade.drain();
      if (was !== 'checking' && this.checkOutcome) await this.save();
    })();
    return this.stopping;
  }

  /**
   * Saves `have` with the data (resume data, embedded), unless it is what
   * was saved last: a download that completes and then stops saves once,
   * not twice (each save looks at every file, 10,000 of them in a large
   * torrent). A save under way is waited for either way.
   */
  private async save(): Promise<void> {
    if (this.savedVersion !== this.haveVersion) {
      this.savedVersion = this.haveVersion;
      const previous = this.saving;
      const saving = (async () => {
        await previous; // one at a time: a slower earlier save must not land over a later one
        await this.o.data.save?.(this.have).catch(() => {});
      })();
      this.saving = saving;
      void saving.then(() => {
        if (this.saving === saving) this.saving = undefined;
      });
    }
    await this.saving;
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
    this.trade.add(addresses);
    this.dial();
  }

  private dial(): void {
    if (this.stateNow === 'downloading') this.trade.dial();
  }

  /** Whether any peer is connected or still worth dialling: when false, the download cannot progress. */
  hasPeerProspects(): boolean {
    return this.trade.hasProspects();
  }

  /** A connection the listener accepted and whose handshake named this torrent. */
  acceptIncoming(socket: Socket, opening: IncomingOpening): void {
    // Checking, paused, stopped: nothing to trade yet.
    if (!this.active) socket.destroy();
    else this.trade.acceptIncoming(socket, opening);
  }

  /** The connected peers as the control APIs list them (peer-info.ts). Side-effect free. */
  peerList(): PeerInfo[] {
    return this.trade.peerList();
  }

  /** Block bytes received from each peer address, over the torrent's life. */
  peerContributions(): Record<string, number> {
    return this.counters.contributions(this.trade.live);
  }

  /**
   * Pieces verified elsewhere (another worker of the fleet wrote them to
   * the shared volume) become ours to serve, as if we had verified them.
   */
  adoptPieces(verified: Bitfield): void {
    this.trade.adopt(verified);
  }

  private pieceVerified(index: number): void {
    this.haveVersion++;
    this.emit('wake');
    this.selection.pieceVerified(index);
    this.emit('piece', index);
    if (this.isDone && this.stateNow === 'downloading') this.finished();
  }

  /** Every wanted piece is verified: seed what we have. */
  private finished(): void {
    this.setState('seeding');
    // Saved now, after the last write: a restart then trusts it instead of hashing the whole torrent.
    void this.save();
    this.emit('complete');
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
    this.skipped = this.trade.live.size === 0 && this.stateNow !== 'downloading' && this.counters.skipTick();
    if (this.skipped) return;
    this.trade.tick();
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
    return this.skipped && this.stateNow !== 'checking' && this.trade.writesPending === 0;
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
    await this.trade.drain();
  }
}
