import type { Socket } from 'node:net';
import {
  decodeHandshake,
  decodeMessage,
  encodeHandshake,
  encodeMessage,
  MseError,
  MseInitiator,
  ProtocolError,
  type CryptoMethod,
  type DecodeLimits,
  type Handshake,
  type Message,
  type StreamCipher,
} from '@seedbox/protocol';
import { ReadGate } from './bandwidth/read-gate.js';
import type { BandwidthPath } from './bandwidth/shaper.js';

/**
 * One TCP connection to a peer, below the protocol's meaning: the phases
 * (connecting, handshake, open, closed), the handshake both ways and its
 * info-hash check, framing (a message cut across reads is completed in a
 * scratch buffer), keep-alives, and the connect, handshake and idle
 * timeouts, and the download limit (a ReadGate: past the bytes the
 * buckets grant, the socket stops reading until they grant more). What a
 * message means is the `ConnectionHandler`'s business (the PeerSession):
 * this file never looks inside one.
 *
 * Below the framing sits the encryption (MSE), when there is one: an
 * outgoing connection may open with the encrypted handshake, carrying our
 * BitTorrent handshake as its initial payload; an incoming one arrives
 * with the cipher the listener negotiated. Either way every byte read is
 * decrypted before it is framed, and every byte sent encrypted after.
 */

/** Why a connection ended; counted by reason in the stats, not only logged. */
export type CloseReason =
  | 'connect-failed'
  | 'connect-timeout'
  | 'handshake-timeout'
  | 'encryption-failed'
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
  /** Past the allowance of blocks we never asked for (peer-quality.ts). */
  | 'unrequested-data'
  /** Interested in it, choked by it, and nothing from it for too long (peer-quality.ts). */
  | 'choked-too-long'
  /** Its requests timed out and it answered none in time for too long (peer-quality.ts). */
  | 'snubbed'
  | 'paused'
  | 'shutdown';

export interface ConnectionTimeouts {
  /** TCP connect, ms. */
  connect: number;
  /** From connect to a complete handshake, ms. */
  handshake: number;
  /** No message at all from the peer for this long closes it, ms. */
  idle: number;
  /** Send a keep-alive when we have sent nothing for this long, ms. */
  keepAlive: number;
}

/**
 * One read buffer for every outgoing socket (net.connect's `onread`): Node
 * then reads into it instead of allocating a fresh buffer per read, which at
 * 400 MB/s was most of the garbage the collector had to sweep. Sharing it is
 * safe because reads are delivered one at a time on the event loop and the
 * connection copies out whatever it keeps before returning.
 */
export const sharedReadBuffer = Buffer.allocUnsafe(256 * 1024);

export type ConnectionPhase = 'connecting' | 'handshake' | 'open' | 'closed';

export type ConnectionEncryption = 'none' | 'handshake' | 'rc4';

/** Both directions of an RC4-encrypted connection. */
export interface PeerCipher {
  encrypt: StreamCipher;
  decrypt: StreamCipher;
}

/** What the connection tells the layer above it; each call runs to completion on the event loop. */
export interface ConnectionHandler {
  /** The peer's handshake named our info hash. Answer a reason to refuse it (self, duplicate, cap), or undefined to open. */
  handshake(remote: Handshake): CloseReason | undefined;
  /** The connection is open: send the opening messages. */
  opened(): void;
  /** A decoded message; views in it point into a reused read buffer. Throw a ProtocolError to close. */
  message(m: Message): void;
  /** A whole read has been decoded (or kept as partial): a good moment to send what was batched. */
  readDone(): void;
  /** The socket's send buffer drained. */
  drained(): void;
  /** The connection ended; called exactly once. */
  closed(reason: CloseReason, error: Error | undefined, wasOpen: boolean): void;
}

export interface ConnectionOptions {
  socket: Socket;
  /** 'outgoing': we dialled and send the handshake first. 'incoming': they did. */
  direction: 'outgoing' | 'incoming';
  infoHash: Uint8Array;
  localPeerId: Uint8Array;
  /** Offer BEP 6 (Fast) and BEP 10 (Extension) in our handshake. */
  fast: boolean;
  extended: boolean;
  timeouts: ConnectionTimeouts;
  limits: DecodeLimits;
  /** For an incoming connection the listener already read the peer's handshake... */
  handshake?: Handshake | undefined;
  /** ...and these bytes came after it (in plain text)... */
  leftover?: Uint8Array | undefined;
  /** ...over this cipher, when it negotiated RC4... */
  cipher?: PeerCipher | undefined;
  /** ...after the encrypted handshake (true even when it chose plaintext). */
  encryptedHandshake?: boolean | undefined;
  /** Outgoing: open with the encrypted handshake, offering these methods; absent: a plain handshake. */
  encrypt?: readonly CryptoMethod[] | undefined;
  now: () => number;
  /** The download limits this connection's reads pass (its torrent's and the engine's); none: unshaped. */
  download?: BandwidthPath | undefined;
}

