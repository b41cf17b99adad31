import { applyTorrentPatch, defaultTorrentSettings, type FleetConfig, type TorrentSettingsPatch } from '@seedbox/cluster';
import { isMagnetUri, MagnetError, MetainfoError, parseMagnet, parseMetainfo } from '@seedbox/protocol';
import type { AddOptions } from '../../control/backend.js';
import { text, WebRequestError, type FormFields, type WebResponse } from '../web-request.js';
import type { QbtApp, QbtCall } from './qbt-context.js';
import { asQbtError, backendCall, QbtError } from './qbt-error.js';
import { optionalBool, optionalInt, optionalNumber, speedLimit } from './qbt-params.js';

/**
 * torrents/add: .torrent files (any multipart file field: Sonarr sends
 * `torrents`, other clients `file` or `torrents[]`, and qBittorrent takes
 * every uploaded file) and `urls`, one per line: magnet links and http(s)
 * links to .torrent files.
 *
 * Answers "Ok." when at least one torrent was added, else "Fails." (200),
 * as qBittorrent 5.1 does; a torrent already there is not "added". A file
 * that is not a torrent is 415, as in qBittorrent, but checked before
 * anything is added. Two differences, both towards saying what happened:
 * an http link is fetched before answering (qBittorrent answers "Ok." and
 * fetches later), so a dead link counts as a failure; and the options are
 * checked against the settings rules first, a broken one a 400 naming it.
 *
 * A magnet is registered at once and its metadata fetched by the fleet:
 * it is listed as metaDL (on every replica) until that is in.
 */

/** The add options as the backend takes them, and the few add-time asks that are not settings. */
export interface AddRequest {
  options: AddOptions;
  /** qBittorrent's `addToTopOfQueue`. */
  toTop: boolean;
  /** Options sent that this backend does not have, for the log. */
  ignored: string[];
}

/** Options qBittorrent takes that change nothing here, and why (for the log line). */
const IGNORED_OPTIONS: Record<string, string> = {
  skip_checking: 'the data is checked anyway',
  rename: 'a torrent keeps its metainfo name',
  autoTMM: 'torrents go to the folder asked for, else their category folder',
  contentLayout: 'files are laid out as the metainfo has them',
  stopCondition: 'a torrent runs until stopped',
  downloadPath: 'there is no separate folder for incomplete data',
  useDownloadPath: 'there is no separate folder for incomplete data',
  shareLimitAction: 'the action at a share limit is the fleet-wide one',
};

