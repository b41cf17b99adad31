import { FilePriority, FleetConfigPatch, ShareAction, TorrentSettingsPatch, type FilePriorityChange } from '@seedbox/proto';
import { UsageError } from './cli-error.js';
import { parseRate } from './rate.js';

/**
 * The flags of `add`, `set` and `config` as the patch messages of the
 * control API. A value the flag cannot take is a UsageError naming the
 * flag (exit 2); the rules of the values themselves (a category that
 * exists, a folder inside the data folder) are the server's, which answers
 * INVALID_ARGUMENT naming the rule.
 */

type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** Share limits follow qBittorrent's numbers: -2 the global limit, -1 none. */
const GLOBAL = -2;
const NONE = -1;

export function parseSwitch(text: string, flag: string): boolean {
  if (text === 'on') return true;
  if (text === 'off') return false;
  throw new UsageError(`${flag} takes on or off (got ${JSON.stringify(text)})`);
}

export function parseRatioLimit(text: string, flag: string, allowGlobal: boolean): number {
  if (text === 'none') return NONE;
  if (allowGlobal && text === 'global') return GLOBAL;
  const n = /^\d+(?:\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(n)) throw new UsageError(`${flag} takes a ratio (0 or more), none${allowGlobal ? ' or global' : ''} (got ${JSON.stringify(text)})`);
  return n;
}

export function parseMinutesLimit(text: string, flag: string, allowGlobal: boolean): number {
  if (text === 'none') return NONE;
  if (allowGlobal && text === 'global') return GLOBAL;
  const n = /^\d{1,12}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new UsageError(`${flag} takes whole minutes (0 or more), none${allowGlobal ? ' or global' : ''} (got ${JSON.stringify(text)})`);
  return n;
}

/** A count of torrents: 0 or more, or none (-1) for no limit. */
export function parseCount(text: string, flag: string): number {
  if (text === 'none' || text === '-1') return NONE;
  const n = /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new UsageError(`${flag} takes a number of torrents (0 or more) or none (got ${JSON.stringify(text)})`);
  return n;
}

/** File indices as `get` numbers them: "0", "1,3-4". */
export function parseIndices(text: string, flag: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d{1,7})(?:\s*-\s*(\d{1,7}))?\s*$/.exec(part);
    const from = m ? Number(m[1]) : Number.NaN;
    const to = m?.[2] === undefined ? from : Number(m[2]);
    if (!m || to < from) throw new UsageError(`${flag} takes file numbers as get shows them, e.g. 0 or 1,3-4 (got ${JSON.stringify(text)})`);
    for (let i = from; i <= to; i++) out.push(i);
  }
  return out;
}

