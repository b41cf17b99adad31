import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Bitfield, PeerAddress, PexMessage, PieceGeometry } from '@seedbox/protocol';
import type { PeerInfo } from '@seedbox/cluster';
import type { SessionBandwidth } from './bandwidth/bandwidth.js';
import type { BlockRef } from './block-key.js';
import { DownloadScheduler } from './download-scheduler.js';
import type { IncomingOpening } from './encryption/incoming-handshake.js';
import { openingOptions } from './peer-handler.js';
import { peerInfoOf } from './peer-info.js';
import { PeerExchange } from './peer-exchange.js';
import { PeerList } from './peer-list.js';
import { PeerSession, type BlockAnswer, type CloseReason, type PeerHandler, type SessionContext, type SessionRefusal } from './peer-session.js';
import type { TorrentCounters } from './torrent-counters.js';
import type { TorrentEvents, TorrentOptions } from './torrent-options.js';
import type { TorrentState } from './torrent-snapshot.js';
import { UploadServer } from './upload-server.js';

/**
 * A torrent's trade with its peers: who they are (a PeerList), what they
 * are told of each other (PeerExchange), what every session reads of the
 * torrent (SessionContext), and the two sides of the trade, download
 * scheduling and upload serving, built over the bitfield each check finds.
 * It is the PeerHandler of the torrent's sessions and routes each call to
 * the side it concerns.
 *
 * When the torrent trades is its Torrent's to say (the lifecycle,
 * torrent.ts). The trade reads it from the Torrent itself (TradeOwner)
 * rather than through hooks made for it: a seedbox keeps thousands of
 * torrents, and each hook closure would be ~60 bytes more of every one.
 */

/** Only these states have sessions. */
export function isTrading(state: TorrentState): boolean {
  return state === 'downloading' || state === 'seeding';
}

/** What the trade reads of its torrent, and tells the torrent's listeners ('wake', 'closed'); a Torrent is one. */
export interface TradeOwner extends Pick<EventEmitter<TorrentEvents>, 'emit'> {
  readonly state: TorrentState;
  /** Every wanted piece is verified: the choker seeds. */
  readonly isDone: boolean;
  /** Peers PEX found, added as any others are. */
  addPeers(peers: readonly PeerAddress[]): void;
}

export interface TorrentTradeOptions {
  options: TorrentOptions;
  geometry: PieceGeometry;
  have: Bitfield;
  counters: TorrentCounters;
  bandwidth: SessionBandwidth;
  now: () => number;
  owner: TradeOwner;
}

export class TorrentTrade implements PeerHandler {
  private readonly peers: PeerList;
  /** BEP 11; off for a private torrent (BEP 27). */
  private readonly pex: PeerExchange;
  private readonly context: SessionContext;
  private download: DownloadScheduler | undefined;
  private upload: UploadServer | undefined;
  private readonly o: TorrentOptions;
  private readonly owner: TradeOwner;
  private readonly geometry: PieceGeometry;
  private readonly have: Bitfield;
  private readonly now: () => number;
  private readonly counters: TorrentCounters;

  constructor({ options, geometry, have, counters, bandwidth, now, owner }: TorrentTradeOptions) {
    const meta = options.meta;
    this.o = options;
    this.owner = owner;
    this.geometry = geometry;
    this.have = have;
    this.now = now;
    this.counters = counters;
    this.context = {
      infoHash: meta.infoHash,
      localPeerId: options.peerId,
      listenPort: options.listenPort,
      pieceCount: geometry.pieceCount,
      have,
      // BEP 9 lets a magnet link start from us; BEP 27 keeps a private
      // torrent's info dictionary to those its tracker gave it to, as libtorrent does.
      metadata: meta.private || meta.infoBytes.length === 0 ? undefined : meta.infoBytes,
      pex: !meta.private,
      blockLength: (index, begin) => Math.min(16384, geometry.pieceSize(index) - begin),
    };
    this.peers = new PeerList({
      maxPeers: options.maxPeers ?? 50,
      maxDialFailures: options.maxDialFailures,
      connect: options.connect,
      budget: options.connections,
      encryption: options.encryption,
      now,
      createSession: (socket, peer, how) =>
        new PeerSession({ socket, context: this.context, handler: this, peer, ...openingOptions(how), timeouts: options.timeouts, pipeline: options.pipeline, bandwidth }),
    });
    this.pex = new PeerExchange({ enabled: !meta.private, addPeers: (peers) => owner.addPeers(peers), knownCount: () => this.peers.knownCount, now });
  }

  /** Sessions that passed admission and are open: the same Set throughout, read as it changes. */
  get live(): ReadonlySet<PeerSession> {
    return this.peers.live;
  }

