import {
  BLOCK_LENGTH,
  type Bitfield,
  decodePex,
  encodeMessage,
  encodePieceHeader,
  encodeHaveBatch,
  encodeRequestBatch,
  formatPeerAddress,
  ProtocolError,
  type Handshake,
  type Message,
  type PeerAddress,
  type PexMessage,
} from '@seedbox/protocol';
import { UploadGate, type HeldBlock } from './bandwidth/upload-gate.js';
import { IncomingRequests } from './incoming-requests.js';
import { LOCAL_UT_METADATA_ID, LOCAL_UT_PEX_ID, MetadataExchange, type PeerExtensions } from './metadata-exchange.js';
import { OutgoingRequests, type BlockAnswer } from './outgoing-requests.js';
import { PeerConnection, type CloseReason, type ConnectionEncryption } from './peer-connection.js';
import {
  DEFAULT_TIMEOUTS,
  type IncomingRequest,
  type MetadataAnswer,
  type PeerHandler,
  type SessionContext,
  type SessionOptions,
  type SessionRefusal,
  type SessionTimeouts,
} from './peer-handler.js';
import { PeerQuality } from './peer-quality.js';
import { RateMeter } from './rate.js';
import { RemotePieces, type PiecesChange } from './remote-pieces.js';
import { RequestPipeline } from './request-pipeline.js';

/**
 * What one peer and we are to each other, over one PeerConnection: choke
 * and interest both ways, the pieces it has, its extensions (BEP 10), the
 * requests we have outstanding (pipelined, timed out), the requests it
 * made of us (queued until served), and the info dictionary we give it
 * (BEP 9). Which blocks to ask for and what to serve are decided by its
 * owner (the torrent sees every peer); the session tells the owner what
 * happened through `PeerHandler`, and the owner acts through the methods
 * here, never through the session's fields.
 */

export type { BlockAnswer, CloseReason, IncomingRequest, MetadataAnswer, PeerHandler, SessionContext, SessionOptions, SessionRefusal, SessionTimeouts };
export { DEFAULT_TIMEOUTS, LOCAL_UT_METADATA_ID };
export { sharedReadBuffer } from './peer-connection.js';

/** The request queue we advertise (BEP 10 `reqq`) and hold the peer to. */
const MAX_INCOMING_REQUESTS = 500;

export class PeerSession {
  readonly peer: PeerAddress;
  /** `host:port`, IPv6 bracketed: the key of this peer in every list. */
  readonly address: string;
  readonly direction: 'outgoing' | 'incoming';
  readonly download = new RateMeter();
  readonly upload = new RateMeter();
  readonly pipeline: RequestPipeline;
  /** Pieces the peer has. */
  readonly peerPieces: Bitfield;
  /** Both sides offered the extension. */
  fast = false;
  extended = false;
  amChoking = true;
  amInterested = false;
  peerChoking = true;
  peerInterested = false;

  private readonly conn: PeerConnection;
  private readonly ctx: SessionContext;
  private readonly handler: PeerHandler;
  private readonly o: SessionOptions;
  private readonly requestTimeout: number;
  private readonly now: () => number;
  private readonly pieces: RemotePieces;
  /** Ours to the peer. */
  private readonly ours = new OutgoingRequests();
  /** The peer's to us. */
  private readonly theirs = new IncomingRequests();
  /** BEP 10 and BEP 9 with this peer. */
  private readonly ext = new MetadataExchange((m) => this.send(m));
  /** The upload limit: blocks we serve wait here for their grant (see upload-gate.ts); none when unshaped. */
  private readonly gate: UploadGate | undefined;
  /** Whether the peer is worth its slot while we download (peer-quality.ts). */
  private readonly quality: PeerQuality;
  /** HAVEs waiting for this turn's write (see sendHave), and the turn's end that sends them if nothing else does. */
  private haves: number[] | undefined;
  private havesDue: NodeJS.Immediate | undefined;

