/**
 * Which torrents a peer-worker gives per-torrent series
 * (SEEDBOX_TORRENT_METRICS), and the clock that takes an idle torrent's
 * away. At 10,000 seeding torrents, 9 series each are 90,000 series: about
 * 10 MiB of prom-client's heap and 0.2-0.3 s of CPU per /metrics read
 * (docs/BENCHMARKS.md), nearly all of them idle seeds saying 0 forever.
 * metrics.ts owns the series; this file only says who has them.
 */

/**
 * - `active`: torrents with bytes left, and those that had a peer or moved
 *   bytes within TORRENT_SERIES_LINGER_MS;
 * - `all`: every torrent;
 * - `none`: no per-torrent series (the aggregate metrics stay).
 */
export const TORRENT_METRICS_MODES = ['active', 'all', 'none'] as const;
export type TorrentMetricsMode = (typeof TORRENT_METRICS_MODES)[number];

/**
 * How long a torrent with nothing going on keeps its series in `active`.
 * Longer than Prometheus' 5-minute staleness (its lookback delta) and than
 * a dashboard's rate() window: a seed that sees a peer every few minutes
 * keeps one unbroken series instead of one that comes and goes, with a gap
 * in every graph and a rate() that has too few samples each time it comes
 * back.
 */
export const TORRENT_SERIES_LINGER_MS = 10 * 60_000;

/**
 * How often the quiet torrents are looked at: a series outlives its
 * 10 minutes by at most this, and a tick between two looks costs nothing.
 */
export const TORRENT_SERIES_CHECK_MS = 5_000;

/** What decides whether a torrent is active; structurally a TickTorrent. */
export interface ActivityFigures {
  left: number;
  peers: number;
  downloadRate: number;
  uploadRate: number;
  downloaded: number;
  uploaded: number;
}

/**
 * What a torrent's figures say it does:
 * - `ongoing`: bytes left to download (the stalled-download alert watches
 *   those) or a peer connected, for as long as the figures stay so (a
 *   torrent is not sent again while its figures stay the same);
 * - `moved`: no peer left, but bytes moved in the tick: a rate, or a total
 *   grown since `before` (a tick merged from several, mergeTicks, carries
 *   only the last one's rates). Active at that moment, quiet from then on;
 * - `idle`: none of these.
 * A NaN figure compares false: no activity.
 */
export type Activity = 'ongoing' | 'moved' | 'idle';

export function activityOf(t: ActivityFigures, before?: Pick<ActivityFigures, 'downloaded' | 'uploaded'>): Activity {
  if (t.left > 0 || t.peers > 0) return 'ongoing';
  if (t.downloadRate > 0 || t.uploadRate > 0) return 'moved';
  if (before !== undefined && (t.downloaded > before.downloaded || t.uploaded > before.uploaded)) return 'moved';
  return 'idle';
}

/**
 * The torrents with series and nothing going on, each with the time it went
 * quiet, oldest first: a Map keeps insertion order, and a torrent's time is
 * only ever set by adding it at the end (times must not go backwards: a
 * monotonic clock). Finding those quiet for the linger time then costs what
 * is found, never a pass over every torrent. A torrent that is dormant in
 * the engine is not sent again, so its time is kept here, from when it was
 * last seen going quiet.
 */
export class QuietTorrents {
  private readonly since = new Map<string, number>();
  private nextLook = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly lingerMs = TORRENT_SERIES_LINGER_MS,
    private readonly lookEveryMs = TORRENT_SERIES_CHECK_MS,
  ) {}

  get size(): number {
    return this.since.size;
  }

  /** Nothing goes on in it as of `now`: its time runs from then, unless it already runs. */
  quiet(infoHash: string, now: number): void {
    if (!this.since.has(infoHash)) this.since.set(infoHash, now);
  }

  /** It was active at `now` and is quiet since: its time starts over from then. */
  activeAt(infoHash: string, now: number): void {
    this.since.delete(infoHash);
    this.since.set(infoHash, now);
  }

  /** Something goes on in it again, or it is gone: no time runs for it. */
  forget(infoHash: string): void {
    this.since.delete(infoHash);
  }

  /**
   * The torrents quiet for the linger time as of `now`, forgotten. Looked
   * for at most every lookEveryMs (an empty answer between looks).
   */
  expired(now: number): string[] {
    if (now < this.nextLook) return [];
    this.nextLook = now + this.lookEveryMs;
    const out: string[] = [];
    for (const [infoHash, since] of this.since) {
      if (now - since < this.lingerMs) break;
      this.since.delete(infoHash);
      out.push(infoHash);
    }
    return out;
  }
}
