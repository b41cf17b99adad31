import { TorrentFilter, TorrentSort, TorrentState, type ListTorrentsRequest } from '@seedbox/proto';
import { progressOf } from '../web/qbittorrent/qbt-progress.js';
import { ControlError, recordName, type ControlBackend, type TorrentRecord, type TorrentStatsView } from './backend.js';
import { parseInfoHash } from './info-hash.js';
import { torrentState } from './state-codes.js';

/**
 * ListTorrents' selection, done on the server so that a client asking for
 * a page of 20 of 10,000 torrents gets 20: the state filter (after
 * qBittorrent's), category, tag and info hashes, then the sort, then
 * offset and limit. Only the page is made into proto messages; what the
 * filter and the sort read of a torrent (its figures, its state, how much
 * of it is there) is worked out once per torrent, and how much is there
 * only when they need it.
 */

export interface ListQuery {
  filter: TorrentFilter;
  /** undefined: any; '': none. */
  category?: string | undefined;
  /** undefined: any; '': untagged. */
  tag?: string | undefined;
  /** Lower-case hex; undefined: every torrent. */
  infoHashes?: string[] | undefined;
  sort: TorrentSort;
  reverse: boolean;
  offset: number;
  /** 0: all. */
  limit: number;
  omitFiles: boolean;
}

/** A torrent with what the selection reads of it. */
export interface ListRow {
  record: TorrentRecord;
  stats: TorrentStatsView | undefined;
  state: TorrentState;
}

/** What the selection asks of the backend beside the records: the figures, and the fleet's bitfield for a torrent without them. */
export type ListLookup = Pick<ControlBackend, 'stats' | 'pieces'>;

function enumName<E extends number>(values: Record<string, string | number>, value: E, field: string): E {
  if (value >= 0 && typeof values[value] === 'string') return value;
  const names = Object.entries(values)
    .filter(([, v]) => typeof v === 'number' && v >= 0)
    .map(([k]) => k)
    .join(', ');
  throw new ControlError('invalid-argument', `${field} must be one of ${names} (got ${value})`);
}

/** The request as a query; a value that is no filter, no sort or no info hash is INVALID_ARGUMENT naming the field. */
export function listQueryFromProto(r: ListTorrentsRequest): ListQuery {
  return {
    filter: enumName(TorrentFilter, r.filter ?? TorrentFilter.TORRENT_FILTER_ALL, 'filter'),
    category: r.category,
    tag: r.tag,
    // An empty list (as opposed to none) names no torrent.
    infoHashes: r.hashes?.infoHashes.map((h, i) => parseInfoHash(h, `hashes.info_hashes[${i}]`)),
    sort: enumName(TorrentSort, r.sort ?? TorrentSort.TORRENT_SORT_ADDED, 'sort'),
    reverse: r.reverse ?? false,
    offset: r.offset ?? 0,
    limit: r.limit ?? 0,
    omitFiles: r.omitFiles ?? false,
  };
}

/** How much of the torrent is here (0 to 1) and whether every wanted piece is: qBittorrent's progress and "finished". */
interface Done {
  fraction: number;
  finished: boolean;
}

function doneOf(row: ListRow, look: ListLookup): Done {
  const r = row.record;
  if (!r.metainfo) return { fraction: 0, finished: false };
  const bits = row.stats?.fileDone === undefined ? look.pieces(r.infoHashHex) : undefined;
  const p = progressOf(r, row.stats, bits);
  return { fraction: p.finished ? 1 : p.wanted > 0 ? p.completed / p.wanted : 0, finished: p.finished };
}

const running = (row: ListRow): boolean => row.record.desired !== 'paused';
const rate = (s: TorrentStatsView | undefined, k: 'downloadRate' | 'uploadRate'): number => s?.[k] ?? 0;

/** qBittorrent's isActive: bytes moved in the last tick, metadata being fetched, or data being moved. */
function isActive(row: ListRow): boolean {
  if (row.record.movingTo !== undefined) return true;
  return running(row) && (row.state === TorrentState.TORRENT_STATE_METADATA || rate(row.stats, 'downloadRate') > 0 || rate(row.stats, 'uploadRate') > 0);
}

type Test = (row: ListRow, done: () => Done) => boolean;

