import type { TorrentSettingsPatch } from '@seedbox/cluster';
import type { TorrentRecord } from '../../control/backend.js';
import { optBool, optInt, optNumber, optString, optStringList, TrRpcError, type TrArgs } from './tr-args.js';
import { chosenTorrents, listTorrents, type TrEnv } from './tr-env.js';
import { filePatch, readFileArgs, type FileArgs } from './tr-files.js';
import { shareFromMode, speedFromPair } from './tr-limits.js';
import { moveData } from './tr-torrent-actions.js';

/**
 * torrent-set (rpc-spec 3.2). Each torrent's settings change through the
 * backend (which checks the values against the settings rules); `location`
 * moves the data, as torrent-set-location with move: true does; and
 * `queuePosition` places the torrent in the queue.
 *
 * Labels are seedbox's tags: both are sets of names without commas, and
 * Sonarr keeps its category in a label. A torrent's category is not
 * shown here (Transmission has none); its save folder is in downloadDir.
 * A seeding limit reached does what the fleet's share action says (pause
 * by default), where Transmission always stops.
 */

/** Arguments that ask for what seedbox has not got, and why. */
const REFUSED: Record<string, string> = {
  'peer-limit': 'the peer limit is SEEDBOX_MAX_PEERS (--max-peers) for every torrent',
  trackerAdd: 'trackers come from the .torrent file and cannot be edited',
  trackerRemove: 'trackers come from the .torrent file and cannot be edited',
  trackerReplace: 'trackers come from the .torrent file and cannot be edited',
  trackerList: 'trackers come from the .torrent file and cannot be edited',
};

/** torrent-set's arguments, read and checked once, before any torrent is looked at. */
export interface TorrentSetRequest {
  downloadLimit: number | undefined;
  downloadLimited: boolean | undefined;
  uploadLimit: number | undefined;
  uploadLimited: boolean | undefined;
  seedRatioLimit: number | undefined;
  seedRatioMode: number | undefined;
  seedIdleLimit: number | undefined;
  seedIdleMode: number | undefined;
  labels: string[] | undefined;
  sequential: boolean | undefined;
  files: FileArgs;
  location: string | undefined;
  /** 0-based. */
  queuePosition: number | undefined;
}

export function readTorrentSet(args: TrArgs): TorrentSetRequest {
  for (const [key, why] of Object.entries(REFUSED)) if (args[key] !== undefined) throw new TrRpcError('unsupported', `${key} cannot be set: ${why}`);
  if (optBool(args, 'honorsSessionLimits') === false) throw new TrRpcError('unsupported', "honorsSessionLimits cannot be false: the fleet's speed limits apply to every torrent");
  const group = optString(args, 'group');
  if (group !== undefined && group !== '') throw new TrRpcError('unsupported', `group cannot be ${JSON.stringify(group)}: seedbox has no bandwidth groups`);
  // Every torrent shares the bandwidth alike; a priority asked is read (to check its type) and left.
  optInt(args, 'bandwidthPriority');
  return {
    downloadLimit: optInt(args, 'downloadLimit'),
    downloadLimited: optBool(args, 'downloadLimited'),
    uploadLimit: optInt(args, 'uploadLimit'),
    uploadLimited: optBool(args, 'uploadLimited'),
    seedRatioLimit: optNumber(args, 'seedRatioLimit'),
    seedRatioMode: optInt(args, 'seedRatioMode'),
    seedIdleLimit: optInt(args, 'seedIdleLimit'),
    seedIdleMode: optInt(args, 'seedIdleMode'),
    labels: optStringList(args, 'labels'),
    sequential: optBool(args, 'sequentialDownload'),
    files: readFileArgs(args),
    location: optString(args, 'location'),
    queuePosition: optInt(args, 'queuePosition'),
  };
}

/** The settings patch a request makes of one torrent (limits and files depend on what it has now). Pure. */
export function torrentSetPatch(q: TorrentSetRequest, record: TorrentRecord): TorrentSettingsPatch {
  const s = record.settings;
  const patch: TorrentSettingsPatch = {};
  const download = speedFromPair({ limit: 'downloadLimit', limited: 'downloadLimited' }, q.downloadLimit, q.downloadLimited, s.limits.download);
  const upload = speedFromPair({ limit: 'uploadLimit', limited: 'uploadLimited' }, q.uploadLimit, q.uploadLimited, s.limits.upload);
  if (download !== undefined || upload !== undefined) patch.limits = { ...(download !== undefined && { download }), ...(upload !== undefined && { upload }) };
  const ratio = shareFromMode({ limit: 'seedRatioLimit', mode: 'seedRatioMode' }, q.seedRatioLimit, q.seedRatioMode, s.share.ratio);
  const idle = shareFromMode({ limit: 'seedIdleLimit', mode: 'seedIdleMode' }, q.seedIdleLimit, q.seedIdleMode, s.share.inactiveMinutes);
  if (ratio !== undefined || idle !== undefined) patch.share = { ...(ratio !== undefined && { ratio }), ...(idle !== undefined && { inactiveMinutes: idle }) };
  if (q.labels !== undefined) patch.tags = q.labels;
  if (q.sequential !== undefined) patch.sequential = q.sequential;
  // A magnet without its metadata has no files yet: an index is refused, as past the end of the list.
  const files = filePatch(q.files, record.metainfo ?? { files: [] }, s.filePriorities);
  if (files) patch.files = files;
  return patch;
}

/**
 * Places a torrent at a 0-based position in the queue. The backend moves
 * one place at a time (or to either end), so a place in the middle takes
 * as many moves as it is away.
 */
async function placeInQueue(env: TrEnv, infoHashHex: string, position: number): Promise<void> {
  const records = await listTorrents(env);
  const record = records.find((r) => r.infoHashHex === infoHashHex);
  if (!record) return;
  const last = records.length - 1;
  const target = Math.min(Math.max(0, position), last);
  if (target === 0) return env.ctx.backend.moveInQueue([infoHashHex], 'top');
  if (target === last) return env.ctx.backend.moveInQueue([infoHashHex], 'bottom');
  const from = record.queuePosition - 1;
  const step = target < from ? 'up' : 'down';
  for (let i = 0; i < Math.abs(target - from); i++) await env.ctx.backend.moveInQueue([infoHashHex], step);
}

export async function torrentSet(args: TrArgs, env: TrEnv): Promise<Record<string, unknown>> {
  const q = readTorrentSet(args);
  const torrents = await chosenTorrents(args, env);
  // Every patch is worked out before any is applied, so a refused argument changes nothing.
  const patches = torrents.map((r) => torrentSetPatch(q, r));
  const backend = env.ctx.backend;
  for (const [i, record] of torrents.entries()) {
    const patch = patches[i]!;
    if (Object.keys(patch).length > 0) await backend.update(record.infoHashHex, patch);
    if (q.location !== undefined) await moveData(env, record, q.location);
    if (q.queuePosition !== undefined) await placeInQueue(env, record.infoHashHex, q.queuePosition);
    env.activity.touch(record.infoHashHex, env.ctx.now());
  }
  return {};
}
