import type { Socket } from 'node:net';
import {
  Bitfield,
  BitfieldError,
  BLOCK_LENGTH,
  decodeExtendedHandshake,
  decodeHandshake,
  decodeMessage,
  encodeExtendedHandshake,
  encodeHandshake,
  encodeMessage,
  encodePieceHeader,
  encodeRequestBatch,
  encodeUtMetadata,
  decodeUtMetadata,
  metadataPiece,
  metadataPieceCount,
  ProtocolError,
  UT_METADATA,
  type DecodeLimits,
  type Handshake,
  type Message,
  type UtMetadataMessage,
} from '@seedbox/protocol';
import { RateMeter } from './rate.js';
import { RequestPipeline, type PipelineOptions } from './request-pipeline.js';

/**
 * One TCP connection to a peer, from handshake to close: framing, the
 * handshake checks, choke and interest state, keep-alives, timeouts, and the
 * requests this side has outstanding. Which blocks to request is the
 * torrent's decision (it sees every peer); the session only asks its owner
 * for more whenever its pipeline has room.
 */

/** Why a session ended; counted by reason in the stats, not only logged. */
export type CloseReason =
  | 'connect-failed'
  | 'connect-timeout'
  | 'handshake-timeout'
  | 'idle-timeout'
  | 'wrong-info-hash'
  | 'self-connection'
  | 'duplicate-peer'
  | 'too-many-peers'
  | 'protocol-error'
  | 'bad-data'
  | 'remote-closed'
  | 'socket-error'
  | 'not-useful'
  | 'shutdown';

