import { torrentTags } from './maindata.js';
import type { Torrent } from './types.js';

/**
 * Which torrents the list shows and in what order: the status filters of
 * qBittorrent's side panel, category and tag filters, a search box, and a
 * sort by any column. Pure.
 */

export const STATUS_FILTERS = ['all', 'downloading', 'seeding', 'completed', 'running', 'stopped', 'active', 'inactive', 'stalled', 'checking', 'moving', 'errored'] as const;
export type StatusFilter = (typeof STATUS_FILTERS)[number];

export const STATUS_LABELS: Record<StatusFilter, string> = {
  all: 'All',
  downloading: 'Downloading',
  seeding: 'Seeding',
  completed: 'Completed',
  running: 'Running',
  stopped: 'Stopped',
  active: 'Active',
  inactive: 'Inactive',
  stalled: 'Stalled',
  checking: 'Checking',
  moving: 'Moving',
  errored: 'Errored',
};

const DOWNLOADING = new Set(['downloading', 'metaDL', 'forcedMetaDL', 'stalledDL', 'checkingDL', 'stoppedDL', 'pausedDL', 'queuedDL', 'forcedDL', 'allocating']);
const SEEDING = new Set(['uploading', 'stalledUP', 'checkingUP', 'queuedUP', 'forcedUP']);
const COMPLETED = new Set([...SEEDING, 'stoppedUP', 'pausedUP']);
const STOPPED = new Set(['stoppedDL', 'stoppedUP', 'pausedDL', 'pausedUP']);
const TRANSFERRING = new Set(['metaDL', 'forcedMetaDL', 'downloading', 'forcedDL', 'uploading', 'forcedUP']);
const CHECKING = new Set(['checkingUP', 'checkingDL', 'checkingResumeData']);
const ERRORED = new Set(['error', 'missingFiles', 'unknown']);

/** Whether a torrent is moving data now: a transferring state, or a stalled download that still uploads. */
function isActive(t: Pick<Torrent, 'state' | 'dlspeed' | 'upspeed'>): boolean {
  if (t.state === 'stalledDL') return t.upspeed > 0;
  return TRANSFERRING.has(t.state) || t.dlspeed > 0 || t.upspeed > 0;
}

export function matchesStatus(t: Pick<Torrent, 'state' | 'dlspeed' | 'upspeed'>, f: StatusFilter): boolean {
  switch (f) {
    case 'all':
      return true;
    case 'downloading':
      return DOWNLOADING.has(t.state);
    case 'seeding':
      return SEEDING.has(t.state);
    case 'completed':
      return COMPLETED.has(t.state);
    case 'running':
      return !STOPPED.has(t.state);
    case 'stopped':
      return STOPPED.has(t.state);
    case 'active':
      return isActive(t);
    case 'inactive':
      return !isActive(t);
    case 'stalled':
      return t.state === 'stalledDL' || t.state === 'stalledUP';
    case 'checking':
      return CHECKING.has(t.state);
    case 'moving':
      return t.state === 'moving';
    case 'errored':
      return ERRORED.has(t.state);
  }
}

/** A category or tag filter: every torrent, those with none, or those with this one. */
export type NameFilter = { kind: 'all' } | { kind: 'none' } | { kind: 'is'; name: string };
export const ALL: NameFilter = { kind: 'all' };

export interface ListFilter {
  status: StatusFilter;
  category: NameFilter;
  tag: NameFilter;
  /** Words that must all appear in the name (or the hash), in any case. */
  search: string;
}

export const NO_FILTER: ListFilter = { status: 'all', category: ALL, tag: ALL, search: '' };

export function matchesFilter(t: Torrent, f: ListFilter): boolean {
  if (!matchesStatus(t, f.status)) return false;
  if (f.category.kind === 'none' && t.category !== '') return false;
  if (f.category.kind === 'is' && t.category !== f.category.name) return false;
  if (f.tag.kind !== 'all') {
    const tags = torrentTags(t);
    if (f.tag.kind === 'none' && tags.length > 0) return false;
    if (f.tag.kind === 'is' && !tags.includes(f.tag.name)) return false;
  }
  const words = f.search.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length > 0) {
    const hay = `${t.name}\n${t.hash}`.toLowerCase();
    if (!words.every((w) => hay.includes(w))) return false;
  }
  return true;
}

/** The list's columns, by the torrent key each sorts on. */
export const COLUMNS = [
  { key: 'name', label: 'Name' },
  { key: 'size', label: 'Size' },
  { key: 'progress', label: 'Progress' },
  { key: 'state', label: 'State' },
  { key: 'dlspeed', label: 'Down' },
  { key: 'upspeed', label: 'Up' },
  { key: 'ratio', label: 'Ratio' },
  { key: 'eta', label: 'ETA' },
  { key: 'num_seeds', label: 'Seeds' },
  { key: 'num_leechs', label: 'Peers' },
  { key: 'category', label: 'Category' },
  { key: 'tags', label: 'Tags' },
  { key: 'added_on', label: 'Added' },
] as const;
export type ColumnKey = (typeof COLUMNS)[number]['key'];

export interface SortOrder {
  key: ColumnKey;
  descending: boolean;
}

export const DEFAULT_SORT: SortOrder = { key: 'added_on', descending: false };

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

function compareValues(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return collator.compare(String(a ?? ''), String(b ?? ''));
}

/**
 * A sorted copy. Ties go by name then hash, so rows keep their places
 * from one poll to the next; an unknown ETA (negative) sorts after every
 * known one.
 */
export function sortTorrents(list: readonly Torrent[], order: SortOrder): Torrent[] {
  const dir = order.descending ? -1 : 1;
  const value = (t: Torrent): unknown => {
    const v = t[order.key];
    if (order.key === 'eta' && typeof v === 'number' && v < 0) return Number.MAX_SAFE_INTEGER;
    return v;
  };
  return [...list].sort((a, b) => compareValues(value(a), value(b)) * dir || collator.compare(a.name, b.name) || (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
}

/** Clicking a column: sort by it, or turn the order round when it is already the one. */
export function toggleSort(current: SortOrder, key: ColumnKey): SortOrder {
  if (current.key === key) return { key, descending: !current.descending };
  // Figures read best largest first; names and dates from the start.
  const numeric = key !== 'name' && key !== 'state' && key !== 'category' && key !== 'tags' && key !== 'added_on' && key !== 'eta';
  return { key, descending: numeric };
}

export function visibleTorrents(all: Iterable<Torrent>, filter: ListFilter, order: SortOrder): Torrent[] {
  return sortTorrents([...all].filter((t) => matchesFilter(t, filter)), order);
}

/** How many torrents each status, category and tag filter would show, for the side panel's counts. */
export function filterCounts(all: Iterable<Torrent>): { status: Record<StatusFilter, number>; category: Map<string, number>; tag: Map<string, number>; untagged: number } {
  const status = Object.fromEntries(STATUS_FILTERS.map((f) => [f, 0])) as Record<StatusFilter, number>;
  const category = new Map<string, number>();
  const tag = new Map<string, number>();
  let untagged = 0;
  for (const t of all) {
    for (const f of STATUS_FILTERS) if (matchesStatus(t, f)) status[f]++;
    category.set(t.category, (category.get(t.category) ?? 0) + 1);
    const tags = torrentTags(t);
    if (tags.length === 0) untagged++;
    for (const x of tags) tag.set(x, (tag.get(x) ?? 0) + 1);
  }
  return { status, category, tag, untagged };
}
