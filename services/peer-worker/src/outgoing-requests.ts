import { blockKey, fromBlockKey, type BlockRef } from './block-key.js';
import type { IncomingRequest } from './peer-handler.js';

/**
 * What a block from the peer answered: a request of ours still outstanding;
 * one we gave up on (timed out, cancelled, dropped by a BEP 3 choke), whose
 * answer may still be on its way, as endgame duplicates are on purpose; or
 * nothing we ever asked of this peer.
 */
export type BlockAnswer = 'requested' | 'late' | 'unrequested';

/**
 * Requests given up on that are remembered, so their late answers are
 * told apart from blocks we never asked for (libtorrent keeps them in its
 * download queue, flagged timed out or not wanted, for the same reason).
 * The oldest are forgotten past this: the pipeline's own ceiling, so only
 * a peer that let more than a whole pipeline's worth of requests lapse can
 * send an answer we no longer recognise.
 */
const GIVEN_UP_MEMORY = 1000;

/**
 * Our requests to one peer: queued until the next flush (so that many go
 * out in one write), then outstanding until answered, rejected, cancelled,
 * timed out or dropped with the connection.
 */
export class OutgoingRequests {
  /** Key → when it was sent. */
  private readonly outstanding = new Map<number, number>();
  private readonly queued: number[] = [];
  /** Sent, then given up on: a block for one of these is a late answer. Oldest first. */
  private readonly givenUp = new Set<number>();

  get count(): number {
    return this.outstanding.size + this.queued.length;
  }

  get queuedCount(): number {
    return this.queued.length;
  }

  get outstandingCount(): number {
    return this.outstanding.size;
  }

  has(index: number, begin: number): boolean {
    const key = blockKey(index, begin);
    return this.outstanding.has(key) || this.queued.includes(key);
  }

  queue(index: number, begin: number): void {
    this.queued.push(blockKey(index, begin));
  }

  /** A REJECT arrived: answers whether the request was outstanding. Either way no answer will come. */
  settle(index: number, begin: number): boolean {
    const key = blockKey(index, begin);
    this.givenUp.delete(key);
    return this.outstanding.delete(key);
  }

  /** A block arrived: what it answers (see BlockAnswer). */
  answer(index: number, begin: number): BlockAnswer {
    const key = blockKey(index, begin);
    // A block re-requested after a timeout may be answered twice: the first answer settles the request, the second is late.
    if (this.outstanding.delete(key)) return 'requested';
    return this.givenUp.delete(key) ? 'late' : 'unrequested';
  }

  private giveUp(key: number): void {
    this.givenUp.delete(key);
    this.givenUp.add(key);
    if (this.givenUp.size > GIVEN_UP_MEMORY) this.givenUp.delete(this.givenUp.values().next().value!);
  }

  /** The queued requests, now outstanding, as sent at `now`. */
  send(now: number, blockLength: (index: number, begin: number) => number): IncomingRequest[] {
    const requests: IncomingRequest[] = [];
    for (const key of this.queued) {
      const { index, begin } = fromBlockKey(key);
      this.outstanding.set(key, now);
      requests.push({ index, begin, length: blockLength(index, begin) });
    }
    this.queued.length = 0;
    return requests;
  }

  /** Takes a request back: 'queued' (never sent), 'outstanding' (a CANCEL is due), or undefined. */
  cancel(index: number, begin: number): 'queued' | 'outstanding' | undefined {
    const key = blockKey(index, begin);
    const q = this.queued.indexOf(key);
    if (q !== -1) {
      this.queued.splice(q, 1);
      return 'queued';
    }
    if (!this.outstanding.delete(key)) return undefined;
    this.giveUp(key);
    return 'outstanding';
  }

  /** Requests sent longer than `timeoutMs` ago, given up. */
  expire(now: number, timeoutMs: number): BlockRef[] {
    const expired: BlockRef[] = [];
    for (const [key, sent] of this.outstanding) {
      if (now - sent <= timeoutMs) continue;
      this.outstanding.delete(key);
      this.giveUp(key);
      expired.push(fromBlockKey(key));
    }
    return expired;
  }

  /** Every request, queued or outstanding, given up (a BEP 3 choke, a close). */
  dropAll(): BlockRef[] {
    const all = [...this.outstanding.keys(), ...this.queued].map(fromBlockKey);
    // Blocks already on the wire before a choke are late answers, not unasked-for ones.
    for (const key of this.outstanding.keys()) this.giveUp(key);
    this.outstanding.clear();
    this.queued.length = 0;
    return all;
  }
}
