import { constants as fsConstants } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bitfield } from '@seedbox/protocol';
import type { FleetStore } from './fleet-store.js';
import { decodeEntry, encodeEntry, readBitfield, type DesiredState, type RegistryEntry, type WorkerEntry } from './registry-entry.js';
import { decodeFleetConfig, decodeTotals, encodeJson, parseJson } from './settings-codec.js';
import { addTotals, ZERO_TOTALS, type FleetConfig, type TorrentTotals } from './torrent-settings.js';

/**
 * The fleet's state in one folder, for `seedbox serve` (one process, no
 * NATS): `torrents/<infohash>.json` (the registry entry, the same JSON
 * the JetStream bucket holds), `bitfields/<infohash>.bin`, `totals.json`
 * (every torrent's lifetime totals) and `config.json`. Everything
 * is read into memory at open; every change is written as a new file,
 * flushed, and renamed over the old one, so `kill -9` at any moment
 * leaves either the old entry or the new one, never half of one. Leftover
 * temporary files of such a kill are removed at the next open. Writes to
 * one key go one after the other, in the order they were made.
 *
 * The totals are one file because they change together: every seeding
 * torrent's time grows, and a flush hands over thousands of torrents at
 * once (see the peer-worker's TotalsKeeper), which as a file each would be
 * as many fsyncs. Changes made while a write of it is under way go in the
 * next, one write for them all. Earlier versions wrote `totals/<infohash>.json`
 * per torrent: those are read at open, folded into `totals.json`, and removed.
 *
 * Workers are this process alone, so they are kept in memory.
 */

