import type { Metainfo } from '@seedbox/protocol';
import type { TrackerStatus } from '../../control/backend.js';

/**
 * A torrent's trackers and magnet link as Transmission shows them, from
 * the metainfo and what each tracker last answered (TrackerStatus, from
 * the tracker-client). Pure: the clock comes in as `now`.
 *
 * trackerStats has every field transmission-remote needs to print a
 * tracker (it skips one missing any). The announce fields tell the last
 * announce and the next; the scrape fields the last scrape (BEP 48 /
 * BEP 15, every half hour for every torrent served) and the next. The
 * counts (seederCount, leecherCount, downloadCount) are the latest any
 * answer gave, announce or scrape (the tracker-client keeps one set, the
 * newest winning), -1 while none did, as Transmission's are.
 */

interface Tracker {
  announce: string;
  id: number;
  scrape: string;
  tier: number;
}

export function trackersOf(m: Pick<Metainfo, 'announce'>): Tracker[] {
  const out: Tracker[] = [];
  m.announce.forEach((tier, t) => {
    for (const announce of tier) out.push({ announce, id: out.length, scrape: scrapeUrl(announce), tier: t });
  });
  return out;
}

/**
 * The scrape convention (BEP 48): an http(s) announce URL whose last path
 * segment starts with "announce" scrapes at the same URL with "scrape" in
 * its place; a UDP tracker scrapes at its announce address; anything else
 * has no scrape URL ('').
 */
export function scrapeUrl(announce: string): string {
  let url: URL;
  try {
    url = new URL(announce);
  } catch {
    return '';
  }
  if (url.protocol === 'udp:') return announce;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return '';
  const slash = url.pathname.lastIndexOf('/');
  const last = url.pathname.slice(slash + 1);
  if (!last.startsWith('announce')) return '';
  url.pathname = `${url.pathname.slice(0, slash + 1)}scrape${last.slice('announce'.length)}`;
  return url.toString();
}

const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443' };

/** scheme://host:port, as transmission-remote prints a tracker; '' when the URL does not parse. */
function hostOf(announce: string): string {
  try {
    const url = new URL(announce);
    const port = url.port || DEFAULT_PORT[url.protocol] || '';
    return `${url.protocol}//${url.hostname}${port ? `:${port}` : ''}`;
  } catch {
    return '';
  }
}

/**
 * Transmission's tr_tracker_state: 0 inactive (nothing scheduled), 1
 * waiting (for a set time), 2 queued (due, waiting its turn). 3, active,
 * is never answered: an announce or a scrape is recorded when it ends,
 * not while it is under way.
 */
const INACTIVE = 0;
const WAITING = 1;
const QUEUED = 2;

const seconds = (ms: number | undefined): number => (ms !== undefined && ms > 0 ? Math.floor(ms / 1000) : 0);

export interface TrackerStatsOptions {
  /** The torrent runs somewhere, so its announces go on (not paused, queued or in error). */
  active: boolean;
  now: number;
}

/** The scrape fields of a trackerStats entry. */
interface ScrapeFields {
  hasScraped: boolean;
  lastScrapeResult: string;
  lastScrapeStartTime: number;
  lastScrapeSucceeded: boolean;
  lastScrapeTime: number;
  lastScrapeTimedOut: boolean;
  nextScrapeTime: number;
  scrapeState: number;
}

/**
 * The scrape fields are per tracker, as the rest of the entry: a tracker
 * scraped since the status began (lastScrapeAt) has scraped, with its
 * times in seconds, its outcome and the error it gave ('' on success).
 *
 * A scrape is scheduled for every tracker of a running torrent that has a
 * line (it was announced to), backups too (the tracker-client scrapes
 * them all, where Transmission scrapes a tier's current tracker only), so
 * scrapeState is waiting while the next sweep is ahead, queued once it is
 * due, and inactive for a torrent not running or a tracker never scraped.
 * A tracker holding us off (`retry-later`) is not scraped before its
 * `backoffUntil`, so the next scrape is not shown earlier than that.
 */
function scrapeFieldsOf(s: TrackerStatus | undefined, o: TrackerStatsOptions): ScrapeFields {
  const next = s?.nextScrapeAt === undefined ? undefined : Math.max(s.nextScrapeAt, s.backoffUntil ?? 0);
  let scrapeState = INACTIVE;
  if (o.active && next !== undefined) scrapeState = next > o.now ? WAITING : QUEUED;
  const failed = s?.scrapeOk === false;
  return {
    hasScraped: s?.lastScrapeAt !== undefined,
    lastScrapeResult: failed ? (s.scrapeError ?? '') : '',
    lastScrapeStartTime: seconds(s?.lastScrapeStartAt),
    lastScrapeSucceeded: s?.scrapeOk ?? false,
    lastScrapeTime: seconds(s?.lastScrapeAt),
    lastScrapeTimedOut: failed && timedOut(s.scrapeError),
    // As Transmission: a time only while waiting for one.
    nextScrapeTime: scrapeState === WAITING ? seconds(next) : 0,
    scrapeState,
  };
}

/**
 * Whether a scrape's error says it timed out. The status keeps the words,
 * not the kind, so this reads the tracker-client's own messages for
 * TRACKER_TIMEOUT: the bounded try's "timed out: no reply within 15 s",
 * the HTTP transport's "no complete HTTP reply within 15000 ms", and the
 * UDP transport's "no valid reply from host:port to 4 tries over ... ms"
 * (with "; it sent only ..." after it, replies it could not use, it is
 * another error).
 */