  /** Live and starting sessions. */
  get sessionCount(): number {
    return this.peers.sessionCount;
  }

  /** The sides are built: the first check is over. */
  get built(): boolean {
    return this.download !== undefined;
  }

  /** Pieces waiting for the disk-writer. */
  get writesPending(): number {
    return this.download?.writesPending ?? 0;
  }

  /** The two sides of the trade, over the bitfield the check found; `verified` hears of each piece verified (or adopted), `writeFailed` of this run's failed writes. */
  build(priorities: Uint8Array, sequential: boolean, verified: (index: number) => void, writeFailed: (error: Error) => void): void {
    const download: DownloadScheduler = (this.download = new DownloadScheduler({
      infoHashHex: this.o.meta.infoHashHex,
      geometry: this.geometry,
      have: this.have,
      sink: this.o.sink,
      sessions: () => this.peers.live,
      maxWriteBacklogBytes: this.o.maxWriteBacklogBytes,
      endgameDuplicates: this.o.endgameDuplicates,
      priorities,
      sequential,
      onVerified: verified,
      onBadPeer: (address) => this.badPeer(address),
      // A late answer for a scheduler a check has since replaced is not this run's failure.
      onWriteError: (_index, error) => this.download === download && writeFailed(error),
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

  /** Downloading again, after a check or a pause. */
  resume(): void {
    this.download!.resume();
  }

  /** Every session closed; pieces under way are dropped (those at the sink are still answered). */
  quiesce(reason: CloseReason): void {
    this.peers.closeAll(reason);
    this.download?.pause();
  }

  /** Resolves when no piece is waiting for the disk-writer. */
  drain(): Promise<void> {
    return this.download?.drain() ?? Promise.resolve();
  }

  setPriorities(priorities: Uint8Array): void {
    this.download?.setPriorities(priorities);
  }

  setSequential(on: boolean): void {
    this.download?.setSequential(on);
  }

  /** Pieces verified elsewhere become ours, as if we had verified them. */
  adopt(verified: Bitfield): void {
    if (!this.download) return;
    for (let i = 0; i < this.geometry.pieceCount; i++) if (verified.has(i) && !this.have.has(i)) this.download.adopt(i);
  }

  // ---- peers ----

  /** Adds peers to dial; known ones are ignored. */
  add(addresses: readonly PeerAddress[]): void {
    this.peers.add(addresses);
  }

  dial(): void {
    this.peers.dial();
  }

  hasProspects(): boolean {
    return this.peers.hasProspects();
  }

  acceptIncoming(socket: Socket, opening: IncomingOpening): void {
    this.peers.acceptIncoming(socket, opening);
  }

  /** The connected peers as the control APIs list them (peer-info.ts). Side-effect free. */
  peerList(): PeerInfo[] {
    const ctx = { have: this.have, optimistic: this.upload?.optimistic, snubSeconds: this.o.snubSeconds ?? 60 };
    return [...this.peers.live].map((s) => peerInfoOf(s, ctx));
  }

  private badPeer(address: string): void {
    this.peers.ban(address);
    for (const s of [...this.peers.live]) if (s.address === address) s.close('bad-data');
  }

  /** A second of the sessions' clock: their timeouts and pipelines, the choker (while trading), peer exchange. */
  tick(): void {
    for (const s of [...this.peers.live]) s.tick();
    if (isTrading(this.owner.state) && this.upload) this.upload.rechoke(this.peers.live, this.owner.isDone);
    this.pex.tick(this.peers.live);
  }

  // ---- PeerHandler: each call goes to the side it concerns ----

  admit(session: PeerSession): CloseReason | undefined {
    if (!isTrading(this.owner.state)) return 'shutdown';
    const refused = this.peers.admit(session, this.context.localPeerId);
    if (refused) return refused;
    this.peers.opened(session);
    this.counters.sessionOpened();
    this.owner.emit('wake');
    return undefined;
  }

  sessionClosed(session: PeerSession, reason: CloseReason, error: Error | undefined): void {
    // Its close is counted in the next tick's figures, admitted or not.
    this.owner.emit('wake');
    this.peers.closed(session, reason);
    this.download?.sessionClosed(session);
    this.upload?.sessionClosed(session, this.peers.live.size > 0);
    this.pex.sessionClosed(session);
    this.counters.sessionClosed(session, reason);
    this.owner.emit('closed', session, reason, error);
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
    this.upload?.interestChanged(session, this.peers.live, this.owner.isDone);
  }

  sessionDrained(session: PeerSession): void {
    this.upload?.drained(session);
  }

  pexReceived(session: PeerSession, message: PexMessage): void {
    this.pex.received(session, message);
  }
}
