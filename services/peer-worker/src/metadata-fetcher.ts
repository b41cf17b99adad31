import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { Bitfield, MAX_METADATA_SIZE, type PeerAddress } from '@seedbox/protocol';
import type { EncryptionPolicy } from './encryption/encryption-policy.js';
import type { IncomingOpening } from './encryption/incoming-handshake.js';
import { MetadataRequests } from './metadata-requests.js';
import { openingOptions } from './peer-handler.js';
import { PeerList } from './peer-list.js';
import { PeerListener } from './peer-listener.js';
import { PeerSession, type CloseReason, type MetadataAnswer, type PeerHandler, type SessionContext, type SessionTimeouts } from './peer-session.js';

/**
 * Fetches a torrent's info dictionary from its peers (BEP 9), for a magnet
 * link: all we know is the info hash, and peers that have the torrent give
 * the dictionary in 16 KiB pieces over the ut_metadata extension (BEP 10).
 *
 * It runs the same PeerSession and PeerList as a download (handshake
 * checks, Fast and extension negotiation, timeouts, dialling, backoff,
 * bans), with a context that has no pieces: sessions ignore bitfields they
 * cannot size, and the fetcher only talks ut_metadata. Which peer is asked
 * for which piece, and blame, are MetadataRequests'.
 *
 * Peers come from the constructor, from `addPeers` at any time (trackers
 * answer while we run), and from the listener when `listen` is given.
 */

export type MetadataFetchErrorCode =
  /** No peer gave metadata matching the info hash within `timeoutMs`. */
  | 'METADATA_TIMEOUT'
  /** stop() was called before the metadata was in. */
  | 'METADATA_STOPPED'
  /** No peers were given and discovery cannot look for any (no trackers). */
  | 'METADATA_NO_SOURCES'
  /** Every peer given failed, and there is no discovery to ask for more. */
  | 'METADATA_NO_PEERS_LEFT'
  /** The dictionary matched the info hash but is not a torrent we can use. */
  | 'METADATA_UNUSABLE';

export class MetadataFetchError extends Error {
  override name = 'MetadataFetchError';
  readonly code: MetadataFetchErrorCode;
  readonly infoHashHex: string;
  /** What the fetch saw, for the message and for callers that report it. */
  readonly stats: MetadataFetchStats;

  constructor(code: MetadataFetchErrorCode, message: string, infoHashHex: string, stats: MetadataFetchStats, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.infoHashHex = infoHashHex;
    this.stats = stats;
  }
}

/**
 * `left` while the torrent's size is unknown. Not 0: trackers take left=0
 * for a seed (and may send a seed no seeds), and the tracker-client would
 * take us for complete. Not a made-up size either, which would skew the
 * tracker's figures. 16 KiB, one piece of metadata, is what libtorrent
 * announces in this state, so trackers already see it from other clients.
 */
export const LEFT_WHILE_FETCHING_METADATA = 16 * 1024;

export interface MetadataFetchStats {
  /** Peers we know of (given, added or connected to us). */
  peersKnown: number;
  /** Sessions open now. */
  connected: number;
  /** Open sessions that offer ut_metadata with a metadata_size. */
  withMetadata: number;
  /** The metadata size being assembled, once one is chosen. */
  metadataSize: number | undefined;
  piecesReceived: number;
  pieceCount: number | undefined;
  /** The peers (host:port) that sent the pieces received so far; once done, those of the metadata accepted. */
  sources: string[];
  /** Reject messages received. */
  rejects: number;
  /** Requests given up after requestTimeoutMs. */
  requestTimeouts: number;
  /** Dictionaries assembled whose SHA-1 was not the info hash. */
  hashFailures: number;
  /** Peers banned for sending a dictionary that failed its hash alone. */
  banned: number;
  /** Sessions closed, by reason. */
  closed: Partial<Record<CloseReason, number>>;
}

