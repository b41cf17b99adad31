import type { NatsConnection } from 'nats';
import { MetainfoError, parseMagnet, parseMetainfo, type Metainfo } from '@seedbox/protocol';
import { STORAGE_DELETE, type FleetState, type RegistryEntry } from '@seedbox/cluster';
import { ControlError, type ControlBackend, type DesiredState, type TorrentRecord, type TorrentStatsView } from '../control/backend.js';
import type { StatsBoard } from './stats-board.js';

/**
 * The control API's backend in the fleet: the registry is the JetStream
 * key-value bucket, figures come from the stats board, and deleting data is
 * a request to the disk-writers (the only ones that write the volume).
 */
export class FleetBackend implements ControlBackend {
  private readonly parsed = new Map<string, Metainfo>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly state: FleetState,
    private readonly board: StatsBoard,
  ) {}

  async add(torrentFile: Uint8Array, options: { paused: boolean }): Promise<{ record: TorrentRecord; created: boolean }> {
    let meta: Metainfo;
    try {
      meta = parseMetainfo(torrentFile);
    } catch (e) {
      if (e instanceof MetainfoError) throw new ControlError('invalid-argument', `not a valid torrent: ${e.message}`, { cause: e });
      throw e;
    }
    const entry: RegistryEntry = { infoHashHex: meta.infoHashHex, torrentFile: Uint8Array.from(torrentFile), desired: options.paused ? 'paused' : 'running', addedAt: Date.now() };
    const created = await this.unavailableOnError(() => this.state.addTorrent(entry));
    const record = created ? this.record(entry) : await this.get(meta.infoHashHex);
    if (!record) throw new ControlError('unavailable', `${meta.infoHashHex} was removed while being added`);
    return { record, created };
  }

  addMagnet(uri: string): Promise<{ record: TorrentRecord; created: boolean }> {
    try {
      parseMagnet(uri);
    } catch (e) {
      return Promise.reject(new ControlError('invalid-argument', `not a valid magnet URI: ${(e as Error).message}`, { cause: e }));
    }
    // Honest refusal: the fleet has no metadata fetch yet (the registry keeps .torrent files), so there is nothing to download.
    return Promise.reject(
      new ControlError(
        'unimplemented',
        'the fleet does not fetch magnet metadata (BEP 9) yet; add the .torrent file, or use `seedbox download <magnet-uri>` (embedded mode)',
      ),
    );
  }

  async list(): Promise<TorrentRecord[]> {
    const entries = await this.unavailableOnError(() => this.state.listTorrents());
    return entries.flatMap((e) => {
      try {
        return [this.record(e)];
      } catch {
        return [];
      }
    });
  }

  async get(infoHashHex: string): Promise<TorrentRecord | undefined> {
    const e = await this.unavailableOnError(() => this.state.getTorrent(infoHashHex));
    return e ? this.record(e) : undefined;
  }

  async remove(infoHashHex: string, options: { deleteData: boolean }): Promise<boolean> {
    const removed = await this.unavailableOnError(() => this.state.removeTorrent(infoHashHex));
    if (!removed) return false;
    this.parsed.delete(infoHashHex);
    if (options.deleteData) {
      let answer: string;
      try {
        const reply = await this.nc.request(STORAGE_DELETE, new TextEncoder().encode(infoHashHex), { timeout: 30_000 });
        answer = new TextDecoder().decode(reply.data);
      } catch (e) {
        throw new ControlError('unavailable', `the torrent is removed, but no disk-writer deleted its data: ${(e as Error).message}`);
      }
      if (answer !== 'ok') throw new ControlError('unavailable', `the torrent is removed, but deleting its data failed: ${answer}`);
    }
    return true;
  }

  setDesired(infoHashHex: string, desired: DesiredState): Promise<boolean> {
    return this.unavailableOnError(() => this.state.setDesired(infoHashHex, desired));
  }

  stats(infoHashHex: string): TorrentStatsView | undefined {
    return this.board.get(infoHashHex);
  }

  onTick(listener: (stats: TorrentStatsView[]) => void): () => void {
    return this.board.onTick(listener);
  }

  private record(e: RegistryEntry): TorrentRecord {
    let meta = this.parsed.get(e.infoHashHex);
    if (!meta) {
      meta = parseMetainfo(e.torrentFile);
      this.parsed.set(e.infoHashHex, meta);
    }
    return { infoHashHex: e.infoHashHex, torrentFile: e.torrentFile, metainfo: meta, desired: e.desired, addedAt: e.addedAt };
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
