import type { TorrentSettingsPatch } from '@seedbox/cluster';
import { parseHostPort, type PeerAddress } from '@seedbox/protocol';
import type { QueueMove, TorrentRecord } from '../../control/backend.js';
import { visibleFiles } from '../../control/control-mapping.js';
import { json, text, type WebResponse } from '../web-request.js';
import type { QbtCall, QbtHandler } from './qbt-context.js';
import { backendCall, QbtError } from './qbt-error.js';
import { priorityFromQbt } from './qbt-files.js';
import { hashList, optionalInt, optionalNumber, parseBool, requireInt, requireText, singleHash, speedLimit } from './qbt-params.js';
import { loadRecord, loadRecords } from './qbt-torrents.js';

/**
 * The torrents/ actions that change torrents (TorrentsController in
 * qBittorrent 5.1): each applies to the torrents its `hashes` name, or to
 * every one for `all`, skipping hashes it does not know, and answers 200
 * with an empty body.
 */

const done = (): WebResponse => text(200, '');

async function eachRecord(call: QbtCall, f: (r: TorrentRecord) => Promise<unknown>): Promise<WebResponse> {
  const records = await loadRecords(call.app, hashList(call.params));
  for (const r of records) await backendCall(() => f(r));
  return done();
}

function update(call: QbtCall, patch: (r: TorrentRecord) => TorrentSettingsPatch): Promise<WebResponse> {
  return eachRecord(call, (r) => call.app.ctx.backend.update(r.infoHashHex, patch(r)));
}

/** qBittorrent's start() runs a torrent auto-managed: a forced start ends with it. */
export const start: QbtHandler = (call) =>
  eachRecord(call, async (r) => {
    await call.app.ctx.backend.setDesired(r.infoHashHex, 'running');
    if (r.settings.forceStart) await call.app.ctx.backend.update(r.infoHashHex, { forceStart: false });
  });

export const stop: QbtHandler = (call) => eachRecord(call, (r) => call.app.ctx.backend.setDesired(r.infoHashHex, 'paused'));

/**
 * `deleteFiles` is optional here, false when absent (5.1 requires it, but
 * Sonarr leaves it out when keeping the data). A magnet awaiting its
 * metadata is removed like any torrent: its owner's fetch then finds no
 * entry to write to.
 */
export const remove: QbtHandler = async (call) => {
  const deleteData = parseBool(call.params.text('deleteFiles')) ?? false;
  return eachRecord(call, (r) => call.app.ctx.backend.remove(r.infoHashHex, { deleteData }));
};

export const recheck: QbtHandler = (call) => eachRecord(call, (r) => call.app.ctx.backend.recheck(r.infoHashHex));

/** Announces now to the trackers of every worker running the torrent (see Announcer.announceNow); one running nowhere has none to make. */
export const reannounce: QbtHandler = (call) => eachRecord(call, (r) => call.app.ctx.backend.reannounce(r.infoHashHex));

/** qBittorrent starts the torrent either way: forced, or auto-managed. */
export const setForceStart: QbtHandler = (call) => {
  const value = parseBool(requireText(call.params, 'value')) ?? false;
  return eachRecord(call, async (r) => {
    await call.app.ctx.backend.update(r.infoHashHex, { forceStart: value });
    await call.app.ctx.backend.setDesired(r.infoHashHex, 'running');
  });
};

export const setCategory: QbtHandler = (call) => {
  const category = requireText(call.params, 'category');
  return update(call, () => ({ category }));
};

