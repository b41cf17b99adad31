import type { Category, MaindataResponse, ServerState, Torrent } from './types.js';

/**
 * The client side of sync/maindata: the state the last answers add up
 * to. The first answer (rid 0) is a full update; each next one, asked
 * with the rid of the last, holds only what changed: new torrents in
 * full, changed ones with only their changed keys, and the hashes of
 * removed ones. Pure: each merge returns a new state and keeps the
 * objects of unchanged torrents, so a view can skip rows that did not
 * change.
 */

export interface SyncState {
  /** Send this as `rid` on the next poll. */
  rid: number;
  torrents: ReadonlyMap<string, Torrent>;
  categories: Readonly<Record<string, Category>>;
  tags: readonly string[];
  server: ServerState;
}

export const EMPTY_SERVER_STATE: ServerState = {
  dl_info_speed: 0,
  dl_info_data: 0,
  up_info_speed: 0,
  up_info_data: 0,
  dl_rate_limit: 0,
  up_rate_limit: 0,
  connection_status: '',
  use_alt_speed_limits: false,
  free_space_on_disk: -1,
  refresh_interval: 1000,
  queueing: false,
};

export const EMPTY_SYNC_STATE: SyncState = { rid: 0, torrents: new Map(), categories: {}, tags: [], server: EMPTY_SERVER_STATE };

/** A torrent whose first mention lacks keys still has every key the views read; unknown figures read as -1 or empty. */
export function blankTorrent(hash: string): Torrent {
  return {
    hash,
    name: hash,
    size: 0,
    total_size: -1,
    progress: 0,
    dlspeed: 0,
    upspeed: 0,
    num_seeds: 0,
    num_complete: 0,
    num_leechs: 0,
    num_incomplete: 0,
    state: 'unknown',
    eta: -1,
    ratio: 0,
    category: '',
    tags: '',
    added_on: -1,
    completion_on: -1,
    dl_limit: 0,
    up_limit: 0,
    save_path: '',
    seq_dl: false,
    downloaded: 0,
    uploaded: 0,
    amount_left: 0,
    priority: 0,
  };
}

function mergeCategories(base: Readonly<Record<string, Category>>, diff: MaindataResponse['categories'], removed: string[] | undefined): Record<string, Category> {
  const out: Record<string, Category> = { ...base };
  for (const [name, c] of Object.entries(diff ?? {})) out[name] = { ...(out[name] ?? { name, savePath: '' }), ...c, name };
  for (const name of removed ?? []) delete out[name];
  return out;
}

function mergeTags(base: readonly string[], added: string[] | undefined, removed: string[] | undefined): string[] {
  const gone = new Set(removed ?? []);
  const out = base.filter((t) => !gone.has(t));
  for (const t of added ?? []) if (!out.includes(t) && !gone.has(t)) out.push(t);
  return out;
}

/** The state after one answer. An answer without full_update on no state (a first poll) is taken as full. */
export function mergeMaindata(state: SyncState | undefined, answer: MaindataResponse): SyncState {
  const full = answer.full_update === true || state === undefined;
  const base = full ? EMPTY_SYNC_STATE : state;
  const torrents = new Map(base.torrents);
  for (const [hash, diff] of Object.entries(answer.torrents ?? {})) {
    const before = torrents.get(hash) ?? blankTorrent(hash);
    torrents.set(hash, { ...before, ...diff, hash });
  }
  for (const hash of answer.torrents_removed ?? []) torrents.delete(hash);
  return {
    rid: answer.rid,
    torrents,
    categories: mergeCategories(base.categories, answer.categories, answer.categories_removed),
    tags: mergeTags(base.tags, answer.tags, answer.tags_removed),
    server: { ...base.server, ...answer.server_state } as ServerState,
  };
}

/** Tags of a torrent, from qBittorrent's "a, b" form. */
export function torrentTags(t: Pick<Torrent, 'tags'>): string[] {
  return t.tags
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
