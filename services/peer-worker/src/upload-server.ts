import { BLOCK_LENGTH, type Bitfield, type PieceGeometry } from '@seedbox/protocol';
import { Choker, type ChokerOptions } from './choker.js';
import type { PeerSession, SessionRefusal } from './peer-session.js';
import { RateMeter } from './rate.js';
import { ReadCache, type BlockLease, type ReadCacheOptions, type SpanReader } from './read-cache.js';

/**
 * The upload side of one torrent: who gets a slot (the choker), and
 * serving the requests each unchoked peer queued in its session from a
 * bounded read cache, a few disk reads at a time per peer and only while
 * its socket has room, so a slow peer cannot make us buffer the torrent.
 */

/** Why we refused a peer's request; counted, since each is a peer breaking a rule or asking the impossible. */
export type RefusedRequest = SessionRefusal | 'oversize' | 'out-of-range' | 'missing-piece' | 'read-error';

/** Disk reads under way for one peer at most: enough to keep its socket busy, not so many that one peer fills the cache. */
const READS_PER_PEER = 4;

/** What takeRefused answers when nothing was refused: shared, so a quiet torrent allocates nothing per tick. */
const NO_REFUSALS: Readonly<Partial<Record<RefusedRequest, number>>> = Object.freeze({});

export interface UploadServerOptions {
  geometry: PieceGeometry;
  /** Pieces we have: only those are served. */
  have: Bitfield;
  /** Reads verified data; without it we serve nothing and keep everyone choked. */
  read: SpanReader | undefined;
  readCache?: ReadCacheOptions | undefined;
  choker?: ChokerOptions | undefined;
  /** A peer that sent nothing for this long while we waited on its requests is snubbed, s. Default 60. */
  snubSeconds?: number | undefined;
  now: () => number;
}

export class UploadServer {
  readonly meter = new RateMeter();
  // What is used after construction is kept, not the options object; the
  // collections exist only while they hold something (undefined when empty):
  // an idle torrent, one of thousands, holds no empty Map (~170 bytes each).
  private readonly geometry: PieceGeometry;
  private readonly have: Bitfield;
  private readonly snubSeconds: number;
  private readonly now: () => number;
  private readonly reader: ReadCache | undefined;
  private readonly choker: Choker;
  /** Disk reads under way, per session that has any. */
  private readsInFlight: Map<PeerSession, number> | undefined;
  /** Requests refused since the last takeRefused, by reason. */
  private refused: Partial<Record<RefusedRequest, number>> | undefined;

  constructor(options: UploadServerOptions) {
    const { geometry } = options;
    this.geometry = geometry;
    this.have = options.have;
    this.snubSeconds = options.snubSeconds ?? 60;
    this.now = options.now;
    this.choker = new Choker(options.choker);
    this.reader = options.read ? new ReadCache(options.read, (i) => geometry.pieceSize(i), options.readCache) : undefined;
  }

  /** The address of the peer holding our optimistic unchoke, if any (for the peer lists' `O` flag). */
  get optimistic(): string | undefined {
    return this.choker.optimisticPeer;
  }

  /** A peer asked for a block (queued in its session): serve it, or refuse it with the rule it broke. */
  blockRequested(session: PeerSession, index: number, begin: number, length: number): void {
    let reason: RefusedRequest | undefined;
    if (length > BLOCK_LENGTH) reason = 'oversize';
    else if (!this.geometry.isValidRange(index, begin, length)) reason = 'out-of-range';
    else if (!this.have.has(index) || !this.reader) reason = 'missing-piece';
    if (reason) {
      this.refuse(session, reason, index, begin, length);
      return;
    }
    this.pump(session);
  }

  /** The session refused a request itself (choked, over its queue): counted with ours. */
  countRefusal(reason: SessionRefusal): void {
    this.count(reason);
  }

  drained(session: PeerSession): void {
    this.pump(session);
  }

  /** `anyLeft`: whether the torrent still has a live session; with none, the read cache lets go of its spans. */
  sessionClosed(session: PeerSession, anyLeft: boolean): void {
    if (this.readsInFlight?.delete(session) && this.readsInFlight.size === 0) this.readsInFlight = undefined;
    if (!anyLeft) this.reader?.clear();
  }

