/**
 * Token buckets for answering incoming DHT queries: one per source IP and
 * one for the whole node.
 *
 * A DHT node answers anyone, and every answer costs an encode, a send and
 * (for get_peers) a SHA-1; without a limit one host can make us flood a
 * third party with answers (reflection) or eat our uplink. Over-limit
 * queries are dropped without an answer: an error reply would cost the same
 * as an answer. The per-address bucket is checked first, so one flooding
 * host spends its own bucket and not the global one that everyone shares.
 *
 * Buckets are keyed by IP, not IP:port, since changing ports is free. The
 * map is bounded (`maxTracked`): when full, the least recently seen
 * address is forgotten, which at worst gives it a fresh burst, while a
 * spread-out attack from many addresses still meets the global bucket.
 */

export interface RateLimit {
  /** Queries per second, sustained. */
  perSecond: number;
  /** Queries allowed at once after a quiet spell. */
  burst: number;
}

export interface QueryRateLimitOptions {
  perAddress?: RateLimit;
  global?: RateLimit;
  /** Addresses whose buckets are remembered. */
  maxTracked?: number;
  now?: () => number;
}

export const QUERY_RATE_LIMIT_DEFAULTS = {
  // libtorrent blocks an IP sending more than 5 queries a second; a node
  // doing a few lookups through us stays well under 10.
  perAddress: { perSecond: 10, burst: 20 },
  global: { perSecond: 500, burst: 1_000 },
  maxTracked: 10_000,
} as const;

interface Bucket {
  tokens: number;
  at: number;
}

export class QueryRateLimiter {
  private readonly perAddress: RateLimit;
  private readonly globalLimit: RateLimit;
  private readonly maxTracked: number;
  private readonly now: () => number;
  private readonly buckets = new Map<string, Bucket>();
  private readonly global: Bucket;

  constructor(options: QueryRateLimitOptions = {}) {
    this.perAddress = options.perAddress ?? QUERY_RATE_LIMIT_DEFAULTS.perAddress;
    this.globalLimit = options.global ?? QUERY_RATE_LIMIT_DEFAULTS.global;
    this.maxTracked = options.maxTracked ?? QUERY_RATE_LIMIT_DEFAULTS.maxTracked;
    this.now = options.now ?? Date.now;
    this.global = { tokens: this.globalLimit.burst, at: this.now() };
  }

  /** Takes one token for a query from `ip`; false means drop it. */
  allow(ip: string): boolean {
    const now = this.now();
    let bucket = this.buckets.get(ip);
    if (bucket) {
      this.buckets.delete(ip); // re-inserted below: the map stays least recently seen first
    } else {
      if (this.buckets.size >= this.maxTracked) this.buckets.delete(this.buckets.keys().next().value!);
      bucket = { tokens: this.perAddress.burst, at: now };
    }
    this.buckets.set(ip, bucket);
    if (!take(bucket, this.perAddress, now)) return false;
    return take(this.global, this.globalLimit, now);
  }
}

function take(bucket: Bucket, limit: RateLimit, now: number): boolean {
  bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * limit.perSecond);
  bucket.at = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}
