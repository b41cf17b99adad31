import { status as Status, type handleUnaryCall, type ServerWritableStream, type StatusObject } from '@grpc/grpc-js';
import {
  TorrentState,
  type AddTorrentRequest,
  type AddTorrentResponse,
  type GetTorrentRequest,
  type GetTorrentResponse,
  type ListTorrentsResponse,
  type PauseTorrentRequest,
  type RecheckTorrentRequest,
  type RemoveTorrentRequest,
  type ResumeTorrentRequest,
  type SeedboxControlServer,
  type Torrent,
  type TorrentStats,
  type WatchTorrentsRequest,
  type WatchTorrentsResponse,
} from '@seedbox/proto';
import { stateToProto } from './state-codes.js';
import { ControlError, type ControlBackend, type ControlErrorCode, type TorrentRecord, type TorrentStatsView } from './backend.js';

/**
 * `seedbox.v1.SeedboxControl` over a ControlBackend. This file only checks
 * arguments and translates: records and figures into proto messages, and
 * ControlError refusals into gRPC status codes. Every failure becomes a
 * status with a `details` sentence; nothing a client sends or a backend
 * throws can crash the process.
 *
 *   const server = new grpc.Server();
 *   server.addService(SeedboxControlService, createControlService(backend));
 */

export interface ControlServiceOptions {
  /**
   * WatchTorrents ends with UNAVAILABLE when the backend has not ticked for
   * this long (default 10 s; 0 turns it off). The fleet ticks once a second,
   * with an empty list when there are no torrents, so silence means the
   * backend lost the fleet; a watcher told so can reconnect to another
   * replica instead of waiting forever for a figure that will not come.
   */
  tickTimeoutMs?: number;
  /**
   * Told about every error answered as INTERNAL (a backend bug, not a
   * refusal), so the service can log it; the client sees only the message.
   */
  onInternalError?: (method: string, error: unknown) => void;
}

export const DEFAULT_TICK_TIMEOUT_MS = 10_000;

const STATUS_OF: Record<ControlErrorCode, Status> = {
  'invalid-argument': Status.INVALID_ARGUMENT,
  'not-found': Status.NOT_FOUND,
  'already-exists': Status.ALREADY_EXISTS,
  unavailable: Status.UNAVAILABLE,
  unimplemented: Status.UNIMPLEMENTED,
};

const INFO_HASH = /^[0-9a-f]{40}$/i;
const UINT32_MAX = 2 ** 32 - 1;

/**
 * Checks a hex info hash from a request and answers it in lower case, the
 * form the backend keys torrents by. `field` names the request field for the
 * error, e.g. `info_hash` or `info_hashes[2]`.
 */
export function parseInfoHash(value: string, field: string): string {
  if (!INFO_HASH.test(value)) {
    const shown = value.length > 48 ? `${JSON.stringify(value.slice(0, 48))}...` : JSON.stringify(value);
    throw new ControlError('invalid-argument', `${field} must be 40 hexadecimal characters (a SHA-1 info hash), got ${shown}`);
  }
  return value.toLowerCase();
}

/** The status a failure answers: a ControlError's own code, INTERNAL for anything else. */
export function toStatus(error: unknown): Pick<StatusObject, 'code' | 'details'> {
  if (error instanceof ControlError) {
    return { code: STATUS_OF[error.code] ?? Status.INTERNAL, details: error.message };
  }
  return { code: Status.INTERNAL, details: error instanceof Error ? error.message : String(error) };
}

/**
 * The state a client sees. Paused wins over error: a paused torrent is not
 * being run, so whatever stopped it running is not the news. Without figures
 * from any worker yet, a running torrent counts as downloading.
 */
export function torrentState(record: TorrentRecord, stats: TorrentStatsView | undefined): TorrentState {
  if (record.desired === 'paused') return TorrentState.TORRENT_STATE_PAUSED;
  if (record.error !== undefined || stats?.state === 'error') return TorrentState.TORRENT_STATE_ERROR;
  if (stats?.state === 'checking') return TorrentState.TORRENT_STATE_CHECKING;
  if (stats?.complete) return TorrentState.TORRENT_STATE_SEEDING;
  return TorrentState.TORRENT_STATE_DOWNLOADING;
}

