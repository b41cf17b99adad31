import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import {
  Bitfield,
  checkMetadataSize,
  MAX_METADATA_SIZE,
  MetadataAssembler,
  UtMetadataError,
  type Handshake,
} from '@seedbox/protocol';
import { dialPeer, type PeerAddress } from './dial.js';
import { PeerListener } from './peer-listener.js';
import { PeerSession, type CloseReason, type MetadataAnswer, type SessionOwner, type SessionTimeouts } from './peer-session.js';

/**
 * Fetches a torrent's info dictionary from its peers (BEP 9), for a magnet
 * link: all we know is the info hash, and peers that have the torrent give
 * the dictionary in 16 KiB pieces over the ut_metadata extension (BEP 10).
 *
 * It runs the same PeerSession as a download (handshake checks, Fast and
 * extension negotiation, timeouts), with an owner that has no pieces:
 * sessions ignore bitfields they cannot size, and the fetcher only talks
 * ut_metadata.
 *
 * Pieces are spread over the peers that offer ut_metadata with the
 * metadata_size most of them agree on, a few requests per peer at a time.
 * A reject or a request unanswered for `requestTimeoutMs` sends the piece to
 * another peer. Nothing but the SHA-1 of the whole dictionary shows a piece
 * was wrong, so blame is laid like this: when one peer sent every piece of
 * a failed dictionary it is banned; when several did, the next attempt takes
 * every piece from one peer, so the next failure names its culprit.
 *
 * Peers come from the constructor, from `addPeers` at any time (trackers
 * answer while we run), and from the listener when `listen` is given.
 */

export type MetadataFetchErrorCode =
  /** No peer gave metadata matching the info hash within `timeoutMs`. */
  | 'METADATA_TIMEOUT'
  /** stop() was called before the metadata was in. */
  | 'METADATA_STOPPED';

export class MetadataFetchError extends Error {
  override name = 'MetadataFetchError';
  readonly code: MetadataFetchErrorCode;
  readonly infoHashHex: string;
  /** What the fetch saw, for the message and for callers that report it. */
  readonly stats: MetadataFetchStats;

  constructor(code: MetadataFetchErrorCode, message: string, infoHashHex: string, stats: MetadataFetchStats) {
    super(message);
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
  now?: () => number;
}

interface KnownPeer {
  address: PeerAddress;
  session: PeerSession | undefined;
  failures: number;
  nextDialAt: number;
  banned: boolean;
  /** It offered metadata: worth handing to the download that follows. */
  hadMetadata: boolean;
}

interface SessionState {
  /** When the session opened, for extensionTimeoutMs. */
  openedAt: number;
  /** Not asked anything before this time (after a reject). */
  backoffUntil: number;
}

interface Request {
  session: PeerSession;
  sentAt: number;
  /** Unanswered for requestTimeoutMs: kept so a late answer is still taken, but it no longer holds the piece or the peer's room. */
  expired: boolean;
}

export interface MetadataFetcherEvents {
  /** A piece of the metadata came in. */
  piece: [piece: number, session: PeerSession];
  closed: [session: PeerSession, reason: CloseReason, error: Error | undefined];
  /** A dictionary failed its hash; `culprit` is the address banned for it, when one peer sent it all. */
  'hash-failed': [culprit: string | undefined];
}

export class MetadataFetcher extends EventEmitter<MetadataFetcherEvents> implements SessionOwner {
  readonly infoHash: Uint8Array;
  readonly infoHashHex: string;
  readonly localPeerId: Uint8Array;
  /** Unknown until the metadata is in: that is what we are fetching. */
  readonly pieceCount = undefined;
  readonly have = new Bitfield(0);
  listenPort: number | undefined;
  /** Resolves with the info dictionary's bytes (SHA-1 = the info hash), or rejects with a MetadataFetchError. */
  readonly result: Promise<Uint8Array>;

