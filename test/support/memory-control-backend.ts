/**
 * A ControlBackend kept in a Map, for tests of the gRPC control API and of
 * the CLI commands that use it. It behaves as the contract in
 * services/peer-worker/src/control/backend.ts says (idempotent add, typed
 * refusals), with no fleet behind it: the test sets figures with setStats
 * and drives ticks with tick() or startTicking().
 *
 * Settings go through the same rules as the fleet's (@seedbox/cluster's
 * applyTorrentPatch, applyConfigPatch, putCategory, normalizeSavePath)
 * against a data folder that is only a path: nothing touches the disk, and
 * a move is done the moment it is asked for.
 *
 * What the trackers answered and who is connected are set by the test too
 * (trackerStatus, connectedPeers); reannounces are counted, and a test
 * that wants one refused sets reannounceError.
 *
 * A magnet link is registered at once, awaiting its metadata, as the
 * fleet does; the test plays the fleet's part with resolveMagnet (the
 * metadata came: the record gets this .torrent) and failMetadata (an
 * attempt failed).
 *
 *   const backend = new MemoryControlBackend();
 *   server.addService(SeedboxControlService, createControlService(backend));
 */
import { join } from 'node:path';
import {
  applyConfigPatch,
  applyTorrentPatch,
  defaultFleetConfig,
  defaultTorrentSettings,
  normalizeSavePath,
  putCategory,
  removeCategories,
  SettingsError,
  ZERO_TOTALS,
  type FleetConfig,
  type FleetConfigPatch,
  type TorrentSettingsPatch,
} from '@seedbox/cluster';
import { MagnetError, MetainfoError, parseMagnet, parseMetainfo, type Magnet, type PeerAddress } from '@seedbox/protocol';
import {
  checkMagnetSources,
  ControlError,
  type AddOptions,
  type ControlBackend,
  type DesiredState,
  type PeerInfo,
  type PendingTorrentRecord,
  type QueueMove,
  type ResolvedTorrentRecord,
  type TorrentRecord,
  type TorrentStatsView,
  type TrackerStatus,
} from '@seedbox/peer-worker';

/** A SettingsError as the fleet's backend passes it on: invalid-argument, the rule kept as the cause. */
function checked<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SettingsError) throw new ControlError('invalid-argument', e.message, { cause: e });
    throw e;
  }
}

export class MemoryControlBackend implements ControlBackend {
  readonly records = new Map<string, TorrentRecord>();
  fleetConfig: FleetConfig = defaultFleetConfig();
  /** Every move asked for, in order (absolute folders). */
  readonly moved: { infoHashHex: string; savePath: string }[] = [];

  /** `dataDir` is never read or written; save folders are only checked against it. */
  constructor(readonly dataDir = '/srv/seedbox-memory') {}
  /** Figures set by the test; a torrent without any has no stats until setStats. */
  readonly figures = new Map<string, TorrentStatsView>();
  readonly listeners = new Set<(stats: TorrentStatsView[]) => void>();
  /** Every successful remove, in order, to check what the service passed on. */
  readonly removed: { infoHashHex: string; deleteData: boolean }[] = [];
  private ticker: NodeJS.Timeout | undefined;
  private lastId = 0;

  async add(torrentFile: Uint8Array, options: AddOptions): Promise<{ record: TorrentRecord; created: boolean }> {
    let metainfo;
    try {
      metainfo = parseMetainfo(torrentFile);
    } catch (err) {
      if (err instanceof MetainfoError) throw new ControlError('invalid-argument', `malformed torrent file: ${err.message}`, { cause: err });
      throw err;
    }
    return this.register(metainfo.infoHashHex, options, metainfo.files.length, { torrentFile: Uint8Array.from(torrentFile), metainfo });
  }