const FILTERS: Record<TorrentFilter, Test> = {
  [TorrentFilter.TORRENT_FILTER_ALL]: () => true,
  [TorrentFilter.TORRENT_FILTER_DOWNLOADING]: (_, done) => !done().finished,
  [TorrentFilter.TORRENT_FILTER_SEEDING]: (row, done) => running(row) && done().finished,
  [TorrentFilter.TORRENT_FILTER_COMPLETED]: (_, done) => done().finished,
  [TorrentFilter.TORRENT_FILTER_PAUSED]: (row) => !running(row),
  [TorrentFilter.TORRENT_FILTER_RUNNING]: running,
  [TorrentFilter.TORRENT_FILTER_ACTIVE]: isActive,
  [TorrentFilter.TORRENT_FILTER_INACTIVE]: (row) => !isActive(row),
  // qBittorrent's stalledDL (downloading, nothing coming in) and stalledUP (seeding, nothing going out).
  [TorrentFilter.TORRENT_FILTER_STALLED]: (row) =>
    row.state === TorrentState.TORRENT_STATE_STALLED || (row.state === TorrentState.TORRENT_STATE_SEEDING && rate(row.stats, 'uploadRate') === 0),
  [TorrentFilter.TORRENT_FILTER_CHECKING]: (row) => row.state === TorrentState.TORRENT_STATE_CHECKING,
  [TorrentFilter.TORRENT_FILTER_ERRORED]: (row) => row.state === TorrentState.TORRENT_STATE_ERROR,
  [TorrentFilter.TORRENT_FILTER_QUEUED]: (row) => row.state === TorrentState.TORRENT_STATE_QUEUED,
  [TorrentFilter.TORRENT_FILTER_METADATA]: (row) => row.state === TorrentState.TORRENT_STATE_METADATA,
  [TorrentFilter.TORRENT_FILTER_MOVING]: (row) => row.record.movingTo !== undefined,
  [TorrentFilter.UNRECOGNIZED]: () => false,
};

const NAMES = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** The sort key of a row: a number, or a name compared as people read names (2 before 10, case aside). */
type Key = (row: ListRow, done: () => Done) => number | string;

const KEYS: Record<TorrentSort, Key> = {
  [TorrentSort.TORRENT_SORT_ADDED]: (row) => row.record.addedAt,
  [TorrentSort.TORRENT_SORT_NAME]: (row) => recordName(row.record),
  [TorrentSort.TORRENT_SORT_SIZE]: (row) => row.record.metainfo?.totalLength ?? 0,
  [TorrentSort.TORRENT_SORT_PROGRESS]: (_, done) => done().fraction,
  [TorrentSort.TORRENT_SORT_QUEUE_POSITION]: (row) => row.record.queuePosition,
  [TorrentSort.TORRENT_SORT_RATIO]: (row) => row.record.ratio,
  [TorrentSort.TORRENT_SORT_DOWNLOAD_RATE]: (row) => rate(row.stats, 'downloadRate'),
  [TorrentSort.TORRENT_SORT_UPLOAD_RATE]: (row) => rate(row.stats, 'uploadRate'),
  [TorrentSort.UNRECOGNIZED]: () => 0,
};

/**
 * The page the query asks for, and how many torrents match before paging.
 * Ties in the sort go by when added, then info hash, so every replica
 * answers in one order and pages do not overlap.
 */
export function selectTorrents(records: readonly TorrentRecord[], query: ListQuery, look: ListLookup): { page: ListRow[]; total: number } {
  const test = FILTERS[query.filter];
  const key = KEYS[query.sort];
  const matching: { row: ListRow; key: number | string }[] = [];
  for (const record of records) {
    const s = record.settings;
    if (query.category !== undefined && s.category !== query.category) continue;
    if (query.tag !== undefined && (query.tag === '' ? s.tags.length > 0 : !s.tags.includes(query.tag))) continue;
    const stats = look.stats(record.infoHashHex);
    const row: ListRow = { record, stats, state: torrentState(record, stats) };
    let done: Done | undefined;
    const lazyDone = (): Done => (done ??= doneOf(row, look));
    if (!test(row, lazyDone)) continue;
    matching.push({ row, key: key(row, lazyDone) });
  }
  const sign = query.reverse ? -1 : 1;
  matching.sort((a, b) => {
    const byKey = typeof a.key === 'string' ? NAMES.compare(a.key, b.key as string) : a.key - (b.key as number);
    if (byKey !== 0) return sign * byKey;
    const x = a.row.record;
    const y = b.row.record;
    return sign * (x.addedAt - y.addedAt || (x.infoHashHex < y.infoHashHex ? -1 : x.infoHashHex > y.infoHashHex ? 1 : 0));
  });
  const end = query.limit === 0 ? undefined : query.offset + query.limit;
  return { page: matching.slice(query.offset, end).map((m) => m.row), total: matching.length };
}