  constructor(options: SessionOptions) {
    this.o = options;
    this.ctx = options.context;
    this.handler = options.handler;
    this.peer = options.peer;
    this.address = formatPeerAddress(options.peer.host, options.peer.port);
    this.direction = options.direction;
    this.now = options.now ?? Date.now;
    const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.requestTimeout = timeouts.request;
    this.quality = new PeerQuality(timeouts);
    this.pipeline = new RequestPipeline(options.pipeline);
    const pieceCount = this.ctx.pieceCount;
    this.pieces = new RemotePieces(pieceCount ?? 0);
    this.peerPieces = this.pieces.bits;
    this.conn = new PeerConnection({
      socket: options.socket,
      direction: options.direction,
      infoHash: this.ctx.infoHash,
      localPeerId: this.ctx.localPeerId,
      fast: options.fast ?? true,
      extended: options.extended ?? true,
      timeouts,
      // Without the metadata the bitfield's size is unknown: the codec's
      // default bound (1 MiB) still applies, and the bits are ignored.
      limits: pieceCount === undefined ? { maxBlockLength: BLOCK_LENGTH } : { maxBitfieldLength: Math.ceil(pieceCount / 8), maxBlockLength: BLOCK_LENGTH },
      handshake: options.handshake,
      leftover: options.leftover,
      cipher: options.cipher,
      encryptedHandshake: options.encryptedHandshake,
      encrypt: options.encrypt,
      now: this.now,
      download: options.bandwidth?.download,
    });
    const up = options.bandwidth?.upload;
    this.gate = up
      ? new UploadGate(
          up,
          (b) => this.writeBlock(b),
          () => {
            if (this.isOpen && this.writable) this.handler.sessionDrained?.(this);
          },
        )
      : undefined;
  }

  /** Starts the connection; from here on the handler hears of everything, its close included. */
  start(): void {
    this.conn.start({
      handshake: (h) => this.onHandshake(h),
      opened: () => this.onOpened(),
      message: (m) => this.onMessage(m),
      readDone: () => this.flush(false),
      drained: () => this.handler.sessionDrained?.(this),
      closed: (reason, error, wasOpen) => this.onClosed(reason, error, wasOpen),
    });
  }

  /** Bytes read into the shared read buffer (outgoing sockets; see dial.ts). */
  onData(chunk: Uint8Array): void {
    this.conn.onData(chunk);
  }

  get remote(): Handshake | undefined {
    return this.conn.remote;
  }

  get isOpen(): boolean {
    return this.conn.phase === 'open';
  }

  /** How the connection is hidden (message stream encryption). */
  get encryption(): ConnectionEncryption {
    return this.conn.encryption;
  }

  get isClosed(): boolean {
    return this.conn.phase === 'closed';
  }

  get peerIdHex(): string {
    const r = this.conn.remote;
    return r ? Buffer.from(r.peerId).toString('hex') : '';
  }

  get outstandingCount(): number {
    return this.ours.count;
  }

  /** Room in the pipeline for this many more requests. */
  get requestRoom(): number {
    if (!this.isOpen || this.peerChoking) return 0;
    return Math.max(0, this.pipeline.size - this.outstandingCount);
  }

  isRequested(index: number, begin: number): boolean {
    return this.ours.has(index, begin);
  }

  /**
   * Whether the peer is snubbing us: it unchoked us and holds our requests,
   * but sent no block for `seconds`, or a request timed out and none has
   * been answered in time since (the pipeline's snub). The choker moves
   * such a peer out of its regular slot.
   */
  isSnubbing(seconds: number): boolean {
    if (!this.amInterested || this.peerChoking) return false;
    if (this.pipeline.snubbed) return true;
    if (this.outstandingCount === 0) return false;
    const last = this.quality.lastAnswerAt;
    return last === 0 || (this.now() - last) / 1000 > seconds;
  }

  /** Whether the socket's send buffer, and the blocks held for the upload limit, have room (back-pressure for seeding). */
  get writable(): boolean {
    return this.conn.writable && (this.gate?.hasRoom ?? true);
  }

  // ---- receiving ----

  private onHandshake(h: Handshake): CloseReason | undefined {
    this.fast = (this.o.fast ?? true) && h.supportsFast;
    this.extended = (this.o.extended ?? true) && h.supportsExtended;
    return this.handler.admit(this);
  }

