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
 *
 * Kept for every torrent for as long as it is added (10,000 in serve), so
 * kept small: a torrent's lines are an array in the order its trackers were
 * first heard from, searched by URL (a torrent has one to three trackers; a
 * Map per torrent cost ~180 bytes more), and each line a plain object built
 * without its undefined fields.
 */

const MAX_TRACKERS = 256;

export class TrackerStatusBook {
  /** Never changed in place: a list handed out (onChange) stays as it was. */
  private readonly byTorrent = new Map<string, readonly TrackerStatus[]>();

  constructor(
    private readonly onChange: (infoHashHex: string, list: TrackerStatus[]) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  /** The statuses of a torrent's trackers heard from so far (none: never announced). */
  get(infoHashHex: string): TrackerStatus[] {
    return (this.byTorrent.get(infoHashHex.toLowerCase()) ?? []).map((s) => ({ ...s }));
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
    return (this.byTorrent.get(infoHashHex.toLowerCase()) ?? []).map((s) => s.url);
  }

  /** Statuses kept from before (the bucket, after a restart); what was heard since wins. */
  restore(infoHashHex: string, list: readonly TrackerStatus[]): void {
    const hex = infoHashHex.toLowerCase();
    const mine = this.byTorrent.get(hex) ?? [];
    const added: TrackerStatus[] = [];
    const has = (url: string): boolean => mine.some((m) => m.url === url) || added.some((a) => a.url === url);
    for (const s of list) if (!has(s.url) && mine.length + added.length < MAX_TRACKERS) added.push({ ...s });
    if (added.length > 0) this.byTorrent.set(hex, mine.concat(added));
  }

  /** The torrent is gone: its statuses go too (onChange hears an empty list). */
  forget(infoHashHex: string): void {
    const hex = infoHashHex.toLowerCase();
    if (!this.byTorrent.delete(hex)) return;
    this.tell(hex, []);
  }

  private prev(hex: string, url: string): TrackerStatus | undefined {
    return this.byTorrent.get(hex.toLowerCase())?.find((s) => s.url === url);
  }

  private put(infoHashHex: string, s: TrackerStatus): void {
    const hex = infoHashHex.toLowerCase();
    const mine = this.byTorrent.get(hex) ?? [];
    const i = mine.findIndex((m) => m.url === s.url);
    const prev = mine[i];
    if (prev && prev.lastAnnounceAt > s.lastAnnounceAt) return;
    if (!prev && mine.length >= MAX_TRACKERS) return;
    // A new list each time, of just the right length (a pushed-to array keeps room for 16 more): a tracker that was heard from keeps its place.
    const next = i >= 0 ? mine.map((m, j) => (j === i ? definedFields(s) : m)) : mine.concat(definedFields(s));
    this.byTorrent.set(hex, next);
    this.tell(hex, [...next]);
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

/**
 * The line without its undefined fields, as a new object: deleting them
 * instead turns the object into a dictionary (~850 bytes rather than ~120).
 */
function definedFields(s: TrackerStatus): TrackerStatus {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) if (v !== undefined) out[k] = v;
  return out as unknown as TrackerStatus;
}

/** What the last scrape said, kept across an announce's new line. */
function scrapeFields(prev: TrackerStatus | undefined): Partial<TrackerStatus> {
  if (!prev) return {};
  const { lastScrapeStartAt, lastScrapeAt, scrapeOk, scrapeError, nextScrapeAt } = prev;
  return { lastScrapeStartAt, lastScrapeAt, scrapeOk, scrapeError, nextScrapeAt };
}
