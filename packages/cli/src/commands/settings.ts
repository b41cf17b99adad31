import { CategoryMode, QueueDirection } from '@seedbox/proto';
import { UsageError } from '../cli-error.js';
import { configJson, resolveTarget, torrentJson, withControlClient } from '../control-client.js';
import { CONFIG_OPTIONS, configPatchFromFlags, isEmptyPatch, SET_ONLY_OPTIONS, torrentOptions, torrentPatchFromFlags } from '../settings-flags.js';
import { formatCategories, formatConfig, formatTorrentLong } from '../torrent-view.js';
import { parse, resolveInfoHash, SERVER } from './control.js';

/**
 * The seedbox-management commands over the control API: one torrent's
 * details and settings (get, set), its save folder (move), the queue order
 * (queue), the fleet's config (config) and categories (category).
 */

export const getUsage = `seedbox get <infohash> ${SERVER} [--json]`;
export const setUsage =
  `seedbox set <infohash> [--category NAME] [--tags a,b | --add-tags a,b --remove-tags a,b] [--download-limit RATE] [--upload-limit RATE] ` +
  `[--ratio-limit R|none|global] [--seeding-time-limit MIN|none|global] [--inactive-time-limit MIN|none|global] [--force-start on|off] ` +
  `[--sequential on|off] [--first-last-piece on|off] [--skip FILES] [--normal FILES] [--high FILES] ${SERVER} [--json]`;
export const moveUsage = `seedbox move <infohash> <folder> ${SERVER}`;
export const queueUsage = `seedbox queue top|bottom|up|down <infohash>... ${SERVER}`;
export const configUsage =
  `seedbox config [--download-limit RATE] [--upload-limit RATE] [--alt-download-limit RATE] [--alt-upload-limit RATE] [--alt-speed on|off] ` +
  `[--queueing on|off] [--max-active-downloads N|none] [--max-active-seeds N|none] [--max-active-torrents N|none] [--ratio-limit R|none] ` +
  `[--seeding-time-limit MIN|none] [--inactive-time-limit MIN|none] [--share-action pause|remove|remove-with-data] ` +
  `[--seed-replicas N|all] [--private-seed-replicas N|all] ${SERVER} [--json]`;
export const categoryUsage = `seedbox category ls | add NAME FOLDER | edit NAME FOLDER | rm NAME... ${SERVER} [--json]`;

export async function get(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const parsed = parse(argv, getUsage, { json: { type: 'boolean' } });
  const [arg, ...extra] = parsed.positionals;
  if (arg === undefined || extra.length > 0) throw new UsageError(`usage: ${getUsage}`);
  const target = await resolveTarget(parsed.values);
  const t = await withControlClient(target, async (c) => c.get(await resolveInfoHash(c, arg)));
  out.write(parsed.values.json ? `${JSON.stringify(torrentJson(t))}\n` : formatTorrentLong(t));
  return 0;
}

export async function set(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const parsed = parse(argv, setUsage, { json: { type: 'boolean' }, ...torrentOptions('string'), ...SET_ONLY_OPTIONS });
  const [arg, ...extra] = parsed.positionals;
  if (arg === undefined || extra.length > 0) throw new UsageError(`usage: ${setUsage}`);
  const target = await resolveTarget(parsed.values);
  const patch = torrentPatchFromFlags(parsed.values);
  if (isEmptyPatch(patch)) throw new UsageError(`nothing to change; usage: ${setUsage}`);
  const t = await withControlClient(target, async (c) => c.set(await resolveInfoHash(c, arg), patch));
  out.write(parsed.values.json ? `${JSON.stringify(torrentJson(t))}\n` : formatTorrentLong(t));
  return 0;
}

export async function move(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const parsed = parse(argv, moveUsage, {});
  const [arg, folder, ...extra] = parsed.positionals;
  if (arg === undefined || folder === undefined || folder === '' || extra.length > 0) throw new UsageError(`usage: ${moveUsage}`);
  const target = await resolveTarget(parsed.values);
  const hash = await withControlClient(target, async (c) => {
    const h = await resolveInfoHash(c, arg);
    await c.move(h, folder);
    return h.toLowerCase();
  });
  out.write(`moving ${hash} to ${folder}\n`);
  return 0;
}

const DIRECTIONS: Record<string, QueueDirection> = {
  top: QueueDirection.QUEUE_DIRECTION_TOP,
  bottom: QueueDirection.QUEUE_DIRECTION_BOTTOM,
  up: QueueDirection.QUEUE_DIRECTION_UP,
  down: QueueDirection.QUEUE_DIRECTION_DOWN,
};

export async function queue(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const parsed = parse(argv, queueUsage, {});
  const [where, ...args] = parsed.positionals;
  const direction = where === undefined ? undefined : DIRECTIONS[where];
  if (direction === undefined || args.length === 0) throw new UsageError(`usage: ${queueUsage}`);
  const target = await resolveTarget(parsed.values);
  const hashes = await withControlClient(target, async (c) => {
    const hs = [];
    for (const a of args) hs.push(await resolveInfoHash(c, a));
    await c.moveInQueue(hs, direction);
    return hs.map((h) => h.toLowerCase());
  });
  out.write(`moved ${where} in the queue: ${hashes.join(' ')}\n`);
  return 0;
}

export async function config(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const parsed = parse(argv, configUsage, { json: { type: 'boolean' }, ...CONFIG_OPTIONS });
  if (parsed.positionals.length > 0) throw new UsageError(`usage: ${configUsage}`);
  const target = await resolveTarget(parsed.values);
  const patch = configPatchFromFlags(parsed.values);
  const c = await withControlClient(target, (client) => (isEmptyPatch(patch) ? client.config() : client.setConfig(patch)));
  out.write(parsed.values.json ? `${JSON.stringify(configJson(c))}\n` : formatConfig(c));
  return 0;
}

export async function category(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const parsed = parse(argv, categoryUsage, { json: { type: 'boolean' } });
  const [verb, ...args] = parsed.positionals;
  const mode = verb === 'add' ? CategoryMode.CATEGORY_MODE_CREATE : verb === 'edit' ? CategoryMode.CATEGORY_MODE_EDIT : undefined;
  const ok = (verb === 'ls' && args.length === 0) || (mode !== undefined && args.length === 2) || (verb === 'rm' && args.length > 0);
  if (!ok) throw new UsageError(`usage: ${categoryUsage}`);
  const target = await resolveTarget(parsed.values);
  const categories = await withControlClient(target, (c) =>
    verb === 'ls' ? c.categories() : mode !== undefined ? c.putCategory(args[0]!, args[1]!, mode) : c.removeCategories(args),
  );
  if (parsed.values.json) for (const c of categories) out.write(`${JSON.stringify({ name: c.name, savePath: c.savePath })}\n`);
  else out.write(formatCategories(categories));
  return 0;
}
