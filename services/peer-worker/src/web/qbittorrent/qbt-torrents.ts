import { resolve } from 'node:path';
import type { FleetConfig } from '@seedbox/cluster';
import type { PendingTorrentRecord, ResolvedTorrentRecord, TorrentRecord, TorrentStatsView, TrackerStatus } from '../../control/backend.js';
import type { QbtApp } from './qbt-context.js';
import { backendCall, QbtError } from './qbt-error.js';
import { progressOf, type Progress } from './qbt-progress.js';
import { pendingView, torrentView, type QbtTorrent } from './qbt-torrent-view.js';

/**
 * Reads what the WebAPI lists from the backend (records, figures, the
 * fleet's bitfields where figures lack per-file progress, the config),
 * magnets awaiting their metadata among them, and maps them with the pure
 * views. The only place the torrent endpoints read torrents from.
 */

export interface TorrentEntry {
  record: ResolvedTorrentRecord;
  stats: TorrentStatsView | undefined;
  progress: Progress;
  /** The fleet's bitfield, when it was read (figures without fileDone). */
  bits: Uint8Array | undefined;
  /** What its trackers last answered. */
  trackers: TrackerStatus[];
  view: QbtTorrent;
}

export interface Listing {
  config: FleetConfig;
  entries: TorrentEntry[];
  /** Magnets whose metadata the fleet is fetching. */
  pending: PendingTorrentRecord[];
  /** Every torrent as torrents/info lists it, in the backend's order. */
  views: QbtTorrent[];
}

function entryOf(app: QbtApp, record: ResolvedTorrentRecord, config: FleetConfig, now: number): TorrentEntry {
  const stats = app.ctx.backend.stats(record.infoHashHex);
  const bits = stats?.fileDone === undefined ? app.ctx.backend.pieces(record.infoHashHex) : undefined;
  const progress = progressOf(record, stats, bits);
  const trackers = app.ctx.backend.trackers(record.infoHashHex);
  return { record, stats, progress, bits, trackers, view: torrentView({ record, stats, progress, config, now, trackers }) };
}

/** Every torrent, or only those of `hashes` (torrents/info's `hashes`): no view is made of the others. */
export async function loadListing(app: QbtApp, hashes?: Iterable<string>): Promise<Listing> {
  const options = hashes === undefined ? {} : { infoHashes: [...hashes] };
  const [records, config] = await backendCall(() => Promise.all([app.ctx.backend.list(options), app.ctx.backend.config()]));
  const now = app.ctx.now();
  const entries: TorrentEntry[] = [];
  const pending: PendingTorrentRecord[] = [];
  const views: QbtTorrent[] = [];
  for (const r of records) {
    if (r.metainfo) {
      const e = entryOf(app, r, config, now);
      entries.push(e);
      views.push(e.view);
    } else {
      pending.push(r);
      views.push(pendingView(r, config, app.ctx.backend.trackers(r.infoHashHex)));
    }
  }
  return { config, entries, pending, views };
}

export type OneTorrent = { config: FleetConfig; entry: TorrentEntry; pending?: undefined } | { config: FleetConfig; entry?: undefined; pending: PendingTorrentRecord; view: QbtTorrent };

/** One torrent by hash, with its metadata or still awaiting it; 404 "Not Found" (qBittorrent's body) when unknown. */
export async function loadOne(app: QbtApp, hash: string): Promise<OneTorrent> {
  const [record, config] = await backendCall(() => Promise.all([app.ctx.backend.get(hash), app.ctx.backend.config()]));
  if (!record) throw new QbtError('not-found', 'Not Found');
  if (record.metainfo) return { config, entry: entryOf(app, record, config, app.ctx.now()) };
  return { config, pending: record, view: pendingView(record, config, app.ctx.backend.trackers(hash)) };
}

/** A record by hash, for the endpoints that need its metadata: 404 when unknown, 409 while its magnet awaits it (qBittorrent's answer for a torrent without metadata). */
export async function loadRecord(app: QbtApp, hash: string): Promise<ResolvedTorrentRecord> {
  const record = await backendCall(() => app.ctx.backend.get(hash));
  if (!record) throw new QbtError('not-found', 'Not Found');
  if (!record.metainfo) throw new QbtError('conflict', "Torrent's metadata has not yet downloaded");
  return record;
}

/**
 * Records for `hashes` (or every one for `all`), magnets awaiting their
 * metadata included, skipping unknown hashes as qBittorrent's
 * applyToTorrents does: one listing, not a look-up per hash.
 */
export async function loadRecords(app: QbtApp, hashes: string[] | 'all'): Promise<TorrentRecord[]> {
  if (hashes === 'all') return backendCall(() => app.ctx.backend.list());
  if (hashes.length === 0) return [];
  return backendCall(() => app.ctx.backend.list({ infoHashes: hashes }));
}

/** A category as torrents/categories and sync/maindata show it: its name and its folder, absolute. */
export function categoriesView(config: FleetConfig, dataDir: string): Record<string, { name: string; savePath: string }> {
  const out: Record<string, { name: string; savePath: string }> = {};
  for (const name of Object.keys(config.categories).sort()) out[name] = { name, savePath: resolve(dataDir, config.categories[name]!.savePath) };
  return out;
}

/** Every tag in use (tags live on torrents here) and the loose ones made with createTags, sorted. */
export function tagsView(records: Pick<TorrentRecord, 'settings'>[], looseTags: Iterable<string>): string[] {
  const tags = new Set<string>(looseTags);
  for (const r of records) for (const t of r.settings.tags) tags.add(t);
  return [...tags].sort();
}
