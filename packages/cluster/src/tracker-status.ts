/**
 * What the tracker-client last heard from each tracker of a torrent: the
 * record the control APIs show as qBittorrent's torrents/trackers and
 * Transmission's trackerStats. The tracker-client keeps it in memory (in
 * `seedbox serve`, EmbeddedTrackers answers from there) and, in the
 * fleet, writes it to the `seedbox_trackers` bucket on every announce
 * result, one key per torrent, so any peer-worker (one that just started
 * included) reads it from a watch.
 *
 * Announces are made per (torrent, worker), all to the same trackers;
 * whichever worker's announce ended last is the tracker's latest word.
 * Seeder and leecher counts are the swarm's, the same for every worker;
 * they come with announce answers and with scrapes (every 30 minutes or
 * so, for every torrent at once: the scrape fields), the latest winning.
 */

/** Why an announce failed, as the APIs tell it apart. */
export type AnnounceFailureKind =
  /** The tracker answered with a refusal (`failure reason`, or a UDP error): `error` holds its words. */
  | 'refused'
  /** No answer in time, after every retransmit. */
  | 'timeout'
  /** DNS, connect or read failed, or an HTTP error status. */
  | 'unreachable'
  /** An answer we could not read (not bencode, truncated, too large...). */
  | 'bad-reply'
  /**
   * The tracker asked every client to come back later (HTTP 429 or 503, a
   * "try again later" refusal): it is left alone, for every torrent, until
   * `backoffUntil`; `error` says why and until when.
   */
  | 'retry-later';

export const ANNOUNCE_FAILURE_KINDS: readonly AnnounceFailureKind[] = ['refused', 'timeout', 'unreachable', 'bad-reply', 'retry-later'];

export interface TrackerStatus {
  url: string;
  /** When the last announce to it was sent, and when it ended, in ms since the epoch. */
  lastAnnounceStartAt: number;
  lastAnnounceAt: number;
  /** Whether that announce was answered with peers rather than a refusal or an error. */
  ok: boolean;
  /** When it failed: why, and what was said (the tracker's own words for `refused`). */
  failure?: AnnounceFailureKind | undefined;
  error?: string | undefined;
  /** The tracker's `warning message` with a working answer. */
  warning?: string | undefined;
  /** Peers the last working answer listed (before we dropped our own workers). */
  peers?: number | undefined;
  /** Seeders, leechers and completed downloads, as the last answer that said so counted them. */
  seeders?: number | undefined;
  leechers?: number | undefined;
  downloaded?: number | undefined;
  /** When the last working answer came. */
  lastSuccessAt?: number | undefined;
  /** When the announcer will next try this torrent's trackers, ms; undefined when none is scheduled. */
  nextAnnounceAt?: number | undefined;
  /** For a `retry-later` failure: the tracker is not asked (announce or scrape) before this time, ms. */
  backoffUntil?: number | undefined;
  /**
   * The last scrape of the torrent at this tracker (BEP 48 / BEP 15), when
   * one was made: sent and ended, ms; whether the tracker listed the
   * torrent (its counts then are in seeders, leechers, downloaded); why
   * not; and when the next is due. Never scraped: all undefined.
   */
  lastScrapeStartAt?: number | undefined;
  lastScrapeAt?: number | undefined;
  scrapeOk?: boolean | undefined;
  scrapeError?: string | undefined;
  nextScrapeAt?: number | undefined;
}

/** Trackers kept per torrent at most: a torrent lists a few, and a hostile .torrent many more. */
export const MAX_TRACKERS_PER_TORRENT = 256;
/** A message longer than this is cut: the APIs show a line, not a page. */
export const MAX_TRACKER_MESSAGE = 1024;

interface Stored {
  v: 1;
  trackers: unknown;
}

