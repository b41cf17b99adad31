import { blockKey, fromBlockKey } from './block-key.js';
import type { IncomingRequest } from './peer-handler.js';

/**
 * The requests a peer made of us, from arrival until served: queued in
 * arrival order, then "serving" while their block is read from disk. A
 * CANCEL or a CHOKE removes them in either place, and a read that finishes
 * for a request no longer there is not sent.
 */
export class IncomingRequests {
  private readonly queued = new Map<number, IncomingRequest>();
  /** Key → length of the requests whose block is being read. */
  private readonly serving = new Map<number, number>();

  get queuedCount(): number {
    return this.queued.size;
  }

  /** Queues a request; false when the same block is already asked for (the first request stands). */
  add(index: number, begin: number, length: number): boolean {
    const key = blockKey(index, begin);
    if (this.queued.has(key) || this.serving.has(key)) return false;
    this.queued.set(key, { index, begin, length });
    return true;
  }

  /** The oldest queued request, left in the queue. */
  peek(): IncomingRequest | undefined {
    for (const r of this.queued.values()) return r;
    return undefined;
  }

  /** The oldest queued request, moved to serving. */
  next(): IncomingRequest | undefined {
    for (const [key, r] of this.queued) {
      this.queued.delete(key);
      this.serving.set(key, r.length);
      return r;
    }
    return undefined;
  }

  /** Whether a served request is still wanted; it leaves the serving set either way. */
  finish(index: number, begin: number, length: number): boolean {
    const key = blockKey(index, begin);
    if (this.serving.get(key) !== length) return false;
    this.serving.delete(key);
    return true;
  }

  /** A CANCEL, or our REJECT: the request leaves wherever it is. */
  remove(index: number, begin: number, length: number): void {
    const key = blockKey(index, begin);
    if (this.queued.get(key)?.length === length) this.queued.delete(key);
    if (this.serving.get(key) === length) this.serving.delete(key);
  }

  /** Every request, queued or serving, removed: what a CHOKE discards. */
  takeAll(): IncomingRequest[] {
    const all = [...this.queued.values(), ...[...this.serving].map(([key, length]) => ({ ...fromBlockKey(key), length }))];
    this.queued.clear();
    this.serving.clear();
    return all;
  }
}