  private readonly options: MetadataFetcherOptions;
  private readonly now: () => number;
  private readonly maxMetadataSize: number;
  private readonly peers = new Map<string, KnownPeer>();
  private readonly sessions = new Map<PeerSession, SessionState>();
  private listener: PeerListener | undefined;
  private listenerClosed: Promise<void> | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private state: 'idle' | 'running' | 'done' = 'idle';
  private resolve!: (bytes: Uint8Array) => void;
  private reject!: (err: MetadataFetchError) => void;

  private assembler: MetadataAssembler | undefined;
  /** Outstanding requests by piece. */
  private readonly requests = new Map<number, Request[]>();
  /** Who sent each piece of the dictionary under way. */
  private readonly contributors = new Map<number, string>();
  /** After a failure with several contributors: every piece from this one peer. */
  private singleSource: PeerSession | undefined;
  private trySingleSource = false;
  /** Addresses that were the single source once (and stalled): tried again only when nobody else is left. */
  private readonly singleTried = new Set<string>();
  /** Peers whose whole dictionary failed (they are banned too). */
  private readonly failedSources = new Set<string>();
  private readonly counts = { rejects: 0, requestTimeouts: 0, hashFailures: 0, banned: 0 };
  private readonly closed: Partial<Record<CloseReason, number>> = {};

  constructor(options: MetadataFetcherOptions) {
    super();
    if (options.infoHash.length !== 20) throw new RangeError(`infoHash must be 20 bytes, got ${options.infoHash.length}`);
    this.options = options;
    this.infoHash = Uint8Array.from(options.infoHash);
    this.infoHashHex = Buffer.from(this.infoHash).toString('hex');
    this.localPeerId = options.peerId;
    this.now = options.now ?? Date.now;
    this.maxMetadataSize = options.maxMetadataSize ?? MAX_METADATA_SIZE;
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
    return this.assembler?.size;
  }

  /** Adds peers to dial; known ones are ignored. */
  addPeers(addresses: readonly PeerAddress[]): void {
    for (const address of addresses) {
      const key = `${address.host}:${address.port}`;
      if (!this.peers.has(key)) this.peers.set(key, { address, session: undefined, failures: 0, nextDialAt: 0, banned: false, hadMetadata: false });
    }
    this.dial();
  }

  /** The peers we dialled that offered the metadata: good first peers for the download. */
  peersWithMetadata(): PeerAddress[] {
    return [...this.peers.values()].filter((p) => p.hadMetadata && !p.banned).map((p) => p.address);
  }

  /** Whether any peer is connected or still worth dialling: when false, only new peers can help. */
  hasPeerProspects(): boolean {
    if (this.sessions.size > 0) return true;
    const maxFailures = this.options.maxDialFailures ?? 5;
    for (const p of this.peers.values()) if (!p.banned && p.failures < maxFailures) return true;
    return false;
  }