export class LocalFleetStoreError extends Error {
  override readonly name = 'LocalFleetStoreError';
  constructor(
    readonly code: 'STATE_DIR_UNUSABLE',
    message: string,
    readonly path: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const HEX40 = /^[0-9a-f]{40}$/;
const TOTALS_FILE = 'totals.json';
/** Where earlier versions kept each torrent's totals, a file each. */
const LEGACY_TOTALS_DIR = 'totals';

type TorrentListener = (infoHashHex: string, e: RegistryEntry | undefined) => void;
type BitfieldListener = (infoHashHex: string, bytes: Uint8Array | undefined) => void;
type TotalsListener = (infoHashHex: string, t: TorrentTotals | undefined) => void;
type ConfigListener = (c: FleetConfig) => void;

export class LocalFleetStore implements FleetStore {
  private readonly torrents = new Map<string, RegistryEntry>();
  private readonly bitfields = new Map<string, Uint8Array>();
  private readonly workers = new Map<string, WorkerEntry>();
  private readonly torrentListeners = new Set<TorrentListener>();
  private readonly bitfieldListeners = new Set<BitfieldListener>();
  /** The totals as the file holds them (or the write under way will). */
  private readonly totals = new Map<string, TorrentTotals>();
  /** Deltas for the next write of the totals file, not started yet. */
  private stagedTotals = new Map<string, TorrentTotals>();
  /** That next write: changes staged until it starts go in it. */
  private nextTotalsWrite: Promise<void> | undefined;
  private readonly totalsListeners = new Set<TotalsListener>();
  private config: FleetConfig = decodeFleetConfig(undefined);
  private readonly configListeners = new Set<ConfigListener>();
  /** The last write of each file, so writes to it stay in order. */
  private readonly writing = new Map<string, Promise<void>>();
  private tmpSeq = 0;
  private written = 0;
  /**
   * The last torrent id given out: the highest an entry holds at open, so
   * one removed before a restart may be given again after it (as
   * Transmission's ids, which hold for one daemon run).
   */
  private lastId = 0;

  private constructor(
    readonly dir: string,
    /** Entries found unreadable at open: skipped, and left on disk for the operator. */
    readonly badEntries: { path: string; error: Error }[],
  ) {}

  /** Opens (creating) the folder; LocalFleetStoreError STATE_DIR_UNUSABLE when it cannot be written. */
  static async open(dir: string): Promise<LocalFleetStore> {
    const unusable = (e: unknown): never => {
      throw new LocalFleetStoreError('STATE_DIR_UNUSABLE', `the state folder ${dir} cannot be used: ${(e as Error).message}`, dir, { cause: e });
    };
    const folders = ['torrents', 'bitfields'];
    await Promise.all(folders.map((d) => mkdir(join(dir, d), { recursive: true }))).catch(unusable);
    await Promise.all([dir, ...folders.map((d) => join(dir, d))].map((d) => access(d, fsConstants.W_OK))).catch(unusable);
    const store = new LocalFleetStore(dir, []);
    await store.load().catch(unusable);
    return store;
  }

  private async load(): Promise<void> {
    for (const name of await readdir(join(this.dir, 'torrents'))) {
      const path = join(this.dir, 'torrents', name);
      if (name.includes('.tmp')) {
        await rm(path, { force: true });
        continue;
      }
      const hex = name.replace(/\.json$/, '');
      if (!name.endsWith('.json') || !HEX40.test(hex)) continue;
      try {
        this.torrents.set(hex, decodeEntry(hex, await readFile(path)));
      } catch (e) {
        this.badEntries.push({ path, error: e as Error });
      }
    }
    for (const name of await readdir(join(this.dir, 'bitfields'))) {
      const path = join(this.dir, 'bitfields', name);
      if (name.includes('.tmp')) {
        await rm(path, { force: true });
        continue;
      }
      const hex = name.replace(/\.bin$/, '');
      if (name.endsWith('.bin') && HEX40.test(hex) && this.torrents.has(hex)) this.bitfields.set(hex, new Uint8Array(await readFile(path)));
    }
    await this.loadTotals();
    for (const name of await readdir(this.dir)) {
      if ((name.startsWith('config.json.') || name.startsWith(`${TOTALS_FILE}.`)) && name.endsWith('.tmp')) await rm(join(this.dir, name), { force: true });
    }
    this.config = decodeFleetConfig(parseJson(await readFile(join(this.dir, 'config.json')).catch(() => undefined)));
  }

  /**
   * `totals.json`, then any per-torrent files an earlier version left:
   * only an earlier version writes those, so they are as new as anything
   * (a downgrade and back) and win. They are folded into `totals.json`,
   * then removed; a kill in between leaves them to be folded in again.
   */
  private async loadTotals(): Promise<void> {
    const file = record(parseJson(await readFile(join(this.dir, TOTALS_FILE)).catch(() => undefined)));
    for (const [hex, t] of Object.entries(record(file.totals))) if (this.torrents.has(hex)) this.totals.set(hex, decodeTotals(t));
    const legacyDir = join(this.dir, LEGACY_TOTALS_DIR);
    const legacy = await readdir(legacyDir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (!legacy) return;
    for (const name of legacy) {
      const hex = name.replace(/\.json$/, '');
      if (name.endsWith('.json') && HEX40.test(hex) && this.torrents.has(hex)) this.totals.set(hex, decodeTotals(parseJson(await readFile(join(legacyDir, name)))));
    }
    await this.saveTotals();
    await rm(legacyDir, { recursive: true, force: true });
  }

  // ---- registry ----

  async addTorrent(e: RegistryEntry): Promise<boolean> {
    if (this.torrents.has(e.infoHashHex)) return false;
    await this.putTorrent(e);
    return true;
  }

  async nextTorrentId(): Promise<number> {
    for (const e of this.torrents.values()) if (e.id !== undefined && e.id > this.lastId) this.lastId = e.id;
    return ++this.lastId;
  }

  async getTorrent(infoHashHex: string): Promise<RegistryEntry | undefined> {
    return this.torrents.get(infoHashHex);
  }

  async listTorrents(): Promise<RegistryEntry[]> {
    return [...this.torrents.values()].sort((a, b) => a.addedAt - b.addedAt);
  }

  async setDesired(infoHashHex: string, desired: DesiredState): Promise<boolean> {
    return (await this.updateTorrent(infoHashHex, (e) => (e.desired === desired ? undefined : { ...e, desired }))) !== undefined;
  }

  async requestRecheck(infoHashHex: string): Promise<boolean> {
    return (await this.updateTorrent(infoHashHex, (e) => ({ ...e, rechecks: e.rechecks + 1 }))) !== undefined;
  }

  async updateTorrent(infoHashHex: string, change: (e: RegistryEntry) => RegistryEntry | undefined): Promise<RegistryEntry | undefined> {
    const e = this.torrents.get(infoHashHex);
    if (!e) return undefined;
    const next = change(e);
    if (!next) return e;
    await this.putTorrent(next);
    return next;
  }

  private async putTorrent(e: RegistryEntry): Promise<void> {
    // Memory first, so that reads right after see it; the file follows, in order.
    this.torrents.set(e.infoHashHex, e);
    await this.write(join(this.dir, 'torrents', `${e.infoHashHex}.json`), encodeEntry(e));
    for (const l of this.torrentListeners) l(e.infoHashHex, e);
  }

  async removeTorrent(infoHashHex: string): Promise<boolean> {
    if (!this.torrents.delete(infoHashHex)) return false;
    this.bitfields.delete(infoHashHex);
    const hadTotals = this.totals.delete(infoHashHex);
    // The registry entry goes first: a kill between the two leaves a bitfield without a torrent, which open() ignores.
    await this.write(join(this.dir, 'torrents', `${infoHashHex}.json`), undefined);
    await this.write(join(this.dir, 'bitfields', `${infoHashHex}.bin`), undefined);
    this.stagedTotals.delete(infoHashHex);
    if (hadTotals) await this.saveTotals();
    for (const l of this.torrentListeners) l(infoHashHex, undefined);
    for (const l of this.bitfieldListeners) l(infoHashHex, undefined);
    if (hadTotals) for (const l of this.totalsListeners) l(infoHashHex, undefined);
    return true;
  }

  async watchTorrents(onChange: TorrentListener): Promise<() => void> {
    this.torrentListeners.add(onChange);
    const now = [...this.torrents.values()];
    // As from a JetStream watch: the current entries arrive after the call returns.
    queueMicrotask(() => {
      for (const e of now) if (this.torrentListeners.has(onChange)) onChange(e.infoHashHex, e);
    });
    return () => this.torrentListeners.delete(onChange);
  }

  // ---- bitfields ----

  async getBitfield(infoHashHex: string, pieceCount: number): Promise<Bitfield> {
    return readBitfield(this.bitfields.get(infoHashHex), pieceCount);
  }

  async mergeBitfield(infoHashHex: string, pieceCount: number, pieces: Iterable<number>): Promise<Bitfield> {
    const merged = readBitfield(this.bitfields.get(infoHashHex), pieceCount);
    for (const p of pieces) merged.set(p);
    await this.putBitfield(infoHashHex, merged);
    return merged;
  }

  async replaceBitfield(infoHashHex: string, bits: Bitfield): Promise<void> {
    await this.putBitfield(infoHashHex, bits);
  }

  private async putBitfield(infoHashHex: string, bits: Bitfield): Promise<void> {
    // A torrent removed meanwhile keeps no bitfield.
    if (!this.torrents.has(infoHashHex)) return;
    const bytes = bits.toBytes();
    this.bitfields.set(infoHashHex, bytes);
    await this.write(join(this.dir, 'bitfields', `${infoHashHex}.bin`), bytes);
    for (const l of this.bitfieldListeners) l(infoHashHex, bytes);
  }

  async watchBitfields(onChange: BitfieldListener): Promise<() => void> {
    this.bitfieldListeners.add(onChange);
    const now = [...this.bitfields];
    queueMicrotask(() => {
      for (const [hex, bytes] of now) if (this.bitfieldListeners.has(onChange)) onChange(hex, bytes);
    });
    return () => this.bitfieldListeners.delete(onChange);
  }

  // ---- config and totals ----

  async getConfig(): Promise<FleetConfig> {
    return this.config;
  }

  async updateConfig(change: (c: FleetConfig) => FleetConfig): Promise<FleetConfig> {
    const next = change(this.config);
    this.config = next;
    await this.write(join(this.dir, 'config.json'), encodeJson(next));
    for (const l of this.configListeners) l(next);
    return next;
  }

  async watchConfig(onChange: ConfigListener): Promise<() => void> {
    this.configListeners.add(onChange);
    onChange(this.config);
    return () => this.configListeners.delete(onChange);
  }

  async addTotals(infoHashHex: string, delta: TorrentTotals): Promise<TorrentTotals> {
    // A torrent removed meanwhile keeps no totals.
    if (!this.torrents.has(infoHashHex)) return delta;
    const staged = this.stagedTotals.get(infoHashHex);
    this.stagedTotals.set(infoHashHex, staged ? addTotals(staged, delta) : delta);
    // A failed write drops what it held (the caller keeps its delta to try again), so nothing counts twice.
    await this.saveTotals();
    const next = this.totals.get(infoHashHex) ?? delta;
    for (const l of this.totalsListeners) l(infoHashHex, next);
    return next;
  }

  /**
   * Writes the totals file with every delta staged until the write starts;
   * once it is on disk they join `totals`. Calls while that write waits
   * for the one before share it.
   */
  private saveTotals(): Promise<void> {
    if (this.nextTotalsWrite) return this.nextTotalsWrite;
    let batch = new Map<string, TorrentTotals>();
    const next = this.write(join(this.dir, TOTALS_FILE), () => {
      this.nextTotalsWrite = undefined;
      batch = this.stagedTotals;
      this.stagedTotals = new Map();
      const all: Record<string, TorrentTotals> = {};
      for (const [hex, t] of this.totals) if (this.torrents.has(hex)) all[hex] = t;
      for (const [hex, d] of batch) if (this.torrents.has(hex)) all[hex] = addTotals(all[hex] ?? ZERO_TOTALS, d);
      return encodeJson({ version: 1, totals: all });
    }).then(() => {
      for (const [hex, d] of batch) if (this.torrents.has(hex)) this.totals.set(hex, addTotals(this.totals.get(hex) ?? ZERO_TOTALS, d));
    });
    this.nextTotalsWrite = next;
    return next;
  }

  async watchTotals(onChange: TotalsListener): Promise<() => void> {
    this.totalsListeners.add(onChange);
    const now = [...this.totals];
    queueMicrotask(() => {
      for (const [hex, t] of now) if (this.totalsListeners.has(onChange)) onChange(hex, t);
    });
    return () => this.totalsListeners.delete(onChange);
  }

  // ---- workers: this process ----

  async putWorker(w: WorkerEntry): Promise<void> {
    this.workers.set(w.workerId, w);
  }

  async removeWorker(workerId: string): Promise<void> {
    this.workers.delete(workerId);
  }

  async listWorkers(): Promise<WorkerEntry[]> {
    return [...this.workers.values()];
  }

  /** Files written (renamed into place) since open: what a change costs, for tests and figures. */
  get fileWrites(): number {
    return this.written;
  }

  /** Every write made so far is on disk. */
  async flush(): Promise<void> {
    await Promise.all([...this.writing.values()]);
  }

  /**
   * Writes `data` to `path` by a new file renamed over it (undefined removes
   * it), after the writes to it before; data given as a function is made
   * when the write starts.
   */
  private write(path: string, content: Uint8Array | undefined | (() => Uint8Array)): Promise<void> {
    const previous = this.writing.get(path) ?? Promise.resolve();
    const next = previous.then(async () => {
      const data = typeof content === 'function' ? content() : content;
      if (data === undefined) {
        await rm(path, { force: true });
        return;
      }
      const tmp = `${path}.${process.pid}.${this.tmpSeq++}.tmp`;
      const fh = await open(tmp, 'w', 0o600);
      try {
        try {
          await fh.writeFile(data);
          // On disk before it replaces the old one: a crash of the machine, not only of us, leaves a whole file.
          await fh.datasync();
        } finally {
          await fh.close();
        }
        await rename(tmp, path);
        this.written++;
      } catch (e) {
        // A full disk: the old file stays whole, and the partial new one goes (it would hold the last free blocks).
        await rm(tmp, { force: true }).catch(() => {});
        throw e;
      }
    });
    const settled = next.catch(() => {});
    this.writing.set(path, settled);
    void settled.then(() => {
      if (this.writing.get(path) === settled) this.writing.delete(path);
    });
    return next;
  }
}

function record(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
