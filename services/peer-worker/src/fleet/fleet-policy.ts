import { effectiveShare, NO_LIMIT, shareRatio, type FleetConfig, type QueueConfig, type ShareRule, type TorrentSettings, type TorrentTotals } from '@seedbox/cluster';

/**
 * The operator's rules over the whole fleet, as pure functions of the
 * fleet's state, so that every worker, reading the same registry and
 * config, reaches the same answer without asking the others:
 *
 * - the queue: which running torrents are active now, and which wait;
 * - the seeding rules: whether a torrent has reached its ratio, seeding
 *   time or inactive seeding time limit.
 */

export interface QueueCandidate {
  infoHashHex: string;
  settings: Pick<TorrentSettings, 'queueKey' | 'forceStart'>;
  /** Has every wanted piece: a seed, counted against the seeds' limit. */
  complete: boolean;
  /** Active but moving less than the slow thresholds for long enough (see SlowWatch). */
  slow: boolean;
}

/** A limit of -1 (qBittorrent's "unlimited") holds no torrent back. */
const under = (n: number, limit: number): boolean => limit < 0 || n < limit;

/**
 * The running torrents that may be active, qBittorrent's way: in queue
 * order (queue key, then info hash), a download starts while fewer than
 * `maxActiveDownloads` downloads and `maxActiveTorrents` torrents are
 * active, a seed while fewer than `maxActiveSeeds` seeds and the total.
 * A force-started torrent is always active and counts against nothing,
 * and with `ignoreSlow` neither does a slow one, so the next in line
 * starts beside it. With queueing off, every running torrent is active.
 */
export function activeTorrents(running: readonly QueueCandidate[], q: QueueConfig): Set<string> {
  if (!q.enabled) return new Set(running.map((t) => t.infoHashHex));
  const order = [...running].sort((a, b) => a.settings.queueKey - b.settings.queueKey || (a.infoHashHex < b.infoHashHex ? -1 : 1));
  const active = new Set<string>();
  let downloads = 0;
  let seeds = 0;
  let total = 0;
  for (const t of order) {
    if (t.settings.forceStart) {
      active.add(t.infoHashHex);
      continue;
    }
    const room = t.complete ? under(seeds, q.maxActiveSeeds) : under(downloads, q.maxActiveDownloads);
    if (!room || !under(total, q.maxActiveTorrents)) continue;
    active.add(t.infoHashHex);
    if (q.ignoreSlow && t.slow) continue;
    total++;
    if (t.complete) seeds++;
    else downloads++;
  }
  return active;
}

/**
 * Remembers since when each active torrent has been slow (below both of
 * the queue's rate thresholds), from its figures as they change. A
 * torrent whose figures do not change keeps its rates, so only time can
 * make it slow: those waiting for that are kept in the order they went
 * below the thresholds (`due`), so that no tick looks at the others.
 */
export class SlowWatch {
  /** Each torrent's last rates, and since when they have been below both thresholds (undefined: not below). */
  private readonly seen = new Map<string, { down: number; up: number; since: number | undefined }>();
  /** Torrents that went below the thresholds, oldest first (so by `since`); `head` is the next to look at. */
  private waiting: { hex: string; since: number }[] = [];
  private head = 0;

  /** One torrent's rates at `now`; answers whether it now counts as slow. */
  observe(infoHashHex: string, downloadRate: number, uploadRate: number, q: QueueConfig, now: number): boolean {
    let w = this.seen.get(infoHashHex);
    if (!w) {
      w = { down: downloadRate, up: uploadRate, since: undefined };
      this.seen.set(infoHashHex, w);
    }
    w.down = downloadRate;
    w.up = uploadRate;
    if (!(downloadRate < q.slowDownloadRate && uploadRate < q.slowUploadRate)) {
      w.since = undefined;
      return false;
    }
    if (w.since === undefined) {
      w.since = now;
      this.waiting.push({ hex: infoHashHex, since: now });
    }
    return now - w.since >= q.slowSeconds * 1000;
  }

  isSlow(infoHashHex: string, q: QueueConfig, now: number): boolean {
    const from = this.seen.get(infoHashHex)?.since;
    return from !== undefined && now - from >= q.slowSeconds * 1000;
  }

  /** The torrents that have become slow by `now` with no new figures (each once): below the thresholds for `slowSeconds`. */
  due(q: QueueConfig, now: number): string[] {
    const out: string[] = [];
    for (; this.head < this.waiting.length; this.head++) {
      const w = this.waiting[this.head]!;
      if (now - w.since < q.slowSeconds * 1000) break;
      // One that went above the thresholds since (and maybe below again) is not this entry's.
      if (this.seen.get(w.hex)?.since === w.since) out.push(w.hex);
    }
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  /** Every torrent's last rates (to judge them again by new thresholds). */
  rates(): IterableIterator<[string, { down: number; up: number }]> {
    return this.seen.entries();
  }

  /** New thresholds or time: every torrent below the thresholds waits again for `due` (one slow before may not be yet). */
  requeue(): void {
    this.waiting = [];
    this.head = 0;
    for (const [hex, w] of this.seen) if (w.since !== undefined) this.waiting.push({ hex, since: w.since });
    this.waiting.sort((a, b) => a.since - b.since);
  }

  forget(infoHashHex: string): void {
    this.seen.delete(infoHashHex);
  }
}

export interface SeedingFacts {
  settings: Pick<TorrentSettings, 'share'>;
  totals: TorrentTotals;
  /** Bytes verified (the size, for a complete torrent). */
  doneBytes: number;
  complete: boolean;
}

/**
 * The first seeding rule a complete torrent has reached, or undefined.
 * Its own limits override the fleet's (USE_GLOBAL defers to them); a
 * torrent never seeded (no completion yet) reaches none. Inactive time
 * runs from the last byte moved, or from completion if none moved since.
 */
export function shareLimitReached(t: SeedingFacts, config: FleetConfig, now: number): ShareRule | undefined {
  if (!t.complete) return undefined;
  const limits = effectiveShare(t.settings.share, config.share);
  if (limits.ratio !== NO_LIMIT && shareRatio(t.totals, t.doneBytes) >= limits.ratio) return 'ratio';
  if (limits.seedingMinutes !== NO_LIMIT && t.totals.seedingMs >= limits.seedingMinutes * 60_000) return 'seeding-time';
  if (limits.inactiveMinutes !== NO_LIMIT) {
    const since = Math.max(t.totals.lastActivityAt, t.totals.completedAt);
    if (since > 0 && now - since >= limits.inactiveMinutes * 60_000) return 'inactive-time';
  }
  return undefined;
}
