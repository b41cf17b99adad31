import { effectiveSeedReplicas, type EncryptionMode, type FleetConfig, type FleetConfigPatch, type QueueConfig, type ShareAction } from '@seedbox/cluster';
import { QbtError } from './qbt-error.js';
import { speedLimit } from './qbt-params.js';

/**
 * app/preferences and app/setPreferences over the fleet's config, in
 * qBittorrent's keys and units (src/webui/api/appcontroller.cpp): speed
 * limits in bytes per second, the slow-torrent thresholds in KiB/s, the
 * inactivity timer in seconds, share times in minutes, and -1 for "no
 * limit". Pure.
 *
 * Only settings the fleet really has are listed with its values; the few
 * switches listed for what the engine lacks (LSD, the scheduler, an
 * incomplete-downloads folder) say so with `false`, which is the truth,
 * and PeX, which the engine always does for public torrents, with `true`.
 * `dht` is the fleet's switch (the tracker-clients looking up and
 * announcing public torrents), and `encryption` its policy.
 * Two keys are seedbox's own (qBittorrent has one process, not a fleet):
 * `seedbox_seed_replicas` and `seedbox_private_seed_replicas`, how many
 * workers seed each complete public and private torrent (0: every one).
 * Sonarr reads save_path, max_ratio_enabled, max_ratio,
 * max_seeding_time_enabled, max_seeding_time, max_ratio_act,
 * queueing_enabled and dht.
 */

/** qBittorrent's ShareLimitAction: Stop 0, Remove 1, EnableSuperSeeding 2, RemoveWithContent 3. */
const SHARE_ACTION_TO_QBT: Record<ShareAction, number> = { pause: 0, remove: 1, 'remove-with-data': 3 };

/** qBittorrent's encryption setting: 0 "Allow encryption" (prefer), 1 "Require encryption", 2 "Disable encryption". */
const ENCRYPTION_TO_QBT: Record<EncryptionMode, number> = { prefer: 0, require: 1, disable: 2 };

/** How often a UI should poll, in ms: the fleet publishes figures once a second, so polling faster shows nothing new. */
export const REFRESH_INTERVAL_MS = 1000;

export interface PreferencesContext {
  dataDir: string;
  /** The encryption policy in force: the config's, else this process's SEEDBOX_ENCRYPTION. */
  encryption: EncryptionMode;
  /** Whether public torrents go on the DHT: the config's switch, else this process's SEEDBOX_DHT. */
  dht: boolean;
  /** Whether a login is asked (false: credentials are not set and the API is on loopback). */
  authRequired: boolean;
}

export function preferencesView(c: FleetConfig, o: PreferencesContext): Record<string, string | number | boolean> {
  return {
    save_path: o.dataDir,
    temp_path_enabled: false,
    temp_path: '',
    auto_tmm_enabled: false,
    add_stopped_enabled: false,
    torrent_content_layout: 'Original',
    dl_limit: c.speed.download,
    up_limit: c.speed.upload,
    alt_dl_limit: c.altSpeed.download,
    alt_up_limit: c.altSpeed.upload,
    scheduler_enabled: false,
    dht: o.dht,
    pex: true,
    lsd: false,
    encryption: ENCRYPTION_TO_QBT[o.encryption],
    queueing_enabled: c.queue.enabled,
    max_active_downloads: c.queue.maxActiveDownloads,
    max_active_uploads: c.queue.maxActiveSeeds,
    max_active_torrents: c.queue.maxActiveTorrents,
    dont_count_slow_torrents: c.queue.ignoreSlow,
    slow_torrent_dl_rate_threshold: Math.round(c.queue.slowDownloadRate / 1024),
    slow_torrent_ul_rate_threshold: Math.round(c.queue.slowUploadRate / 1024),
    slow_torrent_inactive_timer: c.queue.slowSeconds,
    max_ratio_enabled: c.share.ratio >= 0,
    max_ratio: c.share.ratio,
    max_seeding_time_enabled: c.share.seedingMinutes >= 0,
    max_seeding_time: c.share.seedingMinutes,
    max_inactive_seeding_time_enabled: c.share.inactiveMinutes >= 0,
    max_inactive_seeding_time: c.share.inactiveMinutes,
    max_ratio_act: SHARE_ACTION_TO_QBT[c.shareAction],
    seedbox_seed_replicas: effectiveSeedReplicas(c).public,
    seedbox_private_seed_replicas: effectiveSeedReplicas(c).private,
    bypass_local_auth: !o.authRequired,
    refresh_interval: REFRESH_INTERVAL_MS,
  };
}

function num(key: string, v: unknown): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new QbtError('bad-params', `${key} must be a number (got ${JSON.stringify(v)})`);
  return n;
}

function int(key: string, v: unknown): number {
  const n = num(key, v);
  if (!Number.isSafeInteger(n)) throw new QbtError('bad-params', `${key} must be a whole number (got ${n})`);
  return n;
}

function bool(key: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new QbtError('bad-params', `${key} must be true or false (got ${JSON.stringify(v)})`);
}

/**
 * A share limit from its `_enabled` switch and its value. Either may come
 * alone (WebAPI 2.11.6 and later take the value alone too); switching a
 * limit on without a value keeps the one set, and is refused when there
 * is none, where qBittorrent would read the missing value as 0.
 */
function shareLimit(json: Record<string, unknown>, enabledKey: string, valueKey: string, current: number, isInt: boolean): number | undefined {
  const read = (v: unknown): number => (isInt ? int(valueKey, v) : num(valueKey, v));
  if (enabledKey in json) {
    if (!bool(enabledKey, json[enabledKey])) return -1;
    if (valueKey in json) return read(json[valueKey]);
    if (current >= 0) return current;
    throw new QbtError('bad-params', `${enabledKey} is true but no ${valueKey} is set: send ${valueKey} with it`);
  }
  return valueKey in json ? read(json[valueKey]) : undefined;
}