/** The options of an add as the backend takes them. Pure. */
export function addRequest(p: FormFields): AddRequest {
  const settings: TorrentSettingsPatch = {};
  const category = p.text('category') ?? '';
  if (category !== '') settings.category = category;
  const tags = (p.text('tags') ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (tags.length > 0) settings.tags = tags;
  const dl = optionalInt(p, 'dlLimit');
  const up = optionalInt(p, 'upLimit');
  if (dl !== undefined || up !== undefined) {
    settings.limits = {};
    if (dl !== undefined) settings.limits.download = speedLimit('dlLimit', dl);
    if (up !== undefined) settings.limits.upload = speedLimit('upLimit', up);
  }
  const ratio = optionalNumber(p, 'ratioLimit');
  const seeding = optionalInt(p, 'seedingTimeLimit');
  const inactive = optionalInt(p, 'inactiveSeedingTimeLimit');
  if (ratio !== undefined || seeding !== undefined || inactive !== undefined) {
    settings.share = {};
    if (ratio !== undefined) settings.share.ratio = ratio;
    if (seeding !== undefined) settings.share.seedingMinutes = seeding;
    if (inactive !== undefined) settings.share.inactiveMinutes = inactive;
  }
  if (optionalBool(p, 'sequentialDownload')) settings.sequential = true;
  if (optionalBool(p, 'firstLastPiecePrio')) settings.firstLastPiece = true;
  if (optionalBool(p, 'forced')) settings.forceStart = true;
  // `stopped` since WebAPI 2.11 (qBittorrent 5); `paused` before.
  const paused = optionalBool(p, 'stopped') ?? optionalBool(p, 'paused') ?? false;
  const savePath = p.text('savepath')?.trim();
  const ignored = Object.keys(IGNORED_OPTIONS).filter((k) => {
    const v = p.text(k)?.trim();
    if (v === undefined || v === '' || v.toLowerCase() === 'false') return false;
    return !(k === 'contentLayout' && v === 'Original') && !(k === 'shareLimitAction' && v === 'Default');
  });
  return {
    options: { paused, ...(savePath ? { savePath } : {}), ...(Object.keys(settings).length > 0 ? { settings } : {}) },
    toTop: optionalBool(p, 'addToTopOfQueue') ?? false,
    ignored,
  };
}

interface TorrentUpload {
  filename: string;
  data: Uint8Array;
}

/** Every uploaded file, whatever its field; each must be a torrent, else 415 before anything is added. */
function uploads(p: FormFields): TorrentUpload[] {
  const files = p.names().flatMap((n) => p.files(n));
  for (const f of files) {
    try {
      parseMetainfo(f.data);
    } catch (e) {
      if (e instanceof MetainfoError) throw new QbtError('bad-data', `Error: '${f.filename}' is not a valid torrent file: ${e.message}`, { cause: e });
      throw e;
    }
  }
  return files;
}

/** Makes the category if it is missing, as qBittorrent does on add (its folder: the data folder, like qBittorrent's default save path). */
async function ensureCategory(app: QbtApp, config: FleetConfig, category: string | undefined): Promise<void> {
  if (category === undefined || category in config.categories) return;
  try {
    await app.ctx.backend.putCategory(category, '', 'create');
  } catch (e) {
    // Another request made it meanwhile: fine.
    const now = await backendCall(() => app.ctx.backend.config());
    if (!(category in now.categories)) asQbtError(e);
  }
}

/** Registers a magnet (its metadata fetched by the fleet); true when it is new. */
async function addMagnet(app: QbtApp, uri: string, options: AddOptions, added: string[]): Promise<boolean> {
  parseMagnet(uri);
  const { record, created } = await backendCall(() => app.ctx.backend.addMagnet(uri, options));
  if (created) added.push(record.infoHashHex);
  return created;
}

async function addUrl(app: QbtApp, url: string, options: AddOptions, added: string[]): Promise<boolean> {
  if (isMagnetUri(url)) return addMagnet(app, url, options, added);
  const fetched = await app.ctx.fetchTorrent(url);
  if (fetched.kind === 'magnet') return addMagnet(app, fetched.uri, options, added);
  const { record, created } = await backendCall(() => app.ctx.backend.add(fetched.bytes, options));
  if (created) added.push(record.infoHashHex);
  return created;
}

export async function addHandler({ app, params }: QbtCall): Promise<WebResponse> {
  const request = addRequest(params);
  const files = uploads(params);
  const urls = (params.text('urls') ?? '')
    .split('\n')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  if (request.ignored.length > 0) {
    app.ctx.log.info('qBittorrent API: add options ignored', { options: request.ignored.map((k) => `${k}: ${IGNORED_OPTIONS[k]}`) });
  }
  // The settings rules first, the category as if made: a broken rule is the whole request's 400, before anything changes.
  const config = await backendCall(() => app.ctx.backend.config());
  const category = request.options.settings?.category;
  const withCategory = category === undefined || category in config.categories ? config : { ...config, categories: { ...config.categories, [category]: { savePath: '' } } };
  try {
    applyTorrentPatch(defaultTorrentSettings(app.ctx.now()), request.options.settings ?? {}, { config: withCategory, fileCount: 0 });
  } catch (e) {
    asQbtError(e);
  }
  await ensureCategory(app, config, category);

  let ok = 0;
  const added: string[] = [];
  for (const url of urls) {
    try {
      if (await addUrl(app, url, request.options, added)) ok++;
    } catch (e) {
      // A bad link (unreadable, unreachable, not a torrent) fails alone, as in qBittorrent; the others are still added.
      const bad = e instanceof MagnetError || (e instanceof WebRequestError && e.status === 400) || (e instanceof QbtError && (e.kind === 'bad-params' || e.kind === 'bad-data'));
      if (!bad) throw e;
      app.ctx.log.warn('qBittorrent API: torrent URL not added', { url: url.slice(0, 200), error: e });
    }
  }
  for (const f of files) {
    const { record, created } = await backendCall(() => app.ctx.backend.add(f.data, request.options));
    if (created) {
      added.push(record.infoHashHex);
      ok++;
    }
  }
  if (request.toTop && added.length > 0 && config.queue.enabled) await backendCall(() => app.ctx.backend.moveInQueue(added, 'top'));
  return text(200, ok > 0 ? 'Ok.' : 'Fails.');
}
