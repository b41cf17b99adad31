import { blockKey, fromBlockKey, type BlockRef } from './block-key.js';
import type { IncomingRequest } from './peer-handler.js';

/**
 * Our requests to one peer: queued until the next flush (so that many go
 * out in one write), then outstanding until answered, rejected, cancelled,
 * timed out or dropped with the connection.
 */
export class OutgoingRequests {
  /** Key → when it was sent. */
  private readonly outstanding = new Map<number, number>();
  private readonly queued: number[] = [];

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

  /** A block or a REJECT arrived: answers whether we had asked for it. */
  settle(index: number, begin: number): boolean {
    return this.outstanding.delete(blockKey(index, begin));
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
    return this.outstanding.delete(key) ? 'outstanding' : undefined;
  }

  /** Requests sent longer than `timeoutMs` ago, given up. */
  expire(now: number, timeoutMs: number): BlockRef[] {
    const expired: BlockRef[] = [];
    for (const [key, sent] of this.outstanding) {
      if (now - sent <= timeoutMs) continue;
      this.outstanding.delete(key);
      expired.push(fromBlockKey(key));
    }
    return expired;
  }

  /** Every request, queued or outstanding, given up (a BEP 3 choke, a close). */
  dropAll(): BlockRef[] {
    const all = [...this.outstanding.keys(), ...this.queued].map(fromBlockKey);
    this.outstanding.clear();
    this.queued.length = 0;
    return all;
  }
}