  private onOpened(): void {
    if (this.extended) {
      this.ext.sendHello({ clientName: this.o.clientName ?? 'seedbox', requestQueue: MAX_INCOMING_REQUESTS, listenPort: this.ctx.listenPort, metadata: this.ctx.metadata, pex: this.ctx.pex });
    }
    if (this.ctx.pieceCount === undefined) {
      // BEP 6 wants one of BITFIELD, HAVE_ALL or HAVE_NONE first; without the metadata we have nothing.
      if (this.fast) this.send({ type: 'have-none' });
      return;
    }
    const have = this.ctx.have;
    if (this.fast && have.isComplete) this.send({ type: 'have-all' });
    else if (this.fast && have.isEmpty) this.send({ type: 'have-none' });
    else if (!have.isEmpty) this.send({ type: 'bitfield', bits: have.toBytes() });
  }

  private onMessage(m: Message): void {
    switch (m.type) {
      case 'keep-alive':
        return;
      case 'piece':
        this.onPiece(m.index, m.begin, m.block);
        return;
      case 'choke':
        this.peerChoking = true;
        // BEP 3: a choke discards every pending request. With BEP 6 the peer rejects each one explicitly instead.
        if (!this.fast) this.dropAll();
        return;
      case 'unchoke':
        this.peerChoking = false;
        this.handler.fillRequests?.(this);
        return;
      case 'interested':
      case 'not-interested':
        this.peerInterested = m.type === 'interested';
        this.handler.peerInterestChanged?.(this);
        return;
      case 'have': {
        const count = this.ctx.pieceCount;
        if (count === undefined) return; // no metadata: nothing to check it against
        if (m.index >= count) throw new ProtocolError('PEER_HAVE_INDEX', `HAVE for piece ${m.index} of ${count}`);
        this.piecesChanged(this.pieces.have(m.index));
        return;
      }
      case 'bitfield':
        if (this.ctx.pieceCount !== undefined) this.piecesChanged(this.pieces.mergeBitfield(m.bits));
        return;
      case 'have-all':
      case 'have-none': {
        if (!this.fast) throw new ProtocolError('PEER_FAST_NOT_NEGOTIATED', `${m.type} without the Fast extension (BEP 6)`);
        const count = this.ctx.pieceCount;
        if (count === undefined) return;
        this.piecesChanged(this.pieces.merge(m.type === 'have-all' ? Array.from({ length: count }, (_, i) => i) : []));
        return;
      }
      case 'request':
        this.onRequest(m.index, m.begin, m.length);
        return;
      case 'cancel':
        this.theirs.remove(m.index, m.begin, m.length);
        this.gate?.drop(m.index, m.begin);
        return;
      case 'reject':
        if (!this.fast) throw new ProtocolError('PEER_FAST_NOT_NEGOTIATED', 'REJECT without the Fast extension (BEP 6)');
        if (this.ours.settle(m.index, m.begin)) this.handler.requestsDropped?.(this, [{ index: m.index, begin: m.begin }]);
        return;
      case 'extended':
        if (m.extendedId === 0) {
          this.ext.onHello(m.payload);
          if (this.ext.peerRequestQueue !== undefined) this.pipeline.limitTo(this.ext.peerRequestQueue);
          this.handler.extensionsChanged?.(this);
        } else if (m.extendedId === LOCAL_UT_METADATA_ID) {
          const answer = this.ext.onMessage(m.payload, this.ctx.metadata, this.writable);
          if (answer) this.handler.metadataAnswer?.(this, answer);
        } else if (m.extendedId === LOCAL_UT_PEX_ID && this.ctx.pex) {
          // A malformed message throws a PexError: a protocol error that closes the session, as a bad ut_metadata one does.
          this.handler.pexReceived?.(this, decodePex(m.payload));
        }
        return;
      case 'port':
      case 'suggest':
      case 'allowed-fast':
        return;
    }
  }

  private onRequest(index: number, begin: number, length: number): void {
    // cratetorrent's rule: peers may not request blocks while choked. With
    // BEP 6 we must answer with a REJECT; without it we ignore it. Past the
    // queue we advertised (reqq) the same holds.
    const refusal: SessionRefusal | undefined = this.amChoking ? 'choked' : this.theirs.queuedCount >= MAX_INCOMING_REQUESTS ? 'over-queue' : undefined;
    if (refusal) {
      this.handler.requestRefused?.(this, refusal);
      if (this.fast) this.send({ type: 'reject', index, begin, length });
      return;
    }
    // The same block asked for twice: the first request stands.
    if (!this.theirs.add(index, begin, length)) return;
    if (this.handler.blockRequested) this.handler.blockRequested(this, index, begin, length);
    else this.reject(index, begin, length);
  }