  stats(): MetadataFetchStats {
    let connected = 0;
    let withMetadata = 0;
    for (const s of this.sessions.keys()) {
      if (!s.isOpen) continue;
      connected++;
      if (this.canGive(s)) withMetadata++;
    }
    return {
      peersKnown: this.peers.size,
      connected,
      withMetadata,
      metadataSize: this.assembler?.size,
      piecesReceived: this.assembler?.receivedCount ?? 0,
      pieceCount: this.assembler?.pieceCount,
      sources: [...new Set(this.contributors.values())],
      ...this.counts,
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

  // ---- connections ----

  private dial(): void {
    if (this.state !== 'running') return;
    const max = this.options.maxPeers ?? 30;
    const maxFailures = this.options.maxDialFailures ?? 5;
    const t = this.now();
    for (const peer of this.peers.values()) {
      if (this.sessions.size >= max) return;
      if (peer.session || peer.banned || peer.failures >= maxFailures || peer.nextDialAt > t) continue;
      const session = dialPeer(peer.address, (socket, address) => this.createSession(socket, 'outgoing', address), this.options.connect);
      if (!session.isClosed) peer.session = session;
    }
  }

  /** A connection the listener accepted for our info hash. */
  acceptIncoming(socket: Socket, handshake: Handshake, leftover: Uint8Array): void {
    if (this.state !== 'running') {
      socket.destroy();
      return;
    }
    this.createSession(socket, 'incoming', `${socket.remoteAddress}:${socket.remotePort}`, handshake, leftover);
  }

  private createSession(socket: Socket, direction: 'outgoing' | 'incoming', address: string, handshake?: Handshake, leftover?: Uint8Array): PeerSession {
    const session = new PeerSession({
      socket,
      owner: this,
      direction,
      address,
      ...(handshake ? { handshake } : {}),
      ...(leftover ? { leftover } : {}),
      ...(this.options.timeouts ? { timeouts: this.options.timeouts } : {}),
    });
    // The session may have closed in its constructor (a bad leftover); it is then already forgotten.
    if (!session.isClosed) {
      this.sessions.set(session, { openedAt: this.now(), backoffUntil: 0 });
      // An incoming peer's extended handshake may have come with its own.
      if (session.hasMetadataToGive) this.schedule();
    }
    return session;
  }

  // ---- SessionOwner ----

  admit(session: PeerSession): CloseReason | undefined {
    const remote = session.remote!;
    if (Buffer.compare(Buffer.from(remote.peerId), Buffer.from(this.localPeerId)) === 0) {
      const known = this.peers.get(session.address);
      if (known) known.banned = true;
      return 'self-connection';
    }
    for (const other of this.sessions.keys()) {
      if (other !== session && other.isOpen && Buffer.compare(Buffer.from(other.remote!.peerId), Buffer.from(remote.peerId)) === 0) return 'duplicate-peer';
    }
    if (session.direction === 'incoming' && this.openSessions() >= (this.options.maxPeers ?? 30)) return 'too-many-peers';
    // Without BEP 10 there is no ut_metadata: nothing to talk about.
    if (!session.extended) return 'not-useful';
    const state = this.sessions.get(session);
    if (state) state.openedAt = this.now();
    return undefined;
  }

  private openSessions(): number {
    let n = 0;
    for (const s of this.sessions.keys()) if (s.isOpen) n++;
    return n;
  }

  extensionsChanged(session: PeerSession): void {
    if (!session.peerExtensions.has('ut_metadata')) {
      session.close('not-useful');
      return;
    }
    if (this.canGive(session)) {
      const known = this.peers.get(session.address);
      if (known) known.hadMetadata = true;
    }
    this.schedule();
  }

  metadataAnswer(session: PeerSession, answer: MetadataAnswer): void {
    if (this.state !== 'running') return;
    const asked = this.takeRequest(answer.piece, session);
    if (answer.type === 'reject') {
      this.counts.rejects++;
      const state = this.sessions.get(session);
      if (state) state.backoffUntil = this.now() + (this.options.rejectBackoffMs ?? 5000);
      this.schedule();
      return;
    }
    const a = this.assembler;
    // Only answers to our own requests count: an unsolicited piece could not be blamed on anyone.
    if (!asked || !a) return;
    try {
      if (!a.receive(answer)) return;
    } catch (err) {
      // A size other than the one it advertised, or a piece of the wrong length.
      if (err instanceof UtMetadataError) {
        session.close('protocol-error', err);
        return;
      }
      throw err;
    }
    this.contributors.set(answer.piece, session.address);
    // Requests of the same piece to others (after a timeout) are no longer needed.
    this.requests.delete(answer.piece);
    this.emit('piece', answer.piece, session);
    if (a.isComplete) this.complete(a);
    else this.schedule();
  }

  private complete(a: MetadataAssembler): void {
    let bytes: Uint8Array;
    try {
      bytes = a.finish();
    } catch (err) {
      if (!(err instanceof UtMetadataError) || err.code !== 'UT_METADATA_HASH_MISMATCH') throw err;
      this.hashFailed();
      return;
    }
    this.finish(bytes);
  }

  private hashFailed(): void {
    this.counts.hashFailures++;
    const sources = new Set(this.contributors.values());
    this.contributors.clear();
    this.requests.clear();
    // The size may have been the lie: choose it again from who is left.
    this.assembler = undefined;
    let culprit: string | undefined;
    if (sources.size === 1) {
      [culprit] = sources;
      this.failedSources.add(culprit!);
      this.counts.banned++;
      const known = this.peers.get(culprit!);
      if (known) known.banned = true;
      for (const s of [...this.sessions.keys()]) if (s.address === culprit) s.close('bad-data');
    } else {
      this.trySingleSource = true;
    }
    this.singleSource = undefined;
    this.emit('hash-failed', culprit);
    this.schedule();
  }

  // Nothing of ours to send or to take, the sessions' other calls are no-ops.
  peerPiecesChanged(): void {}
  fillRequests(): void {}
  blockReceived(): void {}
  requestsDropped(): void {}
  blockRequested(session: PeerSession, index: number, begin: number, length: number): void {
    session.reject(index, begin, length);
  }
  peerInterestChanged(): void {}
  sessionDrained(): void {}

  sessionClosed(session: PeerSession, reason: CloseReason): void {
    this.sessions.delete(session);
    this.closed[reason] = (this.closed[reason] ?? 0) + 1;
    for (const [piece, list] of this.requests) {
      const rest = list.filter((r) => r.session !== session);
      if (rest.length === 0) this.requests.delete(piece);
      else this.requests.set(piece, rest);
    }
    if (this.singleSource === session) this.singleSource = undefined;
    const known = this.peers.get(session.address);
    if (known && known.session === session) {
      known.session = undefined;
      if (reason === 'shutdown') {
        // Ours to decide; nothing against the peer.
      } else if (!session.remote || reason === 'not-useful') {
        // Unreachable, or without the metadata (yet): try again later, a few times.
        known.failures++;
        known.nextDialAt = this.now() + (reason === 'not-useful' ? 30_000 : Math.min(60_000, 1000 * 2 ** (known.failures - 1)));
      } else {
        known.nextDialAt = this.now() + 1000;
      }
      if (reason === 'bad-data' || reason === 'self-connection') known.banned = true;
    }
    this.emit('closed', session, reason, undefined);
    if (this.state === 'running') this.schedule();
  }

  // ---- scheduling ----

  private validSize(size: number): boolean {
    try {
      checkMetadataSize(size, this.maxMetadataSize);
      return true;
    } catch {
      return false;
    }
  }

  private canGive(s: PeerSession): boolean {
    return s.hasMetadataToGive && this.validSize(s.peerMetadataSize!);
  }

  /** Open sessions that can give metadata of a size we accept, and are not backing off. */
  private givers(): PeerSession[] {
    const t = this.now();
    const out: PeerSession[] = [];
    for (const [s, state] of this.sessions) {
      if (!s.isOpen || !this.canGive(s) || this.failedSources.has(s.address)) continue;
      if (state.backoffUntil > t) continue;
      out.push(s);
    }
    return out;
  }

  /** Chooses the size to assemble: the one most peers advertise (a liar is usually alone). */
  private chooseSize(candidates: PeerSession[]): number | undefined {
    const votes = new Map<number, number>();
    for (const s of candidates) votes.set(s.peerMetadataSize!, (votes.get(s.peerMetadataSize!) ?? 0) + 1);
    let best: number | undefined;
    for (const [size, n] of votes) if (best === undefined || n > votes.get(best)!) best = size;
    return best;
  }

  /** Sends requests for the pieces nobody is being asked for, to the peers with room. */
  private schedule(): void {
    if (this.state !== 'running') return;
    let givers = this.givers();
    if (this.trySingleSource) {
      if (!this.singleSource || this.singleSource.isClosed) this.singleSource = this.pickSingleSource(givers);
      givers = this.singleSource && givers.includes(this.singleSource) ? [this.singleSource] : [];
    }
    if (givers.length === 0) return;
    if (!this.assembler) {
      const size = this.chooseSize(givers)!;
      this.assembler = new MetadataAssembler(this.infoHash, size, this.maxMetadataSize);
    }
    const a = this.assembler;
    givers = givers.filter((s) => s.peerMetadataSize === a.size);
    if (givers.length === 0) return;

    const perPeer = this.options.requestsPerPeer ?? 4;
    const load = new Map<PeerSession, number>(givers.map((s) => [s, 0]));
    for (const list of this.requests.values()) {
      for (const r of list) if (!r.expired && load.has(r.session)) load.set(r.session, load.get(r.session)! + 1);
    }
    const t = this.now();
    for (const piece of a.missing()) {
      const list = this.requests.get(piece) ?? [];
      if (list.some((r) => !r.expired)) continue;
      // Prefer a peer not asked for this piece before, then the least loaded.
      let best: PeerSession | undefined;
      let bestAsked = false;
      for (const s of givers) {
        const n = load.get(s)!;
        if (n >= perPeer) continue;
        const asked = list.some((r) => r.session === s);
        if (!best || (asked !== bestAsked ? !asked : n < load.get(best)!)) {
          best = s;
          bestAsked = asked;
        }
      }
      if (!best) break;
      if (!best.requestMetadataPiece(piece)) continue;
      load.set(best, load.get(best)! + 1);
      this.requests.set(piece, [...list.filter((r) => r.session !== best), { session: best, sentAt: t, expired: false }]);
    }
  }

  /** A peer to take the whole dictionary from: one not tried alone yet, if any is left. */
  private pickSingleSource(givers: PeerSession[]): PeerSession | undefined {
    const fresh = givers.filter((s) => !this.singleTried.has(s.address));
    if (fresh.length === 0) this.singleTried.clear();
    const chosen = (fresh.length > 0 ? fresh : givers)[0];
    if (chosen) this.singleTried.add(chosen.address);
    return chosen;
  }

  /**
   * The single source stalled (a request timed out): start over with
   * another peer, since mixing in pieces from others would again leave a
   * failure without a culprit.
   */
  private abandonSingleSource(): void {
    this.singleSource = undefined;
    this.assembler = undefined;
    this.contributors.clear();
    this.requests.clear();
  }

  /** Removes our request of `piece` from `session`; answers whether there was one. */
  private takeRequest(piece: number, session: PeerSession): boolean {
    const list = this.requests.get(piece);
    if (!list) return false;
    const rest = list.filter((r) => r.session !== session);
    if (rest.length === list.length) return false;
    if (rest.length === 0) this.requests.delete(piece);
    else this.requests.set(piece, rest);
    return true;
  }

  private tick(): void {
    if (this.state !== 'running') return;
    const t = this.now();
    const timeout = this.options.requestTimeoutMs ?? 10_000;
    const extensionTimeout = this.options.extensionTimeoutMs ?? 10_000;
    for (const [s, state] of [...this.sessions]) {
      s.tick();
      // No metadata to give, or more than we accept: the slot is better used by another peer.
      if (s.isOpen && !this.canGive(s) && t - state.openedAt > extensionTimeout) s.close('not-useful');
    }
    let singleStalled = false;
    for (const list of this.requests.values()) {
      for (const r of list) {
        if (r.expired || t - r.sentAt < timeout) continue;
        r.expired = true;
        this.counts.requestTimeouts++;
        if (r.session === this.singleSource) singleStalled = true;
      }
    }
    if (singleStalled) this.abandonSingleSource();
    this.dial();
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
    for (const s of [...this.sessions.keys()]) s.close('shutdown');
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
