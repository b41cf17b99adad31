import type { Socket } from 'node:net';
import {
  Bitfield,
  BitfieldError,
  BLOCK_LENGTH,
  decodeExtendedHandshake,
  decodeUtMetadata,
  encodeExtendedHandshake,
  encodeMessage,
  encodePieceHeader,
  encodeRequestBatch,
  encodeUtMetadata,
  formatPeerAddress,
  metadataPiece,
  metadataPieceCount,
  ProtocolError,
  UT_METADATA,
  type Handshake,
  type Message,
  type PeerAddress,
  type UtMetadataMessage,
} from '@seedbox/protocol';
import { blockKey, fromBlockKey, type BlockRef } from './block-key.js';
import { PeerConnection, type CloseReason, type ConnectionTimeouts } from './peer-connection.js';
import { RateMeter } from './rate.js';
import { RequestPipeline, type PipelineOptions } from './request-pipeline.js';

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

export type { CloseReason };

export interface SessionTimeouts extends ConnectionTimeouts {
  /** An unanswered request is given up (its block freed for other peers) after this, ms. */
  request: number;
}

export const DEFAULT_TIMEOUTS: SessionTimeouts = {
  connect: 10_000,
  handshake: 10_000,
  idle: 180_000,
  request: 20_000,
  keepAlive: 90_000,
};

/** A ut_metadata message the owner handles: the answers to our requests. */
export type MetadataAnswer = Extract<UtMetadataMessage, { type: 'data' | 'reject' }>;

/** Why the session itself refused a request of the peer's, before its owner saw it. */
export type SessionRefusal = 'choked' | 'over-queue';

/** What a session reads of its torrent; none of it changes during a call. */
export interface SessionContext {
  readonly infoHash: Uint8Array;
  readonly localPeerId: Uint8Array;
  /** Our listen port, for the extended handshake. */
  readonly listenPort: number | undefined;
  /**
   * Pieces in the torrent; undefined while the metadata is unknown (a
   * magnet link's metadata fetch). The session then ignores the peer's
   * BITFIELD and HAVEs, whose size it cannot check, and has nothing to offer.
   */
  readonly pieceCount: number | undefined;
  /** Pieces we have, for our BITFIELD (unused while pieceCount is undefined). */
  readonly have: Bitfield;
  /** BEP 9: the info dictionary we give peers that ask; undefined when we have none to give. */
  readonly metadata: Uint8Array | undefined;
  /** The length of the block at (index, begin): the torrent knows its geometry. */
  blockLength(index: number, begin: number): number;
}

/**
 * What a session tells its owner. Only `admit` and `sessionClosed` are
 * required: a metadata fetch, which has no pieces, leaves the rest out,
 * and the session then does the safe thing (a peer's block request is
 * rejected, its blocks are ignored).
 */
export interface PeerHandler {
  /** The handshake passed the session's own checks; the owner may still refuse (self, duplicate, cap). */
  admit(session: PeerSession): CloseReason | undefined;
  /** The session ended; called exactly once, for every session that was started. */
  sessionClosed(session: PeerSession, reason: CloseReason, error: Error | undefined): void;
  /** The peer's pieces changed: one HAVE (`index`), or its opening BITFIELD, HAVE_ALL or HAVE_NONE. */
  peerPiecesChanged?(session: PeerSession, index?: number): void;
  /** The pipeline has room: request more blocks through `session.request`. */
  fillRequests?(session: PeerSession): void;
  /** A block arrived; `solicited` is false when no request of this session was outstanding for it (a late answer). */
  blockReceived?(session: PeerSession, index: number, begin: number, data: Uint8Array, solicited: boolean): void;
  /** Requests that will not be answered any more (choke, reject, timeout, close). */
  requestsDropped?(session: PeerSession, blocks: readonly BlockRef[]): void;
  /** A peer asked us for a block; it is queued in the session. Without this handler the request is rejected. */
  blockRequested?(session: PeerSession, index: number, begin: number, length: number): void;
  /** The session refused a request itself (the peer is choked, or over the queue we advertised). */
  requestRefused?(session: PeerSession, reason: SessionRefusal): void;
  /** The peer became interested or lost interest. */
  peerInterestChanged?(session: PeerSession): void;
  /** The socket's send buffer drained: more blocks may be served. */
  sessionDrained?(session: PeerSession): void;
  /** The peer's BEP 10 handshake arrived: its extensions and metadata_size are known. */
  extensionsChanged?(session: PeerSession): void;
  /** A ut_metadata data or reject message; `data` is a view into a reused read buffer. */
  metadataAnswer?(session: PeerSession, answer: MetadataAnswer): void;
}

