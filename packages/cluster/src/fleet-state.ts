import type { KV, NatsConnection } from 'nats';
import { Bitfield } from '@seedbox/protocol';
import type { FleetStore } from './fleet-store.js';
import { bitfieldFrom, decodeEntry, encodeEntry, FleetStateError, readBitfield, type DesiredState, type RegistryEntry, type WorkerEntry } from './registry-entry.js';
import { decodeFleetConfig, decodeTotals, encodeJson, parseJson } from './settings-codec.js';
import { KV_BITFIELDS, KV_CONFIG, KV_TORRENTS, KV_TOTALS, KV_TRACKERS, KV_WORKERS } from './subjects.js';
import { kvSnapshot } from './kv-snapshot.js';
import { addTotals, type FleetConfig, type TorrentTotals } from './torrent-settings.js';
import { decodeTrackerStatuses, encodeTrackerStatuses, type TrackerStatus } from './tracker-status.js';

export { FleetStateError, type DesiredState, type RegistryEntry, type WorkerEntry };

/**
 * The fleet's shared state, in JetStream key-value buckets, so that no
 * process holds anything that is lost with it:
 *
 * - `seedbox_torrents`: the registry. Key: the hex info hash. Value: the
 *   .torrent file as added, the desired state (running or paused) and when
 *   it was added.
 * - `seedbox_bitfields`: each torrent's verified pieces, as the BEP 3
 *   bitfield bytes. Only ever grows while the torrent exists: updates are
 *   OR-merges under compare-and-set, so two workers reporting at once both
 *   count.
 * - `seedbox_workers`: each peer-worker's heartbeat (who it is, where peers
 *   reach it), kept for `workerTtlMs` after its last one.
 * - `seedbox_config`: the key `fleet`, the operator's config (speed limits,
 *   queueing, share limits, categories) as JSON; the key `torrent-ids`,
 *   the last torrent id given out (RegistryEntry.id).
 * - `seedbox_totals`: each torrent's lifetime totals (bytes each way,
 *   seeding time), added to under compare-and-set by every worker that
 *   runs it. Apart from the registry because they change every minute,
 *   and the registry entry carries the whole .torrent file.
 * - `seedbox_trackers`: what each tracker of a torrent last answered
 *   (tracker-status.ts), written by the tracker-client on every announce
 *   result and read by the control APIs of every peer-worker.
 */

const CONFIG_KEY = 'fleet';
/** The last torrent id given out (RegistryEntry.id), a decimal number. */
const IDS_KEY = 'torrent-ids';
/** The first wait after a lost race for a torrent id, before jitter; it doubles with each loss. */
const ID_BACKOFF_FIRST_MS = 2;
/** The widest a wait between two tries for a torrent id gets. */
const ID_BACKOFF_MAX_MS = 100;
/** How long a caller keeps trying for a torrent id before it answers FLEET_CONFLICT. */
const ID_DEADLINE_MS = 10_000;

export interface FleetStateOptions {
  /** A worker not heard from for this long drops out of the bucket. Default 15 s. */
  workerTtlMs?: number;
  /** JetStream replicas per bucket (1 for a single server). */
  replicas?: number;
}

export class FleetState implements FleetStore {
  private constructor(
    readonly torrents: KV,
    readonly bitfields: KV,
    readonly workers: KV,
    readonly config: KV,
    readonly totals: KV,
    readonly trackers: KV,
  ) {}

  /** Opens the buckets, creating them on first use (idempotent, so every service may do it). */
  static async open(nc: NatsConnection, options: FleetStateOptions = {}): Promise<FleetState> {
    const js = nc.jetstream();
    const replicas = options.replicas ?? 1;
    const bucket = (name: string, ttl?: number): Promise<KV> => openBucket(() => js.views.kv(name, { history: 1, replicas, ...(ttl === undefined ? {} : { ttl }) }));
    const [torrents, bitfields, workers, config, totals, trackers] = await Promise.all([
      bucket(KV_TORRENTS),
      bucket(KV_BITFIELDS),
      bucket(KV_WORKERS, options.workerTtlMs ?? 15_000),
      bucket(KV_CONFIG),
      bucket(KV_TOTALS),
      bucket(KV_TRACKERS),
    ]);
    return new FleetState(torrents, bitfields, workers, config, totals, trackers);
  }

  // ---- registry ----