export interface MetadataFetcherOptions {
  infoHash: Uint8Array;
  /** Our peer id; pass the one the download will use, so peers and trackers see one client. */
  peerId: Uint8Array;
  peers?: readonly PeerAddress[];
  /** Also accept incoming connections on this address (peers that found us through a tracker). */
  listen?: { host?: string; port?: number };
  /** The port we listen on elsewhere (an engine's listener that routes to us), for the extended handshake. */
  listenPort?: number | undefined;
  /** Give up after this long, with a MetadataFetchError 'METADATA_TIMEOUT'. */
  timeoutMs: number;
  /** Most sessions at once. Default 30. */
  maxPeers?: number;
  /** The largest metadata_size we accept from a peer. Default MAX_METADATA_SIZE (16 MiB). */
  maxMetadataSize?: number;
  /** Requests outstanding per peer. Default 4. */
  requestsPerPeer?: number;
  /** A request unanswered this long is asked of another peer, ms. Default 10 s. */
  requestTimeoutMs?: number;
  /** A peer that rejected a request is not asked again for this long, ms. Default 5 s. */
  rejectBackoffMs?: number;
  /** A peer whose extended handshake has not shown ut_metadata with a metadata_size after this long is dropped, ms. Default 10 s. */
  extensionTimeoutMs?: number;
  /** Connection attempts a peer may fail in a row before we stop dialling it. Default 5. */
  maxDialFailures?: number;
  timeouts?: Partial<SessionTimeouts>;
  /** How often timeouts are checked and peers dialled, ms. Default 1 s (the worker's tick). */
  tickMs?: number;
  /** Opens a TCP connection; injectable for tests. */
  connect?: (peer: PeerAddress) => Socket;
  /** How peers are dialled and which handshakes its own listener takes. Default: plain. */
  encryption?: (() => EncryptionPolicy) | undefined;
  now?: () => number;
}

export interface MetadataFetcherEvents {
  /** A piece of the metadata came in. */
  piece: [piece: number, session: PeerSession];
  closed: [session: PeerSession, reason: CloseReason, error: Error | undefined];
  /** A dictionary failed its hash; `culprit` is the address banned for it, when one peer sent it all. */
  'hash-failed': [culprit: string | undefined];
}

export class MetadataFetcher extends EventEmitter<MetadataFetcherEvents> implements PeerHandler {
  readonly infoHash: Uint8Array;
  readonly infoHashHex: string;
  readonly localPeerId: Uint8Array;
  /** Resolves with the info dictionary's bytes (SHA-1 = the info hash), or rejects with a MetadataFetchError. */
  readonly result: Promise<Uint8Array>;
  /** Where the fetcher listens, when it was given `listen`. */
  listenPort: number | undefined;

  private readonly options: MetadataFetcherOptions;
  private readonly now: () => number;
  private readonly context: SessionContext;
  private readonly peers: PeerList;
  private readonly requests: MetadataRequests;
  /** When each live session opened, for extensionTimeoutMs. */
  private readonly openedAt = new Map<PeerSession, number>();
  private listener: PeerListener | undefined;
  private listenerClosed: Promise<void> | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private state: 'idle' | 'running' | 'done' = 'idle';
  private resolve!: (bytes: Uint8Array) => void;
  private reject!: (err: MetadataFetchError) => void;
  private readonly closed: Partial<Record<CloseReason, number>> = {};

