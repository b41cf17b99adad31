/**
 * A ControlBackend kept in a Map, for tests of the gRPC control API and of
 * the CLI commands that use it. It behaves as the contract in
 * services/peer-worker/src/control/backend.ts says (idempotent add, typed
 * refusals), with no fleet behind it: the test sets figures with setStats
 * and drives ticks with tick() or startTicking().
 *
 *   const backend = new MemoryControlBackend();
 *   server.addService(SeedboxControlService, createControlService(backend));
 */
import { MetainfoError, parseMetainfo } from '@seedbox/protocol';
import { ControlError, type ControlBackend, type DesiredState, type TorrentRecord, type TorrentStatsView } from '@seedbox/peer-worker';

export class MemoryControlBackend implements ControlBackend {
  readonly records = new Map<string, TorrentRecord>();
  /** Figures set by the test; a torrent without any has no stats until setStats. */
  readonly figures = new Map<string, TorrentStatsView>();
  readonly listeners = new Set<(stats: TorrentStatsView[]) => void>();
  /** Every successful remove, in order, to check what the service passed on. */
  readonly removed: { infoHashHex: string; deleteData: boolean }[] = [];
  private ticker: NodeJS.Timeout | undefined;

  async add(torrentFile: Uint8Array, options: { paused: boolean }): Promise<{ record: TorrentRecord; created: boolean }> {
    let metainfo;
    try {
      metainfo = parseMetainfo(torrentFile);
    } catch (err) {
      if (err instanceof MetainfoError) throw new ControlError('invalid-argument', `malformed torrent file: ${err.message}`, { cause: err });
      throw err;
    }
    const existing = this.records.get(metainfo.infoHashHex);
    if (existing) return { record: existing, created: false };
    const record: TorrentRecord = {
      infoHashHex: metainfo.infoHashHex,
      torrentFile: Uint8Array.from(torrentFile),
      metainfo,
      desired: options.paused ? 'paused' : 'running',
      addedAt: Date.now(),
    };
    this.records.set(record.infoHashHex, record);
    return { record, created: true };
  }

  async addMagnet(_uri: string, _options: { paused: boolean }): Promise<{ record: TorrentRecord; created: boolean }> {
    throw new ControlError('unimplemented', 'magnet URIs need the metadata exchange (BEP 9), which the in-memory backend does not do');
  }

  async list(): Promise<TorrentRecord[]> {
    return [...this.records.values()];
  }

  async get(infoHashHex: string): Promise<TorrentRecord | undefined> {
    return this.records.get(infoHashHex);
  }

  async remove(infoHashHex: string, options: { deleteData: boolean }): Promise<boolean> {
    if (!this.records.delete(infoHashHex)) return false;
    this.figures.delete(infoHashHex);
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
      piecesVerified: 0,
      piecesFailed: 0,
      pieceCount: record.metainfo.pieceCount,
      left: record.metainfo.totalLength,
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
