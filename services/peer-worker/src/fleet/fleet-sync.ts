import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Metainfo } from '@seedbox/protocol';
import { effectiveSeedReplicas, type FleetConfig, type FleetStore, type RegistryEntry } from '@seedbox/cluster';
import type { Logger } from '@seedbox/runtime';
import { applySettings, type Running } from './fleet-run.js';
import type { FleetPicture } from './fleet-picture.js';
import { CLOSE_CONCURRENCY, eachLimited, type FleetRuns } from './fleet-runs.js';
import type { LiveWorkers } from './live-workers.js';
import type { MagnetOwner } from './magnet-owner.js';
import { QueueGate } from './queue-gate.js';
import { RendezvousCache } from './rendezvous.js';
import type { SyncWork } from './sync-passes.js';
import { moveTorrent } from './torrent-move.js';

/**
 * One sync pass of FleetRunner: for the torrents a pass was marked with
 * (sync-passes.ts), and those whose place in the queue changed with it
 * (queue-gate.ts), makes what this worker runs match the picture:
 *
 * - it runs a torrent that is running in the registry, active in the
 *   queue, and either complete with this worker among its seed replicas,
 *   or not, with this worker its owner (rendezvous.ts);
 * - it closes one that is no longer that, and reopens one whose save
 *   folder changed;
 * - for one that goes on running, it hands on changed settings, pieces
 *   other workers verified and a recheck the entry asks for;
 * - the owner of a torrent with a move under way has its data moved.
 *
 * Torrents no pass was marked with are not looked at: their answer cannot
 * have changed. Closes wait on the engine and the files, so they are made
 * once every start is, CLOSE_CONCURRENCY at a time.
 */

export interface FleetSyncContext {
  picture: FleetPicture;
  runs: FleetRuns;
  workers: LiveWorkers;
  magnets: MagnetOwner;
  /** Torrents whose move (by this worker) or rule action is under way. */
  busy: Set<string>;
  config: () => FleetConfig;
  stopped: () => boolean;
  /** The torrent is to be looked at again by a later pass (a failure, a move that ended). */
  again: (infoHashHex: string) => void;
  workerId: string;
  state: FleetStore;
  log: Logger;
  moveData: (meta: Metainfo, from: string | undefined, to: string) => Promise<void>;
}

/** A pass starting thousands of torrents (a restart) leaves the event loop to others after this many. */
const YIELD_EVERY = 256;

export class FleetSync {
  /** Running torrents the queue lets be active now (all of them with queueing off). */
  readonly queue = new QueueGate();
  readonly rendezvous = new RendezvousCache();
  /** Torrents reconciled so far, over every pass. */
  reconciled = 0;

  constructor(private readonly c: FleetSyncContext) {}

  /** The torrent's owner among the live workers (this one while the list is empty). */
  owner(hex: string): string {
    return this.rendezvous.owner(this.c.workers.list, hex) ?? this.c.workerId;
  }

  async pass(work: SyncWork): Promise<void> {
    const { picture, runs, stopped } = this.c;
    if (stopped()) return;
    const flipped = this.queue.update(picture, this.c.config().queue, work, Date.now());
    let targets: Set<string>;
    if (work.all) targets = new Set([...picture.keys(), ...runs.keys()]);
    else {
      targets = work.torrents;
      for (const hex of flipped) targets.add(hex);
    }
    const closes: (() => Promise<void>)[] = [];
    let n = 0;
    for (const hex of targets) {
      if (stopped()) return;
      try {
        const close = this.reconcile(hex);
        if (close) closes.push(close);
      } catch (e) {
        // A later pass tries again (the membership timer's, 2 s on, at the latest).
        this.c.log.warn('reconciling a torrent failed; will retry', { infoHash: hex, error: e as Error });
        this.c.again(hex);
      }
      this.reconciled++;
      if (++n % YIELD_EVERY === 0) await nextTurn();
    }
    await eachLimited(closes, CLOSE_CONCURRENCY, (close) => close());
    this.c.magnets.sync(picture.awaitingMetadata(), (hex) => this.owner(hex) === this.c.workerId);
  }

  /** Makes one torrent's run here match the picture; answers the close to make, if any. */
  private reconcile(hex: string): (() => Promise<void>) | undefined {
    const { picture, runs } = this.c;
    const reg = picture.get(hex);
    const r = runs.get(hex);
    if (!reg) return r ? () => runs.close(hex) : undefined;
    const { entry, meta } = reg;
    // Moved: the torrent runs again from its new folder.
    if (r && r.savePath !== entry.settings.savePath) {
      return async () => {
        await runs.close(hex);
        await this.reconcile(hex)?.();
      };
    }
    const want = this.shouldRun(hex, entry, meta);
    if (!want && r) {
      // A download whose data is to move is closed before the move starts.
      return async () => {
        await runs.close(hex);
        this.moveIfOwner(hex);
      };
    }
    // A magnet resolved here starts with the peers that gave its metadata.
    if (want && !r) runs.start(hex, meta, entry, this.c.magnets.takePeers(hex));
    else if (r) {
      applySettings(r, entry.settings);
      this.adoptFleetPieces(r);
      if (entry.rechecks > r.rechecks) {
        r.rechecks = entry.rechecks;
        r.torrent?.recheck();
      }
    }
    this.moveIfOwner(hex);
    return undefined;
  }

  private shouldRun(hex: string, entry: RegistryEntry, meta: Metainfo): boolean {
    const { picture, workerId } = this.c;
    if (entry.desired !== 'running' || !this.queue.has(hex)) return false;
    // A download stops while its data moves; a seed goes on reading (its open files follow the rename).
    if (entry.moveTo !== undefined && !picture.isDone(hex, entry, meta)) return false;
    // A complete torrent is seeded by its replicas; one with files skipped stays with its owner.
    if (picture.isComplete(hex, meta)) return this.rendezvous.amongReplicas(this.c.workers.list, hex, workerId, this.seedReplicas(meta));
    // A torrent this worker is downloading stays here until it is done or
    // the owner changes, so a flapping heartbeat costs no more than a switch.
    return this.owner(hex) === workerId;
  }

  private seedReplicas(meta: Metainfo): number {
    const n = effectiveSeedReplicas(this.c.config());
    return meta.private ? n.private : n.public;
  }

  /** Pieces another worker verified (a previous owner) are ours to serve too. */
  private adoptFleetPieces(r: Running): void {
    const fleet = this.c.picture.bitfield(r.meta.infoHashHex, r.meta);
    if (r.torrent && fleet.count > r.torrent.have.count) r.torrent.adoptPieces(fleet);
  }

  private moveIfOwner(hex: string): void {
    const reg = this.c.picture.get(hex);
    if (reg?.entry.moveTo !== undefined && this.owner(hex) === this.c.workerId && !this.c.busy.has(hex)) void this.move(hex, reg.entry, reg.meta);
  }

  /** The owner has the data moved (torrent-move.ts); meanwhile the torrent is busy here. */
  private async move(hex: string, entry: RegistryEntry, meta: Metainfo): Promise<void> {
    this.c.busy.add(hex);
    try {
      await moveTorrent(this.c, hex, entry, meta);
    } finally {
      this.c.busy.delete(hex);
      // Looked at again by the next pass: a move whose outcome could not be recorded is made again.
      this.c.again(hex);
    }
  }
}
