import type { WebApi, WebApiContext } from '../web-api.js';
import { text, WebRequestError, type WebRequest, type WebResponse } from '../web-request.js';
import * as actions from './qbt-actions.js';
import { addHandler } from './qbt-add.js';
import * as server from './qbt-app.js';
import { checkAccess, isCrossSite, login, logout, sessionCookie, type Access } from './qbt-auth.js';
import * as lists from './qbt-categories-tags.js';
import type { QbtApp, QbtCall, QbtHandler } from './qbt-context.js';
import { asQbtError, QbtError, unsupported } from './qbt-error.js';
import * as queries from './qbt-queries.js';
import { TorrentPeersStore } from './qbt-peers.js';
import { MaindataStore } from './qbt-sync.js';

/**
 * The qBittorrent WebAPI v2 under /api/v2/, as qBittorrent 5.1 serves it
 * (see qbt-app.ts for the version), over the ControlBackend: routing,
 * the login gate and the HTTP side of errors. Each endpoint's work is in
 * the qbt-*.ts file named for it.
 *
 * Order of checks, as webapplication.cpp has it: a cross-site browser
 * request is 401; without a session (or API key) only auth/login is
 * served, everything else 403 "Forbidden", known endpoint or not; then an
 * unknown endpoint is 404, a wrong method 405 (POST for every action).
 */

interface Route {
  handler: QbtHandler;
  /** qBittorrent's m_allowedMethod: actions that change something take POST only; the rest GET or POST. */
  post?: true;
}

const get = (handler: QbtHandler): Route => ({ handler });
const post = (handler: QbtHandler): Route => ({ handler, post: true });

const ROUTES: Record<string, Route> = {
  'app/version': get(server.version),
  'app/webapiVersion': get(server.webapiVersion),
  'app/buildInfo': get(server.buildInfo),
  'app/preferences': get(server.preferences),
  'app/setPreferences': post(server.setPreferences),
  'app/defaultSavePath': get(server.defaultSavePath),
  'app/shutdown': post(unsupported('seedbox is not stopped through the web API: stop its processes instead')),

  'transfer/info': get(server.transferInfoHandler),
  'transfer/speedLimitsMode': get(server.speedLimitsMode),
  'transfer/toggleSpeedLimitsMode': post(server.toggleSpeedLimitsMode),
  'transfer/setSpeedLimitsMode': post(server.setSpeedLimitsMode),
  'transfer/downloadLimit': get(server.downloadLimit),
  'transfer/uploadLimit': get(server.uploadLimit),
  'transfer/setDownloadLimit': post(server.setDownloadLimit),
  'transfer/setUploadLimit': post(server.setUploadLimit),
  'transfer/banPeers': post(unsupported('peers are each worker’s own; the fleet keeps no list of banned addresses')),

  'sync/maindata': get(server.maindata),
  'sync/torrentPeers': get(server.torrentPeers),

  'torrents/info': get(queries.info),
  'torrents/count': get(queries.count),
  'torrents/properties': get(queries.properties),
  'torrents/files': get(queries.files),
  'torrents/trackers': get(queries.trackers),
  'torrents/webseeds': get(queries.webseeds),
  'torrents/pieceStates': get(queries.pieceStatesHandler),
  'torrents/pieceHashes': get(queries.pieceHashesHandler),
  'torrents/export': get(queries.exportTorrent),
  'torrents/downloadLimit': get(queries.downloadLimit),
  'torrents/uploadLimit': get(queries.uploadLimit),

  'torrents/add': post(addHandler),
  'torrents/delete': post(actions.remove),
  'torrents/start': post(actions.start),
  'torrents/stop': post(actions.stop),
  // 4.x names, gone in 5.0; kept because clients written for 4.x still call them.
  'torrents/resume': post(actions.start),
  'torrents/pause': post(actions.stop),
  'torrents/recheck': post(actions.recheck),
  'torrents/setForceStart': post(actions.setForceStart),
  'torrents/setCategory': post(actions.setCategory),
  'torrents/addTags': post(actions.addTags),
  'torrents/removeTags': post(actions.removeTags),
  'torrents/setTags': post(actions.setTags),
  'torrents/setShareLimits': post(actions.setShareLimits),
  'torrents/setDownloadLimit': post(actions.setDownloadLimit),
  'torrents/setUploadLimit': post(actions.setUploadLimit),
  'torrents/toggleSequentialDownload': post(actions.toggleSequentialDownload),
  'torrents/toggleFirstLastPiecePrio': post(actions.toggleFirstLastPiecePrio),
  'torrents/topPrio': post(actions.topPrio),
  'torrents/bottomPrio': post(actions.bottomPrio),
  'torrents/increasePrio': post(actions.increasePrio),
  'torrents/decreasePrio': post(actions.decreasePrio),
  'torrents/filePrio': post(actions.filePrio),
  'torrents/setLocation': post(actions.setLocation),
  'torrents/setSavePath': post(actions.setSavePath),
  'torrents/setDownloadPath': post(actions.setDownloadPath),
  'torrents/setAutoManagement': post(actions.setAutoManagement),
  'torrents/setSuperSeeding': post(actions.setSuperSeeding),
  'torrents/addPeers': post(actions.addPeers),
  'torrents/reannounce': post(actions.reannounce),
  'torrents/rename': post(unsupported('a torrent keeps the name its metainfo gives')),
  'torrents/renameFile': post(unsupported('files keep the paths their metainfo gives')),
  'torrents/renameFolder': post(unsupported('folders keep the paths their metainfo gives')),
  'torrents/addTrackers': post(unsupported('a torrent’s trackers are those of its metainfo and cannot be edited')),
  'torrents/editTracker': post(unsupported('a torrent’s trackers are those of its metainfo and cannot be edited')),
  'torrents/removeTrackers': post(unsupported('a torrent’s trackers are those of its metainfo and cannot be edited')),
  'torrents/addWebSeeds': post(unsupported('a torrent’s web seeds are those of its metainfo and cannot be edited')),
  'torrents/editWebSeed': post(unsupported('a torrent’s web seeds are those of its metainfo and cannot be edited')),
  'torrents/removeWebSeeds': post(unsupported('a torrent’s web seeds are those of its metainfo and cannot be edited')),

  'torrents/categories': get(lists.categories),
  'torrents/createCategory': post(lists.createCategory),
  'torrents/editCategory': post(lists.editCategory),
  'torrents/removeCategories': post(lists.removeCategories),
  'torrents/tags': get(lists.tags),
  'torrents/createTags': post(lists.createTags),
  'torrents/deleteTags': post(lists.deleteTags),
};