  /** What the peer offered in its BEP 10 handshake, and the BEP 9 exchange with it. */
  get extensions(): PeerExtensions {
    return this.ext;
  }

  /** The peer's extended handshake `v`, when sent. */
  get remoteClient(): string | undefined {
    return this.ext.remoteClient;
  }

  /** Whether the peer offered ut_metadata and has metadata to give (BEP 9). */
  get hasMetadataToGive(): boolean {
    return this.ext.hasMetadataToGive;
  }

  /** Asks the peer for one piece of the info dictionary; false when it does not speak ut_metadata. */
  requestMetadataPiece(piece: number): boolean {
    return this.isOpen && this.ext.request(piece);
  }

  /** Sends a ut_pex message (BEP 11); false when closed or the peer does not speak ut_pex. */
  sendPex(m: PexMessage): boolean {
    return this.isOpen && this.ext.sendPex(m);
  }

  private piecesChanged(change: PiecesChange): void {
    if (change.opening) this.handler.peerPiecesChanged?.(this);
    for (const i of change.added) this.handler.peerPiecesChanged?.(this, i);
  }

  private onPiece(index: number, begin: number, block: Uint8Array): void {
    const answer: BlockAnswer = this.ours.answer(index, begin);
    if (answer === 'unrequested') {
      // Wasted, and neither its rate nor its credit: only past the allowance is the peer dropped.
      this.handler.blockReceived?.(this, index, begin, block, answer);
      const verdict = this.quality.unrequestedBlock();
      if (verdict) this.close(verdict, new Error(`${this.quality.unrequested} blocks we never asked for (${index}:${begin} the last)`));
      return;
    }
    this.download.add(block.length);
    this.quality.answered(this.now());
    // Only an answer in time grows the pipeline and lifts a snub.
    if (answer === 'requested') this.pipeline.onBlock();
    this.handler.blockReceived?.(this, index, begin, block, answer);
    this.handler.fillRequests?.(this);
  }

  // ---- sending ----

  private send(m: Message): void {
    this.conn.send(encodeMessage(m));
  }

  /** Queues a request; sent on the next flush, batched with others in one write. */
  request(index: number, begin: number): void {
    this.ours.queue(index, begin);
  }

  /**
   * Sends the queued requests in one write. Unless `force`d, a small batch
   * waits while plenty are still outstanding: the pipe stays full either
   * way, and a write per block received would cost more than the request.
   */
  flush(force = true): void {
    const queued = this.ours.queuedCount;
    if (queued === 0 || !this.isOpen) return;
    if (!force) {
      const batch = Math.max(1, this.pipeline.size >> 4);
      if (queued < batch && this.ours.outstandingCount >= this.pipeline.size >> 1) return;
    }
    const requests = encodeRequestBatch(this.ours.send(this.now(), this.ctx.blockLength));
    if (!this.haves) return this.conn.send(requests);
    this.conn.cork();
    this.writeHaves();
    this.conn.send(requests);
    this.conn.uncork();
  }

  cancel(index: number, begin: number): void {
    if (this.ours.cancel(index, begin) === 'outstanding') this.send({ type: 'cancel', index, begin, length: this.ctx.blockLength(index, begin) });
  }

  setInterested(interested: boolean): void {
    if (this.amInterested === interested || !this.isOpen) return;
    this.amInterested = interested;
    if (interested) this.quality.interested(this.now());
    this.send({ type: interested ? 'interested' : 'not-interested' });
  }

  setChoking(choking: boolean): void {
    if (this.amChoking === choking || !this.isOpen) return;
    this.amChoking = choking;
    this.send({ type: choking ? 'choke' : 'unchoke' });
    if (!choking) return;
    // BEP 3: choking discards the peer's requests. BEP 6: each is rejected explicitly.
    const discarded: { index: number; begin: number; length: number }[] = this.theirs.takeAll();
    // Blocks served but still held by the upload limit are discarded too: after a choke they would be unasked for.
    for (const b of this.gate?.clear() ?? []) discarded.push(b);
    if (this.fast) for (const r of discarded) this.send({ type: 'reject', ...r });
  }