  /** Adds a torrent; answers false (and changes nothing) when it is already there. */
  async addTorrent(e: RegistryEntry): Promise<boolean> {
    try {
      await this.torrents.create(e.infoHashHex, encodeEntry(e));
      return true;
    } catch (err) {
      if (isWrongLastSequence(err)) return false;
      throw err;
    }
  }

  async getTorrent(infoHashHex: string): Promise<RegistryEntry | undefined> {
    const e = await this.torrents.get(infoHashHex);
    return e && e.operation === 'PUT' ? decodeEntry(infoHashHex, e.value) : undefined;
  }

  async listTorrents(): Promise<RegistryEntry[]> {
    const out: RegistryEntry[] = [];
    for (const e of await kvSnapshot(this.torrents)) {
      try {
        out.push(decodeEntry(e.key, e.value));
      } catch {
        // A value that does not decode is no torrent of ours: skipped, as a get would.
      }
    }
    return out.sort((a, b) => a.addedAt - b.addedAt);
  }

  /** Changes the desired state; false when there is no such torrent. */
  async setDesired(infoHashHex: string, desired: DesiredState): Promise<boolean> {
    return (await this.updateTorrent(infoHashHex, (e) => (e.desired === desired ? undefined : { ...e, desired }))) !== undefined;
  }

  /** Asks whoever runs the torrent to check its data again; false when there is no such torrent. */
  async requestRecheck(infoHashHex: string): Promise<boolean> {
    return (await this.updateTorrent(infoHashHex, (e) => ({ ...e, rechecks: e.rechecks + 1 }))) !== undefined;
  }

