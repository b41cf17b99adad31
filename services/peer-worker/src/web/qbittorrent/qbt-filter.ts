import type { FormFields } from '../web-request.js';
import { QbtError } from './qbt-error.js';
import { normalizeHash, parseBool } from './qbt-params.js';
import type { QbtState, QbtTorrent } from './qbt-torrent-view.js';

/**
 * torrents/info's selection: qBittorrent's TorrentFilter (state filter,
 * category, tag, hashes, private) then sort, reverse, offset and limit as
 * TorrentsController::infoAction applies them. Pure.
 */

const DOWNLOADING: ReadonlySet<QbtState> = new Set(['downloading', 'metaDL', 'forcedMetaDL', 'stalledDL', 'checkingDL', 'stoppedDL', 'queuedDL', 'forcedDL']);
const UPLOADING: ReadonlySet<QbtState> = new Set(['uploading', 'stalledUP', 'checkingUP', 'queuedUP', 'forcedUP']);
const COMPLETED: ReadonlySet<QbtState> = new Set([...UPLOADING, 'stoppedUP']);
const ACTIVE: ReadonlySet<QbtState> = new Set(['metaDL', 'forcedMetaDL', 'downloading', 'forcedDL', 'uploading', 'forcedUP', 'moving']);

function isStopped(t: QbtTorrent): boolean {
  return t.state === 'stoppedUP' || t.state === 'stoppedDL';
}

/** TorrentImpl::isActive: moving data, or stalled downloading while uploading. */
function isActive(t: QbtTorrent): boolean {
  return ACTIVE.has(t.state) || (t.state === 'stalledDL' && t.upspeed > 0);
}

/**
 * The state filters by name. qBittorrent 5 renamed `paused`/`resumed` to
 * `stopped`/`running`; the old names are taken too, since clients written
 * for 4.x still send them (5.x reads an unknown name as `all`).
 */
const STATE_FILTERS: Record<string, (t: QbtTorrent) => boolean> = {
  all: () => true,
  downloading: (t) => DOWNLOADING.has(t.state),
  seeding: (t) => UPLOADING.has(t.state),
  completed: (t) => COMPLETED.has(t.state),
  stopped: isStopped,
  paused: isStopped,
  running: (t) => !isStopped(t),
  resumed: (t) => !isStopped(t),
  active: isActive,
  inactive: (t) => !isActive(t),
  stalled: (t) => t.state === 'stalledUP' || t.state === 'stalledDL',
  stalled_uploading: (t) => t.state === 'stalledUP',
  stalled_downloading: (t) => t.state === 'stalledDL',
  checking: (t) => t.state === 'checkingUP' || t.state === 'checkingDL' || t.state === 'checkingResumeData',
  moving: (t) => t.state === 'moving',
  errored: (t) => t.state === 'error' || t.state === 'missingFiles',
};

export interface InfoQuery {
  filter: string;
  /** undefined: any; '': none. */
  category?: string | undefined;
  /** undefined: any; '': untagged. */
  tag?: string | undefined;
  hashes?: Set<string> | undefined;
  isPrivate?: boolean | undefined;
  sort?: string | undefined;
  reverse: boolean;
  limit: number;
  offset: number;
}

/** The query as infoAction reads it: absent numbers are 0, an unknown filter is `all`. */
export function infoQuery(p: FormFields): InfoQuery {
  const int = (name: string): number => {
    const v = p.text(name)?.trim() ?? '';
    if (v === '') return 0;
    if (!/^[+-]?\d+$/.test(v)) throw new QbtError('bad-params', `${name} must be a whole number (got ${JSON.stringify(v.slice(0, 40))})`);
    return Number(v);
  };
  const hashes = p.text('hashes');
  const parts = hashes === undefined ? [] : hashes.split('|').filter((h) => h !== '');
  return {
    filter: p.text('filter') ?? 'all',
    category: p.text('category'),
    tag: p.text('tag'),
    // Unreadable ids stay in the set as given, so they match nothing rather than widening the answer.
    hashes: parts.length > 0 ? new Set(parts.map((h) => normalizeHash(h) ?? h)) : undefined,
    isPrivate: parseBool(p.text('private')),
    sort: p.text('sort') || undefined,
    reverse: parseBool(p.text('reverse')) ?? false,
    limit: int('limit'),
    offset: int('offset'),
  };
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  // Mixed types (null `private` of a magnet against a boolean): nulls first.
  return a === b ? 0 : a === null ? -1 : b === null ? 1 : 0;
}

export function selectTorrents(all: QbtTorrent[], q: InfoQuery): QbtTorrent[] {
  // Own keys only: `filter=__proto__` (or `valueOf`, `constructor`...) names no
  // state filter, and must read as `all` like any unknown name, not reach
  // Object.prototype (found by `npm run fuzz`: a 500 "state is not a function").
  const state = Object.hasOwn(STATE_FILTERS, q.filter) ? STATE_FILTERS[q.filter]! : STATE_FILTERS.all!;
  let out = all.filter(
    (t) =>
      state(t) &&
      (q.hashes === undefined || q.hashes.has(t.hash)) &&
      (q.category === undefined || t.category === q.category) &&
      (q.tag === undefined || (q.tag === '' ? t.tags === '' : t.tags.split(', ').includes(q.tag.trim()))) &&
      (q.isPrivate === undefined || t.private === q.isPrivate),
  );
  if (out.length === 0) return out;
  if (q.sort !== undefined) {
    const key = q.sort;
    if (!Object.hasOwn(out[0]!, key)) throw new QbtError('bad-params', "'sort' parameter is invalid");
    const get = (t: QbtTorrent): unknown => (t as unknown as Record<string, unknown>)[key];
    // A stable sort, so torrents with equal keys keep a fixed order between polls.
    out = [...out].sort((a, b) => (q.reverse ? compare(get(b), get(a)) : compare(get(a), get(b))));
  }
  let offset = q.offset < 0 ? out.length + q.offset : q.offset;
  if (offset >= out.length || offset < 0) offset = 0;
  const limit = q.limit > 0 ? q.limit : undefined;
  if (limit !== undefined || offset > 0) out = out.slice(offset, limit === undefined ? undefined : offset + limit);
  return out;
}
