/**
 * The fleet's total download and upload rate, one point a second, for the
 * last ten minutes: the fleet view's chart. A ring of fixed size (600
 * points, some 14 KiB), fed once a tick from the figures every worker
 * publishes (StatsBoard's sums) or, in `seedbox serve`, from the engine.
 *
 * Each replica keeps its own, in memory: any replica draws the same
 * fleet, but one that just started has only the seconds since it did.
 * Nothing is stored: ten minutes of rates are not worth a bucket.
 */

/** Columns, as a chart takes them: Unix seconds, and bytes per second each way. */
export interface RateSeries {
  t: number[];
  down: number[];
  up: number[];
}

export const HISTORY_SECONDS = 600;

export class RateHistory {
  private readonly t: Float64Array;
  private readonly down: Float64Array;
  private readonly up: Float64Array;
  /** Where the next point goes. */
  private next = 0;
  private count = 0;

  constructor(readonly capacity = HISTORY_SECONDS) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`a history of ${capacity} points`);
    this.t = new Float64Array(capacity);
    this.down = new Float64Array(capacity);
    this.up = new Float64Array(capacity);
  }

  /**
   * The rates at `timeMs`, in bytes per second. A second already recorded
   * takes the later figures (a tick may come twice in one second when a
   * torrent completes); a time before the last point is ignored (a clock
   * stepped back), so the series stays in order.
   */
  record(timeMs: number, down: number, up: number): void {
    const second = Math.floor(timeMs / 1000);
    const d = Number.isFinite(down) && down > 0 ? Math.round(down) : 0;
    const u = Number.isFinite(up) && up > 0 ? Math.round(up) : 0;
    if (this.count > 0) {
      const last = (this.next - 1 + this.capacity) % this.capacity;
      if (second < this.t[last]!) return;
      if (second === this.t[last]) {
        this.down[last] = d;
        this.up[last] = u;
        return;
      }
    }
    this.t[this.next] = second;
    this.down[this.next] = d;
    this.up[this.next] = u;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.capacity, this.count + 1);
  }

  get length(): number {
    return this.count;
  }

  /** The points in time order, those within `capacity` seconds of the newest (ticks that were missed leave gaps, not older points). */
  series(): RateSeries {
    const out: RateSeries = { t: [], down: [], up: [] };
    if (this.count === 0) return out;
    const first = (this.next - this.count + this.capacity) % this.capacity;
    const newest = this.t[(this.next - 1 + this.capacity) % this.capacity]!;
    for (let i = 0; i < this.count; i++) {
      const at = (first + i) % this.capacity;
      if (this.t[at]! <= newest - this.capacity) continue;
      out.t.push(this.t[at]!);
      out.down.push(this.down[at]!);
      out.up.push(this.up[at]!);
    }
    return out;
  }
}