/** A peer's request queued with us. */
export interface IncomingRequest extends BlockRef {
  length: number;
}

/** The request queue we advertise (BEP 10 `reqq`) and hold the peer to. */
const MAX_INCOMING_REQUESTS = 500;

/** The id we want ut_metadata messages under (BEP 10 ids are the receiver's choice); 2 is libtorrent's too. */
export const LOCAL_UT_METADATA_ID = 2;

/**
 * One read buffer for every outgoing socket (net.connect's `onread`): Node
 * then reads into it instead of allocating a fresh buffer per read, which at
 * 400 MB/s was most of the garbage the collector had to sweep. Sharing it is
 * safe because reads are delivered one at a time on the event loop and the
 * connection copies out whatever it keeps before returning.
 */
export const sharedReadBuffer = Buffer.allocUnsafe(256 * 1024);

export interface SessionOptions {
  socket: Socket;
  context: SessionContext;
  handler: PeerHandler;
  direction: 'outgoing' | 'incoming';
  peer: PeerAddress;
  /** For an incoming session the listener already read the peer's handshake, and these bytes followed it. */
  handshake?: Handshake | undefined;
  leftover?: Uint8Array | undefined;
  timeouts?: Partial<SessionTimeouts> | undefined;
  pipeline?: PipelineOptions | undefined;
  /** Turn on BEP 6 / BEP 10 in our handshake. */
  fast?: boolean;
  extended?: boolean;
  clientName?: string;
  now?: () => number;
}

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
  /** The peer's extended handshake `v`, when sent. */
  remoteClient: string | undefined;
  /** The peer's BEP 10 extensions: name → the id it wants their messages under. */
  peerExtensions: ReadonlyMap<string, number> = new Map();
  /** The size of the info dictionary the peer can give us (BEP 9 `metadata_size`), when it advertised one. */
  peerMetadataSize: number | undefined;
  /** ut_metadata requests from the peer that we answered with data, and with a reject. */
  metadataServed = 0;
  metadataRejected = 0;
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
  private sawBitfield = false;
  /** Our requests without an answer yet: key → time sent. */
  private readonly outstanding = new Map<number, number>();
  /** Requests to send on the next flush, batched into one write. */
  private readonly queued: number[] = [];
  /** The peer's requests waiting to be served, in arrival order. */
  private readonly incoming = new Map<number, IncomingRequest>();
  /** Requests whose block is being read from disk; a CANCEL or CHOKE removes them. */
  private readonly serving = new Map<number, number>();
  private lastBlockAt = 0;

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
    this.pipeline = new RequestPipeline(options.pipeline);
    const pieceCount = this.ctx.pieceCount;
    this.peerPieces = new Bitfield(pieceCount ?? 0);
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
      now: this.now,
    });
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

  get isClosed(): boolean {
    return this.conn.phase === 'closed';
  }

  get peerIdHex(): string {
    const r = this.conn.remote;
    return r ? Buffer.from(r.peerId).toString('hex') : '';
  }

  get outstandingCount(): number {
    return this.outstanding.size + this.queued.length;
  }

  /** Room in the pipeline for this many more requests. */
  get requestRoom(): number {
    if (!this.isOpen || this.peerChoking) return 0;
    return Math.max(0, this.pipeline.size - this.outstandingCount);
  }

  isRequested(index: number, begin: number): boolean {
    const key = blockKey(index, begin);
    return this.outstanding.has(key) || this.queued.includes(key);
  }

  /**
   * Whether the peer is snubbing us: it unchoked us and holds our requests,
   * but sent no block for `seconds`. The choker moves such a peer out of
   * its regular slot.
   */
  isSnubbing(seconds: number): boolean {
    if (!this.amInterested || this.peerChoking || this.outstandingCount === 0) return false;
    return this.lastBlockAt === 0 || (this.now() - this.lastBlockAt) / 1000 > seconds;
  }

  /** Whether the socket's send buffer has room (back-pressure for seeding). */
  get writable(): boolean {
    return this.conn.writable;
  }

  // ---- receiving ----

  private onHandshake(h: Handshake): CloseReason | undefined {
    this.fast = (this.o.fast ?? true) && h.supportsFast;
    this.extended = (this.o.extended ?? true) && h.supportsExtended;
    return this.handler.admit(this);
  }

  private onOpened(): void {
    if (this.extended) {
      const metadata = this.ctx.metadata;
      const ext = encodeExtendedHandshake({
        // Offered even without metadata to give: a peer may then ask and be
        // rejected (BEP 9), and a metadata fetch needs it to be answered.
        m: new Map([[UT_METADATA, LOCAL_UT_METADATA_ID]]),
        clientName: this.o.clientName ?? 'seedbox',
        requestQueue: MAX_INCOMING_REQUESTS,
        ...(this.ctx.listenPort !== undefined ? { listenPort: this.ctx.listenPort } : {}),
        ...(metadata ? { metadataSize: metadata.length } : {}),
      });
      this.send({ type: 'extended', extendedId: 0, payload: ext });
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
        if (!this.sawBitfield) this.mergePieces([]); // a HAVE first: the peer had nothing before it
        if (this.peerPieces.set(m.index)) this.handler.peerPiecesChanged?.(this, m.index);
        return;
      }
      case 'bitfield':
        if (this.ctx.pieceCount !== undefined) this.onBitfield(m.bits, this.ctx.pieceCount);
        return;
      case 'have-all':
      case 'have-none': {
        if (!this.fast) throw new ProtocolError('PEER_FAST_NOT_NEGOTIATED', `${m.type} without the Fast extension (BEP 6)`);
        const count = this.ctx.pieceCount;
        if (count === undefined) return;
        this.mergePieces(m.type === 'have-all' ? Array.from({ length: count }, (_, i) => i) : []);
        return;
      }
      case 'request':
        this.onRequest(m.index, m.begin, m.length);
        return;
      case 'cancel': {
        const key = blockKey(m.index, m.begin);
        if (this.incoming.get(key)?.length === m.length) this.incoming.delete(key);
        if (this.serving.get(key) === m.length) this.serving.delete(key);
        return;
      }
      case 'reject': {
        if (!this.fast) throw new ProtocolError('PEER_FAST_NOT_NEGOTIATED', 'REJECT without the Fast extension (BEP 6)');
        if (this.outstanding.delete(blockKey(m.index, m.begin))) this.handler.requestsDropped?.(this, [{ index: m.index, begin: m.begin }]);
        return;
      }
      case 'extended':
        if (m.extendedId === 0) this.onExtendedHandshake(m.payload);
        else if (m.extendedId === LOCAL_UT_METADATA_ID) this.onUtMetadata(m.payload);
        return;
      case 'port':
      case 'suggest':
      case 'allowed-fast':
        return;
    }
  }

  private onRequest(index: number, begin: number, length: number): void {
    const key = blockKey(index, begin);
    // cratetorrent's rule: peers may not request blocks while choked. With
    // BEP 6 we must answer with a REJECT; without it we ignore it. Past the
    // queue we advertised (reqq) the same holds.
    const refusal: SessionRefusal | undefined = this.amChoking ? 'choked' : this.incoming.size >= MAX_INCOMING_REQUESTS ? 'over-queue' : undefined;
    if (refusal) {
      this.handler.requestRefused?.(this, refusal);
      if (this.fast) this.send({ type: 'reject', index, begin, length });
      return;
    }
    // The same block asked for twice: the first request stands.
    if (this.incoming.has(key) || this.serving.has(key)) return;
    this.incoming.set(key, { index, begin, length });
    if (this.handler.blockRequested) this.handler.blockRequested(this, index, begin, length);
    else this.reject(index, begin, length);
  }

  private onExtendedHandshake(payload: Uint8Array): void {
    const ext = decodeExtendedHandshake(payload);
    this.remoteClient = ext.clientName;
    if (ext.requestQueue !== undefined) this.pipeline.limitTo(ext.requestQueue);
    // A later handshake replaces the map: clients send it whole.
    this.peerExtensions = ext.m;
    if (ext.metadataSize !== undefined) this.peerMetadataSize = ext.metadataSize;
    this.handler.extensionsChanged?.(this);
  }

  /** BEP 9. A malformed message throws a UtMetadataError: a protocol error that closes the session. */
  private onUtMetadata(payload: Uint8Array): void {
    const msg = decodeUtMetadata(payload);
    switch (msg.type) {
      case 'request':
        this.answerMetadataRequest(msg.piece);
        return;
      case 'data':
      case 'reject':
        this.handler.metadataAnswer?.(this, msg);
        return;
      case 'unknown':
        return; // BEP 9: ignored, for future message types
    }
  }

  /**
   * Serves one piece of the info dictionary, or rejects: when we have no
   * metadata to give, the piece is past its end, or the socket is backed
   * up (a peer asking faster than it reads is not buffered without bound).
   */
  private answerMetadataRequest(piece: number): void {
    const id = this.peerExtensions.get(UT_METADATA);
    // It never said which id it reads ut_metadata under: there is no way to answer.
    if (id === undefined) return;
    const metadata = this.ctx.metadata;
    if (!metadata || piece >= metadataPieceCount(metadata.length) || !this.writable) {
      this.metadataRejected++;
      this.send({ type: 'extended', extendedId: id, payload: encodeUtMetadata({ type: 'reject', piece }) });
      return;
    }
    const payload = encodeUtMetadata({ type: 'data', piece, totalSize: metadata.length, data: metadataPiece(metadata, piece) });
    this.metadataServed++;
    this.send({ type: 'extended', extendedId: id, payload });
  }

  /** Whether the peer offered ut_metadata and has metadata to give (BEP 9). */
  get hasMetadataToGive(): boolean {
    return this.peerExtensions.has(UT_METADATA) && this.peerMetadataSize !== undefined;
  }

  /** Asks the peer for one piece of the info dictionary; false when it does not speak ut_metadata. */
  requestMetadataPiece(piece: number): boolean {
    const id = this.peerExtensions.get(UT_METADATA);
    if (id === undefined || !this.isOpen) return false;
    this.send({ type: 'extended', extendedId: id, payload: encodeUtMetadata({ type: 'request', piece }) });
    return true;
  }

  private onBitfield(bits: Uint8Array, pieceCount: number): void {
    let bf: Bitfield;
    try {
      bf = Bitfield.fromBytes(bits, pieceCount);
    } catch (err) {
      if (err instanceof BitfieldError) throw new ProtocolError(err.code, err.message, { cause: err });
      throw err;
    }
    this.mergePieces(bf.setIndices());
  }

  /**
   * BEP 3 allows a bitfield only as the first message, but aria2 sends a
   * fresh one mid-connection after HAVE_NONE. We accept it as a list of
   * HAVEs: pieces it adds are counted one by one (so availability stays
   * exact), and a peer never loses pieces it announced.
   */
  private mergePieces(indices: Iterable<number>): void {
    if (!this.sawBitfield) {
      this.sawBitfield = true;
      for (const i of indices) this.peerPieces.set(i);
      this.handler.peerPiecesChanged?.(this);
      return;
    }
    for (const i of indices) if (this.peerPieces.set(i)) this.handler.peerPiecesChanged?.(this, i);
  }

  private onPiece(index: number, begin: number, block: Uint8Array): void {
    const solicited = this.outstanding.delete(blockKey(index, begin));
    this.download.add(block.length);
    this.lastBlockAt = this.now();
    this.pipeline.onBlock();
    this.handler.blockReceived?.(this, index, begin, block, solicited);
    this.handler.fillRequests?.(this);
  }

  // ---- sending ----

  private send(m: Message): void {
    this.conn.send(encodeMessage(m));
  }

  /** Queues a request; sent on the next flush, batched with others in one write. */
  request(index: number, begin: number): void {
    this.queued.push(blockKey(index, begin));
  }

  /**
   * Sends the queued requests in one write. Unless `force`d, a small batch
   * waits while plenty are still outstanding: the pipe stays full either
   * way, and a write per block received would cost more than the request.
   */
  flush(force = true): void {
    if (this.queued.length === 0 || !this.isOpen) return;
    if (!force) {
      const batch = Math.max(1, this.pipeline.size >> 4);
      if (this.queued.length < batch && this.outstanding.size >= this.pipeline.size >> 1) return;
    }
    const t = this.now();
    const requests: IncomingRequest[] = [];
    for (const key of this.queued) {
      const { index, begin } = fromBlockKey(key);
      this.outstanding.set(key, t);
      requests.push({ index, begin, length: this.ctx.blockLength(index, begin) });
    }
    this.queued.length = 0;
    this.conn.send(encodeRequestBatch(requests));
  }

  cancel(index: number, begin: number): void {
    const key = blockKey(index, begin);
    const q = this.queued.indexOf(key);
    if (q !== -1) {
      this.queued.splice(q, 1);
      return;
    }
    if (this.outstanding.delete(key)) this.send({ type: 'cancel', index, begin, length: this.ctx.blockLength(index, begin) });
  }

  setInterested(interested: boolean): void {
    if (this.amInterested === interested || !this.isOpen) return;
    this.amInterested = interested;
    this.send({ type: interested ? 'interested' : 'not-interested' });
  }

  setChoking(choking: boolean): void {
    if (this.amChoking === choking || !this.isOpen) return;
    this.amChoking = choking;
    this.send({ type: choking ? 'choke' : 'unchoke' });
    if (!choking) return;
    // BEP 3: choking discards the peer's requests. BEP 6: each is rejected explicitly.
    if (this.fast) {
      for (const r of this.incoming.values()) this.send({ type: 'reject', ...r });
      for (const [key, length] of this.serving) this.send({ type: 'reject', ...fromBlockKey(key), length });
    }
    this.incoming.clear();
    this.serving.clear();
  }

  /** The oldest request waiting to be served, left in the queue. */
  peekIncoming(): IncomingRequest | undefined {
    for (const r of this.incoming.values()) return r;
    return undefined;
  }

  /** The oldest request waiting to be served, moved to the serving set. */
  nextIncoming(): IncomingRequest | undefined {
    for (const [key, r] of this.incoming) {
      this.incoming.delete(key);
      this.serving.set(key, r.length);
      return r;
    }
    return undefined;
  }

  get pendingIncoming(): number {
    return this.incoming.size;
  }

  /** Whether a block read for the peer is still wanted (not cancelled, not choked away); it leaves the serving set. */
  finishServing(index: number, begin: number, length: number): boolean {
    const key = blockKey(index, begin);
    if (this.serving.get(key) !== length) return false;
    this.serving.delete(key);
    return true;
  }

  /** Batches the writes that follow into one writev until uncork(). */
  cork(): void {
    this.conn.cork();
  }

  uncork(): void {
    this.conn.uncork();
  }

  sendHave(index: number): void {
    if (this.isOpen) this.send({ type: 'have', index });
  }

  /** Sends a block we serve: the header and the data as two writes, corked, so the block is not copied. */
  sendBlock(index: number, begin: number, data: Uint8Array): void {
    if (!this.isOpen) return;
    this.conn.cork();
    this.conn.send(encodePieceHeader(index, begin, data.length));
    this.conn.send(data);
    this.conn.uncork();
    this.upload.add(data.length);
  }

  /** Refuses one of the peer's requests (BEP 6 REJECT; without Fast the request is just dropped). */
  reject(index: number, begin: number, length: number): void {
    const key = blockKey(index, begin);
    if (this.incoming.get(key)?.length === length) this.incoming.delete(key);
    if (this.serving.get(key) === length) this.serving.delete(key);
    if (this.fast && this.isOpen) this.send({ type: 'reject', index, begin, length });
  }

  // ---- the tick ----

  /** Called once a tick by the owner: rates, keep-alives and timeouts, the pipeline, and more requests. */
  tick(): void {
    const down = this.download.tick();
    this.upload.tick();
    if (!this.conn.tick()) return;
    this.pipeline.onTick(down);
    const t = this.now();
    const expired: BlockRef[] = [];
    for (const [key, sent] of this.outstanding) {
      if (t - sent > this.requestTimeout) {
        this.outstanding.delete(key);
        expired.push(fromBlockKey(key));
      }
    }
    if (expired.length > 0) {
      // The blocks go back to the pool for other peers; if the late answer
      // still comes before someone else's, blockReceived takes it.
      this.pipeline.onTimeout();
      this.handler.requestsDropped?.(this, expired);
    }
    this.handler.fillRequests?.(this);
    this.flush();
  }

  private dropAll(): void {
    const dropped = [...this.outstanding.keys(), ...this.queued].map(fromBlockKey);
    this.outstanding.clear();
    this.queued.length = 0;
    if (dropped.length > 0) this.handler.requestsDropped?.(this, dropped);
  }

  close(reason: CloseReason, error?: Error): void {
    this.conn.close(reason, error);
  }

  private onClosed(reason: CloseReason, error: Error | undefined, wasOpen: boolean): void {
    if (wasOpen) this.dropAll();
    this.handler.sessionClosed(this, reason, error);
  }
}
