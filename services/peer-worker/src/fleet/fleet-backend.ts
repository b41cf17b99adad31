import { encodeBencode, MetainfoError, parseMagnet, parseMetainfo, type Magnet, type Metainfo } from '@seedbox/protocol';
import type { DesiredState, FleetStore, RegistryEntry } from '@seedbox/cluster';
import { ControlError, type ControlBackend, type StatsSource, type TorrentRecord, type TorrentStatsView } from '../control/backend.js';
import type { ResolvedMagnet } from '../magnet-resolver.js';
import { MetadataFetchError } from '../metadata-fetcher.js';

/**
 * The control API's backend over a FleetStore: the registry is the
 * JetStream bucket in the fleet (or the state folder of `seedbox serve`),
 * figures come from a StatsSource, and deleting data is `deleteData`'s
 * (in the fleet, a request to the disk-writers, the only ones that write
 * the volume).
 */
export interface FleetBackendOptions {
  state: FleetStore;
  stats: StatsSource;
  /** Deletes a removed torrent's files; throws with the reason when it cannot. */
  deleteData: (infoHashHex: string) => Promise<void>;
  /** For magnet URIs: fetches the metadata (the engine's resolver, with discovery). */
  resolve?: ((magnet: Magnet) => Promise<ResolvedMagnet>) | undefined;
}

export class FleetBackend implements ControlBackend {
  private readonly parsed = new Map<string, Metainfo>();
  private readonly state: FleetStore;
  private readonly board: StatsSource;
  private readonly resolve: FleetBackendOptions['resolve'];

  constructor(private readonly o: FleetBackendOptions) {
    this.state = o.state;
    this.board = o.stats;
    this.resolve = o.resolve;
  }

  async add(torrentFile: Uint8Array, options: { paused: boolean }): Promise<{ record: TorrentRecord; created: boolean }> {
    let meta: Metainfo;
    try {
      meta = parseMetainfo(torrentFile);
    } catch (e) {
      if (e instanceof MetainfoError) throw new ControlError('invalid-argument', `not a valid torrent: ${e.message}`, { cause: e });
      throw e;
    }
    const entry: RegistryEntry = { infoHashHex: meta.infoHashHex, torrentFile: Uint8Array.from(torrentFile), desired: options.paused ? 'paused' : 'running', addedAt: Date.now(), rechecks: 0 };
    const created = await this.unavailableOnError(() => this.state.addTorrent(entry));
    const record = created ? this.record(entry) : await this.get(meta.infoHashHex);
    if (!record) throw new ControlError('unavailable', `${meta.infoHashHex} was removed while being added`);
    return { record, created };
  }

  /**
   * A magnet URI: this worker fetches the info dictionary (BEP 9) from the
   * link's peers (x.pe) and from those its trackers (tr) return, then
   * registers the torrent as if its .torrent file had been added. The call
   * answers once the metadata is in, so the registry only ever holds
   * torrents whose files and pieces are known; a caller that will not wait
   * sets a deadline.
   */
  async addMagnet(uri: string, options: { paused: boolean }): Promise<{ record: TorrentRecord; created: boolean }> {
    let magnet: Magnet;
    try {
      magnet = parseMagnet(uri);
    } catch (e) {
      throw new ControlError('invalid-argument', `not a valid magnet URI: ${(e as Error).message}`, { cause: e });
    }
    const existing = await this.get(magnet.infoHashHex);
    if (existing) return { record: existing, created: false };
    if (!this.resolve) throw new ControlError('unimplemented', 'this peer-worker does not fetch magnet metadata');
    let resolved: ResolvedMagnet;
    try {
      resolved = await this.resolve(magnet);
    } catch (e) {
      // Nowhere to look is the caller's mistake (a link without trackers or peers); the rest may pass.
      if (e instanceof MetadataFetchError && e.code === 'METADATA_NO_SOURCES') throw new ControlError('invalid-argument', (e as Error).message, { cause: e });
      throw new ControlError('unavailable', `no metadata for ${magnet.infoHashHex}: ${(e as Error).message}`, { cause: e });
    }
    const infoBytes = resolved.meta.infoBytes;
    return this.add(torrentFileFromInfo(infoBytes, magnet.trackers), options);
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
      try {
        await this.o.deleteData(infoHashHex);
      } catch (e) {
        throw new ControlError('unavailable', `the torrent is removed, but its data was not deleted: ${(e as Error).message}`, { cause: e });
      }
    }
    return true;
  }

  setDesired(infoHashHex: string, desired: DesiredState): Promise<boolean> {
    return this.unavailableOnError(() => this.state.setDesired(infoHashHex, desired));
  }

  recheck(infoHashHex: string): Promise<boolean> {
    return this.unavailableOnError(() => this.state.requestRecheck(infoHashHex));
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

/**
 * A .torrent file around a fetched info dictionary: the dictionary's own
 * bytes (its SHA-1 is the info hash, so they are not re-encoded) and the
 * magnet's trackers, one per tier as BEP 12 reads a flat list.
 */
export function torrentFileFromInfo(infoBytes: Uint8Array, trackers: readonly string[]): Uint8Array {
  // Keys in order (announce < announce-list < info): the head is an encoded dictionary without its closing 'e'.
  const head =
    trackers.length > 0 ? Buffer.from(encodeBencode({ announce: trackers[0]!, 'announce-list': trackers.map((t) => [t]) })).subarray(0, -1) : Buffer.from('d');
  return Buffer.concat([head, Buffer.from('4:info'), infoBytes, Buffer.from('e')]);
}
