import { isAbsolute, relative, resolve, sep } from 'node:path';
import {
  ENCRYPTION_MODES,
  FILE_PRIORITIES,
  MAX_SEED_REPLICAS,
  NO_LIMIT,
  SHARE_ACTIONS,
  USE_GLOBAL,
  type EncryptionMode,
  type FilePriority,
  type FleetConfig,
  type QueueConfig,
  type ShareAction,
  type ShareLimits,
  type SpeedLimits,
  type TorrentSettings,
} from './torrent-settings.js';

/**
 * The rules a setting must keep, checked where it comes in (the gRPC API,
 * the qBittorrent and Transmission APIs, the CLI), and the changes each
 * API asks for applied to what is stored. A value that breaks a rule is a
 * SettingsError naming the rule and the value; nothing is stored.
 */

export type SettingsRule =
  | 'speed-limit'
  | 'share-limit'
  | 'share-action'
  | 'queue-limit'
  | 'unknown-category'
  | 'category-name'
  | 'category-exists'
  | 'tag'
  | 'save-path'
  | 'file-index'
  | 'file-priority'
  | 'encryption'
  | 'seed-replicas';

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
  constructor(
    readonly rule: SettingsRule,
    message: string,
  ) {
    super(message);
  }
}

/** Changes to a torrent's settings; what is absent stays. */
export interface TorrentSettingsPatch {
  /** '' for none. */
  category?: string | undefined;
  /** Replaces the tags. */
  tags?: string[] | undefined;
  addTags?: string[] | undefined;
  removeTags?: string[] | undefined;
  limits?: Partial<SpeedLimits> | undefined;
  share?: Partial<ShareLimits> | undefined;
  forceStart?: boolean | undefined;
  sequential?: boolean | undefined;
  firstLastPiece?: boolean | undefined;
  /** Priorities for some files, by index. */
  files?: { indices: number[]; priority: FilePriority }[] | undefined;
}

export interface PatchContext {
  config: FleetConfig;
  fileCount: number;
}

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20) return true;
  return false;
}

export function checkSpeed(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new SettingsError('speed-limit', `${name} must be a whole number of bytes per second, 0 for none (got ${v})`);
  return v;
}

export function checkShareLimit(name: string, v: number, allowGlobal: boolean): number {
  const ok = Number.isFinite(v) && (v >= 0 || v === NO_LIMIT || (allowGlobal && v === USE_GLOBAL));
  if (!ok) throw new SettingsError('share-limit', `${name} must be ${NO_LIMIT} (no limit)${allowGlobal ? `, ${USE_GLOBAL} (the global limit)` : ''} or 0 and above (got ${v})`);
  return v;
}

export function checkTag(tag: string): string {
  const t = tag.trim();
  if (t === '' || t.includes(',') || hasControlCharacter(t)) throw new SettingsError('tag', `a tag must be non-empty text without commas or control characters (got ${JSON.stringify(tag)})`);
  return t;
}

export function checkCategoryName(name: string): string {
  if (name === '' || name.length > 255 || hasControlCharacter(name) || name.includes('\\') || name.startsWith('/') || name.endsWith('/') || name.includes('//')) {
    throw new SettingsError('category-name', `a category name must be 1-255 characters, without control characters, backslashes, or a '/' at either end or twice (got ${JSON.stringify(name)})`);
  }
  return name;
}

/**
 * A save folder as the fleet stores it: relative to the data folder, with
 * '/' between segments ('' is the data folder). An absolute path is taken
 * when it lies inside the data folder (what Sonarr sends, as it knows the
 * mount); any path that leaves it, or enters the state folder, is refused.
 */
export function normalizeSavePath(input: string, dataDir: string): string {
  if (input.includes('\u0000')) throw new SettingsError('save-path', 'a save folder cannot contain a NUL byte');
  const root = resolve(dataDir);
  const abs = isAbsolute(input) ? resolve(input) : resolve(root, input);
  const rel = relative(root, abs);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) throw new SettingsError('save-path', `the save folder ${input} is outside the data folder ${root}`);
  const segments = rel === '' ? [] : rel.split(sep);
  if (segments[0] === '.seedbox') throw new SettingsError('save-path', `the save folder ${input} is inside the state folder`);
  return segments.join('/');
}

