import type { TrackerErrorCode } from '@seedbox/protocol';
import type { AnnounceFailureKind, TrackerStatus } from '@seedbox/cluster';
import type { AnnounceFailed, AnnounceSuccess } from './announcer.js';
import type { ScrapeOutcome } from './scraper.js';

/**
 * The latest word of every tracker of every torrent, as the control APIs
 * show it (see TrackerStatus in @seedbox/cluster): fed by the announcers'
 * outcomes, read by EmbeddedTrackers in one process and written to the
 * `seedbox_trackers` bucket by the fleet's tracker-client (onChange).
 *
 * Every worker announces the same torrent to the same trackers, so the
 * outcome that ended last stands for the tracker, whichever worker it was
 * for; an older one reported late (a failure is reported when its round
 * ends) does not overwrite it. Counts outlive a failure: they are the last
 * the tracker gave, and say so by their time (lastSuccessAt).
 *
 * Scrapes (scraper.ts) add to the line of a tracker we announce to: their
 * counts, as the latest word, and their own times and outcome; an
 * announce keeps what the last scrape said, and the other way round.
 *
 * `stopped` replies are not recorded: one worker leaving says nothing of
 * the torrent's announces, and would clear the next announce time of the
 * workers that stay.
 */

const MAX_TRACKERS = 256;

export class TrackerStatusBook {
  private readonly byTorrent = new Map<string, Map<string, TrackerStatus>>();

  constructor(
    private readonly onChange: (infoHashHex: string, list: TrackerStatus[]) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  /** The statuses of a torrent's trackers heard from so far (none: never announced). */
  get(infoHashHex: string): TrackerStatus[] {
    return [...(this.byTorrent.get(infoHashHex.toLowerCase())?.values() ?? [])].map((s) => ({ ...s }));
  }

  succeeded(s: AnnounceSuccess): void {
    if (s.event === 'stopped') return;
    const prev = this.prev(s.infoHashHex, s.url);
    const r = s.response;
    const at = this.now();
    this.put(s.infoHashHex, {
      url: s.url,
      lastAnnounceStartAt: s.startedAt,
      lastAnnounceAt: at,
      ok: true,
      warning: r.warning,
      peers: r.peers.length,
      seeders: r.complete ?? prev?.seeders,
      leechers: r.incomplete ?? prev?.leechers,
      downloaded: r.downloaded ?? prev?.downloaded,
      lastSuccessAt: at,
      nextAnnounceAt: s.nextAnnounceAt,
      ...scrapeFields(prev),
    });
  }

  failed(f: AnnounceFailed): void {
    if (f.error.code === 'TRACKER_ABORTED') return; // ours: the announce was cancelled, the tracker said nothing
    const prev = this.prev(f.infoHashHex, f.url);
    const held = f.heldUntil;
    const failure = held !== undefined ? 'retry-later' : failureKind(f.error.code);
    // The tracker's own words when it refused: what qbit_manage and its kind match ("unregistered torrent").
    const said = failure === 'refused' || held !== undefined ? (f.error.failureReason ?? f.error.message) : f.error.message;
    this.put(f.infoHashHex, {
      url: f.url,
      lastAnnounceStartAt: f.startedAt,
      lastAnnounceAt: f.failedAt,
      ok: false,
      failure,
      error: held !== undefined ? `${said}; not asked again before ${new Date(held).toISOString()}` : said,
      backoffUntil: held,
      peers: prev?.peers,
      seeders: prev?.seeders,
      leechers: prev?.leechers,
      downloaded: prev?.downloaded,
      lastSuccessAt: prev?.lastSuccessAt,
      nextAnnounceAt: f.nextAnnounceAt,
      ...scrapeFields(prev),
    });
  }

  /**
   * A scrape's outcome for one torrent at one tracker. Only a tracker the
   * torrent has a line for (it was announced to) gets one; its counts,
   * when the tracker listed the torrent, are the latest word.
   */
  scraped(o: ScrapeOutcome): void {
    const prev = this.prev(o.infoHashHex, o.url);
    if (!prev) return;
    const c = o.counts;
    this.put(o.infoHashHex, {
      ...prev,
      seeders: c?.complete ?? prev.seeders,
      leechers: c?.incomplete ?? prev.leechers,
      downloaded: c?.downloaded ?? prev.downloaded,
      lastScrapeStartAt: o.startedAt,
      lastScrapeAt: o.endedAt,
      scrapeOk: o.error === undefined,
      scrapeError: o.error === undefined ? undefined : (o.error.failureReason ?? o.error.message),
      nextScrapeAt: o.nextScrapeAt,
    });
  }

  /** The trackers a torrent has a line for: the ones it announced to (or whose line was restored). */
  urls(infoHashHex: string): string[] {
    return [...(this.byTorrent.get(infoHashHex.toLowerCase())?.keys() ?? [])];
  }

  /** Statuses kept from before (the bucket, after a restart); what was heard since wins. */
  restore(infoHashHex: string, list: readonly TrackerStatus[]): void {
    const hex = infoHashHex.toLowerCase();
    const mine = this.byTorrent.get(hex) ?? new Map<string, TrackerStatus>();
    for (const s of list) if (!mine.has(s.url) && mine.size < MAX_TRACKERS) mine.set(s.url, { ...s });
    if (mine.size > 0) this.byTorrent.set(hex, mine);
  }

  /** The torrent is gone: its statuses go too (onChange hears an empty list). */
  forget(infoHashHex: string): void {
    const hex = infoHashHex.toLowerCase();
    if (!this.byTorrent.delete(hex)) return;
    this.tell(hex, []);
  }

  private prev(hex: string, url: string): TrackerStatus | undefined {
    return this.byTorrent.get(hex.toLowerCase())?.get(url);
  }

  private put(infoHashHex: string, s: TrackerStatus): void {
    const hex = infoHashHex.toLowerCase();
    let mine = this.byTorrent.get(hex);
    if (!mine) {
      mine = new Map();
      this.byTorrent.set(hex, mine);
    }
    const prev = mine.get(s.url);
    if (prev && prev.lastAnnounceAt > s.lastAnnounceAt) return;
    if (!prev && mine.size >= MAX_TRACKERS) return;
    for (const k of Object.keys(s) as (keyof TrackerStatus)[]) if (s[k] === undefined) delete s[k];
    mine.set(s.url, s);
    this.tell(hex, [...mine.values()]);
  }

  private tell(hex: string, list: TrackerStatus[]): void {
    try {
      this.onChange(hex, list);
    } catch {
      // Where the statuses are written is the caller's concern; the book stays right.
    }
  }
}

/** How the APIs tell failures apart, from the TrackerError's code. */
export function failureKind(code: TrackerErrorCode): AnnounceFailureKind {
  switch (code) {
    case 'TRACKER_FAILURE':
      return 'refused';
    case 'TRACKER_TIMEOUT':
      return 'timeout';
    case 'TRACKER_NETWORK':
    case 'TRACKER_HTTP_STATUS':
    case 'TRACKER_BAD_URL':
    case 'TRACKER_ABORTED':
      return 'unreachable';
    case 'TRACKER_RETRY_LATER':
      return 'retry-later';
    default:
      return 'bad-reply';
  }
}

/** What the last scrape said, kept across an announce's new line. */
function scrapeFields(prev: TrackerStatus | undefined): Partial<TrackerStatus> {
  if (!prev) return {};
  const { lastScrapeStartAt, lastScrapeAt, scrapeOk, scrapeError, nextScrapeAt } = prev;
  return { lastScrapeStartAt, lastScrapeAt, scrapeOk, scrapeError, nextScrapeAt };
}
