/**
 * One rate limit: a token bucket that fills at `rate` bytes per second up
 * to a burst capacity, read against an injectable clock. It only counts;
 * who waits for it, and in what order, is the Shaper's business
 * (shaper.ts), since a connection must wait on several buckets at once
 * (its torrent's and the engine's).
 *
 * Two choices shape it:
 *
 * - **Rate 0 (or undefined) means unlimited**, never "nothing may pass": a
 *   zero limit in a config file, a form field or a CLI flag is how every
 *   client (Transmission, qBittorrent, libtorrent's `*_rate_limit`) spells
 *   "no limit", and a limit that stops all traffic is what pause is for.
 * - **Tokens may go negative (debt).** Bytes already read from a socket
 *   cannot be refused, and a block is sent whole, so `charge` always
 *   succeeds; the bucket then grants nothing until refills have paid the
 *   debt back. What passes over any window is therefore `rate * t +
 *   capacity` at most, whatever the size of the pieces it passed in, and
 *   the capacity need not be larger than a block.
 */

/** A limit that is not a number of bytes per second we can enforce. */
export class BandwidthLimitError extends RangeError {
  override name = 'BandwidthLimitError';
  constructor(
    /** Which limit, e.g. 'download' or 'upload'. */
    readonly limit: string,
    readonly value: unknown,
  ) {
    super(`the ${limit} limit must be a whole number of bytes per second, 0 or more (0 is no limit); got ${String(value)}`);
  }
}

/** The burst: this many seconds of the rate... */
const BURST_SECONDS = 0.1;
/** ...but never less than one block and its header, so a tiny limit still moves whole blocks without an extra wait. */
const MIN_BURST_BYTES = 16 * 1024 + 13;

/**
 * Checks a limit as given by a caller: undefined and 0 are "no limit";
 * anything else must be a positive safe integer (bytes per second).
 */
export function checkedRate(limit: string, value: number | undefined): number {
  if (value === undefined) return 0;
  if (!Number.isSafeInteger(value) || value < 0) throw new BandwidthLimitError(limit, value);
  return value;
}

/**
 * The burst capacity for a rate. A tenth of a second of the rate: the
 * shaper refills waiters every 10-50 ms, so a bucket that holds 100 ms of
 * tokens loses none while waiters wait a timer period (or two, on a busy
 * event loop), and over a 30 s measurement it lets through at most 0.3%
 * more than the rate. Floored at one block (see MIN_BURST_BYTES).
 */
export function burstFor(rate: number): number {
  return Math.max(MIN_BURST_BYTES, Math.ceil(rate * BURST_SECONDS));
}

export class TokenBucket {
  private rateNow: number;
  private capacityNow: number;
  private tokensNow: number;
  private refilledAt: number;

  /**
   * @param rate bytes per second; 0 or undefined for unlimited.
   * @param now milliseconds from any origin (performance.now by default; tests give a fake clock).
   */
  constructor(
    rate: number | undefined = 0,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.rateNow = checkedRate('bucket', rate);
    this.capacityNow = burstFor(this.rateNow);
    // Full from the start: the first burst is allowed, as after any idle spell.
    this.tokensNow = this.capacityNow;
    this.refilledAt = now();
  }

  /** Bytes per second; 0 when unlimited. */
  get rate(): number {
    return this.rateNow;
  }

  get limited(): boolean {
    return this.rateNow > 0;
  }

  get capacity(): number {
    return this.capacityNow;
  }

  /** Tokens now (negative while in debt); Infinity when unlimited. */
  get tokens(): number {
    if (!this.limited) return Infinity;
    this.refill();
    return this.tokensNow;
  }

  /** Whether it grants anything now: unlimited, or out of debt with at least one token. */
  get canGrant(): boolean {
    return this.tokens > 0;
  }

  /** Milliseconds until the bucket can grant again (0 when it can now). */
  msUntilGrant(): number {
    const t = this.tokens;
    return t > 0 ? 0 : Math.ceil(((1 - t) / this.rateNow) * 1000);
  }

  /** Takes `bytes`, always: the bucket may go into debt (see the file's comment). Nothing happens when unlimited. */
  charge(bytes: number): void {
    if (!this.limited) return;
    this.refill();
    this.tokensNow -= bytes;
  }

  /**
   * Changes the rate at once: what accrued so far accrued at the old rate,
   * everything from now at the new one. Tokens above the new capacity are
   * dropped (a lowered limit holds from now, not after a stored burst);
   * debt is kept, so a limit raised and lowered again cannot be used to
   * skip paying it. From unlimited, the bucket starts full.
   */
  setRate(rate: number | undefined): void {
    const next = checkedRate('bucket', rate);
    if (next === this.rateNow) return;
    const wasLimited = this.limited;
    if (wasLimited) this.refill();
    else this.refilledAt = this.now();
    this.rateNow = next;
    this.capacityNow = burstFor(next);
    this.tokensNow = wasLimited ? Math.min(this.tokensNow, this.capacityNow) : this.capacityNow;
  }

  private refill(): void {
    const t = this.now();
    const elapsed = t - this.refilledAt;
    if (elapsed <= 0) return;
    this.refilledAt = t;
    this.tokensNow = Math.min(this.capacityNow, this.tokensNow + (elapsed * this.rateNow) / 1000);
  }
}