function uniqueTags(tags: string[]): string[] {
  return [...new Set(tags.map(checkTag))];
}

/** The settings after `patch`, or a SettingsError and no change. */
export function applyTorrentPatch(s: TorrentSettings, patch: TorrentSettingsPatch, ctx: PatchContext): TorrentSettings {
  const next: TorrentSettings = { ...s, limits: { ...s.limits }, share: { ...s.share }, tags: [...s.tags], filePriorities: [...s.filePriorities] };
  if (patch.category !== undefined) {
    if (patch.category !== '' && !(patch.category in ctx.config.categories)) throw new SettingsError('unknown-category', `there is no category ${JSON.stringify(patch.category)}; create it first`);
    next.category = patch.category;
  }
  if (patch.tags !== undefined) next.tags = uniqueTags(patch.tags);
  if (patch.addTags) next.tags = uniqueTags([...next.tags, ...patch.addTags]);
  if (patch.removeTags) {
    const drop = new Set(patch.removeTags.map((t) => t.trim()));
    next.tags = next.tags.filter((t) => !drop.has(t));
  }
  if (patch.limits?.download !== undefined) next.limits.download = checkSpeed('the download limit', patch.limits.download);
  if (patch.limits?.upload !== undefined) next.limits.upload = checkSpeed('the upload limit', patch.limits.upload);
  if (patch.share?.ratio !== undefined) next.share.ratio = checkShareLimit('the ratio limit', patch.share.ratio, true);
  if (patch.share?.seedingMinutes !== undefined) next.share.seedingMinutes = checkShareLimit('the seeding time limit', patch.share.seedingMinutes, true);
  if (patch.share?.inactiveMinutes !== undefined) next.share.inactiveMinutes = checkShareLimit('the inactive seeding time limit', patch.share.inactiveMinutes, true);
  if (patch.forceStart !== undefined) next.forceStart = patch.forceStart;
  if (patch.sequential !== undefined) next.sequential = patch.sequential;
  if (patch.firstLastPiece !== undefined) next.firstLastPiece = patch.firstLastPiece;
  if (patch.files && patch.files.length > 0) {
    const p: FilePriority[] = next.filePriorities.length === ctx.fileCount ? next.filePriorities : new Array<FilePriority>(ctx.fileCount).fill('normal');
    for (const { indices, priority } of patch.files) {
      if (!FILE_PRIORITIES.includes(priority)) throw new SettingsError('file-priority', `a file priority is one of ${FILE_PRIORITIES.join(', ')} (got ${JSON.stringify(priority)})`);
      for (const i of indices) {
        if (!Number.isInteger(i) || i < 0 || i >= ctx.fileCount) throw new SettingsError('file-index', `file ${i} does not exist: the torrent has files 0 to ${ctx.fileCount - 1}`);
        p[i] = priority;
      }
    }
    next.filePriorities = p.every((x) => x === 'normal') ? [] : p;
  }
  return next;
}

/** Changes to the fleet's config; categories change through their own calls below. */
export interface FleetConfigPatch {
  speed?: Partial<SpeedLimits> | undefined;
  altSpeed?: Partial<SpeedLimits> | undefined;
  altSpeedEnabled?: boolean | undefined;
  queue?: Partial<QueueConfig> | undefined;
  share?: Partial<ShareLimits> | undefined;
  shareAction?: ShareAction | undefined;
  /** The fleet's encryption policy for new connections. */
  encryption?: EncryptionMode | undefined;
  /** Whether public torrents are looked up and announced on the DHT, fleet-wide. */
  dht?: boolean | undefined;
  /** Workers seeding each complete public torrent; 0: every worker. */
  seedReplicas?: number | undefined;
  /** Workers seeding each complete private torrent; 0: every worker. */
  privateSeedReplicas?: number | undefined;
}

