import { BLOCK_LENGTH, type Bitfield, type PieceGeometry } from '@seedbox/protocol';
import type { PieceSink, PieceWriteOutcome } from '@seedbox/cluster';
import type { BlockRef } from './block-key.js';
import type { BlockAnswer } from './outgoing-requests.js';
import { PieceDownload } from './piece-download.js';
import { extentPieces, PiecePicker } from './piece-picker.js';
import type { PeerSession } from './peer-session.js';
import { RateMeter } from './rate.js';

/**
 * The download side of one torrent: which blocks each peer is asked for
 * (pieces under way first, then rarest first, then endgame), the pieces
 * being assembled, their hand-off to the PieceSink with a bound on bytes
 * waiting for it, and blame for pieces that fail their hash.
 *
 * All of it runs on the one event loop that serves the sockets: sessions
 * call in synchronously, so the picker and the downloads are shared
 * without locks. SHA-1 and disk I/O run elsewhere, behind the sink.
 */

export interface DownloadSchedulerOptions {
  infoHashHex: string;
  geometry: PieceGeometry;
  /** Pieces verified: the scheduler sets bits here as the sink answers. */
  have: Bitfield;
  sink: PieceSink;
  /** The torrent's live sessions, for refills and endgame cancels. */
  sessions: () => Iterable<PeerSession>;
  /** Stop starting new pieces while this many bytes wait for the sink. Default 64 MiB. */
  maxWriteBacklogBytes?: number | undefined;
  /** Endgame sends a block to at most this many peers at once. Default 3. */
  endgameDuplicates?: number | undefined;
  /** Per-piece priority (0 = skip; see file-selection.ts). Default: every piece wanted alike. */
  priorities?: Uint8Array | undefined;
  /** Start pieces in index order instead of rarest first. */
  sequential?: boolean | undefined;
  /** A piece was verified and written. */
  onVerified: (index: number) => void;
  /** A peer that alone sent bad pieces twice: the owner closes and bans it. */
  onBadPeer: (address: string) => void;
  /** The sink could not write a piece (after its own retries). */
  onWriteError: (index: number, error: Error) => void;
}

/** Bad pieces a peer may alone have sent before it is dropped. */
const STRIKES = 2;

/** What the scheduler iterates when no piece is under way. */
const NO_DOWNLOADS: readonly PieceDownload[] = [];

export class DownloadScheduler {
  readonly meter = new RateMeter();
  /** Block bytes that were not needed (endgame duplicates, late blocks, blocks never asked for). */
  wasted = 0;
  verified = 0;
  failed = 0;
  private readonly o: DownloadSchedulerOptions;
  private readonly picker: PiecePicker;
  // The maps below exist only while they hold something (undefined when
  // empty), and what needed only a count is one: a torrent seeding or idle,
  // one of thousands in a process, holds no empty Map (~170 bytes each).
  /** Pieces being fetched, by index. */
  private downloads: Map<number, PieceDownload> | undefined;
  /**
   * The pieces of `downloads` that may have a block nobody has asked for
   * (a late answer can fill a freed block before anyone looks): the only
   * ones a refill looks at first. Walking every piece under way instead
   * took 56 steps per block received in small-files.
   */
  private unclaimed: Set<PieceDownload> | undefined;
  /** Pieces handed to the sink and not yet answered; each index at most once, since the picker keeps it busy meanwhile. */
  private writesInFlight = 0;
  private writeBacklog = 0;
  /** Per session: pieces it has that we lack. Interest follows it without rescanning bitfields. */
  private interesting: Map<PeerSession, number> | undefined;
  /** Bad pieces each address alone sent; kept for the torrent's life once there is one. */
  private strikes: Map<string, number> | undefined;
  /** Set while paused or stopped: answers from the sink are not acted on. */
  private idle = false;

  constructor(options: DownloadSchedulerOptions) {
    this.o = options;
    this.picker = new PiecePicker(options.have, {
      priorities: options.priorities,
      sequential: options.sequential,
      extentPieces: extentPieces(options.geometry.pieceLength),
    });
  }

  /** Every wanted piece is verified: nothing more to fetch (skipped pieces may be missing). */
  get done(): boolean {
    return this.picker.missingCount === 0;
  }

  /**
   * New piece priorities: newly wanted pieces start being fetched (interest
   * and requests follow at once), newly skipped pieces are not started;
   * pieces under way may finish.
   */
  setPriorities(priorities: Uint8Array): void {
    this.picker.setPriorities(priorities);
    for (const s of this.o.sessions()) {
      if (!this.interesting?.has(s)) continue;
      this.interesting.set(s, this.wantedOf(s));
      this.updateInterest(s);
    }
  }

  setSequential(on: boolean): void {
    this.picker.setSequential(on);
  }