function tagsParam(call: QbtCall): string[] {
  return (call.params.text('tags') ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

export const addTags: QbtHandler = (call) => {
  requireText(call.params, 'tags');
  const tags = tagsParam(call);
  for (const t of tags) call.app.looseTags.delete(t);
  return update(call, () => ({ addTags: tags }));
};

/** No `tags` (or an empty one) removes every tag, as in qBittorrent. */
export const removeTags: QbtHandler = (call) => {
  const tags = tagsParam(call);
  return update(call, () => (tags.length === 0 ? { tags: [] } : { removeTags: tags }));
};

export const setTags: QbtHandler = (call) => {
  requireText(call.params, 'tags');
  const tags = tagsParam(call);
  return update(call, () => ({ tags }));
};

/**
 * Any of the three limits, with qBittorrent's -2 (the global limit), -1
 * (none) or a value; 5.1 requires all three, but Sonarr sends the ratio
 * and one time limit, so what is absent stays. The values' rules are the
 * backend's (a 400 naming the rule).
 */
export const setShareLimits: QbtHandler = (call) => {
  const ratio = optionalNumber(call.params, 'ratioLimit');
  const seedingMinutes = optionalInt(call.params, 'seedingTimeLimit');
  const inactiveMinutes = optionalInt(call.params, 'inactiveSeedingTimeLimit');
  if (ratio === undefined && seedingMinutes === undefined && inactiveMinutes === undefined) {
    throw new QbtError('bad-params', 'one of ratioLimit, seedingTimeLimit and inactiveSeedingTimeLimit is required');
  }
  const share = { ...(ratio !== undefined && { ratio }), ...(seedingMinutes !== undefined && { seedingMinutes }), ...(inactiveMinutes !== undefined && { inactiveMinutes }) };
  return update(call, () => ({ share }));
};

export const setDownloadLimit: QbtHandler = (call) => {
  const download = speedLimit('limit', requireInt(call.params, 'limit'));
  return update(call, () => ({ limits: { download } }));
};

export const setUploadLimit: QbtHandler = (call) => {
  const upload = speedLimit('limit', requireInt(call.params, 'limit'));
  return update(call, () => ({ limits: { upload } }));
};

export const toggleSequentialDownload: QbtHandler = (call) => update(call, (r) => ({ sequential: !r.settings.sequential }));

export const toggleFirstLastPiecePrio: QbtHandler = (call) => update(call, (r) => ({ firstLastPiece: !r.settings.firstLastPiece }));

/** The queue moves answer 409 while queueing is off, as qBittorrent does (Sonarr counts on it). */
function queueMove(move: QueueMove): QbtHandler {
  return async (call) => {
    const hashes = hashList(call.params);
    const config = await backendCall(() => call.app.ctx.backend.config());
    if (!config.queue.enabled) throw new QbtError('conflict', 'Torrent queueing must be enabled');
    const records = await loadRecords(call.app, hashes);
    if (records.length > 0) await backendCall(() => call.app.ctx.backend.moveInQueue(records.map((r) => r.infoHashHex), move));
    return done();
  };
}

export const topPrio = queueMove('top');
export const bottomPrio = queueMove('bottom');
export const increasePrio = queueMove('up');
export const decreasePrio = queueMove('down');

/** `id`: `|`-separated file indices as torrents/files numbers them (padding files skipped); `priority`: 0, 1, 6 or 7. */
export const filePrio: QbtHandler = async (call) => {
  const hash = singleHash(call.params);
  const idText = requireText(call.params, 'id');
  const n = optionalInt(call.params, 'priority');
  if (n === undefined) throw new QbtError('bad-params', 'Priority must be an integer');
  const priority = priorityFromQbt(n);
  if (priority === undefined) throw new QbtError('bad-params', `Priority is not valid: ${n} (0 do not download, 1 normal, 6 high, 7 maximum)`);
  const record = await loadRecord(call.app, hash);
  const real = visibleFiles(record.metainfo);
  const indices = idText.split('|').map((s) => {
    const t = s.trim();
    if (!/^\d+$/.test(t)) throw new QbtError('bad-params', `File IDs must be integers (got ${JSON.stringify(s)})`);
    const meta = real[Number(t)];
    if (meta === undefined) throw new QbtError('conflict', `File ID is not valid: ${t} (the torrent has files 0 to ${real.length - 1})`);
    return meta;
  });
  await backendCall(() => call.app.ctx.backend.update(hash, { files: [{ indices, priority }] }));
  return done();
};

/** A folder inside the data folder (absolute, or relative to it); one outside it is the backend's 400. */
function folderParam(call: QbtCall, name: string): string {
  const folder = requireText(call.params, name).trim();
  if (folder === '') throw new QbtError('bad-params', 'Save path cannot be empty');
  return folder;
}

/** Moves the data; the torrent keeps seeding from the new folder. */
export const setLocation: QbtHandler = (call) => {
  const folder = folderParam(call, 'location');
  return eachRecord(call, (r) => call.app.ctx.backend.move(r.infoHashHex, folder));
};

/** 5.x's setSavePath: the same move, with `id` and `path` for parameters. */
export const setSavePath: QbtHandler = async (call) => {
  const folder = folderParam(call, 'path');
  const records = await loadRecords(call.app, hashList(call.params, 'id'));
  for (const r of records) await backendCall(() => call.app.ctx.backend.move(r.infoHashHex, folder));
  return done();
};

/** There is no separate folder for incomplete data: clearing it is already so; setting one cannot be done. */
export const setDownloadPath: QbtHandler = async (call) => {
  if ((call.params.text('path') ?? '').trim() !== '') throw new QbtError('unsupported', 'seedbox has no separate folder for incomplete downloads: data is written in the save folder');
  return done();
};

/** Automatic management is not a mode here (a torrent without a folder of its own goes to its category's): nothing to switch, as auto_tmm stays false. */
export const setAutoManagement: QbtHandler = async (call) => {
  hashList(call.params);
  return done();
};

export const setSuperSeeding: QbtHandler = async (call) => {
  hashList(call.params);
  if (parseBool(requireText(call.params, 'value'))) throw new QbtError('unsupported', 'the engine has no super-seeding mode');
  return done();
};

/**
 * Peers to dial, `host:port` (`[v6]:port`) separated by `|`, handed to
 * every worker running each torrent named. qBittorrent answers, per
 * torrent, how many it took and how many it could not: here a peer that
 * is not an address and port fails; the others are handed over (whether
 * they answer is the swarm's business, as in qBittorrent).
 */
export const addPeers: QbtHandler = async (call) => {
  const listed = requireText(call.params, 'peers')
    .split('|')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const peers = listed.map(parseHostPort).filter((p): p is PeerAddress => p !== undefined);
  if (peers.length === 0) throw new QbtError('bad-params', 'No valid peers were specified');
  const records = await loadRecords(call.app, hashList(call.params));
  const result: Record<string, { added: number; failed: number }> = {};
  for (const r of records) {
    const taken = await backendCall(() => call.app.ctx.backend.addPeers(r.infoHashHex, peers));
    result[r.infoHashHex] = taken ? { added: peers.length, failed: listed.length - peers.length } : { added: 0, failed: listed.length };
  }
  return json(200, result);
};