export function applyConfigPatch(c: FleetConfig, patch: FleetConfigPatch): FleetConfig {
  const next: FleetConfig = { ...c, speed: { ...c.speed }, altSpeed: { ...c.altSpeed }, queue: { ...c.queue }, share: { ...c.share } };
  for (const [key, label] of [
    ['speed', 'the global'],
    ['altSpeed', 'the alternative'],
  ] as const) {
    const p = patch[key];
    if (p?.download !== undefined) next[key].download = checkSpeed(`${label} download limit`, p.download);
    if (p?.upload !== undefined) next[key].upload = checkSpeed(`${label} upload limit`, p.upload);
  }
  if (patch.altSpeedEnabled !== undefined) next.altSpeedEnabled = patch.altSpeedEnabled;
  const q = patch.queue;
  if (q) {
    if (q.enabled !== undefined) next.queue.enabled = q.enabled;
    if (q.ignoreSlow !== undefined) next.queue.ignoreSlow = q.ignoreSlow;
    for (const k of ['maxActiveDownloads', 'maxActiveSeeds', 'maxActiveTorrents'] as const) {
      const v = q[k];
      if (v === undefined) continue;
      if (!Number.isSafeInteger(v) || v < -1) throw new SettingsError('queue-limit', `${k} must be a whole number, 0 or more, or -1 for no limit (got ${v})`);
      next.queue[k] = v;
    }
    for (const k of ['slowDownloadRate', 'slowUploadRate', 'slowSeconds'] as const) {
      const v = q[k];
      if (v === undefined) continue;
      if (!Number.isSafeInteger(v) || v < 0) throw new SettingsError('queue-limit', `${k} must be a whole number, 0 or more (got ${v})`);
      next.queue[k] = v;
    }
  }
  if (patch.share?.ratio !== undefined) next.share.ratio = checkShareLimit('the global ratio limit', patch.share.ratio, false);
  if (patch.share?.seedingMinutes !== undefined) next.share.seedingMinutes = checkShareLimit('the global seeding time limit', patch.share.seedingMinutes, false);
  if (patch.share?.inactiveMinutes !== undefined) next.share.inactiveMinutes = checkShareLimit('the global inactive seeding time limit', patch.share.inactiveMinutes, false);
  if (patch.shareAction !== undefined) {
    if (!SHARE_ACTIONS.includes(patch.shareAction)) throw new SettingsError('share-action', `the action at a share limit is one of ${SHARE_ACTIONS.join(', ')} (got ${JSON.stringify(patch.shareAction)})`);
    next.shareAction = patch.shareAction;
  }
  if (patch.encryption !== undefined) {
    if (!ENCRYPTION_MODES.includes(patch.encryption)) throw new SettingsError('encryption', `encryption is one of ${ENCRYPTION_MODES.join(', ')} (got ${JSON.stringify(patch.encryption)})`);
    next.encryption = patch.encryption;
  }
  if (patch.dht !== undefined) next.dht = patch.dht;
  for (const [key, label] of [
    ['seedReplicas', 'public'],
    ['privateSeedReplicas', 'private'],
  ] as const) {
    const v = patch[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 0 || v > MAX_SEED_REPLICAS) {
      throw new SettingsError('seed-replicas', `the workers seeding each ${label} torrent are a whole number from 1 to ${MAX_SEED_REPLICAS}, or 0 for every worker (got ${v})`);
    }
    next[key] = v;
  }
  return next;
}

/** Creates or edits a category (its save folder normalized against the data folder). */
export function putCategory(c: FleetConfig, name: string, savePath: string, dataDir: string, mode: 'create' | 'edit' | 'upsert'): FleetConfig {
  checkCategoryName(name);
  const exists = name in c.categories;
  if (mode === 'create' && exists) throw new SettingsError('category-exists', `the category ${JSON.stringify(name)} exists already`);
  if (mode === 'edit' && !exists) throw new SettingsError('unknown-category', `there is no category ${JSON.stringify(name)}`);
  return { ...c, categories: { ...c.categories, [name]: { savePath: normalizeSavePath(savePath, dataDir) } } };
}

export function removeCategories(c: FleetConfig, names: string[]): FleetConfig {
  const categories = { ...c.categories };
  for (const n of names) delete categories[n];
  return { ...c, categories };
}