export interface SessionTimeouts {
  /** TCP connect, ms. */
  connect: number;
  /** From connect to a complete handshake, ms. */
  handshake: number;
  /** No message at all from the peer for this long closes it, ms. */
  idle: number;
  /** An unanswered request is given up (its block freed for other peers) after this, ms. */
  request: number;
  /** Send a keep-alive when we have sent nothing for this long, ms. */
  keepAlive: number;
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

/** What a session needs from the torrent that owns it. */
export interface SessionOwner {
  readonly infoHash: Uint8Array;
  readonly localPeerId: Uint8Array;
  /**
   * Pieces in the torrent; undefined while the metadata is unknown (a
   * magnet link's metadata fetch). The session then ignores the peer's
   * BITFIELD and HAVEs, whose size it cannot check, and has nothing to offer.
   */
  readonly pieceCount: number | undefined;
  /** Pieces we have, for our BITFIELD (unused while pieceCount is undefined). */
  readonly have: Bitfield;
  /**
   * BEP 9: the info dictionary we give to peers that ask for it over
   * ut_metadata, and whose size we advertise as `metadata_size`; undefined
   * when we have none to give, and their requests are rejected.
   */
  readonly metadata?: Uint8Array | undefined;
  /** The peer's BEP 10 handshake arrived: its extensions and metadata_size are known. */
  extensionsChanged?(session: PeerSession): void;
  /**
   * A ut_metadata data or reject message arrived. `data` is a view into the
   * read buffer, which is reused: copy what you keep.
   */
  metadataAnswer?(session: PeerSession, answer: MetadataAnswer): void;
  /** Our listen port, for the extended handshake. */
  readonly listenPort: number | undefined;
  /** The handshake passed the session's own checks; the owner may still refuse (self, duplicate, cap). */
  admit(session: PeerSession): CloseReason | undefined;
  /** The peer's bitfield changed (BITFIELD, HAVE, HAVE_ALL, HAVE_NONE). */
  peerPiecesChanged(session: PeerSession, index?: number): void;
  /** The pipeline has room: request more blocks through `session.request`. */
  fillRequests(session: PeerSession): void;
  /**
   * A block arrived. `solicited` is false when no request of this session
   * was outstanding for it: a late answer to a request that timed out.
   */
  blockReceived(session: PeerSession, index: number, begin: number, data: Uint8Array, solicited: boolean): void;
  /** Requests that will not be answered any more (choke, reject, timeout, close). */
  requestsDropped(session: PeerSession, blocks: readonly RequestKey[]): void;
  /** A peer asked us for a block (it is unchoked; the request is queued in the session). */
  blockRequested(session: PeerSession, index: number, begin: number, length: number): void;
  /** The peer became interested or lost interest: upload slots may move. */
  peerInterestChanged(session: PeerSession): void;
  /** The socket's send buffer drained: more blocks may be served. */
  sessionDrained(session: PeerSession): void;
  /** The session ended; called exactly once. */
  sessionClosed(session: PeerSession, reason: CloseReason, error?: Error): void;
}

/** A request as (piece, begin); packed in one number as the key of the outstanding map. */
export interface RequestKey {
  index: number;
  begin: number;
}

/** The request queue we advertise (BEP 10 `reqq`) and hold the peer to. */
const MAX_INCOMING_REQUESTS = 500;

/**
 * The id we want ut_metadata messages under (BEP 10 ids are chosen by the
 * receiver, per connection); 2 is libtorrent's choice too.
 */
export const LOCAL_UT_METADATA_ID = 2;

/** Room for 2^16 blocks per piece: 1 GiB pieces, the most the metainfo parser accepts. */
const BLOCKS_PER_PIECE_KEY = 65536;

function requestKey(index: number, begin: number): number {
  return index * BLOCKS_PER_PIECE_KEY + begin / BLOCK_LENGTH;
}

function fromKey(key: number): RequestKey {
  const index = Math.floor(key / BLOCKS_PER_PIECE_KEY);
  return { index, begin: (key - index * BLOCKS_PER_PIECE_KEY) * BLOCK_LENGTH };
}

/**
 * One read buffer for every outgoing socket (net.connect's `onread`): Node
 * then reads into it instead of allocating a fresh buffer per read, which at
 * 400 MB/s was most of the garbage the collector had to sweep. Sharing it is
 * safe because reads are delivered one at a time on the event loop and the
 * session copies out whatever it keeps before returning.
 */
export const sharedReadBuffer = Buffer.allocUnsafe(256 * 1024);

export interface SessionOptions {
  socket: Socket;
  owner: SessionOwner;
  /** 'outgoing': we dialled and send the handshake first. 'incoming': they did. */
  direction: 'outgoing' | 'incoming';
  /** host:port for logs and de-duplication. */
  address: string;
  /** For an incoming session the listener already read the peer's handshake. */
  handshake?: Handshake;
  /** Bytes that came after that handshake. */
  leftover?: Uint8Array;
  timeouts?: Partial<SessionTimeouts>;
  pipeline?: PipelineOptions;
  /** Turn on BEP 6 / BEP 10 in our handshake. */
  fast?: boolean;
  extended?: boolean;
  clientName?: string;
  now?: () => number;
}

type Phase = 'connecting' | 'handshake' | 'open' | 'closed';

export class PeerSession {
  readonly address: string;
  readonly direction: 'outgoing' | 'incoming';
  readonly owner: SessionOwner;
  private readonly socket: Socket;
  private phase: Phase;
  private readonly timeouts: SessionTimeouts;
  private readonly now: () => number;
  private readonly wantFast: boolean;
  private readonly wantExtended: boolean;
  private readonly clientName: string;

  /** The peer's handshake, once read. */
  remote: Handshake | undefined;
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
  /** Pieces the peer has. */
  readonly peerPieces: Bitfield;
  private sawBitfield = false;

  amChoking = true;
  amInterested = false;
  peerChoking = true;
  peerInterested = false;

  /** Our requests without an answer yet: key → time sent. */
  private readonly outstanding = new Map<number, number>();
  /** Requests to send on the next flush, batched into one write. */
  private readonly queued: number[] = [];
  readonly pipeline: RequestPipeline;
  readonly download = new RateMeter();
  readonly upload = new RateMeter();
  /** Blocks that failed a hash check while this peer was the only contributor. */
  strikes = 0;
  /** The peer's requests waiting to be served, in arrival order. */
  private readonly incoming = new Map<string, RequestKey & { length: number }>();
  /** Requests whose block is being read from disk; a CANCEL or CHOKE removes them. */
  private readonly serving = new Set<string>();
  /** Disk reads under way for this peer. */
  readsInFlight = 0;
  /** Requests refused because the peer was choked or over its queue. */
  refusedRequests = 0;