  constructor(options: MetadataFetcherOptions) {
    super();
    if (options.infoHash.length !== 20) throw new RangeError(`infoHash must be 20 bytes, got ${options.infoHash.length}`);
    this.options = options;
    this.infoHash = Uint8Array.from(options.infoHash);
    this.infoHashHex = Buffer.from(this.infoHash).toString('hex');
    this.localPeerId = options.peerId;
    this.now = options.now ?? Date.now;
    this.listenPort = options.listenPort;
    const port = (): number | undefined => this.listenPort;
    this.context = {
      infoHash: this.infoHash,
      localPeerId: this.localPeerId,
      // Unknown until the metadata is in: that is what we are fetching.
      pieceCount: undefined,
      have: new Bitfield(0),
      metadata: undefined,
      // Read when a session opens: the listener's port is known only after start().
      get listenPort() {
        return port();
      },
      blockLength: () => 0,
    };
    this.peers = new PeerList({
      maxPeers: options.maxPeers ?? 30,
      maxDialFailures: options.maxDialFailures,
      connect: options.connect,
      encryption: options.encryption,
      now: this.now,
      createSession: (socket, peer, how) =>
        new PeerSession({ socket, context: this.context, handler: this, peer, ...openingOptions(how), timeouts: options.timeouts }),
    });
    this.requests = new MetadataRequests({
      infoHash: this.infoHash,
      maxMetadataSize: options.maxMetadataSize ?? MAX_METADATA_SIZE,
      requestsPerPeer: options.requestsPerPeer ?? 4,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      rejectBackoffMs: options.rejectBackoffMs ?? 5000,
      now: this.now,
    });
    this.result = new Promise<Uint8Array>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Whoever stops us early need not also await the result.
    this.result.catch(() => {});
  }

