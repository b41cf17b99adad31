/**
 * A fleet-wide limit shared among its workers: each worker, every tick,
 * takes the fleet's per-tick figures (every worker's rate in one
 * direction and whether it was held back) and sets its own engine limit
 * to `shareLimit(...)`. Every worker computes the same split from the same
 * figures, so no coordinator is needed and the shares sum to the total.
 *
 * Contract:
 * - `total`: the fleet's limit in bytes/s for one direction; 0 (or less)
 *   means unlimited, and the answer is then 0 (unlimited) too.
 * - `demands`: one entry per live worker, from the last tick: `rate`, the
 *   bytes/s it moved in that direction; `wanting`, whether its limit held
 *   it back (a request waited on its buckets during the tick:
 *   `Engine.takeBandwidthWanting()`). Duplicate ids: the last one counts.
 *   Negative or non-finite rates count as 0.
 * - `self`: this worker's id; absent from `demands`, it is a worker that
 *   starts now (rate 0, not wanting).
 * - The answer: this worker's limit in bytes/s, at least 1 (never 0,
 *   which would mean unlimited), whole.
 *
 * The split, each tick:
 * 1. Every active worker (wanting, moving bytes, or self) gets a floor,
 *   FLOOR_SHARE of an equal split, so one that starts wanting has
 *   bandwidth at once rather than waiting for a share of a demand it
 *   could not yet show.
 * 2. A worker that is not held back uses less than it may: it keeps what
 *   it uses plus HEADROOM (room to grow, and to show that it wants more).
 * 3. What is left goes to the wanting workers in proportion to their rate
 *   (their share of the demand); with no one wanting, it is spread evenly
 *   as headroom, so nothing of the total is left unused.
 * Among workers that all want more this converges to an equal split
 * (each tick moves a share FLOOR_SHARE of the way), and workers that need
 * less leave the rest to the others: max-min fairness, reached smoothly.
 */

export interface WorkerDemand {
  workerId: string;
  /** Bytes per second moved in the last tick. */
  rate: number;
  /** Its limit held it back during the last tick. */
  wanting: boolean;
}

/** The floor, as a fraction of an equal split. */
export const FLOOR_SHARE = 0.2;
/** A worker not held back keeps this much more than it used. */
export const HEADROOM = 0.25;

export function shareLimit(total: number, demands: readonly WorkerDemand[], self: string): number {
  if (!(total > 0) || !Number.isFinite(total)) return 0;
  const byId = new Map<string, { rate: number; wanting: boolean }>();
  for (const d of demands) byId.set(d.workerId, { rate: Number.isFinite(d.rate) && d.rate > 0 ? d.rate : 0, wanting: d.wanting });
  if (!byId.has(self)) byId.set(self, { rate: 0, wanting: false });
  const active = [...byId].filter(([id, d]) => id === self || d.wanting || d.rate > 0);
  const floor = (total * FLOOR_SHARE) / active.length;

  const share = new Map<string, number>();
  let left = total;
  let wantingRate = 0;
  const wanting: string[] = [];
  for (const [id, d] of active) {
    if (d.wanting) {
      share.set(id, floor);
      wantingRate += d.rate;
      wanting.push(id);
    } else share.set(id, Math.max(floor, d.rate * (1 + HEADROOM)));
    left -= share.get(id)!;
  }
  if (left < 0) {
    // Those not held back claim more than there is: scale everyone down to the total.
    const scale = total / (total - left);
    for (const [id, s] of share) share.set(id, s * scale);
  } else if (wanting.length > 0) {
    for (const id of wanting) {
      const w = wantingRate > 0 ? byId.get(id)!.rate / wantingRate : 1 / wanting.length;
      share.set(id, share.get(id)! + left * w);
    }
  } else {
    for (const [id, s] of share) share.set(id, s + left / active.length);
  }
  return Math.max(1, Math.floor(share.get(self)!));
}
