import { BencodeError, decodeBencode, isDict, isInt } from './bencode.js';
import type { BValue } from './bencode.js';
import { kindOf, trackerFailure, trackerText } from './tracker-checks.js';
import { TrackerError } from './tracker-error.js';
import { percentEncodeBytes } from './tracker-http.js';
import { trackerUrlKind } from './tracker.js';

/**
 * Scrapes: a tracker's counts for many torrents in one request, without
 * announcing. HTTP (BEP 48) here; UDP (BEP 15 action 2) in tracker-udp.ts,
 * with the same result types.
 *
 * BEP 48's convention: the scrape URL is the announce URL with the
 * `announce` that starts its last path segment replaced by `scrape`
 * (`/announce.php?passkey=x` -> `/scrape.php?passkey=x`); a tracker whose
 * announce URL does not have one does not scrape, and is not asked.
 */

/** One torrent's counts, as the tracker gave them; a count it left out is undefined. */
export interface ScrapeCounts {
  /** Seeders. */
  complete?: number;
  /** Leechers. */
  incomplete?: number;
  /** Completed downloads the tracker has counted. */
  downloaded?: number;
}

export interface ScrapeResponse {
  /** By lower-case hex info hash: the torrents the tracker listed. One asked for and not listed is unknown to it. */
  files: Map<string, ScrapeCounts>;
  /** BEP 48 `flags.min_request_interval`: seconds the tracker wants between scrapes. */
  minRequestInterval?: number;
  /** Entries dropped: a key that is not a 20-byte hash, a value that is not a dictionary of counts. */
  invalidEntries: number;
}

/** Hashes in one HTTP scrape at most: ~60 URL bytes each, so a request line stays well under the 8 KiB servers take. */
export const MAX_HTTP_SCRAPE_HASHES = 100;

/** The scrape URL of an http(s) announce URL (BEP 48), or undefined when the tracker has none. */
export function httpScrapeUrl(announceUrl: string): string | undefined {
  if (trackerUrlKind(announceUrl) !== 'http') return undefined;
  const { base, query } = splitUrl(announceUrl);
  // The path starts at the first '/' after "scheme://"; a URL without one has no last segment.
  const pathStart = base.indexOf('/', base.indexOf('//') + 2);
  if (pathStart < 0) return undefined;
  const slash = base.lastIndexOf('/');
  const last = base.slice(slash + 1);
  if (!last.startsWith('announce')) return undefined;
  return `${base.slice(0, slash + 1)}scrape${last.slice('announce'.length)}${query === undefined ? '' : `?${query}`}`;
}

/**
 * The GET URL of an HTTP scrape of `infoHashes` (BEP 48: one `info_hash`
 * per torrent, raw bytes percent-encoded). The announce URL's own query (a
 * passkey) is kept, less any `info_hash` of its own. Throws TrackerError
 * TRACKER_BAD_URL for a tracker that cannot be scraped, TRACKER_BAD_FIELD
 * for a hash that is not 20 bytes or a batch of 0 or more than
 * MAX_HTTP_SCRAPE_HASHES.
 */
export function buildHttpScrapeUrl(announceUrl: string, infoHashes: readonly Uint8Array[]): string {
  const scrape = httpScrapeUrl(announceUrl);
  if (scrape === undefined) {
    throw new TrackerError('TRACKER_BAD_URL', `'${announceUrl}' cannot be scraped: its last path segment does not start with 'announce' (BEP 48)`);
  }
  if (infoHashes.length === 0 || infoHashes.length > MAX_HTTP_SCRAPE_HASHES) {
    throw new TrackerError('TRACKER_BAD_FIELD', `a scrape asks for 1 to ${MAX_HTTP_SCRAPE_HASHES} torrents, not ${infoHashes.length}`);
  }
  for (const h of infoHashes) {
    if (!(h instanceof Uint8Array) || h.length !== 20) throw new TrackerError('TRACKER_BAD_FIELD', 'infoHash must be 20 bytes');
  }
  const { base, query } = splitUrl(scrape);
  const kept = (query ?? '').split('&').filter((part) => part !== '' && part.split('=')[0] !== 'info_hash');
  const hashes = infoHashes.map((h) => `info_hash=${percentEncodeBytes(h)}`);
  return `${base}?${[...kept, ...hashes].join('&')}`;
}

