import type { TorrentSettingsPatch } from '@seedbox/cluster';
import { isMagnetUri, MetainfoError, parseMetainfo } from '@seedbox/protocol';
import { recordName, type AddOptions, type TorrentRecord } from '../../control/backend.js';
import { optBool, optInt, optString, optStringList, TrRpcError, type TrArgs } from './tr-args.js';
import type { TrEnv } from './tr-env.js';
import { filePatch, hasFileArgs, readFileArgs, type FileArgs } from './tr-files.js';

/**
 * torrent-add (rpc-spec 3.4): a .torrent as base64 `metainfo`, or a
 * `filename` that is an http(s) URL (fetched here) or a magnet link
 * (registered at once, as Transmission does, and its metadata fetched by
 * the fleet: torrent-get shows it meanwhile with metadataPercentComplete
 * 0 and the link's name). A path on the server's disk is
 * not read: the file is sent as metainfo instead, as transmission-remote
 * does when it can read it.
 *
 * `download-dir` is the save folder, inside the data folder (the backend
 * refuses any other; a relative one is taken inside the data folder);
 * `labels` are the tags; the file arguments are those of torrent-set.
 * `bandwidthPriority` is left (every torrent shares alike).
 *
 * The answer is `torrent-added`, or `torrent-duplicate` (still "success")
 * for a torrent already there, which keeps its settings as they are.
 */

function addedAnswer(record: TorrentRecord, created: boolean): Record<string, unknown> {
  return { [created ? 'torrent-added' : 'torrent-duplicate']: { id: record.id, name: recordName(record), hashString: record.infoHashHex } };
}

/** The file patch for a .torrent about to be added; nothing when it does not parse (the backend then refuses it, naming the rule). */
function filesForNew(bytes: Uint8Array, files: FileArgs): TorrentSettingsPatch['files'] {
  if (!hasFileArgs(files)) return undefined;
  let meta;
  try {
    meta = parseMetainfo(bytes);
  } catch (e) {
    if (e instanceof MetainfoError) return undefined;
    throw e;
  }
  return filePatch(files, meta, []);
}

export async function torrentAdd(args: TrArgs, env: TrEnv): Promise<Record<string, unknown>> {
  const filename = optString(args, 'filename') ?? '';
  const metainfo = optString(args, 'metainfo') ?? '';
  // Transmission's own words for it.
  if (filename === '' && metainfo === '') throw new TrRpcError('argument', 'no filename or metainfo specified');
  if ((optString(args, 'cookies') ?? '') !== '') {
    throw new TrRpcError('unsupported', 'cookies cannot be sent: seedbox fetches torrent URLs without them; download the .torrent and send it as metainfo');
  }
  if (args['peer-limit'] !== undefined) throw new TrRpcError('unsupported', 'peer-limit cannot be set: the peer limit is SEEDBOX_MAX_PEERS (--max-peers) for every torrent');
  optInt(args, 'bandwidthPriority');
  const savePath = optString(args, 'download-dir');
  const labels = optStringList(args, 'labels');
  const files = readFileArgs(args);
  const settings: TorrentSettingsPatch = labels === undefined ? {} : { tags: labels };
  const options: AddOptions = { paused: optBool(args, 'paused') ?? false, savePath: savePath === '' ? undefined : savePath, settings };
  const backend = env.ctx.backend;

  let bytes: Uint8Array;
  const addMagnet = async (uri: string) => {
    if (hasFileArgs(files)) throw new TrRpcError('unsupported', 'file priorities need the file list, which a magnet link does not have yet: set them with torrent-set once it is added');
    const { record, created } = await backend.addMagnet(uri, options);
    env.activity.touch(record.infoHashHex, env.ctx.now());
    return addedAnswer(record, created);
  };
  // As in Transmission, a filename wins over metainfo when both are given.
  if (filename !== '') {
    if (isMagnetUri(filename)) return addMagnet(filename);
    if (!/^https?:\/\//i.test(filename)) {
      throw new TrRpcError('unsupported', 'filename must be an http(s) URL or a magnet link: a path on the server is not read; send the .torrent as metainfo (base64)');
    }
    const fetched = await env.ctx.fetchTorrent(filename);
    if (fetched.kind === 'magnet') return addMagnet(fetched.uri);
    bytes = fetched.bytes;
  } else {
    bytes = Buffer.from(metainfo, 'base64');
  }
  const filePriorities = filesForNew(bytes, files);
  if (filePriorities) settings.files = filePriorities;
  const { record, created } = await backend.add(bytes, options);
  env.activity.touch(record.infoHashHex, env.ctx.now());
  return addedAnswer(record, created);
}