  /** A free slot is filled at once rather than at the next 10 s rotation. */
  interestChanged(session: PeerSession, live: Iterable<PeerSession>, seeding: boolean): void {
    const slotFree = this.choker.current.size < this.choker.slots;
    if (slotFree || this.choker.current.has(session.address)) this.rechoke(live, seeding, true);
  }

  /** Hands out upload slots (see choker.ts). Without data to serve, everyone stays choked. */
  rechoke(live: Iterable<PeerSession>, seeding: boolean, force = false): void {
    if (!this.reader || this.have.isEmpty) return;
    const candidates = [];
    const byAddress = new Map<string, PeerSession>();
    for (const s of live) {
      if (!s.isOpen) continue;
      byAddress.set(s.address, s);
      candidates.push({
        id: s.address,
        interested: s.peerInterested,
        downloadRate: s.download.rate,
        uploadRate: s.upload.rate,
        snubbed: s.isSnubbing(this.snubSeconds),
      });
    }
    const unchoke = this.choker.decide(candidates, seeding, this.now(), force);
    for (const [address, s] of byAddress) s.setChoking(!unchoke.has(address));
  }

  /** Requests refused since the last call, by reason; the count starts again. Read-only: the empty answer is shared. */
  takeRefused(): Readonly<Partial<Record<RefusedRequest, number>>> {
    const r = this.refused ?? NO_REFUSALS;
    this.refused = undefined;
    return r;
  }

  private refuse(session: PeerSession, reason: RefusedRequest, index: number, begin: number, length: number): void {
    this.count(reason);
    session.reject(index, begin, length);
  }

  private count(reason: RefusedRequest): void {
    const refused = (this.refused ??= {});
    refused[reason] = (refused[reason] ?? 0) + 1;
  }

  /** Serves the session's queued requests; everything served in one turn goes out in one writev. */
  private pump(session: PeerSession): void {
    const reader = this.reader;
    if (!reader) return;
    session.cork();
    try {
      while (session.isOpen && session.writable) {
        const r = session.peekIncoming();
        if (!r) return;
        const cached = reader.peek(r.index, r.begin, r.length);
        if (cached) {
          session.nextIncoming();
          session.finishServing(r.index, r.begin, r.length);
          this.send(session, r.index, r.begin, cached);
          continue;
        }
        const reads = this.readsInFlight?.get(session) ?? 0;
        if (reads >= READS_PER_PEER) return;
        session.nextIncoming();
        (this.readsInFlight ??= new Map()).set(session, reads + 1);
        reader.block(r.index, r.begin, r.length).then(
          (lease) => {
            if (this.readDone(session) && session.finishServing(r.index, r.begin, r.length)) this.send(session, r.index, r.begin, lease);
            else lease.release();
            this.pump(session);
          },
          () => {
            if (this.readDone(session) && session.finishServing(r.index, r.begin, r.length)) this.refuse(session, 'read-error', r.index, r.begin, r.length);
            this.pump(session);
          },
        );
      }
    } finally {
      session.uncork();
    }
  }

  /**
   * One read for the session finished; false when the session is gone
   * (sessionClosed took its entry). A session with no read left leaves the
   * map, which goes once no session has one.
   */
  private readDone(session: PeerSession): boolean {
    const reads = this.readsInFlight;
    const n = reads?.get(session);
    if (!reads || n === undefined) return false;
    if (n > 1) {
      reads.set(session, n - 1);
    } else {
      reads.delete(session);
      if (reads.size === 0) this.readsInFlight = undefined;
    }
    return true;
  }

  /**
   * Counted when it goes to the socket: under an upload limit a block may
   * wait, or be dropped by a choke. The lease goes back once the socket is
   * done with the bytes, or they were dropped.
   */
  private send(session: PeerSession, index: number, begin: number, lease: BlockLease): void {
    const length = lease.bytes.length;
    session.sendBlock(index, begin, lease.bytes, () => this.meter.add(length), () => lease.release());
  }
}
