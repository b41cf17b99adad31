import type { DhtLog } from './dht-rpc.js';
import type { NodeContact } from './node-id.js';
import type { PeerStore } from './peer-store.js';
import type { RoutingTable } from './routing-table.js';

/**
 * The DHT node's housekeeping, one round at a time on a timer:
 *
 * 1. forget expired announced peers;
 * 2. ping a few questionable nodes per table, longest silent first: an
 *    answer makes them good again, silence counts towards bad, and a bad
 *    node lets a replacement in (BEP 5's way of keeping buckets fresh);
 * 3. while a table holds fewer than k nodes, look our own id up again:
 *    nodes that start together (a fleet restart) all ask the router while
 *    it still knows nobody, and only learn of each other on a second pass;
 * 4. refresh buckets nothing happened in for 15 minutes with a find_node
 *    for a random id in their range (a few per round, so a node back from
 *    a long sleep does not send 160 lookups at once);
 * 5. save the table every `saveIntervalMs`, so a crash loses little.
 *
 * Rounds never overlap: the next is scheduled when one ends, every
 * `periodMs`, or every few seconds while a table is small.
 */

export interface MaintenanceWork {
  tables(): RoutingTable[];
  peers: PeerStore;
  ownId: Uint8Array;
  ping(node: NodeContact): Promise<unknown>;
  findNode(target: Uint8Array): Promise<unknown>;
  /** Absent when there is no state file. */
  save?: () => Promise<void>;
  log?: DhtLog;
  now: () => number;
}

export interface MaintenanceOptions {
  /** Between rounds (default 60 s). */
  periodMs?: number;
  /** Between saves (default 10 min). */
  saveIntervalMs?: number;
}

export const MAINTENANCE_DEFAULTS = { periodMs: 60_000, saveIntervalMs: 10 * 60_000 } as const;

/** The round period while a table holds fewer than k nodes. */
const SMALL_TABLE_PERIOD_MS = 5_000;
/** Questionable nodes pinged per table per round. */
const PINGS_PER_ROUND = 8;
/** Bucket refresh lookups per table per round; the rest wait for the next round. */
const REFRESHES_PER_ROUND = 2;

export class DhtMaintenance {
  private readonly work: MaintenanceWork;
  private readonly periodMs: number;
  private readonly saveIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private lastSave: number;
  private stopped = false;

  constructor(work: MaintenanceWork, options: MaintenanceOptions = {}) {
    this.work = work;
    this.periodMs = options.periodMs ?? MAINTENANCE_DEFAULTS.periodMs;
    this.saveIntervalMs = options.saveIntervalMs ?? MAINTENANCE_DEFAULTS.saveIntervalMs;
    this.lastSave = work.now();
  }

  start(): void {
    this.schedule();
  }

  /** Clears the timer and waits for a round under way (its queries fail fast once the node closes). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
  }

  private schedule(): void {
    if (this.stopped) return;
    const delay = this.tablesSmall() ? Math.min(this.periodMs, SMALL_TABLE_PERIOD_MS) : this.periodMs;
    this.timer = setTimeout(() => {
      this.round = this.runRound()
        .catch((e: unknown) => this.work.log?.warn('dht maintenance failed', { error: (e as Error).message }))
        .finally(() => {
          this.round = undefined;
          this.schedule();
        });
    }, delay);
    this.timer.unref();
  }

  private tablesSmall(): boolean {
    return this.work.tables().some((t) => t.size < t.k);
  }

  private async runRound(): Promise<void> {
    const { work } = this;
    work.peers.expire();
    const tables = work.tables();
    const pings = tables.flatMap((t) => t.questionable(PINGS_PER_ROUND));
    await Promise.all(pings.map((n) => work.ping(n).catch(() => undefined)));
    if (this.stopped) return;
    if (this.tablesSmall()) await work.findNode(work.ownId).catch(() => undefined);
    for (const t of tables) {
      for (const target of t.refreshTargets().slice(0, REFRESHES_PER_ROUND)) {
        if (this.stopped) return;
        await work.findNode(target).catch(() => undefined);
      }
    }
    if (work.save && work.now() - this.lastSave >= this.saveIntervalMs) {
      this.lastSave = work.now();
      await work.save();
    }
  }
}
