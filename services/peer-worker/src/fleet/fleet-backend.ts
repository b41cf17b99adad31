import { MetainfoError, parseHostPort, parseMagnet, parseMetainfo, trackerUrlKind, type Magnet, type Metainfo, type PeerAddress } from '@seedbox/protocol';
import {
  applyConfigPatch,
  applyTorrentPatch,
  awaitingMetadata,
  defaultFleetConfig,
  defaultTorrentSettings,
  normalizeSavePath,
  putCategory,
  removeCategories,
  SettingsError,
  type DesiredState,
  type FleetConfig,
  type FleetConfigPatch,
  type FleetStore,
  type RegistryEntry,
  type TorrentSettingsPatch,
  type TorrentTotals,
} from '@seedbox/cluster';
import {
  ControlError,
  type AddOptions,
  type ControlBackend,
  type ListOptions,
  type PeerInfo,
  type PeerSource,
  type QueueMove,
  type StatsSource,
  type TorrentRecord,
  type TorrentStatsView,
  type TrackerSource,
  type TrackerStatus,
} from '../control/backend.js';
import { FleetRecords, queueMoves, queuePositions } from './fleet-records.js';

/**
 * The control API's backend over a FleetStore: the registry is the
 * JetStream bucket in the fleet (or the state folder of `seedbox serve`),
 * figures come from a StatsSource, what the trackers answered from a
 * TrackerSource, connected peers from a PeerSource, and deleting data is
 * `deleteData`'s (in the fleet, a request to the disk-writers, the only
 * ones that write the volume).
 *
 * A magnet link is registered at once, as an entry awaiting its metadata;
 * the fleet's runners fetch it (MagnetOwner), so nothing here waits for
 * peers.
 */
export interface FleetBackendOptions {
  state: FleetStore;
  stats: StatsSource;
  trackers: TrackerSource;
  peers: PeerSource;
  /** Deletes a removed torrent's files (its content in `savePath`, see torrentRemovalPath); throws with the reason when it cannot. */
  deleteData: (infoHashHex: string, place: DataPlace) => Promise<void>;
  /** The data folder, as this process sees it: save folders are inside it. */
  dataDir: string;
  /** What the runner of this process knows of the fleet: which running torrents wait in the queue, the totals. */
  fleet: FleetView;
  /** The DHT finds public torrents: a magnet link needs neither trackers nor peers. */
  dht?: boolean;
}

/** Where a torrent's content is: its name (the top file or folder) and its save folder. */
export interface DataPlace {
  name: string;
  savePath: string | undefined;
}

/** Read from the FleetRunner of this process, which follows the same state. */
export interface FleetView {
  queued(infoHashHex: string): boolean;
  totals(infoHashHex: string): TorrentTotals | undefined;
  /** Bytes verified of the torrent, as the fleet's bitfield says. */
  doneBytes(infoHashHex: string): number | undefined;
  /** Bytes verified of each file (one per entry of the metainfo's files), as the fleet's bitfield says. */
  fileDone(infoHashHex: string): number[] | undefined;
  /** Every wanted piece is verified, as the fleet's bitfield says; undefined for a torrent the runner has not seen. */
  done(infoHashHex: string): boolean | undefined;
  /** The fleet's bitfield (BEP 3 layout, high bit first; shorter when nothing is recorded past it). */
  pieces(infoHashHex: string): Uint8Array | undefined;
  /** The torrent's metainfo as the runner parsed it, once it has the entry; the control API shares it rather than parse its own. */
  metainfo(infoHashHex: string): Metainfo | undefined;
}

/**
 * A magnet link must name somewhere to fetch its metadata from: with no
 * DHT, one without a tracker we can announce to (tr) or a peer (x.pe)
 * could never be resolved. Throws ControlError invalid-argument saying so.
 */
export function checkMagnetSources(magnet: Magnet, dht = false): void {
  const findable = dht || magnet.trackers.some((t) => trackerUrlKind(t) !== undefined) || magnet.peers.some((p) => parseHostPort(p) !== undefined);
  if (!findable) {
    throw new ControlError('invalid-argument', `nowhere to fetch the metadata of ${magnet.infoHashHex} from: the magnet link has no http, https or udp tracker (tr) and no peers (x.pe)`);
  }
}