  private lastReceived: number;
  private lastSent: number;
  private lastBlockAt = 0;
  /** The start of a message that straddles reads. */
  private scratch: Buffer | undefined;
  private scratchFill = 0;
  /** Bytes the partial message in scratch needs before it can be decoded. */
  private recvNeeded = 0;
  private readonly limits: DecodeLimits;
  private phaseTimer: NodeJS.Timeout | undefined;

  constructor(options: SessionOptions) {
    this.socket = options.socket;
    this.owner = options.owner;
    this.address = options.address;
    this.direction = options.direction;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.now = options.now ?? Date.now;
    this.wantFast = options.fast ?? true;
    this.wantExtended = options.extended ?? true;
    this.clientName = options.clientName ?? 'seedbox';
    this.pipeline = new RequestPipeline(options.pipeline);
    const pieceCount = this.owner.pieceCount;
    this.peerPieces = new Bitfield(pieceCount ?? 0);
    // Without the metadata the bitfield's size is unknown: the codec's
    // default bound (1 MiB) still applies, and the bits are ignored.
    this.limits = pieceCount === undefined ? { maxBlockLength: BLOCK_LENGTH } : { maxBitfieldLength: Math.ceil(pieceCount / 8), maxBlockLength: BLOCK_LENGTH };
    this.lastReceived = this.lastSent = this.now();
    this.phase = this.socket.connecting ? 'connecting' : 'handshake';

    this.socket.setNoDelay(true);
    // Sockets made with `onread` (see sharedReadBuffer) call onData directly
    // and never emit 'data'; accepted sockets do.
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.close(this.phase === 'connecting' ? 'connect-failed' : 'socket-error', err));
    this.socket.on('close', () => this.close('remote-closed'));
    this.socket.on('drain', () => this.owner.sessionDrained(this));

    if (this.phase === 'connecting') {
      this.phaseTimer = setTimeout(() => this.close('connect-timeout'), this.timeouts.connect);
      this.socket.once('connect', () => {
        this.phase = 'handshake';
        this.startHandshake();
      });
    } else {
      this.startHandshake();
      // An incoming peer spoke first: the listener read its handshake to
      // find the torrent, and hands it over with whatever followed it.
      if (options.handshake) {
        this.onHandshake(options.handshake);
        if (options.leftover && options.leftover.length > 0 && this.isOpen) this.onData(options.leftover);
      }
    }
  }

  get isOpen(): boolean {
    return this.phase === 'open';
  }

  get isClosed(): boolean {
    return this.phase === 'closed';
  }

  get outstandingCount(): number {
    return this.outstanding.size + this.queued.length;
  }

  /** Room in the pipeline for this many more requests. */
  get requestRoom(): number {
    if (this.phase !== 'open' || this.peerChoking) return 0;
    return Math.max(0, this.pipeline.size - this.outstandingCount);
  }

  isRequested(index: number, begin: number): boolean {
    const key = requestKey(index, begin);
    return this.outstanding.has(key) || this.queued.includes(key);
  }

  get peerIdHex(): string {
    return this.remote ? Buffer.from(this.remote.peerId).toString('hex') : '';
  }

  /** Seconds since the last block arrived, for snub detection by the choker. */
  secondsSinceBlock(): number {
    return this.lastBlockAt === 0 ? Infinity : (this.now() - this.lastBlockAt) / 1000;
  }

  private startHandshake(): void {
    clearTimeout(this.phaseTimer);
    this.phaseTimer = setTimeout(() => this.close('handshake-timeout'), this.timeouts.handshake);
    // The dialler speaks first; the listener already read the peer's handshake and answers it.
    this.send(
      encodeHandshake({
        infoHash: this.owner.infoHash,
        peerId: this.owner.localPeerId,
        fast: this.wantFast,
        extended: this.wantExtended,
      }),
    );
  }

  // ---- receiving ----