export class PeerConnection {
  readonly direction: 'outgoing' | 'incoming';
  /** The peer's handshake, once read (its fields copied out of the read buffer). */
  remote: Handshake | undefined;
  private readonly socket: Socket;
  private readonly o: ConnectionOptions;
  private handler: ConnectionHandler | undefined;
  private phaseNow: ConnectionPhase;
  private lastReceived: number;
  private lastSent: number;
  /** The start of a message that straddles reads. */
  private scratch: Buffer | undefined;
  private scratchFill = 0;
  /** Bytes the partial message in scratch needs before it can be decoded. */
  private recvNeeded = 0;
  private phaseTimer: NodeJS.Timeout | undefined;
  private readonly readGate: ReadGate | undefined;
  /** The encrypted handshake we started, until it completes. */
  private mse: MseInitiator | undefined;
  private cipher: PeerCipher | undefined;
  private encryptedHandshake: boolean;

  constructor(options: ConnectionOptions) {
    this.o = options;
    this.socket = options.socket;
    this.readGate = options.download ? new ReadGate(options.download, options.socket) : undefined;
    this.direction = options.direction;
    this.lastReceived = this.lastSent = options.now();
    this.phaseNow = this.socket.connecting ? 'connecting' : 'handshake';
    this.cipher = options.cipher;
    this.encryptedHandshake = options.encryptedHandshake ?? false;
  }

