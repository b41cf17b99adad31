import { checkMetadataSize, MetadataAssembler, UtMetadataError } from '@seedbox/protocol';
import type { MetadataAnswer, PeerSession } from './peer-session.js';

/**
 * Which peer is asked for which piece of an info dictionary (BEP 9), and
 * who is to blame when the whole fails its SHA-1: the metadata fetch's
 * counterpart of the download scheduler.
 *
 * Pieces are spread over the peers that offer ut_metadata with the
 * metadata_size most of them agree on, a few requests per peer at a time.
 * A reject or a request unanswered for `requestTimeoutMs` sends the piece to
 * another peer. Nothing but the SHA-1 of the whole dictionary shows a piece
 * was wrong, so blame is laid like this: when one peer sent every piece of
 * a failed dictionary it is banned; when several did, the next attempt takes
 * every piece from one peer, so the next failure names its culprit.
 */

export interface MetadataRequestsOptions {
  infoHash: Uint8Array;
  maxMetadataSize: number;
  /** Requests outstanding per peer. */
  requestsPerPeer: number;
  /** A request unanswered this long is asked of another peer, ms. */
  requestTimeoutMs: number;
  /** A peer that rejected a request is not asked again for this long, ms. */
  rejectBackoffMs: number;
  now: () => number;
}

interface Request {
  session: PeerSession;
  sentAt: number;
  /** Unanswered for requestTimeoutMs: kept so a late answer is still taken, but it no longer holds the piece or the peer's room. */
  expired: boolean;
}

/** What an answer led to. */
export type AnswerOutcome =
  /** Nothing to act on (a reject, a late or unasked answer). */
  | { kind: 'progress' }
  /** A piece of ours was accepted; more are to come. */
  | { kind: 'piece' }
  | { kind: 'done'; bytes: Uint8Array }
  /** The dictionary failed its hash; `culprit` sent all of it, and is to be banned. */
  | { kind: 'hash-failed'; culprit: string | undefined }
  /** The peer broke a rule (a size other than it advertised, a piece of the wrong length). */
  | { kind: 'protocol-error'; error: UtMetadataError };

export class MetadataRequests {
  readonly counts = { rejects: 0, requestTimeouts: 0, hashFailures: 0, banned: 0 };
  private readonly o: MetadataRequestsOptions;
  private assembler: MetadataAssembler | undefined;
  /** Outstanding requests by piece. */
  private readonly requests = new Map<number, Request[]>();
  /** Who sent each piece of the dictionary under way. */
  private readonly contributors = new Map<number, string>();
  /** Per session: not asked anything before this time (after a reject). */
  private readonly backoff = new Map<PeerSession, number>();
  /** After a failure with several contributors: every piece from this one peer. */
  private singleSource: PeerSession | undefined;
  private trySingleSource = false;
  /** Addresses that were the single source once (and stalled): tried again only when nobody else is left. */
  private readonly singleTried = new Set<string>();
  /** Peers whose whole dictionary failed (they are banned too). */
  private readonly failedSources = new Set<string>();

  constructor(options: MetadataRequestsOptions) {
    this.o = options;
  }

  get size(): number | undefined {
    return this.assembler?.size;
  }

  get piecesReceived(): number {
    return this.assembler?.receivedCount ?? 0;
  }

  get pieceCount(): number | undefined {
    return this.assembler?.pieceCount;
  }

  /** The peers that sent the pieces received so far. */
  sources(): string[] {
    return [...new Set(this.contributors.values())];
  }

  /** Whether the session offers ut_metadata with a metadata_size we accept. */
  canGive(s: PeerSession): boolean {
    if (!s.extensions.hasMetadataToGive) return false;
    try {
      checkMetadataSize(s.extensions.peerMetadataSize!, this.o.maxMetadataSize);
      return true;
    } catch {
      return false;
    }
  }

  /** A piece came in, or a reject. */
  answer(session: PeerSession, answer: MetadataAnswer): AnswerOutcome {
    const asked = this.takeRequest(answer.piece, session);
    if (answer.type === 'reject') {
      this.counts.rejects++;
      this.backoff.set(session, this.o.now() + this.o.rejectBackoffMs);
      return { kind: 'progress' };
    }
    const a = this.assembler;
    // Only answers to our own requests count: an unsolicited piece could not be blamed on anyone.
    if (!asked || !a) return { kind: 'progress' };
    try {
      if (!a.receive(answer)) return { kind: 'progress' };
    } catch (err) {
      if (err instanceof UtMetadataError) return { kind: 'protocol-error', error: err };
      throw err;
    }
    this.contributors.set(answer.piece, session.address);
    // Requests of the same piece to others (after a timeout) are no longer needed.
    this.requests.delete(answer.piece);
    if (!a.isComplete) return { kind: 'piece' };
    try {
      return { kind: 'done', bytes: a.finish() };
    } catch (err) {
      if (!(err instanceof UtMetadataError) || err.code !== 'UT_METADATA_HASH_MISMATCH') throw err;
      return { kind: 'hash-failed', culprit: this.hashFailed() };
    }
  }

