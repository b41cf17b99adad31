import { status as Status, type handleUnaryCall, type ServerWritableStream, type StatusObject } from '@grpc/grpc-js';
import { SettingsError } from '@seedbox/cluster';
import { parseMetainfo } from '@seedbox/protocol';
import {
  type AddTorrentRequest,
  type AddTorrentResponse,
  type AddTorrentResult,
  type AddTorrentsRequest,
  type AddTorrentsResponse,
  type GetTorrentRequest,
  type GetTorrentResponse,
  type GetConfigResponse,
  type ListCategoriesResponse,
  type MoveInQueueRequest,
  type MoveTorrentRequest,
  type PutCategoryRequest,
  type PutCategoryResponse,
  type RemoveCategoriesRequest,
  type RemoveCategoriesResponse,
  type SetConfigRequest,
  type SetConfigResponse,
  type SetTorrentRequest,
  type SetTorrentResponse,
  type ListTorrentsRequest,
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
import { ControlError, type AddOptions, type ControlBackend, type ControlErrorCode, type TorrentRecord, type TorrentStatsView } from './backend.js';
import { toCategories, toFleetConfig, toTorrent, toTorrentStats, visibleFiles } from './control-mapping.js';
import { parseInfoHash } from './info-hash.js';
import { listQueryFromProto, selectTorrents } from './list-query.js';
import { categoryModeFromProto, configPatchFromProto, fileChangesFromProto, queueMoveFromProto, torrentPatchFromProto, torrentPatchIsEmpty } from './settings-mapping.js';
import { SentFigures } from './watch-changes.js';

export { toTorrent, toTorrentStats } from './control-mapping.js';
export { parseInfoHash } from './info-hash.js';
export { torrentState } from './state-codes.js';

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
  /** How long AddTorrent with a magnet waits for the fleet to fetch its metadata (default 2 min). */
  magnetWaitMs?: number;
}

export const DEFAULT_TICK_TIMEOUT_MS = 10_000;
export const DEFAULT_MAGNET_WAIT_MS = 120_000;
/** AddTorrents refuses a longer batch: each item may be a 16 MiB .torrent, and one call is one answer held in memory. */
export const MAX_ADD_BATCH = 1000;
/**
 * Adds of one AddTorrents call in flight at once: enough to overlap each
 * add's store writes (a file synced to disk, or a JetStream round trip),
 * few enough that one batch does not hold every other caller up.
 */
export const ADD_BATCH_CONCURRENCY = 16;

const STATUS_OF: Record<ControlErrorCode, Status> = {
  'invalid-argument': Status.INVALID_ARGUMENT,
  'not-found': Status.NOT_FOUND,
  'already-exists': Status.ALREADY_EXISTS,
  unavailable: Status.UNAVAILABLE,
  unimplemented: Status.UNIMPLEMENTED,
};

/** The settings rule behind a refusal, if one is: the error itself or what caused it. */
function settingsRule(error: unknown): SettingsError | undefined {
  if (error instanceof SettingsError) return error;
  if (error instanceof ControlError && error.cause instanceof SettingsError) return error.cause;
  return undefined;
}

/**
 * The status a failure answers: a ControlError's own code, INTERNAL for
 * anything else. A value that breaks a settings rule is INVALID_ARGUMENT
 * with the rule first ("speed-limit: the download limit must be ..."), so a
 * client can tell the rules apart without parsing the sentence.
 */
export function toStatus(error: unknown): Pick<StatusObject, 'code' | 'details'> {
  const rule = settingsRule(error);
  if (rule) return { code: Status.INVALID_ARGUMENT, details: `${rule.rule}: ${(error as Error).message}` };
  if (error instanceof ControlError) {
    return { code: STATUS_OF[error.code] ?? Status.INTERNAL, details: error.message };
  }
  return { code: Status.INTERNAL, details: error instanceof Error ? error.message : String(error) };
}