  /**
   * Starts the connection with its handler. Kept apart from the
   * constructor so that whoever owns the connection has registered it
   * before any callback can run: an incoming connection refused at once is
   * then closed through the handler like any other, never half-known.
   */
  start(handler: ConnectionHandler): void {
    this.handler = handler;
    const socket = this.socket;
    socket.setNoDelay(true);
    // Sockets made with `onread` (see sharedReadBuffer) call onData directly
    // and never emit 'data'; accepted sockets do.
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.close(this.phaseNow === 'connecting' ? 'connect-failed' : 'socket-error', err));
    // Closed in the middle of our encrypted handshake: most likely a peer that does not speak it.
    socket.on('close', () => this.close(this.mse ? 'encryption-failed' : 'remote-closed'));
    socket.on('drain', () => this.handler?.drained());
    if (this.phaseNow === 'connecting') {
      this.phaseTimer = setTimeout(() => this.close('connect-timeout'), this.o.timeouts.connect);
      socket.once('connect', () => {
        this.phaseNow = 'handshake';
        this.sendHandshake();
      });
      return;
    }
    this.sendHandshake();
    // An incoming peer spoke first: the listener read its handshake to
    // find the torrent, and hands it over with whatever followed it.
    if (this.o.handshake) {
      this.onHandshake(this.o.handshake);
      const leftover = this.o.leftover;
      if (leftover && leftover.length > 0 && this.phaseNow === 'open') {
        // In plain text already (the listener decrypted it), but paid for like any read.
        this.readGate?.received(leftover.length);
        this.frame(leftover);
      }
    }
  }

  get phase(): ConnectionPhase {
    return this.phaseNow;
  }

  /** Whether the socket's send buffer has room (back-pressure for seeding). */
  get writable(): boolean {
    return this.socket.writableLength < 4 * 1024 * 1024;
  }

  private sendHandshake(): void {
    clearTimeout(this.phaseTimer);
    this.phaseTimer = setTimeout(() => this.close(this.mse ? 'encryption-failed' : 'handshake-timeout'), this.o.timeouts.handshake);
    // The dialler speaks first; the listener already read the peer's handshake and answers it.
    const handshake = encodeHandshake({ infoHash: this.o.infoHash, peerId: this.o.localPeerId, fast: this.o.fast, extended: this.o.extended });
    if (this.direction === 'outgoing' && this.o.encrypt) {
      // Ours goes as the encrypted handshake's initial payload, saving a round trip.
      this.mse = new MseInitiator({ infoHash: this.o.infoHash, provide: this.o.encrypt, initialPayload: handshake });
      this.socket.write(this.mse.start());
      return;
    }
    this.send(handshake);
  }

  /** Bytes of the encrypted handshake; when it completes, what followed it goes on as usual. */
  private negotiate(chunk: Uint8Array): void {
    let step;
    try {
      step = this.mse!.receive(chunk);
    } catch (err) {
      if (err instanceof MseError) return this.close('encryption-failed', err);
      throw err;
    }
    for (const bytes of step.send) this.socket.write(bytes);
    if (!step.done) return;
    this.mse = undefined;
    this.encryptedHandshake = true;
    const { encrypt, decrypt, payload } = step.done;
    if (encrypt && decrypt) this.cipher = { encrypt, decrypt };
    if (payload.length > 0) this.frame(payload);
  }

  /** What hides the connection: nothing, the encrypted handshake only (plaintext chosen), or RC4 throughout. */
  get encryption(): ConnectionEncryption {
    return this.cipher ? 'rc4' : this.encryptedHandshake ? 'handshake' : 'none';
  }

  /**
   * Bytes from the socket. `chunk` may be a view into a read buffer that is
   * reused for the next read (see `sharedReadBuffer`), so nothing here keeps
   * a view past the call: a partial message is copied into `scratch`.
   */
  onData(chunk: Uint8Array): void {
    if (this.phaseNow === 'closed') return;
    this.lastReceived = this.o.now();
    // Paid for before it is decoded: a read over the credit stops the socket (see read-gate.ts); this one is used all the same.
    this.readGate?.received(chunk.length);
    if (this.mse) return this.negotiate(chunk);
    this.frame(this.cipher ? this.cipher.decrypt.update(chunk) : chunk);
  }

  /** Plain-text bytes, in order: completes a straddling message, then decodes what is whole. */
  private frame(chunk: Uint8Array): void {
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

  /** Decodes every whole message in `buf`; a trailing partial one is kept. Answers false when the connection closed. */
  private consume(buf: Uint8Array): boolean {
    let off = 0;
    try {
      while (off < buf.length && this.phaseNow !== 'closed') {
        const view = buf.subarray(off);
        if (this.phaseNow === 'handshake') {
          const r = decodeHandshake(view);
          if (r.kind === 'need-more') {
            this.keepPartial(view, 68);
            return true;
          }
          off += r.used;
          this.onHandshake(r.value);
          continue;
        }
        const r = decodeMessage(view, this.o.limits);
        if (r.kind === 'need-more') {
          // The codec has checked the length prefix already when 4 bytes are here.
          const need = view.length >= 4 ? 4 + Buffer.from(view.buffer, view.byteOffset, 4).readUInt32BE(0) : 4;
          this.keepPartial(view, need);
          return true;
        }
        off += r.used;
        this.handler!.message(r.value);
      }
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.close('protocol-error', err);
        return false;
      }
      throw err;
    }
    if (this.phaseNow === 'open') this.handler!.readDone();
    return this.phaseNow !== 'closed';
  }

  /** Keeps the start of a message until `needed` bytes of it are here. */
  private keepPartial(view: Uint8Array, needed: number): void {
    if (!this.scratch || this.scratch.length < needed) {
      // Grows to the largest message seen: a block message, or a bitfield
      // or extended message within the codec's limits.
      const bigger = Buffer.allocUnsafe(Math.max(needed, (this.o.limits.maxBlockLength ?? 16384) + 13));
      bigger.set(view);
      this.scratch = bigger;
    } else if (view.buffer !== this.scratch.buffer || view.byteOffset !== this.scratch.byteOffset) {
      this.scratch.set(view);
    }
    this.scratchFill = view.length;
    this.recvNeeded = needed;
    if (this.phaseNow === 'open') this.handler!.readDone();
  }

  private onHandshake(h: Handshake): void {
    if (Buffer.compare(Buffer.from(h.infoHash), Buffer.from(this.o.infoHash)) !== 0) {
      this.close('wrong-info-hash');
      return;
    }
    // The handshake's fields are views into the read buffer, which is reused.
    this.remote = { ...h, infoHash: new Uint8Array(h.infoHash), peerId: new Uint8Array(h.peerId), reserved: new Uint8Array(h.reserved) };
    const refused = this.handler!.handshake(this.remote);
    if (refused) {
      this.close(refused);
      return;
    }
    clearTimeout(this.phaseTimer);
    this.phaseTimer = undefined;
    this.phaseNow = 'open';
    this.handler!.opened();
  }

  /**
   * Sends bytes as they are (an encoded message or a batch of them).
   * `done`, when given, is called once the socket holds no reference to
   * `buf`: written, encrypted into a copy, or the connection closed.
   */
  send(buf: Uint8Array, done?: () => void): void {
    if (this.phaseNow === 'closed') return done?.();
    this.lastSent = this.o.now();
    if (this.cipher) {
      // Encrypted into a new buffer: `buf` may be a cached block other peers are sent too.
      this.socket.write(this.cipher.encrypt.update(buf));
      return done?.();
    }
    this.socket.write(buf, done);
  }

  /** Batches the writes that follow into one writev until uncork(). */
  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  /** Keep-alives and the idle timeout; called once a tick. Answers false when it closed the connection. */
  tick(): boolean {
    if (this.phaseNow !== 'open') return this.phaseNow !== 'closed';
    const t = this.o.now();
    if (t - this.lastReceived > this.o.timeouts.idle) {
      this.close('idle-timeout');
      return false;
    }
    if (t - this.lastSent > this.o.timeouts.keepAlive) this.send(encodeMessage({ type: 'keep-alive' }));
    return true;
  }

  close(reason: CloseReason, error?: Error): void {
    if (this.phaseNow === 'closed') return;
    const wasOpen = this.phaseNow === 'open';
    this.phaseNow = 'closed';
    clearTimeout(this.phaseTimer);
    this.readGate?.close();
    this.socket.destroy();
    this.handler?.closed(reason, error, wasOpen);
  }
}
