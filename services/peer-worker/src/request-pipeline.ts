import { BLOCK_LENGTH } from '@seedbox/protocol';

/**
 * How many block requests a session keeps outstanding.
 *
 * The target is the connection's bandwidth-delay product: the measured
 * download rate times a round trip, which we take to be one second (the
 * whole trip from the peer's disk to ours, as cratetorrent and libtorrent
 * do), in 16 KiB blocks, between a floor and a ceiling.
 *
 * Measuring that rate needs requests in flight, so a new session starts
 * with a small queue and grows it like TCP's slow start, until a tick shows
 * the rate has stopped growing; from then on the queue follows the
 * measured rate, recomputed every tick. It grows by two blocks for every
 * block received, which triples the queue every round trip, where
 * libtorrent's one block doubles it: over a 50 ms round trip the queue
 * reaches the 800 blocks that carry 250 MiB/s in 5 round trips instead of
 * 8, and a 256 MiB download spent a third of its time there (bench
 * high-latency, docs/BENCHMARKS.md). What it can overshoot by lasts until
 * the next tick, and only while the rate is still climbing.
 *
 * A request that times out snubs the peer, as libtorrent's `snub_peer`
 * does: the target is halved, and until a block answers a request in time
 * the peer gets one request at a time, so a peer that unchokes and then
 * trickles holds one block, not a pipeline's worth, that faster peers
 * could be fetching.
 */
export interface PipelineOptions {
  /** Queue length of a new session. */
  initial?: number;
  /** Never fewer than this many outstanding requests. */
  floor?: number;
  /** Never more than this (further capped by the peer's advertised `reqq`). */
  ceiling?: number;
  /** The round trip assumed for the bandwidth-delay product, in seconds. */
  roundTripSeconds?: number;
  /** Slow start ends when a tick's rate grows by less than this factor. */
  growthThreshold?: number;
  /** Blocks added to the queue for each block received during slow start. Default 2. */
  slowStartStep?: number;
  /** Turn pipelining off: one request at a time (the benchmark's control). */
  disabled?: boolean;
}

export class RequestPipeline {
  private target: number;
  private slowStart = true;
  private snubbedNow = false;
  private lastRate = 0;
  private readonly floor: number;
  private ceiling: number;
  private readonly roundTrip: number;
  private readonly growth: number;
  private readonly step: number;
  private readonly disabled: boolean;

  constructor(options: PipelineOptions = {}) {
    this.disabled = options.disabled ?? false;
    this.floor = options.floor ?? 4;
    this.ceiling = options.ceiling ?? 1000;
    this.roundTrip = options.roundTripSeconds ?? 1;
    this.growth = options.growthThreshold ?? 1.1;
    this.step = options.slowStartStep ?? 2;
    this.target = this.disabled ? 1 : Math.min(this.ceiling, Math.max(this.floor, options.initial ?? 4));
  }

  /** How many requests should be outstanding now: one while snubbed. */
  get size(): number {
    return this.snubbedNow ? 1 : this.target;
  }

  /** A request timed out and no block has answered one in time since. */
  get snubbed(): boolean {
    return this.snubbedNow;
  }

  get inSlowStart(): boolean {
    return this.slowStart;
  }

  /** The peer told us how many requests it will queue (BEP 10 `reqq`). */
  limitTo(peerQueue: number): void {
    if (peerQueue > 0) {
      this.ceiling = Math.max(1, Math.min(this.ceiling, peerQueue));
      this.target = Math.min(this.target, this.ceiling);
    }
  }

  /** A block answered an outstanding request (not a late answer to one given up). */
  onBlock(): void {
    this.snubbedNow = false;
    if (this.disabled) return;
    if (this.slowStart) this.target = Math.min(this.ceiling, this.target + this.step);
  }

  /** Called once a tick with the rate measured over it, in bytes per second. */
  onTick(rate: number): void {
    if (this.disabled) return;
    if (this.slowStart) {
      // Only judge growth once data flows: a tick spent handshaking or choked says nothing.
      if (rate > 0 && this.lastRate > 0 && rate < this.lastRate * this.growth) this.slowStart = false;
      if (rate > 0) this.lastRate = rate;
      if (this.slowStart) return;
    }
    const bdp = Math.ceil((rate * this.roundTrip) / BLOCK_LENGTH);
    this.target = Math.min(this.ceiling, Math.max(this.floor, bdp));
  }

  /** A request timed out: the link is worse than we thought, and the peer is snubbed. */
  onTimeout(): void {
    this.snubbedNow = true;
    if (this.disabled) return;
    this.slowStart = false;
    this.target = Math.max(this.floor, Math.floor(this.target / 2));
  }
}