  async updateTorrent(infoHashHex: string, change: (e: RegistryEntry) => RegistryEntry | undefined): Promise<RegistryEntry | undefined> {
    for (let i = 0; i < 10; i++) {
      const e = await this.torrents.get(infoHashHex);
      if (!e || e.operation !== 'PUT') return undefined;
      const now = decodeEntry(infoHashHex, e.value);
      const next = change(now);
      if (!next) return now;
      try {
        await this.torrents.update(infoHashHex, encodeEntry(next), e.revision);
        return next;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
    }
    throw new FleetStateError('FLEET_CONFLICT', `${infoHashHex}: the registry entry kept changing under us`);
  }

  /** Removes a torrent and its bitfield; false when there was no such torrent. */
  async removeTorrent(infoHashHex: string): Promise<boolean> {
    const e = await this.torrents.get(infoHashHex);
    if (!e || e.operation !== 'PUT') return false;
    await this.torrents.delete(infoHashHex);
    await this.bitfields.delete(infoHashHex);
    await this.totals.delete(infoHashHex);
    // The tracker-client deletes its statuses too when it sees the removal; this covers one that is down.
    await this.trackers.delete(infoHashHex);
    return true;
  }

  /**
   * Calls `onChange` with every registry entry now, then with every change
   * (undefined for a removal) until the returned stop function is called.
   * Entries that cannot be decoded go to `onBadEntry`, not to `onChange`.
   */
  async watchTorrents(onChange: (infoHashHex: string, e: RegistryEntry | undefined) => void, onBadEntry?: (key: string, err: Error) => void): Promise<() => void> {
    const it = await this.torrents.watch();
    void (async () => {
      for await (const e of it) {
        if (e.operation !== 'PUT') {
          onChange(e.key, undefined);
          continue;
        }
        let entry: RegistryEntry;
        try {
          entry = decodeEntry(e.key, e.value);
        } catch (err) {
          onBadEntry?.(e.key, err as Error);
          continue;
        }
        onChange(e.key, entry);
      }
    })();
    return () => it.stop();
  }

  // ---- bitfields ----

  async getBitfield(infoHashHex: string, pieceCount: number): Promise<Bitfield> {
    const e = await this.bitfields.get(infoHashHex);
    if (!e || e.operation !== 'PUT' || e.value.length !== Math.ceil(pieceCount / 8)) return new Bitfield(pieceCount);
    return bitfieldFrom(e.value, pieceCount);
  }

  /** ORs `pieces` into the stored bitfield (compare-and-set, retried on a race). Answers the merged one. */
  async mergeBitfield(infoHashHex: string, pieceCount: number, pieces: Iterable<number>): Promise<Bitfield> {
    const add = [...pieces];
    for (let i = 0; i < 20; i++) {
      const e = await this.bitfields.get(infoHashHex);
      const merged = e && e.operation === 'PUT' && e.value.length === Math.ceil(pieceCount / 8) ? bitfieldFrom(e.value, pieceCount) : new Bitfield(pieceCount);
      for (const p of add) merged.set(p);
      try {
        // After a delete the key has a revision (its tombstone): update from it.
        if (e) await this.bitfields.update(infoHashHex, merged.toBytes(), e.revision);
        else await this.bitfields.create(infoHashHex, merged.toBytes());
        return merged;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
    }
    throw new FleetStateError('FLEET_CONFLICT', `${infoHashHex}: the bitfield kept changing under us`);
  }

  /** Sets the stored bitfield to `bits` (a recheck found exactly these), whatever it held. */
  async replaceBitfield(infoHashHex: string, bits: Bitfield): Promise<void> {
    await this.bitfields.put(infoHashHex, bits.toBytes());
  }

  /**
   * Calls `onChange` with every stored bitfield now and on every change
   * (undefined bytes for a removal); the caller knows each torrent's piece
   * count and reads the bytes with it.
   */
  async watchBitfields(onChange: (infoHashHex: string, bytes: Uint8Array | undefined) => void): Promise<() => void> {
    const it = await this.bitfields.watch();
    void (async () => {
      for await (const e of it) onChange(e.key, e.operation === 'PUT' ? e.value : undefined);
    })();
    return () => it.stop();
  }

  /** Reads stored bitfield bytes for `pieceCount` pieces (empty when they do not fit). */
  static readBitfield(bytes: Uint8Array | undefined, pieceCount: number): Bitfield {
    return readBitfield(bytes, pieceCount);
  }

  // ---- config and totals ----

  /**
   * One compare-and-set on the counter per try. Adds come in bursts (a
   * watch folder filled at once, a script adding a season, several API
   * replicas), and a burst of n callers retrying at once lets only one win
   * per round, so the last would need n tries back to back. Each conflict
   * waits a random while, in a window that doubles up to ID_BACKOFF_MAX_MS,
   * which spreads the callers out; it gives up after ID_DEADLINE_MS.
   */
  async nextTorrentId(): Promise<number> {
    const deadline = Date.now() + ID_DEADLINE_MS;
    for (let i = 0; ; i++) {
      const e = await this.config.get(IDS_KEY);
      const last = e && e.operation === 'PUT' ? Number(new TextDecoder().decode(e.value)) : 0;
      const next = (Number.isSafeInteger(last) && last > 0 ? last : 0) + 1;
      try {
        if (e) await this.config.update(IDS_KEY, String(next), e.revision);
        else await this.config.create(IDS_KEY, String(next));
        return next;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
      const wait = Math.random() * Math.min(ID_BACKOFF_MAX_MS, ID_BACKOFF_FIRST_MS * 2 ** i);
      if (Date.now() + wait > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    throw new FleetStateError('FLEET_CONFLICT', 'the torrent id counter kept changing under us');
  }

  async getConfig(): Promise<FleetConfig> {
    const e = await this.config.get(CONFIG_KEY);
    return decodeFleetConfig(e && e.operation === 'PUT' ? parseJson(e.value) : undefined);
  }

  async updateConfig(change: (c: FleetConfig) => FleetConfig): Promise<FleetConfig> {
    for (let i = 0; i < 10; i++) {
      const e = await this.config.get(CONFIG_KEY);
      const next = change(decodeFleetConfig(e && e.operation === 'PUT' ? parseJson(e.value) : undefined));
      try {
        if (e) await this.config.update(CONFIG_KEY, encodeJson(next), e.revision);
        else await this.config.create(CONFIG_KEY, encodeJson(next));
        return next;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
    }
    throw new FleetStateError('FLEET_CONFLICT', 'the config kept changing under us');
  }

  async watchConfig(onChange: (c: FleetConfig) => void): Promise<() => void> {
    // A watch of an empty bucket says nothing: the defaults go first.
    onChange(await this.getConfig());
    const it = await this.config.watch({ key: CONFIG_KEY });
    void (async () => {
      for await (const e of it) onChange(decodeFleetConfig(e.operation === 'PUT' ? parseJson(e.value) : undefined));
    })();
    return () => it.stop();
  }

  async addTotals(infoHashHex: string, delta: TorrentTotals): Promise<TorrentTotals> {
    for (let i = 0; i < 20; i++) {
      const e = await this.totals.get(infoHashHex);
      const next = addTotals(decodeTotals(e && e.operation === 'PUT' ? parseJson(e.value) : undefined), delta);
      try {
        if (e) await this.totals.update(infoHashHex, encodeJson(next), e.revision);
        else await this.totals.create(infoHashHex, encodeJson(next));
        return next;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
    }
    throw new FleetStateError('FLEET_CONFLICT', `${infoHashHex}: the totals kept changing under us`);
  }

  async watchTotals(onChange: (infoHashHex: string, t: TorrentTotals | undefined) => void): Promise<() => void> {
    const it = await this.totals.watch();
    void (async () => {
      for await (const e of it) onChange(e.key, e.operation === 'PUT' ? decodeTotals(parseJson(e.value)) : undefined);
    })();
    return () => it.stop();
  }

  // ---- tracker status ----

  /** Writes a torrent's tracker statuses (the tracker-client, on every announce result); an empty list removes the key. */
  async putTrackerStatus(infoHashHex: string, list: readonly TrackerStatus[]): Promise<void> {
    if (list.length === 0) await this.trackers.delete(infoHashHex);
    else await this.trackers.put(infoHashHex, encodeTrackerStatuses(list));
  }

  /** Every torrent's tracker statuses as stored now. */
  async listTrackerStatus(): Promise<Map<string, TrackerStatus[]>> {
    const out = new Map<string, TrackerStatus[]>();
    for (const e of await kvSnapshot(this.trackers)) out.set(e.key, decodeTrackerStatuses(e.value));
    return out;
  }

  /**
   * Calls `onChange` with every torrent's statuses now and on every change
   * (undefined for a removal). Resolves once the bucket as it stands has
   * been delivered, so a peer-worker that has just started answers with
   * the statuses at once; a notification that does not come (the stream
   * changed under the watch) holds it up for 5 s at most.
   */
  async watchTrackerStatus(onChange: (infoHashHex: string, list: TrackerStatus[] | undefined) => void): Promise<() => void> {
    let initialized: () => void = () => {};
    const delivered = new Promise<void>((resolve) => (initialized = resolve));
    const it = await this.trackers.watch({ initializedFn: () => initialized() });
    void (async () => {
      for await (const e of it) onChange(e.key, e.operation === 'PUT' ? decodeTrackerStatuses(e.value) : undefined);
    })();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([delivered, new Promise<void>((resolve) => (timer = setTimeout(resolve, 5000)))]);
    clearTimeout(timer);
    return () => it.stop();
  }

  // ---- workers ----

  async putWorker(w: WorkerEntry): Promise<void> {
    await this.workers.put(w.workerId, new TextEncoder().encode(JSON.stringify(w)));
  }

  async removeWorker(workerId: string): Promise<void> {
    await this.workers.delete(workerId);
  }

  /** The workers heard from within the bucket's TTL. */
  async listWorkers(): Promise<WorkerEntry[]> {
    const out: WorkerEntry[] = [];
    for (const e of await kvSnapshot(this.workers)) {
      try {
        out.push(JSON.parse(new TextDecoder().decode(e.value)) as WorkerEntry);
      } catch {
        // A foreign value under our bucket: not a worker.
      }
    }
    return out;
  }

}

/**
 * Opens (and on first use creates) a bucket. Replicas started together on a
 * fresh NATS race to create each bucket's stream, and the losers' creates
 * fail (`subjects overlap with an existing stream`, or the name in use):
 * the stream is there then, and opening again binds to it.
 */
async function openBucket(open: () => Promise<KV>): Promise<KV> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await open();
    } catch (err) {
      if (attempt >= 4 || !isCreateRace(err)) throw err;
    }
  }
}

/** The JetStream API's error code of a failed call, when it gave one. */
function apiErrorCode(err: unknown): number | undefined {
  return (err as { api_error?: { err_code?: number } } | undefined)?.api_error?.err_code;
}

/** A create lost to another replica's: 10065, subjects overlap with an existing stream; 10058, stream name already in use. */
function isCreateRace(err: unknown): boolean {
  const code = apiErrorCode(err);
  return code === 10065 || code === 10058 || /subjects overlap|name already in use/i.test((err as Error)?.message ?? '');
}

/** JetStream's answer to a create or update whose expected revision did not match. */
function isWrongLastSequence(err: unknown): boolean {
  const m = (err as Error)?.message ?? '';
  return /wrong last sequence|key exists/i.test(m) || apiErrorCode(err) === 10071;
}
