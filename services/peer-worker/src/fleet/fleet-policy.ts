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
 * the queue's rate thresholds), from the figures of each tick.
 */
export class SlowWatch {
  private readonly since = new Map<string, number>();

  /** One torrent's rates at `now`; answers whether it now counts as slow. */
  observe(infoHashHex: string, downloadRate: number, uploadRate: number, q: QueueConfig, now: number): boolean {
    const slowNow = downloadRate < q.slowDownloadRate && uploadRate < q.slowUploadRate;
    if (!slowNow) {
      this.since.delete(infoHashHex);
      return false;
    }
    const from = this.since.get(infoHashHex) ?? now;
    this.since.set(infoHashHex, from);
    return now - from >= q.slowSeconds * 1000;
  }

  isSlow(infoHashHex: string, q: QueueConfig, now: number): boolean {
    const from = this.since.get(infoHashHex);
    return from !== undefined && now - from >= q.slowSeconds * 1000;
  }

  forget(infoHashHex: string): void {
    this.since.delete(infoHashHex);
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