export interface HttpScrapeLimits {
  /** Largest body parsed. Default 1 MiB: a full page of 100 torrents is about 6 KiB. */
  maxBytes?: number;
}

const DEFAULT_SCRAPE_MAX_BYTES = 1024 * 1024;

/**
 * Parses the body of an HTTP scrape reply. Throws TrackerError:
 * TRACKER_TOO_LARGE over the cap, TRACKER_FAILURE for a `failure reason`,
 * TRACKER_BAD_RESPONSE when the body is not bencode, not a dictionary, or
 * has no `files` dictionary. One bad entry is dropped and counted
 * (invalidEntries), not a reason to lose the others.
 */
export function parseHttpScrapeResponse(body: Uint8Array, limits: HttpScrapeLimits = {}): ScrapeResponse {
  const maxBytes = limits.maxBytes ?? DEFAULT_SCRAPE_MAX_BYTES;
  if (body.length > maxBytes) {
    throw new TrackerError('TRACKER_TOO_LARGE', `scrape reply is ${body.length} bytes, more than the ${maxBytes} accepted`, {
      received: body.length,
      expected: maxBytes,
    });
  }
  let value: BValue;
  try {
    // dict > files > entry > count is depth 3; one more for a tracker's extra keys.
    value = decodeBencode(body, { maxBytes, maxDepth: 4, maxItems: 100_000 });
  } catch (e) {
    if (e instanceof BencodeError) {
      throw bad(`scrape reply is not bencode (${e.message}); it starts with '${trackerText(body.subarray(0, 64))}'`, e);
    }
    throw e;
  }
  if (!isDict(value)) throw bad(`scrape reply is ${kindOf(value)}, not a dictionary`);
  const failure = trackerFailure(value, 'scrape');
  if (failure) throw failure;
  const files = value.get('files');
  if (files === undefined) throw bad("scrape reply has no 'files'");
  if (!isDict(files)) throw bad(`'files' is ${kindOf(files)}, not a dictionary`);

  const out: ScrapeResponse = { files: new Map(), invalidEntries: 0 };
  for (const [key, entry] of files) {
    // Dictionary keys come back as latin1 strings: one char per byte.
    const counts = key.length === 20 ? readCounts(entry) : undefined;
    if (counts) out.files.set(Buffer.from(key, 'latin1').toString('hex'), counts);
    else out.invalidEntries++;
  }
  const flags = value.get('flags');
  const interval = isDict(flags) ? flags.get('min_request_interval') : undefined;
  if (isInt(interval) && interval >= 0) out.minRequestInterval = interval;
  return out;
}

/** An entry's counts, or undefined when it is not a dictionary or a count is not a non-negative integer. */
function readCounts(entry: BValue): ScrapeCounts | undefined {
  if (!isDict(entry)) return undefined;
  const counts: ScrapeCounts = {};
  for (const key of ['complete', 'incomplete', 'downloaded'] as const) {
    const v = entry.get(key);
    if (v === undefined) continue;
    if (!isInt(v) || v < 0) return undefined;
    counts[key] = v;
  }
  return counts;
}

function bad(message: string, cause?: unknown): TrackerError {
  return new TrackerError('TRACKER_BAD_RESPONSE', message, cause === undefined ? {} : { cause });
}

/** The URL without its fragment, cut at the query: what BEP 48 rewrites and what it keeps. */
function splitUrl(url: string): { base: string; query: string | undefined } {
  const hash = url.indexOf('#');
  const noFragment = hash >= 0 ? url.slice(0, hash) : url;
  const q = noFragment.indexOf('?');
  return q >= 0 ? { base: noFragment.slice(0, q), query: noFragment.slice(q + 1) } : { base: noFragment, query: undefined };
}
