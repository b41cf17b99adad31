import { resolve } from 'node:path';
import { recordName, type QueueMove, type TorrentRecord } from '../../control/backend.js';
import { optBool, optString, TrRpcError } from './tr-args.js';
import { chosenTorrents, type TrEnv, type TrMethod } from './tr-env.js';

/**
 * The torrent action requests (rpc-spec 3.1, 3.5-3.7, 4.6): start, stop,
 * verify, remove, move and the queue, each over the torrents `ids` names
 * (every torrent when it is absent, as in Transmission).
 */

const byQueue = (a: TorrentRecord, b: TorrentRecord): number => a.queuePosition - b.queuePosition;

/** Marks the torrents changed now, for "recently-active". */
function touched(env: TrEnv, torrents: readonly TorrentRecord[]): void {
  const now = env.ctx.now();
  for (const r of torrents) env.activity.touch(r.infoHashHex, now);
}

/**
 * Starts stopped torrents in their turn in the queue: a force start left
 * from torrent-start-now goes, as Transmission's start-now lasts until the
 * torrent stops. Running ones are left as they are.
 */
export const torrentStart: TrMethod = async (args, env) => {
  const torrents = (await chosenTorrents(args, env)).filter((r) => r.desired === 'paused').sort(byQueue);
  for (const r of torrents) {
    if (r.settings.forceStart) await env.ctx.backend.update(r.infoHashHex, { forceStart: false });
    await env.ctx.backend.setDesired(r.infoHashHex, 'running');
  }
  touched(env, torrents);
  return {};
};

/** Starts without waiting for a place in the queue: seedbox's force start. */
export const torrentStartNow: TrMethod = async (args, env) => {
  const torrents = (await chosenTorrents(args, env)).sort(byQueue);
  for (const r of torrents) {
    await env.ctx.backend.update(r.infoHashHex, { forceStart: true });
    await env.ctx.backend.setDesired(r.infoHashHex, 'running');
  }
  touched(env, torrents);
  return {};
};

export const torrentStop: TrMethod = async (args, env) => {
  const torrents = await chosenTorrents(args, env);
  for (const r of torrents) await env.ctx.backend.setDesired(r.infoHashHex, 'paused');
  touched(env, torrents);
  return {};
};

export const torrentVerify: TrMethod = async (args, env) => {
  const torrents = await chosenTorrents(args, env);
  for (const r of torrents) await env.ctx.backend.recheck(r.infoHashHex);
  touched(env, torrents);
  return {};
};

export const torrentRemove: TrMethod = async (args, env) => {
  const deleteData = optBool(args, 'delete-local-data') ?? false;
  const torrents = await chosenTorrents(args, env);
  for (const r of torrents) {
    if (await env.ctx.backend.remove(r.infoHashHex, { deleteData })) env.activity.noteRemoved(r.id, env.ctx.now());
  }
  return {};
};

/** Announces now, for every worker running each torrent (see Announcer.announceNow); one running nowhere has none to make. */
export const torrentReannounce: TrMethod = async (args, env) => {
  const torrents = await chosenTorrents(args, env);
  for (const r of torrents) await env.ctx.backend.reannounce(r.infoHashHex);
  touched(env, torrents);
  return {};
};

export const torrentRenamePath: TrMethod = async () => {
  throw new TrRpcError('unsupported', "torrent-rename-path cannot be done: seedbox keeps a torrent's files under the names in its .torrent file");
};

/** Whether `location` (absolute, or relative to the data folder) is where the torrent's data is. */
function isWhereItIs(env: TrEnv, record: TorrentRecord, location: string): boolean {
  return resolve(env.ctx.dataDir, location) === resolve(record.savePath);
}

/** Moves a torrent's data to `location` (inside the data folder: the backend refuses any other); nothing to do when it is there. */
export async function moveData(env: TrEnv, record: TorrentRecord, location: string): Promise<void> {
  if (!isWhereItIs(env, record, location)) await env.ctx.backend.move(record.infoHashHex, location);
}

/**
 * torrent-set-location. With move: true the data moves there (it keeps
 * seeding, from the new place). With move: false Transmission would take
 * the data as already there; seedbox cannot point a torrent at data it did
 * not move, so that is refused unless the torrent is there already.
 */
export const torrentSetLocation: TrMethod = async (args, env) => {
  const location = optString(args, 'location');
  if (location === undefined) throw new TrRpcError('argument', 'no location');
  const move = optBool(args, 'move') ?? false;
  const torrents = await chosenTorrents(args, env);
  if (!move) {
    const elsewhere = torrents.find((r) => !isWhereItIs(env, r, location));
    if (elsewhere) {
      throw new TrRpcError('unsupported', `move: false cannot be done for ${recordName(elsewhere)}: seedbox cannot point a torrent at data it did not move; send move: true to move its data to ${location}`);
    }
    return {};
  }
  for (const r of torrents) await moveData(env, r, location);
  touched(env, torrents);
  return {};
};

function queueMove(move: QueueMove): TrMethod {
  return async (args, env) => {
    const torrents = (await chosenTorrents(args, env)).sort(byQueue);
    if (torrents.length > 0) await env.ctx.backend.moveInQueue(torrents.map((r) => r.infoHashHex), move);
    touched(env, torrents);
    return {};
  };
}

export const queueMoveTop = queueMove('top');
export const queueMoveUp = queueMove('up');
export const queueMoveDown = queueMove('down');
export const queueMoveBottom = queueMove('bottom');