const PREFIX = '/api/v2/';
/** qBittorrent's m_apiPathPattern. */
const API_PATH = /^\/api\/v2\/([A-Za-z_][A-Za-z_0-9]*)\/([A-Za-z_][A-Za-z_0-9]*)$/;

export interface QbittorrentApiOptions {
  maindata?: MaindataStore;
}

export function createQbittorrentApi(ctx: WebApiContext, o: QbittorrentApiOptions = {}): WebApi {
  const app: QbtApp = { ctx, maindata: o.maindata ?? new MaindataStore(), peers: new TorrentPeersStore(), looseTags: new Set() };
  return { prefix: PREFIX, handle: (req) => handle(app, req) };
}

async function handle(app: QbtApp, req: WebRequest): Promise<WebResponse> {
  let access: Access = { allowed: false };
  let answer: WebResponse;
  try {
    answer = await route(app, req, (a) => (access = a));
  } catch (e) {
    answer = failure(app, req, e);
  }
  if (access.renewed !== undefined && answer.headers?.['Set-Cookie'] === undefined) {
    answer = { ...answer, headers: { ...answer.headers, 'Set-Cookie': sessionCookie(access.renewed) } };
  }
  return answer;
}

async function route(app: QbtApp, req: WebRequest, seen: (a: Access) => void): Promise<WebResponse> {
  const m = API_PATH.exec(req.path);
  if (!m) return text(404, 'Not Found');
  if (isCrossSite(req.headers)) return text(401, 'Unauthorized');
  const endpoint = `${m[1]}/${m[2]}`;
  const access = checkAccess(app.ctx.auth, req);
  seen(access);
  if (!access.allowed && endpoint !== 'auth/login') return text(403, 'Forbidden');
  const r: Route | undefined = endpoint === 'auth/login' ? post(async (call) => login(call, access)) : endpoint === 'auth/logout' ? post(async (call) => logout(call, access)) : ROUTES[endpoint];
  if (!r) return text(404, 'Not Found');
  if (r.post ? req.method !== 'POST' : req.method !== 'GET' && req.method !== 'POST') return text(405, 'Method Not Allowed');
  const call: QbtCall = { app, req, params: await req.form() };
  return r.handler(call);
}

/** Every refusal as an answer: the WebAPI's own with their status, backend and settings ones mapped, anything else 500 and logged. */
function failure(app: QbtApp, req: WebRequest, e: unknown): WebResponse {
  try {
    asQbtError(e);
  } catch (mapped) {
    if (mapped instanceof WebRequestError || mapped instanceof QbtError) return text(mapped.status, mapped.message);
    app.ctx.log.warn('qBittorrent API request failed', { path: req.path, error: mapped });
    return text(500, mapped instanceof Error ? mapped.message : String(mapped));
  }
  return text(500, 'Internal Server Error');
}

