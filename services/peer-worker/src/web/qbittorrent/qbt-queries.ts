import { dhtInForce } from '../web-api.js';
import { json, text } from '../web-request.js';
import type { QbtHandler } from './qbt-context.js';
import { backendCall } from './qbt-error.js';
import { filesView, pieceHashes, pieceStates } from './qbt-files.js';
import { infoQuery, selectTorrents } from './qbt-filter.js';
import { normalizeHash, parseBool, requireText, singleHash } from './qbt-params.js';
import { piecesHave, propertiesView, webseedsView } from './qbt-properties.js';
import { metainfoTrackers, trackersView } from './qbt-trackers.js';
import { loadListing, loadOne, loadRecord } from './qbt-torrents.js';

/** The torrents/ endpoints that read: lists, one torrent's details, its files and pieces. */

export const info: QbtHandler = async ({ app, params }) => {
  const query = infoQuery(params);
  const { views, entries, pending } = await loadListing(app, query.hashes);
  const selected = selectTorrents(views, query);
  if (!parseBool(params.text('includeTrackers'))) return json(200, selected);
  const tiers = new Map<string, string[][]>([...entries.map((e) => [e.record.infoHashHex, e.record.metainfo.announce] as const), ...pending.map((p) => [p.infoHashHex, p.magnet.trackers.map((t) => [t])] as const)]);
  return json(
    200,
    selected.map((t) => ({ ...t, trackers: metainfoTrackers(tiers.get(t.hash) ?? [], app.ctx.backend.trackers(t.hash)) })),
  );
};

export const count: QbtHandler = async ({ app }) => text(200, String((await loadListing(app)).views.length));

export const properties: QbtHandler = async ({ app, params }) => {
  const one = await loadOne(app, singleHash(params));
  if (one.entry) {
    const { record, stats, bits, view } = one.entry;
    const have = piecesHave(record, stats, bits ?? app.ctx.backend.pieces(record.infoHashHex));
    return json(200, propertiesView(view, record.metainfo, stats, have));
  }
  return json(200, propertiesView(one.view, undefined, undefined, 0));
};

/** A magnet awaiting its metadata has no files yet: an empty list, as qBittorrent answers for a torrent without metadata. */
export const files: QbtHandler = async ({ app, params }) => {
  const one = await loadOne(app, singleHash(params));
  if (!one.entry) return json(200, []);
  return json(200, filesView(one.entry.record, one.entry.progress, params.text('indexes')));
};

/** A magnet awaiting its metadata lists its link's trackers: they are announced to meanwhile, so they may have answered. */
export const trackers: QbtHandler = async ({ app, params }) => {
  const one = await loadOne(app, singleHash(params));
  const on = { dht: dhtInForce(one.config, app.ctx) };
  if (one.entry) return json(200, trackersView(one.entry.record.metainfo, on, [], one.entry.trackers));
  return json(200, trackersView(undefined, on, one.pending.magnet.trackers, app.ctx.backend.trackers(one.pending.infoHashHex)));
};

export const webseeds: QbtHandler = async ({ app, params }) => {
  const one = await loadOne(app, singleHash(params));
  return json(200, one.entry ? webseedsView(one.entry.record.metainfo) : []);
};

export const pieceStatesHandler: QbtHandler = async ({ app, params }) => {
  const one = await loadOne(app, singleHash(params));
  if (!one.entry) return json(200, []);
  const bits = app.ctx.backend.pieces(one.entry.record.infoHashHex) ?? new Uint8Array(0);
  return json(200, pieceStates(one.entry.record.metainfo, bits));
};

export const pieceHashesHandler: QbtHandler = async ({ app, params }) => {
  const one = await loadOne(app, singleHash(params));
  return json(200, one.entry ? pieceHashes(one.entry.record.metainfo) : []);
};

/** The .torrent file as it was added. */
export const exportTorrent: QbtHandler = async ({ app, params }) => {
  const record = await loadRecord(app, singleHash(params));
  return {
    status: 200,
    headers: { 'Content-Type': 'application/x-bittorrent', 'Content-Disposition': `attachment; filename="${record.infoHashHex}.torrent"` },
    body: record.torrentFile,
  };
};

/** `{hash: limit}` for each id asked, -1 for one that is no torrent; 0 is "no limit", as qBittorrent stores it. */
function limits(which: 'download' | 'upload'): QbtHandler {
  return async ({ app, params }) => {
    const ids = requireText(params, 'hashes').split('|');
    const out: Record<string, number> = {};
    for (const id of ids) {
      const hash = normalizeHash(id);
      const record = hash === undefined ? undefined : await backendCall(() => app.ctx.backend.get(hash));
      out[id] = record ? record.settings.limits[which] : -1;
    }
    return json(200, out);
  };
}

export const downloadLimit = limits('download');
export const uploadLimit = limits('upload');