/** proto uint64/uint32 fields take whole non-negative numbers only; rates are averages and come fractional. */
function whole(n: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isFinite(n) || n <= 0) return 0;
  return Math.min(Math.round(n), max);
}

export function toTorrentStats(view: TorrentStatsView): TorrentStats {
  return {
    infoHash: view.infoHashHex,
    downloadRate: whole(view.downloadRate),
    uploadRate: whole(view.uploadRate),
    downloadedBytes: whole(view.downloaded),
    uploadedBytes: whole(view.uploaded),
    peers: whole(view.peers, UINT32_MAX),
    seeds: whole(view.seeds, UINT32_MAX),
    piecesVerified: whole(view.piecesVerified, UINT32_MAX),
    piecesFailed: whole(view.piecesFailed, UINT32_MAX),
    pieceCount: whole(view.pieceCount, UINT32_MAX),
    leftBytes: whole(view.left),
    // The proto has no "unknown": 0 stands for both unknown and done.
    etaSeconds: view.eta === undefined ? 0 : whole(view.eta, UINT32_MAX),
    tickTimeMs: whole(view.time),
    state: stateToProto(view.state),
    error: view.error ?? '',
  };
}

export function toTorrent(record: TorrentRecord, stats: TorrentStatsView | undefined): Torrent {
  const m = record.metainfo;
  return {
    infoHash: record.infoHashHex,
    name: m.name,
    state: torrentState(record, stats),
    totalLength: m.totalLength,
    pieceLength: m.pieceLength,
    pieceCount: m.pieceCount,
    private: m.private,
    // BEP 47 padding files are filler between real files, not something a user has or wants.
    files: m.files.filter((f) => !f.padding).map((f) => ({ path: f.path.join('/'), length: f.length })),
    // Absent, not zeroed, until a worker has reported: zeros would claim "no progress".
    stats: stats === undefined ? undefined : toTorrentStats(stats),
    error: record.error ?? (stats?.state === 'error' ? (stats.error ?? '') : ''),
    addedAt: Math.floor(record.addedAt / 1000),
  };
}

