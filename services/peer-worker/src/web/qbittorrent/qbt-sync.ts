import { randomInt } from 'node:crypto';
import type { QbtTorrent } from './qbt-torrent-view.js';
import type { ServerState } from './qbt-transfer.js';

/**
 * sync/maindata: a full picture first, then only what changed since the
 * answer the client names by its `rid` (src/webui/api/synccontroller.cpp).
 *
 * qBittorrent keeps one sync state per session; sessions here live in
 * signed cookies and any replica may answer, so each process keeps its
 * last few answers instead, by rid, and diffs against the one a client
 * names. An rid this process did not give (another replica's, a restart,
 * one evicted) gets a full update, which every client handles. Rids are
 * random rather than counted so that two replicas' rids are unlikely to
 * collide: a client moving between replicas must not be diffed against
 * another client's picture.
 */

export type TorrentFields = Omit<QbtTorrent, 'hash'>;

export interface CategoryFields {
  name: string;
  savePath: string;
}

export interface Maindata {
  torrents: Record<string, TorrentFields>;
  categories: Record<string, CategoryFields>;
  tags: string[];
  /** Tracker URL -> hashes of the torrents that have it. */
  trackers: Record<string, string[]>;
  server_state: ServerState;
}

export interface MaindataAnswer {
  rid: number;
  full_update?: true;
  torrents?: Record<string, Partial<TorrentFields>>;
  torrents_removed?: string[];
  categories?: Record<string, Partial<CategoryFields>>;
  categories_removed?: string[];
  tags?: string[];
  tags_removed?: string[];
  trackers?: Record<string, string[]>;
  trackers_removed?: string[];
  server_state?: Partial<ServerState>;
}

/** The keys of `next` whose values differ from `prev`'s (values are scalars). */
export function changedFields<T extends object>(prev: T, next: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k of Object.keys(next) as (keyof T)[]) if (prev[k] !== next[k]) out[k] = next[k];
  return out;
}

/** Items new or changed in `next` (changed ones with only their changed fields), and the keys gone from it. */
function diffKeyed<T extends object>(prev: Record<string, T>, next: Record<string, T>): { changed: Record<string, Partial<T>>; removed: string[] } {
  const changed: Record<string, Partial<T>> = {};
  for (const [key, item] of Object.entries(next)) {
    const before = prev[key];
    if (before === undefined) changed[key] = item;
    else {
      const fields = changedFields(before, item);
      if (Object.keys(fields).length > 0) changed[key] = fields;
    }
  }
  return { changed, removed: Object.keys(prev).filter((k) => !(k in next)) };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** What changed from `prev` to `next`, in maindata's incremental form: empty sections are left out. */
export function maindataDiff(prev: Maindata, next: Maindata): Omit<MaindataAnswer, 'rid'> {
  const out: Omit<MaindataAnswer, 'rid'> = {};
  const torrents = diffKeyed(prev.torrents, next.torrents);
  if (Object.keys(torrents.changed).length > 0) out.torrents = torrents.changed;
  if (torrents.removed.length > 0) out.torrents_removed = torrents.removed;
  const categories = diffKeyed(prev.categories, next.categories);
  if (Object.keys(categories.changed).length > 0) out.categories = categories.changed;
  if (categories.removed.length > 0) out.categories_removed = categories.removed;
  const addedTags = next.tags.filter((t) => !prev.tags.includes(t));
  const removedTags = prev.tags.filter((t) => !next.tags.includes(t));
  if (addedTags.length > 0) out.tags = addedTags;
  if (removedTags.length > 0) out.tags_removed = removedTags;
  const trackers: Record<string, string[]> = {};
  for (const [url, hashes] of Object.entries(next.trackers)) {
    const before = prev.trackers[url];
    if (before === undefined || !sameList(before, hashes)) trackers[url] = hashes;
  }
  if (Object.keys(trackers).length > 0) out.trackers = trackers;
  const trackersRemoved = Object.keys(prev.trackers).filter((u) => !(u in next.trackers));
  if (trackersRemoved.length > 0) out.trackers_removed = trackersRemoved;
  const state = changedFields(prev.server_state, next.server_state);
  if (Object.keys(state).length > 0) out.server_state = state;
  return out;
}

/** Builds the picture from torrent views: each torrent keyed by hash (without it), trackers inverted to url -> hashes. */
export function maindataOf(torrents: QbtTorrent[], trackerLists: Map<string, string[]>, categories: Record<string, CategoryFields>, tags: string[], serverState: ServerState): Maindata {
  const byHash: Record<string, TorrentFields> = {};
  for (const { hash, ...fields } of torrents) byHash[hash] = fields;
  const trackers: Record<string, string[]> = {};
  for (const [hash, urls] of trackerLists) for (const url of urls) (trackers[url] ??= []).push(hash);
  for (const list of Object.values(trackers)) list.sort();
  return { torrents: byHash, categories, tags, trackers, server_state: serverState };
}

export interface MaindataStoreOptions {
  /** Answers kept to diff against (default 16: a few clients, each a few polls behind). */
  maxSnapshots?: number;
  /** The next rid; random in [1, 2^31) by default (a positive int32, as qBittorrent's). */
  nextRid?: () => number;
}

export class MaindataStore {
  private readonly snapshots = new Map<number, Maindata>();
  private readonly max: number;
  private readonly nextRid: () => number;

  constructor(o: MaindataStoreOptions = {}) {
    this.max = o.maxSnapshots ?? 16;
    this.nextRid = o.nextRid ?? (() => randomInt(1, 2 ** 31));
  }

  /** The answer to a client that last got `rid` (0 or unknown: a full update), remembered for its next request. */
  answer(rid: number, data: Maindata): MaindataAnswer {
    const prev = rid > 0 ? this.snapshots.get(rid) : undefined;
    let next = this.nextRid();
    while (this.snapshots.has(next) || next === rid) next = this.nextRid();
    this.snapshots.set(next, data);
    while (this.snapshots.size > this.max) this.snapshots.delete(this.snapshots.keys().next().value!);
    return prev ? { rid: next, ...maindataDiff(prev, data) } : { rid: next, full_update: true, ...data };
  }
}