  async addMagnet(uri: string, options: AddOptions): Promise<{ record: TorrentRecord; created: boolean }> {
    let magnet: Magnet;
    try {
      magnet = parseMagnet(uri);
    } catch (err) {
      if (err instanceof MagnetError) throw new ControlError('invalid-argument', `not a valid magnet URI: ${err.message}`, { cause: err });
      throw err;
    }
    checkMagnetSources(magnet);
    return this.register(magnet.infoHashHex, options, 0, { metainfo: undefined, magnet: { uri, name: magnet.displayName ?? magnet.infoHashHex, trackers: [...magnet.trackers] } });
  }

  /** The fleet fetched a magnet's metadata: its record gets this .torrent (whose info hash must be the magnet's). */
  resolveMagnet(infoHashHex: string, torrentFile: Uint8Array): TorrentRecord {
    const record = this.records.get(infoHashHex);
    if (!record || record.metainfo) throw new Error(`resolveMagnet: no magnet ${infoHashHex} awaiting its metadata`);
    const metainfo = parseMetainfo(torrentFile);
    if (metainfo.infoHashHex !== infoHashHex) throw new Error(`resolveMagnet: the .torrent is ${metainfo.infoHashHex}, not ${infoHashHex}`);
    const { magnet: _, ...rest } = record;
    const resolved: TorrentRecord = { ...rest, torrentFile: Uint8Array.from(torrentFile), metainfo };
    this.records.set(infoHashHex, resolved);
    return resolved;
  }

  /** An attempt at a magnet's metadata failed: its record says why (the fleet tries again). */
  failMetadata(infoHashHex: string, message: string): void {
    const record = this.records.get(infoHashHex);
    if (!record || record.metainfo) throw new Error(`failMetadata: no magnet ${infoHashHex} awaiting its metadata`);
    record.magnet = { ...record.magnet, error: message };
  }