export function parseTags(text: string): string[] {
  return text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

function str(v: FlagValues, name: string): string | undefined {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
}

function strings(v: FlagValues, name: string): string[] {
  const x = v[name];
  return Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : typeof x === 'string' ? [x] : [];
}

/** A flag given as a switch in `add` (--sequential) or as on|off in `set` (--sequential off). */
function toggle(v: FlagValues, name: string): boolean | undefined {
  const x = v[name];
  if (typeof x === 'boolean') return x;
  return typeof x === 'string' ? parseSwitch(x, `--${name}`) : undefined;
}

/** The flags `add` and `set` share: `add` takes the three switches as booleans, `set` as on|off. */
export function torrentOptions(switches: 'boolean' | 'string') {
  return {
    category: { type: 'string' },
    tags: { type: 'string' },
    'download-limit': { type: 'string' },
    'upload-limit': { type: 'string' },
    'ratio-limit': { type: 'string' },
    'seeding-time-limit': { type: 'string' },
    'inactive-time-limit': { type: 'string' },
    'force-start': { type: switches },
    sequential: { type: switches },
    'first-last-piece': { type: switches },
    skip: { type: 'string', multiple: true },
    normal: { type: 'string', multiple: true },
    high: { type: 'string', multiple: true },
  } as const;
}

export const SET_ONLY_OPTIONS = { 'add-tags': { type: 'string' }, 'remove-tags': { type: 'string' } } as const;

export function torrentPatchFromFlags(v: FlagValues): TorrentSettingsPatch {
  const p = TorrentSettingsPatch.fromPartial({});
  const category = str(v, 'category');
  if (category !== undefined) p.category = category;
  const tags = str(v, 'tags');
  if (tags !== undefined) p.tags = { tags: parseTags(tags) };
  const addTags = str(v, 'add-tags');
  if (addTags !== undefined) p.addTags = parseTags(addTags);
  const removeTags = str(v, 'remove-tags');
  if (removeTags !== undefined) p.removeTags = parseTags(removeTags);
  if (tags !== undefined && (addTags !== undefined || removeTags !== undefined)) throw new UsageError('--tags replaces the tags: give it without --add-tags and --remove-tags');
  const down = str(v, 'download-limit');
  if (down !== undefined) p.downloadLimit = parseRate(down, '--download-limit');
  const up = str(v, 'upload-limit');
  if (up !== undefined) p.uploadLimit = parseRate(up, '--upload-limit');
  const ratio = str(v, 'ratio-limit');
  if (ratio !== undefined) p.ratioLimit = parseRatioLimit(ratio, '--ratio-limit', true);
  const seeding = str(v, 'seeding-time-limit');
  if (seeding !== undefined) p.seedingTimeLimit = parseMinutesLimit(seeding, '--seeding-time-limit', true);
  const inactive = str(v, 'inactive-time-limit');
  if (inactive !== undefined) p.inactiveSeedingTimeLimit = parseMinutesLimit(inactive, '--inactive-time-limit', true);
  p.forceStart = toggle(v, 'force-start');
  p.sequential = toggle(v, 'sequential');
  p.firstLastPiece = toggle(v, 'first-last-piece');
  const files: FilePriorityChange[] = [];
  for (const [flag, priority] of [
    ['skip', FilePriority.FILE_PRIORITY_SKIP],
    ['normal', FilePriority.FILE_PRIORITY_NORMAL],
    ['high', FilePriority.FILE_PRIORITY_HIGH],
  ] as const) {
    for (const text of strings(v, flag)) files.push({ indices: parseIndices(text, `--${flag}`), priority });
  }
  p.files = files;
  return p;
}

/** Whether a patch changes anything (for `set` without a change, a usage error). */
export function isEmptyPatch(p: TorrentSettingsPatch | FleetConfigPatch): boolean {
  return Object.entries(p).every(([k, x]) => x === undefined || (Array.isArray(x) && x.length === 0) || (k === 'shareAction' && x === ShareAction.SHARE_ACTION_UNSPECIFIED));
}

export const CONFIG_OPTIONS = {
  'download-limit': { type: 'string' },
  'upload-limit': { type: 'string' },
  'alt-download-limit': { type: 'string' },
  'alt-upload-limit': { type: 'string' },
  'alt-speed': { type: 'string' },
  queueing: { type: 'string' },
  'max-active-downloads': { type: 'string' },
  'max-active-seeds': { type: 'string' },
  'max-active-torrents': { type: 'string' },
  'ratio-limit': { type: 'string' },
  'seeding-time-limit': { type: 'string' },
  'inactive-time-limit': { type: 'string' },
  'share-action': { type: 'string' },
  'seed-replicas': { type: 'string' },
  'private-seed-replicas': { type: 'string' },
} as const;

const SHARE_ACTIONS: Record<string, ShareAction> = {
  pause: ShareAction.SHARE_ACTION_PAUSE,
  remove: ShareAction.SHARE_ACTION_REMOVE,
  'remove-with-data': ShareAction.SHARE_ACTION_REMOVE_WITH_DATA,
};

export function configPatchFromFlags(v: FlagValues): FleetConfigPatch {
  const p = FleetConfigPatch.fromPartial({});
  const rate = (name: string): number | undefined => {
    const x = str(v, name);
    return x === undefined ? undefined : parseRate(x, `--${name}`);
  };
  p.downloadLimit = rate('download-limit');
  p.uploadLimit = rate('upload-limit');
  p.altDownloadLimit = rate('alt-download-limit');
  p.altUploadLimit = rate('alt-upload-limit');
  const alt = str(v, 'alt-speed');
  if (alt !== undefined) p.altSpeedEnabled = parseSwitch(alt, '--alt-speed');
  const queueing = str(v, 'queueing');
  if (queueing !== undefined) p.queueingEnabled = parseSwitch(queueing, '--queueing');
  const count = (name: string): number | undefined => {
    const x = str(v, name);
    return x === undefined ? undefined : parseCount(x, `--${name}`);
  };
  p.maxActiveDownloads = count('max-active-downloads');
  p.maxActiveSeeds = count('max-active-seeds');
  p.maxActiveTorrents = count('max-active-torrents');
  const ratio = str(v, 'ratio-limit');
  if (ratio !== undefined) p.ratioLimit = parseRatioLimit(ratio, '--ratio-limit', false);
  const seeding = str(v, 'seeding-time-limit');
  if (seeding !== undefined) p.seedingTimeLimit = parseMinutesLimit(seeding, '--seeding-time-limit', false);
  const inactive = str(v, 'inactive-time-limit');
  if (inactive !== undefined) p.inactiveSeedingTimeLimit = parseMinutesLimit(inactive, '--inactive-time-limit', false);
  const action = str(v, 'share-action');
  if (action !== undefined) {
    const a = SHARE_ACTIONS[action];
    if (a === undefined) throw new UsageError(`--share-action takes pause, remove or remove-with-data (got ${JSON.stringify(action)})`);
    p.shareAction = a;
  }
  p.seedReplicas = replicas(v, 'seed-replicas');
  p.privateSeedReplicas = replicas(v, 'private-seed-replicas');
  return p;
}

/** A count of peer-workers, or `all` (0 on the wire). */
function replicas(v: FlagValues, name: string): number | undefined {
  const x = str(v, name);
  if (x === undefined) return undefined;
  if (x === 'all') return 0;
  if (!/^\d{1,4}$/.test(x) || Number(x) < 1) throw new UsageError(`--${name} takes a number of peer-workers (1 or more) or all (got ${JSON.stringify(x)})`);
  return Number(x);
}
