import type { AnnounceResponse } from '@seedbox/protocol';

/**
 * Which trackers one announce round asks, and in what order (pure).
 *
 * A plan is a list of lanes run side by side; a lane is a list of steps
 * tried one after the other until a step succeeds; a step is a set of
 * trackers asked at once, and succeeds when one of them answers.
 *
 * - Default (BEP 12, libtorrent's defaults): one lane, one tracker per
 *   step, in tier order: the first tracker that answers ends the round.
 * - announceToAllTiers (libtorrent's announce_to_all_tiers): a lane per
 *   tier, so every tier gets an announce, each walking its own trackers.
 * - announceToAllTrackers (libtorrent's announce_to_all_trackers): the
 *   trackers of a tier are one step, asked at once; the next tier only if
 *   all of them failed (or, with all tiers, in a lane of its own).
 *
 * Trackers backing off after failures (TrackerRetries) are left out, as
 * libtorrent leaves out a tracker whose retry is not due: they are retried
 * on their own, in the background.
 */

export interface AnnouncePolicy {
  /** Announce to every tier, not only to the first that answers. Default false (BEP 12). */
  announceToAllTiers?: boolean;
  /** Announce to every tracker of a tier at once. Default false (BEP 12). */
  announceToAllTrackers?: boolean;
}

export type AnnouncePlan = string[][][];

const POLICIES: readonly AnnouncePolicy[] = [false, true].flatMap((announceToAllTiers) =>
  [false, true].map((announceToAllTrackers) => Object.freeze({ announceToAllTiers, announceToAllTrackers })),
);

/** The policy with these switches: one shared object for each, where a client keeps one per torrent. */
export function announcePolicy(announceToAllTiers: boolean, announceToAllTrackers: boolean): AnnouncePolicy {
  return POLICIES[(announceToAllTiers ? 2 : 0) + (announceToAllTrackers ? 1 : 0)]!;
}

export function planRound(
  tiers: readonly (readonly string[])[],
  policy: AnnouncePolicy,
  skip: (url: string) => boolean = () => false,
): AnnouncePlan {
  const lanes = policy.announceToAllTiers ? tiers.map((t) => [t]) : [tiers];
  return lanes
    .map((laneTiers) => {
      const usable = laneTiers.map((t) => t.filter((url) => !skip(url)));
      return usable
        .filter((t) => t.length > 0).flatMap((t) => (policy.announceToAllTrackers ? [t] : t.map((url) => [url])));
    })
    .filter((lane) => lane.length > 0);
}

/**
 * The delay before the next regular announce after an answer: the
 * tracker's `interval`, never under its `min interval` nor our floor,
 * never over our ceiling (a tracker saying `interval 0` must not make us
 * spin, one saying a year must not overflow setTimeout or forget us);
 * then shortened by up to `jitter` at random, down to those floors, so
 * that torrents started together drift apart. `minInterval` is the
 * tracker's, in ms.
 */
export function regularDelayMs(
  r: Pick<AnnounceResponse, 'interval' | 'minInterval'>,
  timing: { minIntervalMs: number; maxIntervalMs: number; intervalJitter: number },
  random: () => number,
): { delayMs: number; minIntervalMs: number } {
  const minIntervalMs = (r.minInterval ?? 0) * 1000;
  const regular = clamp(Math.max(r.interval * 1000, minIntervalMs), timing.minIntervalMs, timing.maxIntervalMs);
  const floor = Math.min(regular, Math.max(minIntervalMs, timing.minIntervalMs));
  const jitter = clamp(timing.intervalJitter, 0, 1) * random();
  return { delayMs: Math.max(floor, Math.round(regular * (1 - jitter))), minIntervalMs };
}

function clamp(v: number, min: number, max: number): number {
  return Math.min(Math.max(v, min), max);
}
