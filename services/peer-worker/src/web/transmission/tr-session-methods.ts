import { isAbsolute } from 'node:path';
import { normalizeSavePath } from '@seedbox/cluster';
import { dhtInForce, encryptionInForce } from '../web-api.js';
import { optString, TrRpcError } from './tr-args.js';
import { listTorrents, type TrEnv, type TrMethod } from './tr-env.js';
import { FREE_SPACE_FIELD, sessionFields, sessionPatch, sessionStats, type SessionFacts } from './tr-session.js';

/**
 * The session requests (rpc-spec 4): session-get/-set/-stats, free-space,
 * and the ones seedbox answers with what it cannot do (blocklist-update,
 * port-test, session-close, group-set).
 */

async function facts(env: TrEnv): Promise<SessionFacts> {
  const { ctx } = env;
  const config = await ctx.backend.config();
  return { config, encryption: encryptionInForce(config, ctx), dht: dhtInForce(config, ctx), dataDir: ctx.dataDir, version: ctx.version, sessionId: ctx.auth.transmissionSessionId, loginRequired: ctx.auth.required };
}

export const sessionGet: TrMethod = async (args, env) => {
  const fields = args['fields'];
  let names: string[] | undefined;
  if (fields !== undefined && fields !== null) {
    if (!Array.isArray(fields)) throw new TrRpcError('argument', `argument "fields" must be a list of strings (got ${JSON.stringify(fields)})`);
    names = fields.filter((f): f is string => typeof f === 'string');
  }
  const out = sessionFields(await facts(env), names);
  if (names === undefined || names.includes(FREE_SPACE_FIELD)) {
    try {
      out[FREE_SPACE_FIELD] = await env.ctx.freeSpace(env.ctx.dataDir);
    } catch (e) {
      // Left out rather than made up; the deprecated field has free-space as its successor.
      env.ctx.log.warn('free space of the data folder unknown', { error: e });
    }
  }
  return out;
};

export const sessionSet: TrMethod = async (args, env) => {
  const s = await facts(env);
  const patch = sessionPatch(args, s);
  if (Object.keys(patch).length > 0) await env.ctx.backend.updateConfig(patch);
  return {};
};

export const sessionStatsMethod: TrMethod = async (_args, env) => {
  const records = await listTorrents(env);
  return sessionStats(records, (hex) => env.ctx.backend.stats(hex), env.ctx.now(), env.startedAt);
};

/**
 * free-space (rpc-spec 4.7) of a folder inside the data folder; other
 * paths are refused (nothing of seedbox's is there). `total_size` is left
 * out: the context gives the free bytes only.
 */
export const freeSpace: TrMethod = async (args, env) => {
  const path = optString(args, 'path');
  // Transmission's own words for both.
  if (path === undefined) throw new TrRpcError('argument', 'directory path argument is missing');
  if (!isAbsolute(path)) throw new TrRpcError('argument', 'directory path is not absolute');
  normalizeSavePath(path, env.ctx.dataDir);
  let free: number;
  try {
    free = await env.ctx.freeSpace(path);
  } catch (e) {
    throw new TrRpcError('argument', `the free space of ${path} cannot be read: ${(e as Error).message}`);
  }
  return { path, 'size-bytes': free };
};

export const blocklistUpdate: TrMethod = async () => {
  throw new TrRpcError('unsupported', 'blocklist-update cannot be done: seedbox has no blocklist');
};

export const portTest: TrMethod = async () => {
  throw new TrRpcError('unsupported', 'port-test cannot be done: seedbox has no service outside the network to test its peer port with');
};

export const sessionClose: TrMethod = async () => {
  throw new TrRpcError('unsupported', 'session-close cannot be done: seedbox is stopped by whatever runs it, not over RPC');
};

/** No bandwidth groups: the list is empty. */
export const groupGet: TrMethod = async () => ({ group: [] });

export const groupSet: TrMethod = async () => {
  throw new TrRpcError('unsupported', 'group-set cannot be done: seedbox has no bandwidth groups');
};