  /** Pieces the session has that we want and lack. */
  private wantedOf(session: PeerSession): number {
    let n = 0;
    for (const i of session.peerPieces.setIndices()) if (!this.o.have.has(i) && this.picker.isWanted(i)) n++;
    return n;
  }

  get writesPending(): number {
    return this.writesInFlight;
  }

  /** The peer's pieces changed: availability, and whether we are interested. */
  peerPiecesChanged(session: PeerSession, index?: number): void {
    const have = this.o.have;
    if (index !== undefined) {
      // One HAVE: counted incrementally.
      if (!have.has(index) && this.picker.isWanted(index)) {
        const interesting = (this.interesting ??= new Map());
        interesting.set(session, (interesting.get(session) ?? 0) + 1);
      }
      this.picker.peerHas(index);
    } else {
      // The opening BITFIELD, HAVE_ALL or HAVE_NONE: the session guarantees it comes before any HAVE.
      (this.interesting ??= new Map()).set(session, this.wantedOf(session));
      this.picker.addPeer(session.peerPieces);
    }
    this.updateInterest(session);
  }

  sessionClosed(session: PeerSession): void {
    if (!this.interesting?.delete(session)) return;
    if (this.interesting.size === 0) this.interesting = undefined;
    this.picker.removePeer(session.peerPieces);
  }

  private updateInterest(session: PeerSession): void {
    // Counts only wanted pieces we lack: 0 once every wanted piece is verified.
    const want = (this.interesting?.get(session) ?? 0) > 0;
    session.setInterested(want);
    if (want) this.refill(session);
  }

  /** The session's pipeline has room: queue requests on it (the session sends them in one batch). */
  fillRequests(session: PeerSession): void {
    let room = session.requestRoom;
    if (room <= 0 || !session.amInterested || this.idle) return;
    const peerPieces = session.peerPieces;

    // 1. Finish pieces already under way: fewer partial pieces, sooner HAVEs.
    for (const d of this.unclaimed ?? NO_DOWNLOADS) {
      if (room <= 0) break;
      if (peerPieces.has(d.index)) room = this.requestFree(session, d, room);
    }

    // 2. Start new pieces (by priority, then rarest first or in order), while the sink keeps up.
    const maxBacklog = this.o.maxWriteBacklogBytes ?? 24 * 1024 * 1024;
    while (room > 0 && this.writeBacklog < maxBacklog) {
      const index = this.picker.pick(peerPieces.isComplete ? 'all' : peerPieces);
      if (index === undefined) break;
      const d = new PieceDownload(index, this.o.geometry.pieceSize(index));
      (this.downloads ??= new Map()).set(index, d);
      this.picker.markBusy(index);
      (this.unclaimed ??= new Set()).add(d);
      room = this.requestFree(session, d, room);
    }

    // 3. Endgame: every missing block has been asked for. The ones still
    // pending go to this peer too, whoever answers first wins, and the
    // other copies are cancelled. A slow peer then cannot hold up the end.
    if (room > 0 && this.picker.unstartedCount === 0) {
      const maxCopies = this.o.endgameDuplicates ?? 3;
      for (const d of this.downloads?.values() ?? NO_DOWNLOADS) {
        if (room <= 0) break;
        if (!peerPieces.has(d.index) || d.hasFree()) continue;
        for (let b = 0; b < d.blockCount && room > 0; b++) {
          if (!d.isPending(b) || d.requestCount(b) >= maxCopies || session.isRequested(d.index, b * BLOCK_LENGTH)) continue;
          d.markRequested(b);
          session.request(d.index, b * BLOCK_LENGTH);
          room--;
        }
      }
    }
  }

  /** Asks `session` for d's free blocks while it has room; d leaves `unclaimed` once none is left. */
  private requestFree(session: PeerSession, d: PieceDownload, room: number): number {
    let b = d.nextFree();
    for (; b !== -1 && room > 0; b = d.nextFree()) {
      d.markRequested(b);
      session.request(d.index, b * BLOCK_LENGTH);
      room--;
    }
    if (b === -1) this.claimed(d);
    return room;
  }

  /** Every block of d is asked for or here. */
  private claimed(d: PieceDownload): void {
    if (this.unclaimed?.delete(d) && this.unclaimed.size === 0) this.unclaimed = undefined;
  }

  /** A request for d's block ended unanswered: the block may be free again. */
  private release(d: PieceDownload, block: number): void {
    if (d.release(block)) (this.unclaimed ??= new Set()).add(d);
  }

  /** fillRequests from outside a session's read: send at once. */
  refill(session: PeerSession): void {
    if (!session.isOpen) return;
    this.fillRequests(session);
    session.flush();
  }

  private refillAll(except?: PeerSession): void {
    for (const s of this.o.sessions()) if (s !== except) this.refill(s);
  }

