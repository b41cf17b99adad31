import type { Metainfo, PeerAddress } from '@seedbox/protocol';
import type { FleetStore, RegistryEntry } from '@seedbox/cluster';
import type { Logger } from '@seedbox/runtime';
import type { Engine } from '../engine.js';
import type { CheckOutcome } from '../torrent-options.js';
import { filesOf, lazyData, type FleetTorrentData, type Running } from './fleet-run.js';

/**
 * The torrents this worker runs, as FleetRunner starts and closes them:
 * each on the engine over its data (opened inside its first check), its
 * verified pieces handed to the fleet's bitfield, and on closing the
 * engine's run stopped, its last pieces merged and its data closed.
 *
 * Closing many at once (a shutdown, a worker joining and taking over half
 * the seeds) runs CLOSE_CONCURRENCY closes at a time: one by one, 3,400
 * torrents overran a 25 s shutdown, each waiting on its own files.
 */

export interface FleetRunsOptions {
  state: FleetStore;
  engine: Engine;
  log: Logger;
  data: (meta: Metainfo, recorded: () => Uint8Array | undefined, savePath: string | undefined) => FleetTorrentData | Promise<FleetTorrentData>;
  /** The fleet's bitfield bytes as last seen (what a check may trust). */
  recorded: (infoHashHex: string) => Uint8Array | undefined;
  /** Whether the torrent is still registered: a removed one's last pieces go nowhere. */
  registered: (infoHashHex: string) => boolean;
  /** A run stopped here. */
  ended: (infoHashHex: string) => void;
  /** A run's check found these pieces (after a hashing check, they are the fleet's bitfield now). */
  checked: (infoHashHex: string, outcome: CheckOutcome) => void;
  /** A torrent finished downloading here: news worth not waiting a tick for. */
  completed: () => void;
}

/** Closes under way at once, at most. */
export const CLOSE_CONCURRENCY = 32;

export class FleetRuns {
  private readonly runs = new Map<string, Running>();
  /** Runs with pieces verified since their last merge: all a tick's flush visits. */
  private readonly unsaved = new Set<string>();

  constructor(private readonly o: FleetRunsOptions) {}

  get(infoHashHex: string): Running | undefined {
    return this.runs.get(infoHashHex);
  }

  keys(): IterableIterator<string> {
    return this.runs.keys();
  }

  get size(): number {
    return this.runs.size;
  }

  /** Starts the torrent on the engine, with `peers` to dial first (those that gave a magnet's metadata here). */
  start(hex: string, meta: Metainfo, entry: RegistryEntry, peers: PeerAddress[] | undefined): void {
    const { engine, log } = this.o;
    const savePath = entry.settings.savePath;
    const r: Running = { meta, torrent: undefined, data: undefined, unsaved: new Set(), rechecks: entry.rechecks, savePath, settings: entry.settings };
    // Kept even if the engine refuses it, so that each sync does not try again.
    this.runs.set(hex, r);
    const data = lazyData(r, () => this.o.data(meta, () => this.o.recorded(hex), savePath));
    const torrent = engine.add(meta, { data, files: filesOf(entry.settings, meta), limits: entry.settings.limits, peers });
    r.torrent = torrent;
    torrent.on('piece', (index) => {
      r.unsaved.add(index);
      this.unsaved.add(hex);
    });
    // What a check that hashed found is the truth now, whatever the record said.
    torrent.on('checked', (outcome) => {
      log.info('checked', { infoHash: hex, have: outcome.have.count, pieces: meta.pieceCount, fastPath: outcome.fastPath, hashed: outcome.hashed });
      if (outcome.hashed > 0) void this.o.state.replaceBitfield(hex, outcome.have).catch((e: unknown) => log.warn('recording a check failed', { infoHash: hex, error: e as Error }));
      this.o.checked(hex, outcome);
    });
    torrent.once('complete', () => this.o.completed());
    torrent.on('error', (e) => log.warn('torrent error', { infoHash: hex, error: e }));
    log.info('running torrent', { infoHash: hex, name: meta.name, pieces: meta.pieceCount });
  }

  /** Stops the run (pieces under way answered), merges its last pieces, closes its data. Never rejects. */
  async close(hex: string, quiet = false): Promise<void> {
    const r = this.runs.get(hex);
    if (!r) return;
    this.runs.delete(hex);
    await this.o.engine.remove(hex).catch((e: unknown) => this.o.log.warn('stopping a torrent failed', { infoHash: hex, error: e as Error }));
    this.o.ended(hex);
    // Most runs end with nothing unsaved (each tick hands pieces over): no store round trip for them.
    if (r.unsaved.size > 0 && this.o.registered(hex)) await this.o.state.mergeBitfield(hex, r.meta.pieceCount, r.unsaved).catch(() => {});
    const data = await r.data?.catch(() => undefined);
    await data?.close?.().catch(() => {});
    if (!quiet) this.o.log.info('stopped torrent', { infoHash: hex });
  }

  /** Closes every run, CLOSE_CONCURRENCY at a time (the shutdown: one line for them all). */
  async closeAll(): Promise<void> {
    const n = this.runs.size;
    await eachLimited([...this.runs.keys()], CLOSE_CONCURRENCY, (hex) => this.close(hex, true));
    if (n > 0) this.o.log.info('stopped torrents', { count: n });
  }

  /** Hands every run's newly verified pieces to the fleet's bitfield; those that fail are kept for the next time. */
  async flush(): Promise<void> {
    if (this.unsaved.size === 0) return;
    const hexes = [...this.unsaved];
    this.unsaved.clear();
    for (const hex of hexes) {
      const r = this.runs.get(hex);
      if (!r || r.unsaved.size === 0) continue;
      const pieces = [...r.unsaved];
      r.unsaved.clear();
      try {
        await this.o.state.mergeBitfield(hex, r.meta.pieceCount, pieces);
      } catch (e) {
        for (const p of pieces) r.unsaved.add(p);
        this.unsaved.add(hex);
        this.o.log.warn('saving verified pieces failed; will retry', { infoHash: hex, error: e as Error });
      }
    }
  }
}

/** Runs `fn` over `items`, at most `limit` at once. */
export async function eachLimited<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]();
  const lane = async (): Promise<void> => {
    for (let next = it.next(); !next.done; next = it.next()) await fn(next.value);
  };
  await Promise.all(Array.from({ length: limit }, lane));
}