export function timedOut(error: string | undefined): boolean {
  if (error === undefined) return false;
  return /\btimed out\b|^no complete HTTP reply within\b|^no valid reply from [^;]*$/i.test(error);
}

/**
 * One entry per tracker of the metainfo. The tracker a tier uses now is
 * the one heard from last (else its first); the others are its backups,
 * as Transmission shows them. A later tier is only tried when the earlier
 * ones fail (BEP 12), so one never contacted has no updates scheduled.
 */
export function trackerStatsOf(m: Pick<Metainfo, 'announce'>, statuses: readonly TrackerStatus[] = [], o: TrackerStatsOptions = { active: false, now: 0 }): Record<string, unknown>[] {
  const byUrl = new Map(statuses.map((s) => [s.url, s]));
  const current = m.announce.map((tier) => {
    let best: TrackerStatus | undefined;
    for (const url of tier) {
      const s = byUrl.get(url);
      if (s && (!best || s.lastAnnounceAt > best.lastAnnounceAt)) best = s;
    }
    return best?.url ?? tier[0];
  });
  return trackersOf(m).map((t) => {
    const s = byUrl.get(t.announce);
    const isBackup = current[t.tier] !== t.announce;
    let announceState = INACTIVE;
    if (o.active && !isBackup) {
      if (s?.nextAnnounceAt !== undefined && s.nextAnnounceAt > o.now) announceState = WAITING;
      else if (s !== undefined || t.tier === 0) announceState = QUEUED;
    }
    const scrape = scrapeFieldsOf(s, o);
    return {
      announce: t.announce,
      announceState,
      downloadCount: s?.downloaded ?? -1,
      hasAnnounced: s !== undefined,
      hasScraped: scrape.hasScraped,
      host: hostOf(t.announce),
      id: t.id,
      isBackup,
      lastAnnouncePeerCount: s?.peers ?? 0,
      // Transmission's words for an answer without a message.
      lastAnnounceResult: s === undefined ? '' : s.ok ? (s.warning ?? 'Success') : (s.error ?? ''),
      lastAnnounceStartTime: seconds(s?.lastAnnounceStartAt),
      lastAnnounceSucceeded: s?.ok ?? false,
      lastAnnounceTime: seconds(s?.lastAnnounceAt),
      lastAnnounceTimedOut: s?.failure === 'timeout',
      lastScrapeResult: scrape.lastScrapeResult,
      lastScrapeStartTime: scrape.lastScrapeStartTime,
      lastScrapeSucceeded: scrape.lastScrapeSucceeded,
      lastScrapeTime: scrape.lastScrapeTime,
      lastScrapeTimedOut: scrape.lastScrapeTimedOut,
      // The swarm's counts, from the latest announce or scrape that gave them.
      leecherCount: s?.leechers ?? -1,
      nextAnnounceTime: announceState === INACTIVE ? 0 : seconds(s?.nextAnnounceAt),
      nextScrapeTime: scrape.nextScrapeTime,
      scrape: t.scrape,
      scrapeState: scrape.scrapeState,
      seederCount: s?.seeders ?? -1,
      tier: t.tier,
    };
  });
}

/** tr_stat's error codes for what trackers say: 1 a warning, 2 an error. */
export const TRACKER_WARNING = 1;
export const TRACKER_ERROR = 2;

/**
 * The torrent's tracker error as Transmission sets it: a refusal (its
 * failure reason) or a warning, from the tracker heard from last; an
 * answer without either clears it. A tracker that could not be reached
 * says nothing (Transmission only notes it on the tracker), so it is no
 * torrent error either; nor is one asking us to come back later
 * (`retry-later`: a 429 or 503, a "try again later"), which is no verdict
 * on the torrent: its words and until when are the tracker's
 * lastAnnounceResult.
 */
export function trackerErrorOf(statuses: readonly TrackerStatus[]): { error: number; errorString: string } | undefined {
  let last: TrackerStatus | undefined;
  for (const s of statuses) if (!last || s.lastAnnounceAt > last.lastAnnounceAt) last = s;
  if (!last) return undefined;
  if (!last.ok && last.failure === 'refused' && last.error) return { error: TRACKER_ERROR, errorString: last.error };
  if (last.ok && last.warning) return { error: TRACKER_WARNING, errorString: last.warning };
  return undefined;
}

/** Announce URLs one per line, a blank line between tiers (rpc-spec's trackerList). */
export function trackerListOf(m: Pick<Metainfo, 'announce'>): string {
  return m.announce.map((tier) => tier.join('\n')).join('\n\n');
}

/** A magnet link as Transmission writes one: the info hash, the name, every tracker, every web seed. */
export function magnetLinkOf(m: Pick<Metainfo, 'infoHashHex' | 'name' | 'announce' | 'urlList'>): string {
  const parts = [`xt=urn:btih:${m.infoHashHex}`, `dn=${encodeURIComponent(m.name)}`];
  for (const tier of m.announce) for (const url of tier) parts.push(`tr=${encodeURIComponent(url)}`);
  for (const url of m.urlList) parts.push(`ws=${encodeURIComponent(url)}`);
  return `magnet:?${parts.join('&')}`;
}