  async waitForMetadata(infoHashHex: string, timeoutMs: number): Promise<TorrentRecord | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const record = this.records.get(infoHashHex);
      if (!record || record.metainfo || Date.now() >= deadline) return record;
      await new Promise((r) => setTimeout(r, Math.min(10, Math.max(0, deadline - Date.now()))));
    }
  }

  private register(
    infoHashHex: string,
    options: AddOptions,
    fileCount: number,
    source: Pick<ResolvedTorrentRecord, 'torrentFile' | 'metainfo'> | Pick<PendingTorrentRecord, 'metainfo' | 'magnet'>,
  ): { record: TorrentRecord; created: boolean } {
    const existing = this.records.get(infoHashHex);
    if (existing) return { record: existing, created: false };
    const addedAt = Date.now();
    const settings = checked(() => applyTorrentPatch(defaultTorrentSettings(addedAt), options.settings ?? {}, { config: this.fleetConfig, fileCount }));
    // The folder asked for, else the category's, else one of its own.
    const folder = options.savePath ?? (settings.category === '' ? undefined : this.fleetConfig.categories[settings.category]?.savePath);
    if (folder !== undefined) settings.savePath = checked(() => normalizeSavePath(folder, this.dataDir));
    const record: TorrentRecord = {
      infoHashHex,
      id: ++this.lastId,
      ...source,
      desired: options.paused ? 'paused' : 'running',
      addedAt,
      settings,
      savePath: '',
      queued: false,
      queuePosition: 0,
      totals: { ...ZERO_TOTALS },
      ratio: 0,
    };
    record.savePath = this.absolute(record);
    this.records.set(record.infoHashHex, record);
    this.renumber();
    return { record, created: true };
  }

  private absolute(r: TorrentRecord): string {
    return join(this.dataDir, r.settings.savePath ?? r.infoHashHex);
  }

  /** Torrents in queue order: queue key, then add time and hash for ties. */
  private queueOrder(): TorrentRecord[] {
    return [...this.records.values()].sort((a, b) => a.settings.queueKey - b.settings.queueKey || a.addedAt - b.addedAt || a.infoHashHex.localeCompare(b.infoHashHex));
  }

  private renumber(): void {
    this.queueOrder().forEach((r, i) => (r.queuePosition = i + 1));
  }

  async update(infoHashHex: string, patch: TorrentSettingsPatch): Promise<TorrentRecord | undefined> {
    const record = this.records.get(infoHashHex);
    if (!record) return undefined;
    record.settings = checked(() => applyTorrentPatch(record.settings, patch, { config: this.fleetConfig, fileCount: record.metainfo?.files.length ?? 0 }));
    return record;
  }

  async move(infoHashHex: string, savePath: string): Promise<boolean> {
    const record = this.records.get(infoHashHex);
    if (!record) return false;
    record.settings = { ...record.settings, savePath: checked(() => normalizeSavePath(savePath, this.dataDir)) };
    record.savePath = this.absolute(record);
    this.moved.push({ infoHashHex, savePath: record.savePath });
    return true;
  }

  async moveInQueue(infoHashHexes: string[], move: QueueMove): Promise<void> {
    const order = this.queueOrder();
    const chosen = new Set(infoHashHexes);
    const picked = order.filter((r) => chosen.has(r.infoHashHex));
    const rest = order.filter((r) => !chosen.has(r.infoHashHex));
    let next: TorrentRecord[];
    if (move === 'top') next = [...picked, ...rest];
    else if (move === 'bottom') next = [...rest, ...picked];
    else {
      // One place up (or down) each, keeping the chosen ones' order among themselves.
      next = [...order];
      const indices = next.map((r, i) => (chosen.has(r.infoHashHex) ? i : -1)).filter((i) => i >= 0);
      for (const i of move === 'up' ? indices : indices.reverse()) {
        const j = move === 'up' ? i - 1 : i + 1;
        if (j < 0 || j >= next.length || chosen.has(next[j]!.infoHashHex)) continue;
        [next[i], next[j]] = [next[j]!, next[i]!];
      }
    }
    next.forEach((r, i) => (r.settings = { ...r.settings, queueKey: i + 1 }));
    this.renumber();
  }

  async config(): Promise<FleetConfig> {
    return structuredClone(this.fleetConfig);
  }

  async updateConfig(patch: FleetConfigPatch): Promise<FleetConfig> {
    this.fleetConfig = checked(() => applyConfigPatch(this.fleetConfig, patch));
    return this.config();
  }

  async putCategory(name: string, savePath: string, mode: 'create' | 'edit' | 'upsert'): Promise<FleetConfig> {
    this.fleetConfig = checked(() => putCategory(this.fleetConfig, name, savePath, this.dataDir, mode));
    return this.config();
  }

  /** Torrents in a removed category are left without one, as qBittorrent does. */
  async removeCategories(names: string[]): Promise<FleetConfig> {
    this.fleetConfig = removeCategories(this.fleetConfig, names);
    for (const r of this.records.values()) if (names.includes(r.settings.category)) r.settings = { ...r.settings, category: '' };
    return this.config();
  }

  async list(options: NonNullable<Parameters<ControlBackend['list']>[0]> = {}): Promise<TorrentRecord[]> {
    if (!options.infoHashes) return [...this.records.values()];
    return options.infoHashes.flatMap((h) => this.records.get(h) ?? []);
  }

  async get(infoHashHex: string): Promise<TorrentRecord | undefined> {
    return this.records.get(infoHashHex);
  }

  async remove(infoHashHex: string, options: { deleteData: boolean }): Promise<boolean> {
    if (!this.records.delete(infoHashHex)) return false;
    this.figures.delete(infoHashHex);
    this.trackerStatus.delete(infoHashHex);
    this.connectedPeers.delete(infoHashHex);
    this.renumber();
    this.removed.push({ infoHashHex, deleteData: options.deleteData });
    return true;
  }

  /** Every recheck asked for, in order. */
  readonly rechecked: string[] = [];

  async recheck(infoHashHex: string): Promise<boolean> {
    if (!this.records.has(infoHashHex)) return false;
    this.rechecked.push(infoHashHex);
    return true;
  }

  async setDesired(infoHashHex: string, desired: DesiredState): Promise<boolean> {
    const record = this.records.get(infoHashHex);
    if (!record) return false;
    record.desired = desired;
    return true;
  }

  stats(infoHashHex: string): TorrentStatsView | undefined {
    return this.figures.get(infoHashHex);
  }

  /** Verified pieces set by the test (a BEP 3 bitfield); none until then. */
  readonly bitfields = new Map<string, Uint8Array>();

  pieces(infoHashHex: string): Uint8Array | undefined {
    return this.records.has(infoHashHex) ? (this.bitfields.get(infoHashHex) ?? new Uint8Array(0)) : undefined;
  }

  /** What each torrent's trackers answered, set by the test. */
  readonly trackerStatus = new Map<string, TrackerStatus[]>();
  /** Who is connected to each torrent, set by the test; none until then. */
  readonly connectedPeers = new Map<string, PeerInfo[]>();
  /** Every reannounce asked for, in order. */
  readonly reannounced: string[] = [];
  /** Set to refuse reannounces as a fleet without a tracker-client does. */
  reannounceError: ControlError | undefined;

  trackers(infoHashHex: string): TrackerStatus[] {
    return this.records.has(infoHashHex) ? structuredClone(this.trackerStatus.get(infoHashHex) ?? []) : [];
  }

  async reannounce(infoHashHex: string): Promise<boolean> {
    if (!this.records.has(infoHashHex)) return false;
    if (this.reannounceError) throw this.reannounceError;
    this.reannounced.push(infoHashHex);
    return true;
  }

  async peers(infoHashHex: string): Promise<PeerInfo[] | undefined> {
    if (!this.records.has(infoHashHex)) return undefined;
    return structuredClone(this.connectedPeers.get(infoHashHex) ?? []);
  }

  /** Every addPeers call that named a known torrent, in order. */
  readonly addedPeers: { infoHashHex: string; peers: PeerAddress[] }[] = [];

  async addPeers(infoHashHex: string, peers: readonly PeerAddress[]): Promise<boolean> {
    if (!this.records.has(infoHashHex)) return false;
    this.addedPeers.push({ infoHashHex, peers: [...peers] });
    return true;
  }

  onTick(listener: (stats: TorrentStatsView[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sets a torrent's figures; what is not given is zero, with nothing downloaded yet. */
  setStats(infoHashHex: string, figures: Partial<Omit<TorrentStatsView, 'infoHashHex'>> = {}): TorrentStatsView {
    const record = this.records.get(infoHashHex);
    if (!record) throw new Error(`setStats: no torrent ${infoHashHex}`);
    const view: TorrentStatsView = {
      infoHashHex,
      downloadRate: 0,
      uploadRate: 0,
      downloaded: 0,
      uploaded: 0,
      peers: 0,
      seeds: 0,
      peersSending: 0,
      peersGetting: 0,
      piecesVerified: 0,
      piecesFailed: 0,
      pieceCount: record.metainfo?.pieceCount ?? 0,
      left: record.metainfo?.totalLength ?? 0,
      eta: undefined,
      complete: false,
      time: Date.now(),
      ...figures,
    };
    this.figures.set(infoHashHex, view);
    return view;
  }

  /**
   * One fleet tick: every running torrent's figures (zeros for one nobody
   * set), as a fleet whose paused torrents no worker runs would report.
   */
  tick(time = Date.now()): TorrentStatsView[] {
    const views: TorrentStatsView[] = [];
    for (const record of this.records.values()) {
      if (record.desired === 'paused') continue;
      const view = { ...(this.figures.get(record.infoHashHex) ?? this.setStats(record.infoHashHex)), time };
      this.figures.set(record.infoHashHex, view);
      views.push(view);
    }
    for (const listener of [...this.listeners]) listener(views);
    return views;
  }

  /** Ticks every `intervalMs` until stopTicking (the fleet ticks once a second; tests go faster). */
  startTicking(intervalMs: number): void {
    this.stopTicking();
    this.ticker = setInterval(() => this.tick(), intervalMs);
  }

  stopTicking(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
  }
}