  private hashFailed(): string | undefined {
    this.counts.hashFailures++;
    const sources = new Set(this.contributors.values());
    this.contributors.clear();
    this.requests.clear();
    // The size may have been the lie: choose it again from who is left.
    this.assembler = undefined;
    this.singleSource = undefined;
    if (sources.size !== 1) {
      this.trySingleSource = true;
      return undefined;
    }
    const [culprit] = sources as Set<string>;
    this.failedSources.add(culprit!);
    this.counts.banned++;
    return culprit;
  }

  sessionClosed(session: PeerSession): void {
    this.backoff.delete(session);
    for (const [piece, list] of this.requests) {
      const rest = list.filter((r) => r.session !== session);
      if (rest.length === 0) this.requests.delete(piece);
      else this.requests.set(piece, rest);
    }
    if (this.singleSource === session) this.singleSource = undefined;
  }

  /** Sends requests for the pieces nobody is being asked for, to the peers with room. */
  schedule(sessions: Iterable<PeerSession>): void {
    const t = this.o.now();
    let givers: PeerSession[] = [];
    for (const s of sessions) {
      if (s.isOpen && this.canGive(s) && !this.failedSources.has(s.address) && (this.backoff.get(s) ?? 0) <= t) givers.push(s);
    }
    if (this.trySingleSource) {
      if (!this.singleSource || this.singleSource.isClosed) this.singleSource = this.pickSingleSource(givers);
      givers = this.singleSource && givers.includes(this.singleSource) ? [this.singleSource] : [];
    }
    if (givers.length === 0) return;
    this.assembler ??= new MetadataAssembler(this.o.infoHash, this.chooseSize(givers)!, this.o.maxMetadataSize);
    const a = this.assembler;
    givers = givers.filter((s) => s.extensions.peerMetadataSize === a.size);
    if (givers.length === 0) return;

    const load = new Map<PeerSession, number>(givers.map((s) => [s, 0]));
    for (const list of this.requests.values()) {
      for (const r of list) if (!r.expired && load.has(r.session)) load.set(r.session, load.get(r.session)! + 1);
    }
    for (const piece of a.missing()) {
      const list = this.requests.get(piece) ?? [];
      if (list.some((r) => !r.expired)) continue;
      // Prefer a peer not asked for this piece before, then the least loaded.
      let best: PeerSession | undefined;
      let bestAsked = false;
      for (const s of givers) {
        const n = load.get(s)!;
        if (n >= this.o.requestsPerPeer) continue;
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

  /** Chooses the size to assemble: the one most peers advertise (a liar is usually alone). */
  private chooseSize(candidates: PeerSession[]): number | undefined {
    const votes = new Map<number, number>();
    for (const s of candidates) votes.set(s.extensions.peerMetadataSize!, (votes.get(s.extensions.peerMetadataSize!) ?? 0) + 1);
    let best: number | undefined;
    for (const [size, n] of votes) if (best === undefined || n > votes.get(best)!) best = size;
    return best;
  }

  /** A peer to take the whole dictionary from: one not tried alone yet, if any is left. */
  private pickSingleSource(givers: PeerSession[]): PeerSession | undefined {
    const fresh = givers.filter((s) => !this.singleTried.has(s.address));
    if (fresh.length === 0) this.singleTried.clear();
    const chosen = (fresh.length > 0 ? fresh : givers)[0];
    if (chosen) this.singleTried.add(chosen.address);
    return chosen;
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

  /**
   * Expires requests unanswered for too long. When the single source
   * stalled, start over with another peer, since mixing in pieces from
   * others would again leave a failure without a culprit.
   */
  tick(): void {
    const t = this.o.now();
    let singleStalled = false;
    for (const list of this.requests.values()) {
      for (const r of list) {
        if (r.expired || t - r.sentAt < this.o.requestTimeoutMs) continue;
        r.expired = true;
        this.counts.requestTimeouts++;
        if (r.session === this.singleSource) singleStalled = true;
      }
    }
    if (!singleStalled) return;
    this.singleSource = undefined;
    this.assembler = undefined;
    this.contributors.clear();
    this.requests.clear();
  }
}
