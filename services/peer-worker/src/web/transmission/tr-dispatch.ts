import { refusalText, type TrArgs } from './tr-args.js';
import type { TrEnv, TrMethod } from './tr-env.js';
import {
  queueMoveBottom,
  queueMoveDown,
  queueMoveTop,
  queueMoveUp,
  torrentReannounce,
  torrentRemove,
  torrentRenamePath,
  torrentSetLocation,
  torrentStart,
  torrentStartNow,
  torrentStop,
  torrentVerify,
} from './tr-torrent-actions.js';
import { torrentAdd } from './tr-torrent-add.js';
import { torrentGet } from './tr-torrent-get.js';
import { torrentSet } from './tr-torrent-set.js';
import { blocklistUpdate, freeSpace, groupGet, groupSet, portTest, sessionClose, sessionGet, sessionSet, sessionStatsMethod } from './tr-session-methods.js';

/**
 * One RPC request body to its answer (rpc-spec 2): `{method, arguments,
 * tag}` in, `{result, arguments, tag}` out, always, as Transmission
 * answers HTTP 200 whatever the request. `result` is "success" or a
 * sentence saying what was refused and why.
 */

/** Transmission 4.0's methods, by the names it answers to. */
const METHODS: Record<string, TrMethod> = {
  'blocklist-update': blocklistUpdate,
  'free-space': freeSpace,
  'group-get': groupGet,
  'group-set': groupSet,
  'port-test': portTest,
  'queue-move-bottom': queueMoveBottom,
  'queue-move-down': queueMoveDown,
  'queue-move-top': queueMoveTop,
  'queue-move-up': queueMoveUp,
  'session-close': sessionClose,
  'session-get': sessionGet,
  'session-set': sessionSet,
  'session-stats': sessionStatsMethod,
  'torrent-add': torrentAdd,
  'torrent-get': torrentGet,
  'torrent-reannounce': torrentReannounce,
  'torrent-remove': torrentRemove,
  'torrent-rename-path': torrentRenamePath,
  'torrent-set': torrentSet,
  'torrent-set-location': torrentSetLocation,
  'torrent-start': torrentStart,
  'torrent-start-now': torrentStartNow,
  'torrent-stop': torrentStop,
  'torrent-verify': torrentVerify,
};

export interface RpcAnswer {
  result: string;
  arguments: Record<string, unknown>;
  tag?: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Answers one request body. Nothing thrown: a failure is a `result` sentence (an unexpected one is logged too). */
export async function answerRpc(body: Buffer, env: TrEnv): Promise<RpcAnswer> {
  let request: unknown;
  try {
    request = JSON.parse(body.toString('utf8'));
  } catch (e) {
    // Transmission answers a body it cannot parse as a request without a method.
    return { result: `no method name: the request is not JSON (${(e as Error).message})`, arguments: {} };
  }
  if (!isObject(request)) return { result: 'no method name: the request must be a JSON object', arguments: {} };
  // Transmission echoes a whole-number tag only.
  const tag = typeof request['tag'] === 'number' && Number.isSafeInteger(request['tag']) ? { tag: request['tag'] } : {};
  const method = request['method'];
  if (typeof method !== 'string') return { result: 'no method name', arguments: {}, ...tag };
  const run = Object.hasOwn(METHODS, method) ? METHODS[method] : undefined;
  if (!run) return { result: 'method name not recognized', arguments: {}, ...tag };
  const args = request['arguments'] ?? {};
  if (!isObject(args)) return { result: `argument "arguments" must be a JSON object (got ${JSON.stringify(args).slice(0, 60)})`, arguments: {}, ...tag };
  try {
    return { result: 'success', arguments: await run(args as TrArgs, env), ...tag };
  } catch (e) {
    const refusal = refusalText(e);
    if (refusal !== undefined) return { result: refusal, arguments: {}, ...tag };
    env.ctx.log.warn('transmission rpc failed', { method, error: e });
    return { result: `${method} failed: ${(e as Error)?.message ?? String(e)}`, arguments: {}, ...tag };
  }
}
