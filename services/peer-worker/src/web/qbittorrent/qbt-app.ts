import { effectiveSpeed } from '@seedbox/cluster';
import { dhtInForce, encryptionInForce } from '../web-api.js';
import { json, text } from '../web-request.js';
import type { QbtApp, QbtHandler } from './qbt-context.js';
import { backendCall } from './qbt-error.js';
import { requireInt, requireText, speedLimit } from './qbt-params.js';
import { preferencesPatch, preferencesView } from './qbt-preferences.js';
import { singleHash } from './qbt-params.js';
import { qbtPeers } from './qbt-peers.js';
import { maindataOf } from './qbt-sync.js';
import { categoriesView, loadListing, loadOne, tagsView } from './qbt-torrents.js';
import { dhtNodesOf, serverState, transferInfo, type TorrentFigures } from './qbt-transfer.js';

/**
 * The server-wide endpoints: app/ (versions, preferences), transfer/
 * (totals and global speed limits), and sync/: maindata and torrentPeers.
 */

/**
 * The qBittorrent this API behaves as: 5.1.4, the last 5.1 release, with
 * WebAPI 2.11.4. That WebAPI has 5.x's stopped/running names (stoppedUP,
 * torrents/stop, the `stopped` add option) that current clients expect,
 * while keeping the answers they all handle: "Fails." with 200 for a bad
 * login and "Ok."/"Fails." for torrents/add. qBittorrent 5.2 (WebAPI 2.15)
 * changed those (401, a JSON add result, 204s), which this does not do.
 */
export const QBT_VERSION = 'v5.1.4';
export const WEBAPI_VERSION = '2.11.4';

export const version: QbtHandler = async () => text(200, QBT_VERSION);
export const webapiVersion: QbtHandler = async () => text(200, WEBAPI_VERSION);

/** There is no Qt, libtorrent or Boost in this engine: those are empty; OpenSSL and zlib are Node's own. */
export const buildInfo: QbtHandler = async () =>
  json(200, {
    qt: '',
    libtorrent: '',
    boost: '',
    openssl: process.versions.openssl ?? '',
    zlib: process.versions.zlib ?? '',
    bitness: /64/.test(process.arch) ? 64 : 32,
    platform: process.platform === 'darwin' ? 'macos' : process.platform === 'win32' ? 'windows' : process.platform === 'linux' ? 'linux' : 'unknown',
  });

export const preferences: QbtHandler = async ({ app }) => {
  const config = await backendCall(() => app.ctx.backend.config());
  return json(200, preferencesView(config, { dataDir: app.ctx.dataDir, encryption: encryptionInForce(config, app.ctx), dht: dhtInForce(config, app.ctx), authRequired: app.ctx.auth.required }));
};

export const setPreferences: QbtHandler = async ({ app, params }) => {
  const config = await backendCall(() => app.ctx.backend.config());
  const { patch, ignored } = preferencesPatch(requireText(params, 'json'), config, app.ctx.dataDir);
  if (ignored.length > 0) app.ctx.log.info('qBittorrent API: preferences this backend does not have were ignored', { keys: ignored });
  if (Object.keys(patch).length > 0) await backendCall(() => app.ctx.backend.updateConfig(patch));
  return text(200, '');
};

export const defaultSavePath: QbtHandler = async ({ app }) => text(200, app.ctx.dataDir);

async function figures(app: QbtApp): Promise<TorrentFigures[]> {
  const records = await backendCall(() => app.ctx.backend.list());
  return records.map((record) => ({ record, stats: app.ctx.backend.stats(record.infoHashHex) }));
}

/** DHT nodes in the routing table, as the fleet's heartbeats report it (0 without a fleet view). */
function dhtNodes(app: QbtApp): number {
  return dhtNodesOf(app.ctx.fleet?.members(app.ctx.now()) ?? []);
}

export const transferInfoHandler: QbtHandler = async ({ app }) => {
  const [torrents, config] = await Promise.all([figures(app), backendCall(() => app.ctx.backend.config())]);
  return json(200, transferInfo(torrents, config, dhtNodes(app)));
};