export function createControlService(backend: ControlBackend, options: ControlServiceOptions = {}): SeedboxControlServer {
  const tickTimeoutMs = options.tickTimeoutMs ?? DEFAULT_TICK_TIMEOUT_MS;
  if (!Number.isFinite(tickTimeoutMs) || tickTimeoutMs < 0) {
    throw new RangeError(`tickTimeoutMs must be a non-negative number of milliseconds (0 = no timeout), got ${tickTimeoutMs}`);
  }
  const magnetWaitMs = options.magnetWaitMs ?? DEFAULT_MAGNET_WAIT_MS;
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

  /**
   * A tick's figures as proto messages, made once however many streams
   * watch: the backend hands every listener the same array for a tick.
   */
  const converted = new WeakMap<TorrentStatsView[], TorrentStats[]>();
  const statsOf = (views: TorrentStatsView[]): TorrentStats[] => {
    let stats = converted.get(views);
    if (!stats) {
      stats = views.map(toTorrentStats);
      converted.set(views, stats);
    }
    return stats;
  };

  /** One add; a magnet waits for its metadata unless `waitForMetadata` is false (a batch answers at once). */
  async function addTorrent(request: AddTorrentRequest, waitForMetadata = true): Promise<AddTorrentResponse> {
    const s = request.settings;
    if (request.category !== undefined && s?.category !== undefined) throw new ControlError('invalid-argument', 'give the category once: category or settings.category, not both');
    if (request.tags !== undefined && s?.tags !== undefined) throw new ControlError('invalid-argument', 'give the tags once: tags or settings.tags, not both');
    const settings = torrentPatchFromProto(s && { ...s, files: [] }, undefined);
    if (request.category !== undefined) settings.category = request.category;
    if (request.tags !== undefined) settings.tags = request.tags.tags;
    if (s && s.files.length > 0) {
      // Indices are into the file list a client sees; a malformed file has none, and the backend names its fault below.
      let files: number[] | undefined;
      if (request.torrentFile !== undefined) {
        try {
          files = visibleFiles(parseMetainfo(request.torrentFile));
        } catch {
          files = [];
        }
      }
      if (files === undefined || files.length > 0) settings.files = fileChangesFromProto(s.files, files);
    }
    const options: AddOptions = { paused: request.paused, savePath: request.savePath, settings: torrentPatchIsEmpty(settings) ? undefined : settings };
    let added;
    if (request.torrentFile !== undefined) added = await backend.add(request.torrentFile, options);
    else if (request.magnetUri !== undefined) added = waitForMetadata ? await addMagnet(request.magnetUri, options) : await backend.addMagnet(request.magnetUri, options);
    else throw new ControlError('invalid-argument', 'AddTorrent needs a source: torrent_file (the .torrent bytes) or magnet_uri');
    return { torrent: torrentFor(added.record), created: added.created };
  }

  /**
   * A magnet is registered at once and its metadata fetched by the fleet;
   * AddTorrent answers once that is in (a paused one at once: it is not
   * fetched), or at the deadline with the torrent still in state METADATA,
   * registered all the same.
   */
  async function addMagnet(uri: string, options: AddOptions): Promise<{ record: TorrentRecord; created: boolean }> {
    const added = await backend.addMagnet(uri, options);
    if (added.record.metainfo || added.record.desired === 'paused') return added;
    const record = await backend.waitForMetadata(added.record.infoHashHex, magnetWaitMs);
    if (!record) throw new ControlError('not-found', `${added.record.infoHashHex} was removed while its metadata was being fetched`);
    return { record, created: added.created };
  }

  /**
   * Every item added apart, ADD_BATCH_CONCURRENCY at once, each answered
   * with its torrent or with the status AddTorrent would have failed with:
   * a malformed .torrent fails only itself.
   */
  async function addTorrents(request: AddTorrentsRequest): Promise<AddTorrentsResponse> {
    const items = request.torrents;
    if (items.length > MAX_ADD_BATCH) throw new ControlError('invalid-argument', `AddTorrents takes at most ${MAX_ADD_BATCH} torrents a call, got ${items.length}: send them in several calls`);
    const results: AddTorrentResult[] = new Array<AddTorrentResult>(items.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const i = next++;
        try {
          results[i] = { added: await addTorrent(items[i]!, false) };
        } catch (error) {
          const status = failed('AddTorrents', error);
          results[i] = { failure: { code: status.code, message: status.details ?? '' } };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(ADD_BATCH_CONCURRENCY, items.length) }, worker));
    return { results };
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
    const changes = call.request.changesOnly ? new SentFigures() : undefined;

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
        const all = statsOf(views);
        const stats = only ? all.filter((s) => only.has(s.infoHash)) : all;
        const message = changes ? changes.next(stats) : { stats, removed: [], full: true };
        // Nothing changed: nothing to say (the first message always goes, full).
        if (!message) return;
        if (!call.write(message)) {
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
    addTorrent: unary('AddTorrent', (request: AddTorrentRequest) => addTorrent(request)),
    addTorrents: unary('AddTorrents', addTorrents),
    listTorrents: unary('ListTorrents', async (request: ListTorrentsRequest): Promise<ListTorrentsResponse> => {
      const query = listQueryFromProto(request);
      const records = query.infoHashes?.length === 0 ? [] : await backend.list(query.infoHashes ? { infoHashes: query.infoHashes } : {});
      // Oldest first unless asked otherwise, so the list reads like a queue and every replica answers in one order.
      const { page, total } = selectTorrents(records, query, backend);
      return { torrents: page.map((row) => toTorrent(row.record, row.stats, { omitFiles: query.omitFiles })), total };
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
    setTorrent: unary('SetTorrent', async (request: SetTorrentRequest): Promise<SetTorrentResponse> => {
      const hash = parseInfoHash(request.infoHash, 'info_hash');
      const record = await backend.get(hash);
      if (!record) throw new ControlError('not-found', `no torrent ${hash}`);
      const updated = await backend.update(hash, torrentPatchFromProto(request.patch, record.metainfo ? visibleFiles(record.metainfo) : undefined));
      if (!updated) throw new ControlError('not-found', `no torrent ${hash}`);
      return { torrent: torrentFor(updated) };
    }),
    moveTorrent: unary('MoveTorrent', async (request: MoveTorrentRequest) => {
      const hash = parseInfoHash(request.infoHash, 'info_hash');
      // proto3 cannot tell '' from absent: the data folder itself is '.', or its absolute path.
      if (request.savePath === '') throw new ControlError('invalid-argument', "save_path is required (the data folder itself is '.')");
      if (!(await backend.move(hash, request.savePath))) throw new ControlError('not-found', `no torrent ${hash}`);
      return {};
    }),
    moveInQueue: unary('MoveInQueue', async (request: MoveInQueueRequest) => {
      const hashes = request.infoHashes.map((h, i) => parseInfoHash(h, `info_hashes[${i}]`));
      const move = queueMoveFromProto(request.direction);
      await backend.moveInQueue(hashes, move);
      return {};
    }),
    getConfig: unary('GetConfig', async (): Promise<GetConfigResponse> => ({ config: toFleetConfig(await backend.config()) })),
    setConfig: unary('SetConfig', async (request: SetConfigRequest): Promise<SetConfigResponse> => ({
      config: toFleetConfig(await backend.updateConfig(configPatchFromProto(request.patch))),
    })),
    listCategories: unary('ListCategories', async (): Promise<ListCategoriesResponse> => ({ categories: toCategories(await backend.config()) })),
    putCategory: unary('PutCategory', async (request: PutCategoryRequest): Promise<PutCategoryResponse> => {
      const mode = categoryModeFromProto(request.mode);
      return { categories: toCategories(await backend.putCategory(request.name, request.savePath, mode)) };
    }),
    removeCategories: unary('RemoveCategories', async (request: RemoveCategoriesRequest): Promise<RemoveCategoriesResponse> => ({
      categories: toCategories(await backend.removeCategories(request.names)),
    })),
  };
}