  /** Starts listening (when asked), dialling, and the deadline. */
  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    this.state = 'running';
    if (this.options.listen) {
      this.listener = new PeerListener({
        ...this.options.listen,
        lookup: (hex) => (hex === this.infoHashHex && this.state === 'running' ? this : undefined),
        infoHashes: () => [this.infoHashHex],
        encryption: this.options.encryption ?? (() => 'disable'),
      });
      try {
        this.listenPort = (await this.listener.listen()).port;
      } catch (err) {
        this.state = 'done';
        this.listener = undefined;
        throw err;
      }
    }
    this.ticker = setInterval(() => this.tick(), this.options.tickMs ?? 1000);
    this.deadline = setTimeout(() => this.timedOut(), this.options.timeoutMs);
    this.addPeers(this.options.peers ?? []);
  }

  get metadataSize(): number | undefined {
    return this.requests.size;
  }

  /** Adds peers to dial; known ones are ignored. */
  addPeers(addresses: readonly PeerAddress[]): void {
    this.peers.add(addresses);
    if (this.state === 'running') this.peers.dial();
  }

  /** The peers we dialled that offered the metadata: good first peers for the download. */
  peersWithMetadata(): PeerAddress[] {
    return this.peers.withMetadata();
  }

  /** Whether any peer is connected or still worth dialling: when false, only new peers can help. */
  hasPeerProspects(): boolean {
    return this.peers.hasProspects();
  }

  stats(): MetadataFetchStats {
    let withMetadata = 0;
    for (const s of this.peers.live) if (this.requests.canGive(s)) withMetadata++;
    return {
      peersKnown: this.peers.knownCount,
      connected: this.peers.live.size,
      withMetadata,
      metadataSize: this.requests.size,
      piecesReceived: this.requests.piecesReceived,
      pieceCount: this.requests.pieceCount,
      sources: this.requests.sources(),
      ...this.requests.counts,
      closed: { ...this.closed },
    };
  }

  /**
   * Ends the fetch; a result not in yet rejects with 'METADATA_STOPPED'.
   * Resolves once the listening port is free again, for the download to
   * listen on it.
   */
  async stop(): Promise<void> {
    this.finish(new MetadataFetchError('METADATA_STOPPED', `metadata fetch for ${this.infoHashHex} was stopped`, this.infoHashHex, this.stats()));
    await this.closeListener();
  }

  private closeListener(): Promise<void> {
    this.listenerClosed ??= this.listener?.close() ?? Promise.resolve();
    return this.listenerClosed;
  }

  /** A connection a listener (ours, or the engine's) accepted for our info hash. */
  acceptIncoming(socket: Socket, opening: IncomingOpening): void {
    if (this.state !== 'running') socket.destroy();
    else this.peers.acceptIncoming(socket, opening);
  }

  // ---- PeerHandler ----

  admit(session: PeerSession): CloseReason | undefined {
    if (this.state !== 'running') return 'shutdown';
    const refused = this.peers.admit(session, this.localPeerId);
    if (refused) return refused;
    // Without BEP 10 there is no ut_metadata: nothing to talk about.
    if (!session.extended) return 'not-useful';
    this.peers.opened(session);
    this.openedAt.set(session, this.now());
    return undefined;
  }

  extensionsChanged(session: PeerSession): void {
    if (!session.extensions.peerExtensions.has('ut_metadata')) {
      session.close('not-useful');
      return;
    }
    if (this.requests.canGive(session)) this.peers.markHadMetadata(session.address);
    this.schedule();
  }

  metadataAnswer(session: PeerSession, answer: MetadataAnswer): void {
    if (this.state !== 'running') return;
    const outcome = this.requests.answer(session, answer);
    switch (outcome.kind) {
      case 'protocol-error':
        session.close('protocol-error', outcome.error);
        return;
      case 'done':
        this.finish(outcome.bytes);
        return;
      case 'hash-failed':
        if (outcome.culprit !== undefined) {
          this.peers.ban(outcome.culprit);
          for (const s of [...this.peers.live]) if (s.address === outcome.culprit) s.close('bad-data');
        }
        this.emit('hash-failed', outcome.culprit);
        break;
      case 'piece':
        this.emit('piece', answer.piece, session);
        break;
      case 'progress':
        break;
    }
    this.schedule();
  }

  sessionClosed(session: PeerSession, reason: CloseReason): void {
    this.peers.closed(session, reason);
    this.openedAt.delete(session);
    this.requests.sessionClosed(session);
    this.closed[reason] = (this.closed[reason] ?? 0) + 1;
    this.emit('closed', session, reason, undefined);
    this.schedule();
  }

  private schedule(): void {
    if (this.state === 'running') this.requests.schedule(this.peers.live);
  }

  private tick(): void {
    if (this.state !== 'running') return;
    const t = this.now();
    const extensionTimeout = this.options.extensionTimeoutMs ?? 10_000;
    for (const s of [...this.peers.live]) {
      s.tick();
      // No metadata to give, or more than we accept: the slot is better used by another peer.
      if (s.isOpen && !this.requests.canGive(s) && t - (this.openedAt.get(s) ?? t) > extensionTimeout) s.close('not-useful');
    }
    this.requests.tick();
    this.peers.dial();
    this.schedule();
  }

  private timedOut(): void {
    if (this.state !== 'running') return;
    const s = this.stats();
    const closed = Object.entries(s.closed).map(([reason, n]) => `${reason} ${n}`).join(', ');
    const seconds = Math.round(this.options.timeoutMs / 100) / 10;
    this.finish(
      new MetadataFetchError(
        'METADATA_TIMEOUT',
        `no metadata for ${this.infoHashHex} after ${seconds} s: ${s.peersKnown} peer${s.peersKnown === 1 ? '' : 's'} known, ` +
          `${s.withMetadata} offering it now, ${s.piecesReceived} of ${s.pieceCount ?? '?'} pieces, ` +
          `${s.rejects} rejects, ${s.hashFailures} hash failures${closed ? `; sessions closed: ${closed}` : ''}`,
        this.infoHashHex,
        s,
      ),
    );
  }

  private finish(outcome: Uint8Array | MetadataFetchError): void {
    if (this.state === 'done') return;
    this.state = 'done';
    clearInterval(this.ticker);
    clearTimeout(this.deadline);
    this.peers.closeAll('shutdown');
    void this.closeListener();
    if (outcome instanceof MetadataFetchError) this.reject(outcome);
    else this.resolve(outcome);
  }
}

/**
 * Fetches the info dictionary of `infoHash` from peers (BEP 9) and answers
 * its bytes, whose SHA-1 is the info hash. `onStart` gets the running
 * fetcher, to add peers as they are found; everything is closed when the
 * promise settles.
 */
export async function fetchMetadata(options: MetadataFetcherOptions & { onStart?: (fetcher: MetadataFetcher) => void }): Promise<Uint8Array> {
  const fetcher = new MetadataFetcher(options);
  await fetcher.start();
  try {
    options.onStart?.(fetcher);
    return await fetcher.result;
  } finally {
    await fetcher.stop();
  }
}
