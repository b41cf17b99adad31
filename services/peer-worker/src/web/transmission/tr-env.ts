import type { TorrentRecord } from '../../control/backend.js';
import type { WebApiContext } from '../web-api.js';
import type { RecentActivity } from './tr-activity.js';
import type { TrArgs } from './tr-args.js';
import { parseIds, selectTorrents } from './tr-ids.js';

/** What every RPC method is given: the shared web context, and this API's own per-process memory. */
export interface TrEnv {
  ctx: WebApiContext;
  activity: RecentActivity;
  /** When this API started (ms since the epoch): the start of session-stats' current session. */
  startedAt: number;
}

/** An RPC method: its arguments to its answer's `arguments`; a refusal is thrown (see refusalText). */
export type TrMethod = (args: TrArgs, env: TrEnv) => Promise<Record<string, unknown>>;

/** Every torrent, noting those gone since the last listing as removed. */
export async function listTorrents(env: TrEnv): Promise<TorrentRecord[]> {
  const records = await env.ctx.backend.list();
  env.activity.observe(records, env.ctx.now());
  return records;
}

/** The torrents the request's `ids` name. */
export async function chosenTorrents(args: TrArgs, env: TrEnv): Promise<TorrentRecord[]> {
  const selector = parseIds(args['ids']);
  const records = await listTorrents(env);
  const now = env.ctx.now();
  return selectTorrents(records, selector, (r) => env.activity.isRecent(r, env.ctx.backend.stats(r.infoHashHex), now));
}