/** The bucket's value: JSON, as every bucket of the fleet, so an operator can read it with `nats kv get`. */
export function encodeTrackerStatuses(list: readonly TrackerStatus[]): Uint8Array {
  const stored: Stored = { v: 1, trackers: list.slice(0, MAX_TRACKERS_PER_TORRENT).map(clean) };
  return new TextEncoder().encode(JSON.stringify(stored));
}

/**
 * Reads a value back, entry by entry: one that does not fit (no URL, a
 * time that is no time) is left out, an odd optional field is dropped, so
 * one bad write costs one tracker's line, never the torrent's. Bytes that
 * are not a version-1 value read as no trackers.
 */
export function decodeTrackerStatuses(bytes: Uint8Array): TrackerStatus[] {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return [];
  }
  if (!isObject(v) || v.v !== 1 || !Array.isArray(v.trackers)) return [];
  const out: TrackerStatus[] = [];
  for (const raw of v.trackers.slice(0, MAX_TRACKERS_PER_TORRENT)) {
    const s = readStatus(raw);
    if (s) out.push(s);
  }
  return out;
}

function readStatus(raw: unknown): TrackerStatus | undefined {
  if (!isObject(raw)) return undefined;
  const { url, lastAnnounceStartAt, lastAnnounceAt, ok } = raw;
  if (typeof url !== 'string' || url === '' || url.length > 4096) return undefined;
  if (!isTime(lastAnnounceStartAt) || !isTime(lastAnnounceAt) || typeof ok !== 'boolean') return undefined;
  const failure = ANNOUNCE_FAILURE_KINDS.find((f) => f === raw.failure);
  return clean({
    url,
    lastAnnounceStartAt,
    lastAnnounceAt,
    ok,
    failure: ok ? undefined : failure,
    error: text(raw.error),
    warning: text(raw.warning),
    peers: count(raw.peers),
    seeders: count(raw.seeders),
    leechers: count(raw.leechers),
    downloaded: count(raw.downloaded),
    lastSuccessAt: isTime(raw.lastSuccessAt) ? raw.lastSuccessAt : undefined,
    nextAnnounceAt: isTime(raw.nextAnnounceAt) ? raw.nextAnnounceAt : undefined,
    backoffUntil: isTime(raw.backoffUntil) ? raw.backoffUntil : undefined,
    lastScrapeStartAt: isTime(raw.lastScrapeStartAt) ? raw.lastScrapeStartAt : undefined,
    lastScrapeAt: isTime(raw.lastScrapeAt) ? raw.lastScrapeAt : undefined,
    scrapeOk: typeof raw.scrapeOk === 'boolean' ? raw.scrapeOk : undefined,
    scrapeError: text(raw.scrapeError),
    nextScrapeAt: isTime(raw.nextScrapeAt) ? raw.nextScrapeAt : undefined,
  });
}

/** Without the fields that are undefined, messages cut to their cap. */
function clean(s: TrackerStatus): TrackerStatus {
  const out: TrackerStatus = { url: s.url, lastAnnounceStartAt: s.lastAnnounceStartAt, lastAnnounceAt: s.lastAnnounceAt, ok: s.ok };
  if (s.failure !== undefined) out.failure = s.failure;
  if (s.error !== undefined) out.error = s.error.slice(0, MAX_TRACKER_MESSAGE);
  if (s.warning !== undefined) out.warning = s.warning.slice(0, MAX_TRACKER_MESSAGE);
  for (const k of ['peers', 'seeders', 'leechers', 'downloaded', 'lastSuccessAt', 'nextAnnounceAt', 'backoffUntil', 'lastScrapeStartAt', 'lastScrapeAt', 'nextScrapeAt'] as const) {
    if (s[k] !== undefined) out[k] = s[k];
  }
  if (s.scrapeOk !== undefined) out.scrapeOk = s.scrapeOk;
  if (s.scrapeError !== undefined) out.scrapeError = s.scrapeError.slice(0, MAX_TRACKER_MESSAGE);
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v.slice(0, MAX_TRACKER_MESSAGE) : undefined;
}