  /**
   * A block from a peer. A late answer (to a request timed out, cancelled
   * or lost to a choke) is taken if the block is still missing; a block we
   * never asked that peer for is not, even when it would fit: it could be
   * anything, and a piece it spoiled would blame nobody (see pieceFailed).
   */
  blockReceived(session: PeerSession, index: number, begin: number, data: Uint8Array, answer: BlockAnswer): void {
    const d = this.downloads?.get(index);
    if (!d || answer === 'unrequested') {
      this.wasted += data.length;
      return;
    }
    const block = begin / BLOCK_LENGTH;
    if (!Number.isInteger(block) || block >= d.blockCount || data.length !== d.blockLength(block)) {
      session.close('protocol-error', new Error(`block ${index}:${begin}+${data.length} does not match a requested block`));
      return;
    }
    // Not this.release: the block is stored at once (or was here already), never left free.
    if (answer === 'requested') d.release(block);
    if (!d.receive(block, data, session.address)) {
      this.wasted += data.length;
      return;
    }
    this.meter.add(data.length);
    if (d.requestCount(block) > 0) {
      // Endgame duplicates or a re-request after a timeout: cancel the other copies.
      for (const other of this.o.sessions()) {
        if (other !== session && other.isRequested(index, begin)) {
          other.cancel(index, begin);
          d.release(block);
        }
      }
    }
    if (d.complete) this.submit(d);
  }

  requestsDropped(session: PeerSession, blocks: readonly BlockRef[]): void {
    for (const { index, begin } of blocks) {
      const d = this.downloads?.get(index);
      if (d) this.release(d, begin / BLOCK_LENGTH);
    }
    // Freed blocks may go to other peers right away.
    if (!this.idle) this.refillAll(session);
  }

  /**
   * Pieces verified elsewhere (another worker of the fleet wrote them to
   * the shared volume) become ours, as if we had verified them.
   */
  adopt(index: number): void {
    if (!this.o.have.has(index)) this.verifiedPiece(index);
  }

  /**
   * Drops every piece under way (pause, stop), once the sessions are
   * closed: their blocks are asked for again later. Pieces at the sink are
   * answered as usual.
   */
  pause(): void {
    this.idle = true;
    for (const d of this.downloads?.values() ?? NO_DOWNLOADS) this.picker.markIdle(d.index);
    this.downloads = undefined;
    this.unclaimed = undefined;
  }

  resume(): void {
    this.idle = false;
  }

  private submit(d: PieceDownload): void {
    if (this.downloads?.delete(d.index) && this.downloads.size === 0) this.downloads = undefined;
    this.claimed(d);
    this.writesInFlight++;
    this.writeBacklog += d.size;
    void this.write(d);
  }

  /** Hands a complete piece to the sink. The sink retries I/O errors itself; its answer is final. */
  private async write(d: PieceDownload): Promise<void> {
    let outcome: PieceWriteOutcome;
    try {
      outcome = await this.o.sink.writePiece({ infoHash: this.o.infoHashHex, index: d.index, blocks: d.blocks() });
    } catch (err) {
      outcome = { status: 'io-error', error: (err as Error).message };
    }
    this.writesInFlight--;
    this.writeBacklog -= d.size;
    switch (outcome.status) {
      case 'written':
        // Written is written, paused or not: the bit matches the disk.
        this.verifiedPiece(d.index);
        break;
      case 'hash-mismatch':
        this.pieceFailed(d);
        break;
      case 'io-error':
      case 'unknown-torrent':
        this.picker.markIdle(d.index);
        this.o.onWriteError(d.index, new Error(`piece ${d.index} could not be written: ${outcome.status === 'io-error' ? outcome.error : outcome.status}`));
        break;
    }
    if (!this.idle) this.refillAll();
  }

  private verifiedPiece(index: number): void {
    if (this.o.have.has(index)) return;
    this.picker.markHave(index);
    this.verified++;
    const wanted = this.picker.isWanted(index);
    for (const s of this.o.sessions()) {
      if (!s.isOpen) continue;
      s.sendHave(index);
      if (wanted && s.peerPieces.has(index)) {
        const interesting = (this.interesting ??= new Map());
        interesting.set(s, (interesting.get(s) ?? 1) - 1);
        this.updateInterest(s);
      }
    }
    this.o.onVerified(index);
  }

  private pieceFailed(d: PieceDownload): void {
    this.failed++;
    this.picker.markIdle(d.index);
    // Only a peer that alone sent a bad piece is to blame for it.
    if (d.contributors.size !== 1) return;
    const [address] = d.contributors as Set<string>;
    const strikes = (this.strikes ??= new Map());
    const n = (strikes.get(address!) ?? 0) + 1;
    strikes.set(address!, n);
    if (n >= STRIKES) this.o.onBadPeer(address!);
  }

  /** Resolves when no piece is waiting for the sink. */
  async drain(): Promise<void> {
    while (this.writesInFlight > 0) await new Promise((r) => setTimeout(r, 20));
  }
}