const UNSUPPORTED_SWITCHES = ['lsd', 'scheduler_enabled', 'temp_path_enabled', 'auto_tmm_enabled', 'add_stopped_enabled'] as const;

export interface PreferencesChange {
  patch: FleetConfigPatch;
  /** Keys asked to change what this backend does not have (switching on LSD, off PeX, a new save_path...): ignored, for the caller to log. */
  ignored: string[];
}

/**
 * The `json` form field of app/setPreferences as a config patch. Keys
 * qBittorrent has and the fleet does not are ignored, as qBittorrent
 * ignores keys it does not know; a known key with a value of the wrong
 * kind is a 400 naming it. The value rules (no negative limit...) are
 * applyConfigPatch's, run by the backend.
 */
export function preferencesPatch(text: string, current: FleetConfig, dataDir: string): PreferencesChange {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new QbtError('bad-params', `json is not JSON: ${(e as Error).message}`, { cause: e });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new QbtError('bad-params', 'json must be a JSON object of preferences');
  const json = parsed as Record<string, unknown>;
  const patch: FleetConfigPatch = {};
  const ignored: string[] = [];

  const speedOf = (key: string): number | undefined => (key in json ? speedLimit(key, int(key, json[key])) : undefined);
  const pair = (dKey: string, uKey: string) => {
    const download = speedOf(dKey);
    const upload = speedOf(uKey);
    return download === undefined && upload === undefined ? undefined : { ...(download !== undefined && { download }), ...(upload !== undefined && { upload }) };
  };
  const speed = pair('dl_limit', 'up_limit');
  if (speed) patch.speed = speed;
  const altSpeed = pair('alt_dl_limit', 'alt_up_limit');
  if (altSpeed) patch.altSpeed = altSpeed;

  const queue: Partial<QueueConfig> = {};
  if ('queueing_enabled' in json) queue.enabled = bool('queueing_enabled', json.queueing_enabled);
  if ('max_active_downloads' in json) queue.maxActiveDownloads = int('max_active_downloads', json.max_active_downloads);
  if ('max_active_uploads' in json) queue.maxActiveSeeds = int('max_active_uploads', json.max_active_uploads);
  if ('max_active_torrents' in json) queue.maxActiveTorrents = int('max_active_torrents', json.max_active_torrents);
  if ('dont_count_slow_torrents' in json) queue.ignoreSlow = bool('dont_count_slow_torrents', json.dont_count_slow_torrents);
  if ('slow_torrent_dl_rate_threshold' in json) queue.slowDownloadRate = int('slow_torrent_dl_rate_threshold', json.slow_torrent_dl_rate_threshold) * 1024;
  if ('slow_torrent_ul_rate_threshold' in json) queue.slowUploadRate = int('slow_torrent_ul_rate_threshold', json.slow_torrent_ul_rate_threshold) * 1024;
  if ('slow_torrent_inactive_timer' in json) queue.slowSeconds = int('slow_torrent_inactive_timer', json.slow_torrent_inactive_timer);
  if (Object.keys(queue).length > 0) patch.queue = queue;

  const ratio = shareLimit(json, 'max_ratio_enabled', 'max_ratio', current.share.ratio, false);
  const seedingMinutes = shareLimit(json, 'max_seeding_time_enabled', 'max_seeding_time', current.share.seedingMinutes, true);
  const inactiveMinutes = shareLimit(json, 'max_inactive_seeding_time_enabled', 'max_inactive_seeding_time', current.share.inactiveMinutes, true);
  const share = {
    ...(ratio !== undefined && { ratio }),
    ...(seedingMinutes !== undefined && { seedingMinutes }),
    ...(inactiveMinutes !== undefined && { inactiveMinutes }),
  };
  if (Object.keys(share).length > 0) patch.share = share;

  if ('max_ratio_act' in json) {
    const act = int('max_ratio_act', json.max_ratio_act);
    const action = (Object.entries(SHARE_ACTION_TO_QBT) as [ShareAction, number][]).find(([, n]) => n === act)?.[0];
    if (action === undefined) throw new QbtError('bad-params', `max_ratio_act must be 0 (stop), 1 (remove) or 3 (remove with content); ${act === 2 ? 'super seeding (2) is not supported' : `got ${act}`}`);
    patch.shareAction = action;
  }

  if ('encryption' in json) {
    const n = int('encryption', json.encryption);
    const mode = (Object.entries(ENCRYPTION_TO_QBT) as [EncryptionMode, number][]).find(([, v]) => v === n)?.[0];
    if (mode === undefined) throw new QbtError('bad-params', `encryption must be 0 (allow encryption), 1 (require encryption) or 2 (disable encryption) (got ${n})`);
    patch.encryption = mode;
  }
  if ('dht' in json) patch.dht = bool('dht', json.dht);
  if ('seedbox_seed_replicas' in json) patch.seedReplicas = int('seedbox_seed_replicas', json.seedbox_seed_replicas);
  if ('seedbox_private_seed_replicas' in json) patch.privateSeedReplicas = int('seedbox_private_seed_replicas', json.seedbox_private_seed_replicas);

  for (const key of UNSUPPORTED_SWITCHES) if (key in json && bool(key, json[key])) ignored.push(key);
  // Peer exchange is the engine's for every public torrent (never a private one's): there is no switch to turn it off.
  if ('pex' in json && !bool('pex', json.pex)) ignored.push('pex');
  if ('save_path' in json && json.save_path !== dataDir) ignored.push('save_path');
  return { patch, ignored };
}