export class FleetBackend implements ControlBackend {
  private readonly state: FleetStore;
  private readonly board: StatsSource;
  private readonly records: FleetRecords;
  /**
   * The last id asked for: ids are asked for one after another. Concurrent
   * adds (a batch) would otherwise race each other for the store's counter,
   * every loser trying its compare-and-set again; in turn, each takes one.
   */
  private idTurn: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: FleetBackendOptions) {
    this.state = o.state;
    this.board = o.stats;
    this.records = new FleetRecords(o.fleet, o.dataDir);
  }

  async add(torrentFile: Uint8Array, options: AddOptions): Promise<{ record: TorrentRecord; created: boolean }> {
    let meta: Metainfo;
    try {
      meta = parseMetainfo(torrentFile);
    } catch (e) {
      if (e instanceof MetainfoError) throw new ControlError('invalid-argument', `not a valid torrent: ${e.message}`, { cause: e });
      throw e;
    }
    return this.register(meta.infoHashHex, options, meta.files.length, (base) => ({ ...base, torrentFile: Uint8Array.from(torrentFile) }), meta);
  }

  /**
   * A magnet URI is registered at once, awaiting its metadata: the
   * torrent's owner fetches the info dictionary (BEP 9) from the link's
   * peers (x.pe) and those its trackers (tr) give, and writes the .torrent
   * into the entry (see MagnetOwner). Settings are checked as for a file,
   * except that file priorities cannot be, before the file list is known.
   */
  async addMagnet(uri: string, options: AddOptions): Promise<{ record: TorrentRecord; created: boolean }> {
    let magnet: Magnet;
    try {
      magnet = parseMagnet(uri);
    } catch (e) {
      throw new ControlError('invalid-argument', `not a valid magnet URI: ${(e as Error).message}`, { cause: e });
    }
    checkMagnetSources(magnet, this.o.dht);
    return this.register(magnet.infoHashHex, options, 0, (base) => ({ ...base, torrentFile: new Uint8Array(0), magnet: uri }));
  }

  /** Waits for the entry's metadata by reading it (one key) every `pollMs`. */
  async waitForMetadata(infoHashHex: string, timeoutMs: number, pollMs = 500): Promise<TorrentRecord | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = await this.unavailableOnError(() => this.state.getTorrent(infoHashHex));
      if (!e) return undefined;
      if (!awaitingMetadata(e) || Date.now() >= deadline) return this.get(infoHashHex);
      await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
    }
  }

  /**
   * Adds an entry (made by `make` from the common fields) unless the
   * torrent is there already, which is answered as it is, without
   * spending an id. `fileCount` is what file priorities are checked
   * against (0 before the metadata). Reads one key, never the whole
   * registry, so an add costs the same at 10 torrents or 10,000: the
   * answer's queue position is 0 (not worked out). `meta` is the file's,
   * parsed already: kept, so the record does not parse it again.
   */
  private async register(
    infoHashHex: string,
    options: AddOptions,
    fileCount: number,
    make: (base: Omit<RegistryEntry, 'torrentFile'>) => RegistryEntry,
    meta?: Metainfo,
  ): Promise<{ record: TorrentRecord; created: boolean }> {
    const addedAt = Date.now();
    const config = await this.unavailableOnError(() => this.state.getConfig());
    const settings = this.checked(() => {
      const s = applyTorrentPatch(defaultTorrentSettings(addedAt), options.settings ?? {}, { config, fileCount });
      // The category's folder, unless one is given.
      const savePath = options.savePath !== undefined ? normalizeSavePath(options.savePath, this.o.dataDir) : s.category !== '' ? config.categories[s.category]?.savePath : undefined;
      return savePath !== undefined ? { ...s, savePath } : s;
    });
    const existing = await this.unavailableOnError(() => this.state.getTorrent(infoHashHex));
    if (existing) return { record: this.records.record(existing, 0), created: false };
    const id = await this.nextId();
    const entry = make({ infoHashHex, desired: options.paused ? 'paused' : 'running', addedAt, rechecks: 0, settings, id });
    if (await this.unavailableOnError(() => this.state.addTorrent(entry))) {
      if (meta) this.records.remember(meta);
      return { record: this.records.record(entry, 0), created: true };
    }
    // Added meanwhile by another call: that one is the torrent.
    const now = await this.unavailableOnError(() => this.state.getTorrent(infoHashHex));
    if (!now) throw new ControlError('unavailable', `${infoHashHex} was removed while being added`);
    return { record: this.records.record(now, 0), created: false };
  }

  private nextId(): Promise<number> {
    const id = this.idTurn.then(() => this.unavailableOnError(() => this.state.nextTorrentId()));
    this.idTurn = id.catch(() => undefined);
    return id;
  }

  /**
   * One read of the registry and one sort for the queue positions, then a
   * record per torrent (of those asked for): O(N log N) for N torrents.
   * An entry whose .torrent does not parse is left out.
   */
  async list(options: ListOptions = {}): Promise<TorrentRecord[]> {
    const entries = await this.entries();
    const positions = queuePositions(entries);
    const only = options.infoHashes && new Set(options.infoHashes);
    const out: TorrentRecord[] = [];
    for (const e of entries) {
      if (only && !only.has(e.infoHashHex)) continue;
      try {
        out.push(this.records.record(e, positions.get(e.infoHashHex)!));
      } catch {
        // Skipped, as the runner skips it.
      }
    }
    this.records.keepOnly(entries);
    return out;
  }

  async get(infoHashHex: string): Promise<TorrentRecord | undefined> {
    return (await this.list({ infoHashes: [infoHashHex] }))[0];
  }

  async remove(infoHashHex: string, options: { deleteData: boolean }): Promise<boolean> {
    const entry = await this.unavailableOnError(() => this.state.getTorrent(infoHashHex));
    const removed = entry !== undefined && (await this.unavailableOnError(() => this.state.removeTorrent(infoHashHex)));
    if (!removed) return false;
    // A magnet removed before its metadata came has no data: it never ran.
    const meta = awaitingMetadata(entry) ? undefined : this.records.parse(entry);
    this.records.forget(infoHashHex);
    if (options.deleteData && meta) {
      const place: DataPlace = { name: meta.name, savePath: entry.settings.savePath };
      try {
        await this.o.deleteData(infoHashHex, place);
      } catch (e) {
        throw new ControlError('unavailable', `the torrent is removed, but its data was not deleted: ${(e as Error).message}`, { cause: e });
      }
    }
    return true;
  }

  /** Resuming by hand also forgets which seeding rule paused it (a rule still reached pauses it again); resuming one in error (a disk since mended) checks it again, as the engine's resume from error does. */
  async setDesired(infoHashHex: string, desired: DesiredState): Promise<boolean> {
    const e = await this.unavailableOnError(() =>
      this.state.updateTorrent(infoHashHex, (e) => (e.desired === desired && !(desired === 'running' && e.limitReached) ? undefined : { ...e, desired, ...(desired === 'running' ? { limitReached: undefined } : {}) })),
    );
    if (e?.desired === 'running' && desired === 'running' && this.board.get(infoHashHex)?.state === 'error') await this.recheck(infoHashHex);
    return e !== undefined;
  }

  async update(infoHashHex: string, patch: TorrentSettingsPatch): Promise<TorrentRecord | undefined> {
    const config = await this.unavailableOnError(() => this.state.getConfig());
    if (!(await this.unavailableOnError(() => this.state.getTorrent(infoHashHex)))) return undefined;
    // Checked inside the compare-and-set (a refusal is INVALID_ARGUMENT, not a retry): the file count is the entry's as it stands, 0 while a magnet awaits its metadata.
    const e = await this.unavailableOnError(() =>
      this.state.updateTorrent(infoHashHex, (e) => ({ ...e, settings: this.checked(() => applyTorrentPatch(e.settings, patch, { config, fileCount: this.fileCount(e) })) })),
    );
    return e ? this.get(infoHashHex) : undefined;
  }

  async move(infoHashHex: string, savePath: string): Promise<boolean> {
    const to = this.checked(() => normalizeSavePath(savePath, this.o.dataDir));
    // A new move forgets the last one's failure. A magnet awaiting its metadata has no data yet: its folder just changes.
    const e = await this.unavailableOnError(() =>
      this.state.updateTorrent(infoHashHex, (e) =>
        e.settings.savePath === to && e.moveTo === undefined && e.moveError === undefined
          ? undefined
          : awaitingMetadata(e)
            ? { ...e, settings: { ...e.settings, savePath: to }, moveTo: undefined, moveError: undefined }
            : { ...e, moveTo: to, moveError: undefined },
      ),
    );
    return e !== undefined;
  }

  async moveInQueue(infoHashHexes: string[], move: QueueMove): Promise<void> {
    const entries = await this.unavailableOnError(() => this.state.listTorrents());
    for (const [hex, queueKey] of queueMoves(entries, new Set(infoHashHexes), move)) {
      await this.unavailableOnError(() => this.state.updateTorrent(hex, (e) => ({ ...e, settings: { ...e.settings, queueKey } })));
    }
  }

  config(): Promise<FleetConfig> {
    return this.unavailableOnError(() => this.state.getConfig());
  }

  async updateConfig(patch: FleetConfigPatch): Promise<FleetConfig> {
    // Checked once before the store, so a bad value is refused as such.
    this.checked(() => applyConfigPatch(defaultFleetConfig(), patch));
    return this.unavailableOnError(() => this.state.updateConfig((c) => applyConfigPatch(c, patch)));
  }

  async putCategory(name: string, savePath: string, mode: 'create' | 'edit' | 'upsert'): Promise<FleetConfig> {
    const current = await this.config();
    this.checked(() => putCategory(current, name, savePath, this.o.dataDir, mode));
    return this.unavailableOnError(() => this.state.updateConfig((c) => this.checked(() => putCategory(c, name, savePath, this.o.dataDir, mode))));
  }

  removeCategories(names: string[]): Promise<FleetConfig> {
    return this.unavailableOnError(() => this.state.updateConfig((c) => removeCategories(c, names)));
  }

  private fileCount(e: RegistryEntry): number {
    return awaitingMetadata(e) ? 0 : this.records.parse(e).files.length;
  }

  /** A broken settings rule is the caller's mistake: INVALID_ARGUMENT with the rule's sentence. */
  private checked<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof SettingsError) throw new ControlError('invalid-argument', e.message, { cause: e });
      throw e;
    }
  }

  recheck(infoHashHex: string): Promise<boolean> {
    return this.unavailableOnError(() => this.state.requestRecheck(infoHashHex));
  }

  /**
   * The figures of the last tick, with each file's progress from the
   * fleet's bitfield (so any replica has it). The bitfield changes as the
   * disk-writers record a piece, the figures once a tick: a torrent whose
   * last wanted piece is recorded reads done before its worker's next tick
   * says seeding. Its state is then the bitfield's, so no API shows a
   * torrent with nothing left as still downloading (Sonarr takes a
   * Transmission torrent as done by its status and what is left).
   */
  stats(infoHashHex: string): TorrentStatsView | undefined {
    const s = this.board.get(infoHashHex);
    if (!s) return undefined;
    const fileDone = this.o.fleet.fileDone(infoHashHex);
    const caughtUp = s.state === 'downloading' && this.o.fleet.done(infoHashHex) === true;
    if (!fileDone && !caughtUp) return s;
    return { ...s, ...(fileDone ? { fileDone } : {}), ...(caughtUp ? { state: 'seeding' as const, left: 0, eta: 0 } : {}) };
  }

  pieces(infoHashHex: string): Uint8Array | undefined {
    return this.o.fleet.pieces(infoHashHex);
  }

  trackers(infoHashHex: string): TrackerStatus[] {
    return this.o.trackers.status(infoHashHex);
  }

  async reannounce(infoHashHex: string): Promise<boolean> {
    if (!(await this.unavailableOnError(() => this.state.getTorrent(infoHashHex)))) return false;
    try {
      await this.o.trackers.reannounce(infoHashHex);
    } catch (e) {
      throw new ControlError('unavailable', `the announce cannot be asked for: ${(e as Error).message}`, { cause: e });
    }
    return true;
  }

  async peers(infoHashHex: string): Promise<PeerInfo[] | undefined> {
    if (!(await this.unavailableOnError(() => this.state.getTorrent(infoHashHex)))) return undefined;
    return this.o.peers.peers(infoHashHex);
  }

  async addPeers(infoHashHex: string, peers: readonly PeerAddress[]): Promise<boolean> {
    if (!(await this.unavailableOnError(() => this.state.getTorrent(infoHashHex)))) return false;
    if (peers.length > 0) await this.unavailableOnError(() => this.o.peers.addPeers(infoHashHex, peers));
    return true;
  }

  onTick(listener: (stats: TorrentStatsView[]) => void): () => void {
    // A watch compares every torrent's figures with what it sent (watch-changes.ts): all of them, only while one is open.
    return this.board.onTick((t) => listener(t.all()));
  }

  /**
   * The registry, every entry with its id: an entry written before ids
   * were given gets one now, once (compare-and-set, so two replicas
   * doing it at once agree on the winner's).
   */
  private async entries(): Promise<RegistryEntry[]> {
    const entries = await this.unavailableOnError(() => this.state.listTorrents());
    for (const [i, e] of entries.entries()) {
      if (e.id !== undefined) continue;
      const id = await this.unavailableOnError(() => this.state.nextTorrentId());
      const now = await this.unavailableOnError(() => this.state.updateTorrent(e.infoHashHex, (x) => (x.id === undefined ? { ...x, id } : undefined)));
      if (now) entries[i] = now;
    }
    return entries;
  }

  /** NATS trouble (JetStream down, a timeout) is UNAVAILABLE to the caller: retry later. */
  private async unavailableOnError<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (e instanceof ControlError) throw e;
      throw new ControlError('unavailable', `the fleet's state cannot be reached: ${(e as Error).message}`, { cause: e });
    }
  }
}