  /**
   * Bytes from the socket. `chunk` may be a view into a read buffer that is
   * reused for the next read (see `sharedReadBuffer`), so nothing here keeps
   * a view past the call: a partial message is copied into `scratch`.
   */
  onData(chunk: Uint8Array): void {
    if (this.phase === 'closed') return;
    this.lastReceived = this.now();
    let buf = chunk;
    // A message straddled reads: complete it in the scratch buffer. When it
    // was only a length prefix, decoding it leaves a longer partial behind,
    // so keep filling until the scratch holds nothing or the read is used up.
    while (this.scratchFill > 0) {
      const take = Math.min(this.recvNeeded - this.scratchFill, buf.length);
      this.scratch!.set(buf.subarray(0, take), this.scratchFill);
      this.scratchFill += take;
      buf = buf.subarray(take);
      if (this.scratchFill < this.recvNeeded) return;
      const whole = this.scratch!.subarray(0, this.scratchFill);
      this.scratchFill = 0;
      if (!this.consume(whole)) return;
    }
    if (buf.length > 0) this.consume(buf);
  }

  /**
   * Decodes every whole message in `buf`. A trailing partial message is
   * kept for the next read. Answers false when the session closed.
   */
  private consume(buf: Uint8Array): boolean {
    let off = 0;
    try {
      while (off < buf.length && this.phase !== 'closed') {
        const view = buf.subarray(off);
        if (this.phase === 'handshake') {
          const r = decodeHandshake(view);
          if (r.kind === 'need-more') {
            this.keepPartial(view, 68);
            return true;
          }
          off += r.used;
          this.onHandshake(r.value);
          continue;
        }
        const r = decodeMessage(view, this.limits);
        if (r.kind === 'need-more') {
          // The codec has checked the length prefix already when 4 bytes are here.
          const need = view.length >= 4 ? 4 + Buffer.from(view.buffer, view.byteOffset, 4).readUInt32BE(0) : 4;
          this.keepPartial(view, need);
          return true;
        }
        off += r.used;
        this.onMessage(r.value);
      }
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.close('protocol-error', err);
        return false;
      }
      throw err;
    }
    this.flush(false);
    return this.phase !== 'closed';
  }

  /** Keeps the start of a message until `needed` bytes of it are here. */
  private keepPartial(view: Uint8Array, needed: number): void {
    if (!this.scratch || this.scratch.length < needed) {
      // Grows to the largest message seen: a block message, or a bitfield
      // or extended message within the codec's limits.
      const bigger = Buffer.allocUnsafe(Math.max(needed, BLOCK_LENGTH + 13));
      bigger.set(view);
      this.scratch = bigger;
    } else if (view.buffer !== this.scratch.buffer || view.byteOffset !== this.scratch.byteOffset) {
      this.scratch.set(view);
    }
    this.scratchFill = view.length;
    this.recvNeeded = needed;
    this.flush(false);
  }

  private onHandshake(h: Handshake): void {
    if (Buffer.compare(Buffer.from(h.infoHash), Buffer.from(this.owner.infoHash)) !== 0) {
      this.close('wrong-info-hash');
      return;
    }
    // The handshake's fields are views into the read buffer, which is reused.
    this.remote = {
      ...h,
      infoHash: new Uint8Array(h.infoHash),
      peerId: new Uint8Array(h.peerId),
      reserved: new Uint8Array(h.reserved),
    };
    this.fast = this.wantFast && h.supportsFast;
    this.extended = this.wantExtended && h.supportsExtended;
    const refused = this.owner.admit(this);
    if (refused) {
      this.close(refused);
      return;
    }
    clearTimeout(this.phaseTimer);
    this.phaseTimer = undefined;
    this.phase = 'open';
    if (this.extended) {
      const metadata = this.owner.metadata;
      const ext = encodeExtendedHandshake({
        // Offered even without metadata to give: a peer may then ask and be
        // rejected (BEP 9), and a metadata fetch needs it to be answered.
        m: new Map([[UT_METADATA, LOCAL_UT_METADATA_ID]]),
        clientName: this.clientName,
        requestQueue: MAX_INCOMING_REQUESTS,
        ...(this.owner.listenPort !== undefined ? { listenPort: this.owner.listenPort } : {}),
        ...(metadata ? { metadataSize: metadata.length } : {}),
      });
      this.send(encodeMessage({ type: 'extended', extendedId: 0, payload: ext }));
    }
    if (this.owner.pieceCount === undefined) {
      // BEP 6 wants one of BITFIELD, HAVE_ALL or HAVE_NONE first; without
      // the metadata we have nothing.
      if (this.fast) this.send(encodeMessage({ type: 'have-none' }));
      return;
    }
    const have = this.owner.have;
    if (this.fast && have.isComplete) this.send(encodeMessage({ type: 'have-all' }));
    else if (this.fast && have.isEmpty) this.send(encodeMessage({ type: 'have-none' }));
    else if (!have.isEmpty) this.send(encodeMessage({ type: 'bitfield', bits: have.toBytes() }));
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
        // BEP 3: a choke discards every pending request. With BEP 6 the
        // peer rejects each one explicitly instead.
        if (!this.fast) this.dropAll();
        return;
      case 'unchoke':
        this.peerChoking = false;
        this.owner.fillRequests(this);
        return;
      case 'interested':
      case 'not-interested':
        this.peerInterested = m.type === 'interested';
        this.owner.peerInterestChanged(this);
        return;
      case 'have':
        if (this.owner.pieceCount === undefined) return; // no metadata: nothing to check it against
        if (m.index >= this.owner.pieceCount) {
          throw new ProtocolError('PEER_HAVE_INDEX', `HAVE for piece ${m.index} of ${this.owner.pieceCount}`);
        }
        if (!this.sawBitfield) this.mergePieces([]); // a HAVE first: the peer had nothing before it
        if (this.peerPieces.set(m.index)) this.owner.peerPiecesChanged(this, m.index);
        return;
      case 'bitfield':
        if (this.owner.pieceCount !== undefined) this.onBitfield(m.bits, this.owner.pieceCount);
        return;
      case 'have-all':
      case 'have-none':
        if (!this.fast) throw new ProtocolError('PEER_FAST_NOT_NEGOTIATED', `${m.type} without the Fast extension (BEP 6)`);
        if (this.owner.pieceCount === undefined) return;
        if (m.type === 'have-all') this.mergePieces(Array.from({ length: this.owner.pieceCount }, (_, i) => i));
        else this.mergePieces([]);
        return;
      case 'request':
        if (this.amChoking || this.incoming.size >= MAX_INCOMING_REQUESTS) {
          // cratetorrent's rule: peers may not request blocks while choked.
          // With BEP 6 we must answer with a REJECT; without it we ignore it.
          // Past the queue we advertised (reqq) the same holds.
          this.refusedRequests++;
          if (this.fast) this.send(encodeMessage({ type: 'reject', index: m.index, begin: m.begin, length: m.length }));
          return;
        }
        this.incoming.set(`${m.index}:${m.begin}:${m.length}`, { index: m.index, begin: m.begin, length: m.length });
        this.owner.blockRequested(this, m.index, m.begin, m.length);
        return;
      case 'cancel': {
        const key = `${m.index}:${m.begin}:${m.length}`;
        this.incoming.delete(key);
        this.serving.delete(key);
        return;
      }
      case 'reject': {
        if (!this.fast) throw new ProtocolError('PEER_FAST_NOT_NEGOTIATED', 'REJECT without the Fast extension (BEP 6)');
        const key = requestKey(m.index, m.begin);
        if (this.outstanding.delete(key)) this.owner.requestsDropped(this, [{ index: m.index, begin: m.begin }]);
        return;
      }
      case 'extended':
        if (m.extendedId === 0) {
          const ext = decodeExtendedHandshake(m.payload);
          this.remoteClient = ext.clientName;
          if (ext.requestQueue !== undefined) this.pipeline.limitTo(ext.requestQueue);
          // A later handshake replaces the map: clients send it whole.
          this.peerExtensions = ext.m;
          if (ext.metadataSize !== undefined) this.peerMetadataSize = ext.metadataSize;
          this.owner.extensionsChanged?.(this);
        } else if (m.extendedId === LOCAL_UT_METADATA_ID) {
          this.onUtMetadata(m.payload);
        }
        return;
      case 'port':
      case 'suggest':
      case 'allowed-fast':
        return;
    }
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
        this.owner.metadataAnswer?.(this, msg);
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
    const metadata = this.owner.metadata;
    if (!metadata || piece >= metadataPieceCount(metadata.length) || !this.writable) {
      this.metadataRejected++;
      this.send(encodeMessage({ type: 'extended', extendedId: id, payload: encodeUtMetadata({ type: 'reject', piece }) }));
      return;
    }
    const payload = encodeUtMetadata({ type: 'data', piece, totalSize: metadata.length, data: metadataPiece(metadata, piece) });
    this.metadataServed++;
    this.send(encodeMessage({ type: 'extended', extendedId: id, payload }));
  }

  /** Whether the peer offered ut_metadata and has metadata to give (BEP 9). */
  get hasMetadataToGive(): boolean {
    return this.peerExtensions.has(UT_METADATA) && this.peerMetadataSize !== undefined;
  }

  /** Asks the peer for one piece of the info dictionary; false when it does not speak ut_metadata. */
  requestMetadataPiece(piece: number): boolean {
    const id = this.peerExtensions.get(UT_METADATA);
    if (id === undefined || this.phase !== 'open') return false;
    this.send(encodeMessage({ type: 'extended', extendedId: id, payload: encodeUtMetadata({ type: 'request', piece }) }));
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
      this.owner.peerPiecesChanged(this);
      return;
    }
    for (const i of indices) if (this.peerPieces.set(i)) this.owner.peerPiecesChanged(this, i);
  }

  private onPiece(index: number, begin: number, block: Uint8Array): void {
    const solicited = this.outstanding.delete(requestKey(index, begin));
    this.download.add(block.length);
    this.lastBlockAt = this.now();
    this.pipeline.onBlock();
    this.owner.blockReceived(this, index, begin, block, solicited);
    this.owner.fillRequests(this);
  }

  // ---- sending ----

  private send(buf: Uint8Array): void {
    if (this.phase === 'closed') return;
    this.lastSent = this.now();
    this.socket.write(buf);
  }

  /** Queues a request; sent on the next flush, batched with others in one write. */
  request(index: number, begin: number): void {
    this.queued.push(requestKey(index, begin));
  }

  /**
   * Sends the queued requests in one write. Unless `force`d, a small batch
   * waits while plenty are still outstanding: the pipe stays full either
   * way, and a write per block received would cost more than the request.
   */
  flush(force = true): void {
    if (this.queued.length === 0 || this.phase !== 'open') return;
    if (!force) {
      const batch = Math.max(1, this.pipeline.size >> 4);
      if (this.queued.length < batch && this.outstanding.size >= this.pipeline.size >> 1) return;
    }
    const t = this.now();
    const requests: { index: number; begin: number; length: number }[] = [];
    for (const key of this.queued) {
      const { index, begin } = fromKey(key);
      this.outstanding.set(key, t);
      requests.push({ index, begin, length: this.blockLengthOf(index, begin) });
    }
    this.queued.length = 0;
    this.send(encodeRequestBatch(requests));
  }

  /** Length of the block at (index, begin): the owner knows the geometry. */
  blockLengthOf: (index: number, begin: number) => number = () => BLOCK_LENGTH;

  cancel(index: number, begin: number): void {
    const key = requestKey(index, begin);
    const q = this.queued.indexOf(key);
    if (q !== -1) {
      this.queued.splice(q, 1);
      return;
    }
    if (this.outstanding.delete(key)) {
      this.send(encodeMessage({ type: 'cancel', index, begin, length: this.blockLengthOf(index, begin) }));
    }
  }

  setInterested(interested: boolean): void {
    if (this.amInterested === interested || this.phase !== 'open') return;
    this.amInterested = interested;
    this.send(encodeMessage({ type: interested ? 'interested' : 'not-interested' }));
  }

  setChoking(choking: boolean): void {
    if (this.amChoking === choking || this.phase !== 'open') return;
    this.amChoking = choking;
    this.send(encodeMessage({ type: choking ? 'choke' : 'unchoke' }));
    if (choking) {
      // BEP 3: choking discards the peer's requests. BEP 6: each is rejected explicitly.
      if (this.fast) {
        for (const r of this.incoming.values()) this.send(encodeMessage({ type: 'reject', ...r }));
        for (const key of this.serving) {
          const [index, begin, length] = key.split(':').map(Number) as [number, number, number];
          this.send(encodeMessage({ type: 'reject', index, begin, length }));
        }
      }
      this.incoming.clear();
      this.serving.clear();
    }
  }

  /** The oldest request waiting to be served, left in the queue. */
  peekIncoming(): (RequestKey & { length: number }) | undefined {
    for (const r of this.incoming.values()) return r;
    return undefined;
  }

  /** Batches the writes that follow into one writev until uncork(). */
  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  /** The oldest request waiting to be served, moved to the serving set. */
  nextIncoming(): (RequestKey & { length: number }) | undefined {
    for (const [key, r] of this.incoming) {
      this.incoming.delete(key);
      this.serving.add(key);
      return r;
    }
    return undefined;
  }

  get pendingIncoming(): number {
    return this.incoming.size;
  }

  /** Whether a block read for the peer is still wanted (not cancelled, not choked away). */
  finishServing(index: number, begin: number, length: number): boolean {
    return this.serving.delete(`${index}:${begin}:${length}`);
  }

  sendHave(index: number): void {
    if (this.phase === 'open') this.send(encodeMessage({ type: 'have', index }));
  }

  /** Sends a block we serve: the header and the data as two writes, corked, so the block is not copied. */
  sendBlock(index: number, begin: number, data: Uint8Array): void {
    if (this.phase !== 'open') return;
    this.socket.cork();
    this.send(encodePieceHeader(index, begin, data.length));
    this.socket.write(data);
    this.socket.uncork();
    this.upload.add(data.length);
  }

  /** Refuses one of the peer's requests (BEP 6 REJECT; without Fast the request is just dropped). */
  reject(index: number, begin: number, length: number): void {
    const key = `${index}:${begin}:${length}`;
    this.incoming.delete(key);
    this.serving.delete(key);
    if (this.fast && this.phase === 'open') this.send(encodeMessage({ type: 'reject', index, begin, length }));
  }

  /** Whether the socket's send buffer has room (back-pressure for seeding). */
  get writable(): boolean {
    return this.socket.writableLength < 4 * 1024 * 1024;
  }

  // ---- the tick ----

  /** Called once a second by the torrent. Answers the rates over the tick. */
  tick(): { down: number; up: number } {
    const down = this.download.tick();
    const up = this.upload.tick();
    if (this.phase !== 'open') return { down, up };
    const t = this.now();
    if (t - this.lastReceived > this.timeouts.idle) {
      this.close('idle-timeout');
      return { down, up };
    }
    if (t - this.lastSent > this.timeouts.keepAlive) this.send(encodeMessage({ type: 'keep-alive' }));
    this.pipeline.onTick(down);
    const expired: RequestKey[] = [];
    for (const [key, sent] of this.outstanding) {
      if (t - sent > this.timeouts.request) {
        this.outstanding.delete(key);
        expired.push(fromKey(key));
      }
    }
    if (expired.length > 0) {
      // The blocks go back to the pool for other peers; if the late answer
      // still comes before someone else's, blockReceived takes it.
      this.pipeline.onTimeout();
      this.owner.requestsDropped(this, expired);
    }
    this.owner.fillRequests(this);
    this.flush();
    return { down, up };
  }

  private dropAll(): void {
    const dropped = [...this.outstanding.keys(), ...this.queued].map(fromKey);
    this.outstanding.clear();
    this.queued.length = 0;
    if (dropped.length > 0) this.owner.requestsDropped(this, dropped);
  }

  close(reason: CloseReason, error?: Error): void {
    if (this.phase === 'closed') return;
    const wasOpen = this.phase === 'open';
    this.phase = 'closed';
    clearTimeout(this.phaseTimer);
    this.socket.destroy();
    if (wasOpen) {
      const dropped = [...this.outstanding.keys(), ...this.queued].map(fromKey);
      this.outstanding.clear();
      this.queued.length = 0;
      if (dropped.length > 0) this.owner.requestsDropped(this, dropped);
    }
    this.owner.sessionClosed(this, reason, error);
  }
}
