import { RECENT_MS } from './tr-activity.js';
import { optString, TrRpcError, type TrArgs } from './tr-args.js';
import { chosenTorrents, type TrEnv } from './tr-env.js';
import { parseIds } from './tr-ids.js';
import { CONFIG_FIELDS, PEER_FIELDS, supportedFields, torrentObject, torrentRow, type FieldEnv, type TorrentView } from './tr-torrent-fields.js';

/**
 * torrent-get (rpc-spec 3.3): the fields asked of the torrents named, as
 * objects or as a table (a row of names, then a row per torrent); with
 * "recently-active", also the ids removed in the window.
 */
export async function torrentGet(args: TrArgs, env: TrEnv): Promise<Record<string, unknown>> {
  const asked = args['fields'];
  // Transmission's own words for it.
  if (!Array.isArray(asked)) throw new TrRpcError('argument', 'no fields specified');
  const format = optString(args, 'format') ?? 'objects';
  if (format !== 'objects' && format !== 'table') throw new TrRpcError('argument', `argument "format" must be "objects" or "table" (got ${JSON.stringify(format)})`);
  const names = supportedFields(asked);
  const recent = parseIds(args['ids']).kind === 'recent';
  const records = await chosenTorrents(args, env);
  const backend = env.ctx.backend;
  const fieldEnv: FieldEnv = { config: names.some((n) => CONFIG_FIELDS.has(n)) ? await backend.config() : undefined, now: env.ctx.now() };
  // Peers cross NATS in a fleet: asked for only when a field needs them, for every torrent at once.
  const peers = names.some((n) => PEER_FIELDS.has(n)) ? await Promise.all(records.map((r) => backend.peers(r.infoHashHex))) : undefined;
  const views: TorrentView[] = records.map((record, i) => ({
    record,
    stats: backend.stats(record.infoHashHex),
    bitfield: () => backend.pieces(record.infoHashHex),
    trackers: () => backend.trackers(record.infoHashHex),
    peers: peers?.[i],
  }));
  const torrents = format === 'table' ? [names, ...views.map((v) => torrentRow(v, fieldEnv, names))] : views.map((v) => torrentObject(v, fieldEnv, names));
  return recent ? { torrents, removed: env.activity.removedSince(env.ctx.now() - RECENT_MS) } : { torrents };
}