  /** The oldest request waiting to be served, left in the queue. */
  peekIncoming(): IncomingRequest | undefined {
    return this.theirs.peek();
  }

  /** The oldest request waiting to be served, moved to the serving set. */
  nextIncoming(): IncomingRequest | undefined {
    return this.theirs.next();
  }

  get pendingIncoming(): number {
    return this.theirs.queuedCount;
  }

  /** Whether a block read for the peer is still wanted (not cancelled, not choked away); it leaves the serving set. */
  finishServing(index: number, begin: number, length: number): boolean {
    return this.theirs.finish(index, begin, length);
  }

  /** Batches the writes that follow into one writev until uncork(). */
  cork(): void {
    this.conn.cork();
  }

  uncork(): void {
    this.conn.uncork();
  }

  /**
   * Tells the peer we have a piece: in the same write as the requests that
   * follow in this turn, or at its end. A HAVE goes to every peer for every
   * piece verified, and a write of its own each (a system call, 43 µs here)
   * was 168 ms of a 10,000-file download's event loop.
   */
  sendHave(index: number): void {
    if (!this.isOpen) return;
    if (!this.haves) {
      this.haves = [];
      this.havesDue = setImmediate(() => this.writeHaves());
    }
    this.haves.push(index);
  }

  private writeHaves(): void {
    const haves = this.haves;
    if (!haves) return;
    this.haves = undefined;
    clearImmediate(this.havesDue);
    this.havesDue = undefined;
    if (this.isOpen) this.conn.send(encodeHaveBatch(haves));
  }

  /**
   * Sends a block we serve, now or, under an upload limit, once granted;
   * `sent` is called when it went to the socket, `done` once nothing holds
   * `data` any more (written, or dropped unsent).
   */
  sendBlock(index: number, begin: number, data: Uint8Array, sent?: () => void, done?: () => void): void {
    if (!this.isOpen) return done?.();
    if (this.gate) this.gate.offer({ index, begin, data, sent, done });
    else this.writeBlock({ index, begin, data, sent, done });
  }

  /** The header and the data as two writes, corked, so the block is not copied. */
  private writeBlock(b: HeldBlock): void {
    if (!this.isOpen) return b.done?.();
    this.conn.cork();
    this.conn.send(encodePieceHeader(b.index, b.begin, b.data.length));
    this.conn.send(b.data, b.done);
    this.conn.uncork();
    this.upload.add(b.data.length);
    b.sent?.();
  }

  /** Refuses one of the peer's requests (BEP 6 REJECT; without Fast the request is just dropped). */
  reject(index: number, begin: number, length: number): void {
    this.theirs.remove(index, begin, length);
    if (this.fast && this.isOpen) this.send({ type: 'reject', index, begin, length });
  }

  // ---- the tick ----

  /** Called once a tick by the owner: rates, keep-alives and timeouts, the pipeline, and more requests. */
  tick(): void {
    const down = this.download.tick();
    this.upload.tick();
    if (!this.conn.tick()) return;
    this.pipeline.onTick(down);
    const expired = this.ours.expire(this.now(), this.requestTimeout);
    if (expired.length > 0) {
      // The blocks go back to the pool for other peers; if the late answer
      // still comes before someone else's, blockReceived takes it.
      this.pipeline.onTimeout();
      this.handler.requestsDropped?.(this, expired);
    }
    const verdict = this.quality.judge(this.now(), { interested: this.amInterested, choked: this.peerChoking, snubbed: this.pipeline.snubbed });
    if (verdict) return this.close(verdict);
    this.handler.fillRequests?.(this);
    this.flush();
  }

  private dropAll(): void {
    const dropped = this.ours.dropAll();
    if (dropped.length > 0) this.handler.requestsDropped?.(this, dropped);
  }

  close(reason: CloseReason, error?: Error): void {
    this.conn.close(reason, error);
  }

  private onClosed(reason: CloseReason, error: Error | undefined, wasOpen: boolean): void {
    this.gate?.clear();
    clearImmediate(this.havesDue);
    this.haves = this.havesDue = undefined;
    if (wasOpen) this.dropAll();
    this.handler.sessionClosed(this, reason, error);
  }
}