export const speedLimitsMode: QbtHandler = async ({ app }) => text(200, (await backendCall(() => app.ctx.backend.config())).altSpeedEnabled ? '1' : '0');

export const toggleSpeedLimitsMode: QbtHandler = async ({ app }) => {
  const config = await backendCall(() => app.ctx.backend.config());
  await backendCall(() => app.ctx.backend.updateConfig({ altSpeedEnabled: !config.altSpeedEnabled }));
  return text(200, '');
};

/** Any mode but 0 is the alternative limits, as in qBittorrent. */
export const setSpeedLimitsMode: QbtHandler = async ({ app, params }) => {
  const mode = requireInt(params, 'mode');
  await backendCall(() => app.ctx.backend.updateConfig({ altSpeedEnabled: mode !== 0 }));
  return text(200, '');
};

/** The limit in force (the alternative one while it is on), in bytes per second; 0 for none. */
function globalLimit(which: 'download' | 'upload'): QbtHandler {
  return async ({ app }) => text(200, String(effectiveSpeed(await backendCall(() => app.ctx.backend.config()))[which]));
}

/** Sets the limit of the mode in force, as qBittorrent's setDownloadSpeedLimit does. */
function setGlobalLimit(which: 'download' | 'upload'): QbtHandler {
  return async ({ app, params }) => {
    const limit = speedLimit('limit', requireInt(params, 'limit'));
    const config = await backendCall(() => app.ctx.backend.config());
    await backendCall(() => app.ctx.backend.updateConfig(config.altSpeedEnabled ? { altSpeed: { [which]: limit } } : { speed: { [which]: limit } }));
    return text(200, '');
  };
}

export const downloadLimit = globalLimit('download');
export const uploadLimit = globalLimit('upload');
export const setDownloadLimit = setGlobalLimit('download');
export const setUploadLimit = setGlobalLimit('upload');

async function freeSpace(app: QbtApp): Promise<number> {
  try {
    return await app.ctx.freeSpace(app.ctx.dataDir);
  } catch (e) {
    app.ctx.log.debug('qBittorrent API: free space unknown', { error: e });
    // qBittorrent's FreeDiskSpaceChecker answers -1 when it cannot tell.
    return -1;
  }
}

/** `rid`: the last answer's id; 0, absent or unreadable asks for a full update (qBittorrent reads it with toInt). */
function ridOf(params: Parameters<QbtHandler>[0]['params']): number {
  const raw = params.text('rid')?.trim() ?? '';
  return /^\d{1,10}$/.test(raw) ? Number(raw) : 0;
}

export const maindata: QbtHandler = async ({ app, params }) => {
  const rid = ridOf(params);
  const [listing, space] = await Promise.all([loadListing(app), freeSpace(app)]);
  const trackerLists = new Map<string, string[]>();
  for (const e of listing.entries) trackerLists.set(e.record.infoHashHex, e.record.metainfo.announce.flat());
  for (const p of listing.pending) trackerLists.set(p.infoHashHex, p.magnet.trackers);
  const records = [...listing.entries.map((e) => e.record), ...listing.pending];
  const state = serverState(
    listing.entries.map((e) => ({ record: e.record, stats: e.stats })),
    listing.config,
    space,
    dhtNodes(app),
  );
  const data = maindataOf(listing.views, trackerLists, categoriesView(listing.config, app.ctx.dataDir), tagsView(records, app.looseTags), state);
  return json(200, app.maindata.answer(rid, data));
};

/**
 * A torrent's connected peers, from every worker running it. A magnet
 * awaiting its metadata has none to show yet (its fetch's peers are not
 * the torrent's); an unknown hash is 404.
 */
export const torrentPeers: QbtHandler = async ({ app, params }) => {
  const hash = singleHash(params);
  const one = await loadOne(app, hash);
  const list = one.entry ? ((await backendCall(() => app.ctx.backend.peers(hash))) ?? []) : [];
  return json(200, app.peers.answer(ridOf(params), hash, qbtPeers(list)));
};