export function createControlService(backend: ControlBackend, options: ControlServiceOptions = {}): SeedboxControlServer {
  const tickTimeoutMs = options.tickTimeoutMs ?? DEFAULT_TICK_TIMEOUT_MS;
  if (!Number.isFinite(tickTimeoutMs) || tickTimeoutMs < 0) {
    throw new RangeError(`tickTimeoutMs must be a non-negative number of milliseconds (0 = no timeout), got ${tickTimeoutMs}`);
  }
  const failed = (method: string, error: unknown): Pick<StatusObject, 'code' | 'details'> => {
    const status = toStatus(error);
    if (status.code === Status.INTERNAL) options.onInternalError?.(method, error);
    return status;
  };

  /** A unary handler from an async function: its result is the answer, its throw the status. */
  function unary<Req, Res>(method: string, handle: (request: Req) => Promise<Res>): handleUnaryCall<Req, Res> {
    return (call, callback) => {
      // Promise.resolve().then also catches a handler that throws before its first await.
      Promise.resolve()
        .then(() => handle(call.request))
        .then(
          (response) => callback(null, response),
          (error: unknown) => callback(failed(method, error)),
        )
        // grpc-js answers a response it cannot send itself; should the callback
        // still throw, it is a bug to log, not an unhandled rejection that ends the process.
        .catch((error: unknown) => options.onInternalError?.(method, error));
    };
  }

  const torrentFor = (record: TorrentRecord): Torrent => toTorrent(record, backend.stats(record.infoHashHex));

  async function addTorrent(request: AddTorrentRequest): Promise<AddTorrentResponse> {
    const options = { paused: request.paused };
    let added;
    if (request.torrentFile !== undefined) added = await backend.add(request.torrentFile, options);
    else if (request.magnetUri !== undefined) added = await backend.addMagnet(request.magnetUri, options);
    else throw new ControlError('invalid-argument', 'AddTorrent needs a source: torrent_file (the .torrent bytes) or magnet_uri');
    return { torrent: torrentFor(added.record), created: added.created };
  }

  async function setDesired(infoHash: string, desired: 'running' | 'paused'): Promise<Record<string, never>> {
    const hash = parseInfoHash(infoHash, 'info_hash');
    if (!(await backend.setDesired(hash, desired))) throw new ControlError('not-found', `no torrent ${hash}`);
    return {};
  }

  function watchTorrents(call: ServerWritableStream<WatchTorrentsRequest, WatchTorrentsResponse>): void {
    let hashes: string[];
    try {
      hashes = call.request.infoHashes.map((h, i) => parseInfoHash(h, `info_hashes[${i}]`));
    } catch (error) {
      end(failed('WatchTorrents', error));
      return;
    }
    const only = hashes.length === 0 ? undefined : new Set(hashes);

    let finished = false;
    let unsubscribe: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    // While the client reads slower than we write, ticks are dropped rather
    // than queued: each carries the latest figures, so an old one is worth
    // nothing once a newer one exists, and a queue would grow without bound.
    let congested = false;

    function end(status: Pick<StatusObject, 'code' | 'details'>): void {
      // The stream's own 'error' handler turns this into the call's status and ends it.
      call.emit('error', status);
    }
    function finish(status?: Pick<StatusObject, 'code' | 'details'>): void {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      try {
        unsubscribe?.();
      } catch (error) {
        options.onInternalError?.('WatchTorrents', error);
      }
      if (status) end(status);
    }
    function arm(): void {
      if (tickTimeoutMs === 0) return;
      clearTimeout(timer);
      timer = setTimeout(
        () => finish({ code: Status.UNAVAILABLE, details: `no statistics from the fleet for ${tickTimeoutMs} ms` }),
        tickTimeoutMs,
      );
    }
    const onTick = (views: TorrentStatsView[]): void => {
      // This runs inside the backend's tick loop: nothing may escape into it.
      if (finished) return;
      arm();
      if (congested) return;
      try {
        const stats = (only ? views.filter((v) => only.has(v.infoHashHex)) : views).map(toTorrentStats);
        if (!call.write({ stats })) {
          congested = true;
          call.once('drain', () => {
            congested = false;
          });
        }
      } catch (error) {
        finish(failed('WatchTorrents', error));
      }
    };

    // 'close' follows both a client cancel (grpc-js destroys the stream) and a normal end.
    call.once('close', () => finish());
    call.once('cancelled', () => finish());
    try {
      unsubscribe = backend.onTick(onTick);
    } catch (error) {
      finish(failed('WatchTorrents', error));
      return;
    }
    if (finished) {
      // The call went away while we subscribed.
      unsubscribe();
      return;
    }
    arm();
  }

  return {
    addTorrent: unary('AddTorrent', addTorrent),
    listTorrents: unary('ListTorrents', async (): Promise<ListTorrentsResponse> => {
      const records = await backend.list();
      // Oldest first, so the list reads like a queue and every replica answers in one order.
      records.sort((a, b) => a.addedAt - b.addedAt || a.infoHashHex.localeCompare(b.infoHashHex));
      return { torrents: records.map(torrentFor) };
    }),
    getTorrent: unary('GetTorrent', async (request: GetTorrentRequest): Promise<GetTorrentResponse> => {
      const hash = parseInfoHash(request.infoHash, 'info_hash');
      const record = await backend.get(hash);
      if (!record) throw new ControlError('not-found', `no torrent ${hash}`);
      return { torrent: torrentFor(record) };
    }),
    removeTorrent: unary('RemoveTorrent', async (request: RemoveTorrentRequest) => {
      const hash = parseInfoHash(request.infoHash, 'info_hash');
      if (!(await backend.remove(hash, { deleteData: request.deleteData }))) throw new ControlError('not-found', `no torrent ${hash}`);
      return {};
    }),
    pauseTorrent: unary('PauseTorrent', (request: PauseTorrentRequest) => setDesired(request.infoHash, 'paused')),
    resumeTorrent: unary('ResumeTorrent', (request: ResumeTorrentRequest) => setDesired(request.infoHash, 'running')),
    recheckTorrent: unary('RecheckTorrent', async (request: RecheckTorrentRequest) => {
      const hash = parseInfoHash(request.infoHash, 'info_hash');
      if (!(await backend.recheck(hash))) throw new ControlError('not-found', `no torrent ${hash}`);
      return {};
    }),
    watchTorrents,
  };
}
