import { trackerUrlKind } from '@seedbox/protocol';

/**
 * The tracker list of one torrent, in BEP 12 order.
 *
 * BEP 12: the trackers within each tier are shuffled once, when the torrent
 * is loaded (so that clients spread over them); an announce tries the first
 * tracker of the first tier, then the next in that tier, and only when every
 * tracker of a tier has failed the next tier; the tracker that answered moves
 * to the front of its tier, so it is asked first next time.
 *
 * One TrackerTiers is shared by every announcer of the torrent (one per
 * worker), so what one worker learns about which tracker works, the others
 * use. Pure state, no I/O. Kept for every torrent for as long as it is
 * added, so its lists are of just the right length.
 */

export interface TierEntry {
  url: string;
  /** Index of the tier in the current list (tiers left empty are dropped). */
  tier: number;
}

export class TrackerTiers {
  private readonly list: string[][];
  /** URLs we cannot announce to (ws://, typos); reported once, never tried. */
  readonly skipped: readonly string[];

  constructor(tiers: readonly (readonly string[])[], random: () => number = Math.random) {
    const seen = new Set<string>();
    const skipped: string[] = [];
    const list: string[][] = [];
    for (const tier of tiers) {
      const usable: string[] = [];
      for (const raw of tier) {
        const url = raw.trim();
        // A URL listed in two tiers is tried once, in the first: asking the
        // same tracker twice in one announce only doubles its load.
        if (seen.has(url)) continue;
        seen.add(url);
        if (trackerUrlKind(url) === undefined) skipped.push(url);
        else usable.push(url);
      }
      if (usable.length > 0) list.push(shuffle(usable, random));
    }
    // Copies (slice, map): an array grown by push keeps room for 16 more (~150 bytes each).
    this.list = list.map((tier) => tier.slice());
    this.skipped = skipped.length > 0 ? skipped.slice() : NONE;
  }

  /** The tiers as they stand now (after shuffling and promotions). */
  get tiers(): readonly (readonly string[])[] {
    return this.list;
  }

  get size(): number {
    return this.list.reduce((n, t) => n + t.length, 0);
  }

  /** Every tracker, in the order an announce tries them. */
  order(): TierEntry[] {
    return this.list.flatMap((tier, index) => tier.map((url) => ({ url, tier: index })));
  }

  /** BEP 12: the tracker that answered goes to the front of its tier. */
  promote(url: string): void {
    for (const tier of this.list) {
      const i = tier.indexOf(url);
      if (i > 0) {
        tier.splice(i, 1);
        tier.unshift(url);
      }
      if (i >= 0) return;
    }
  }
}

const NONE: readonly string[] = Object.freeze([]);

/** Fisher-Yates: every order equally likely. */
function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
