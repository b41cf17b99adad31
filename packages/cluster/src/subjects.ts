/**
 * NATS subjects, queue groups, headers and key-value buckets of the fleet.
 * Every name on the wire is here, so the services cannot disagree on one.
 */

/** A piece offered to any disk-writer (queue group DISK_WRITERS). Its first chunk rides along. */
export const PIECE_OFFER = 'seedbox.piece.offer';
/** The rest of a piece, sent straight to the writer that took its offer. */
export const pieceChunkSubject = (writerId: string): string => `seedbox.piece.chunk.${subjectToken(writerId)}`;
/** Delete a torrent's files from the shared volume (queue group DISK_WRITERS). */
export const STORAGE_DELETE = 'seedbox.storage.delete';
/** Move a torrent's content to another save folder (queue group DISK_WRITERS). */
export const STORAGE_MOVE = 'seedbox.storage.move';
export const DISK_WRITERS = 'disk-writers';

/** Peers the tracker-client found for a torrent, to every worker running it. */
export const peersSubject = (infoHashHex: string): string => `seedbox.peers.${infoHashHex}`;
/** A worker ran out of peers for a torrent (body: the hex info hash): the tracker-client announces early. */
export const PEERS_WANTED = 'seedbox.tracker.peers-wanted';
/** A control API asks for an announce now (body: the hex info hash); the tracker-client answers how many it brought forward. */
export const TRACKER_REANNOUNCE = 'seedbox.tracker.reannounce';
/** A control API asks for a torrent's connected peers (body: the hex info hash); every worker running it answers with its own. */
export const WORKER_PEERS = 'seedbox.worker.peers';
/** Each peer-worker, every few seconds (and at start): who it is and its totals in every torrent it runs (for announces). */
export const WORKER_HEARTBEAT = 'seedbox.worker.heartbeat';
/**
 * Each peer-worker, once a second between its full heartbeats: only the
 * torrents joined, changed or gone since its last one. Not under
 * WORKER_HEARTBEAT's name, so that a tracker-client that knows only full
 * heartbeats (one older, during a rolling upgrade) never sees these.
 */
export const WORKER_HEARTBEAT_CHANGES = 'seedbox.worker.heartbeat.changes';
/** Each peer-worker, once a second: its per-torrent figures (for the control API's list and watch). */
export const workerStatsSubject = (workerId: string): string => `seedbox.stats.${subjectToken(workerId)}`;
export const WORKER_STATS_ALL = 'seedbox.stats.*';
/** Each peer-worker, once a tick: what it moved each way and whether its limit held it back (JSON), for the fleet's shared speed limits. */
export const workerBandwidthSubject = (workerId: string): string => `seedbox.bandwidth.${subjectToken(workerId)}`;
export const WORKER_BANDWIDTH_ALL = 'seedbox.bandwidth.*';
/** Every service process, every 2 s: who it is, whether it is ready, and its own figures (JSON, service-heartbeat.ts), for the fleet view. */
export const SERVICE_HEARTBEAT = 'seedbox.service.heartbeat';

/** Headers of the piece path. */
export const H_INFO_HASH = 'Seedbox-Info-Hash';
export const H_PIECE = 'Seedbox-Piece';
export const H_LENGTH = 'Seedbox-Length';
export const H_OFFSET = 'Seedbox-Offset';
export const H_WRITE_ID = 'Seedbox-Write-Id';
/** On an offer's reply: where the remaining chunks go. */
export const H_CONTINUE = 'Seedbox-Continue';
/** On a reply: the chunks did not add up (one was lost, or the writer forgot the piece); send it again. */
export const H_INCOMPLETE = 'Seedbox-Incomplete';
/**
 * The direct data path (SEEDBOX_PIECE_DATA=direct): on an offer, `direct`
 * (the worker would send the bytes over TCP; the offer carries none); on
 * its reply, the writer's HOST:PORT for them; on the request that follows
 * the bytes, `sent`.
 */
export const H_DIRECT = 'Seedbox-Direct';

/** JetStream key-value buckets. */
export const KV_TORRENTS = 'seedbox_torrents';
export const KV_BITFIELDS = 'seedbox_bitfields';
export const KV_WORKERS = 'seedbox_workers';
export const KV_CONFIG = 'seedbox_config';
export const KV_TOTALS = 'seedbox_totals';
export const KV_TRACKERS = 'seedbox_trackers';

/**
 * A subject token from an id that may hold dots, spaces or wildcards (a pod
 * name does not, but an instance id is configuration).
 */
export function subjectToken(id: string): string {
  const token = id.replace(/[^A-Za-z0-9_-]/g, '_');
  if (token === '') throw new Error('an empty id cannot name a subject');
  return token;
}
