import type { Metainfo } from '@seedbox/protocol';
import { defaultFleetConfig, effectiveSeedReplicas, effectiveSpeed, type FleetConfig, type TorrentTotals } from '@seedbox/cluster';
import type { EngineTick } from '../engine.js';
import type { FleetView } from './fleet-backend.js';
import { FleetEncryption } from './fleet-encryption.js';
import type { FleetRunnerOptions, SyncFigures } from './fleet-runner-options.js';
import { FleetPicture } from './fleet-picture.js';
import { FleetRuns } from './fleet-runs.js';
import { FleetSync } from './fleet-sync.js';
import { MagnetOwner } from './magnet-owner.js';
import { LiveWorkers } from './live-workers.js';
import { ShareRules } from './share-rules.js';
import { SyncPasses } from './sync-passes.js';
import { TickPublisher } from './tick-publisher.js';
import { TotalsKeeper } from './totals-keeper.js';

export type { FleetTorrentData } from './fleet-run.js';

/**
 * Which torrents this peer-worker runs, and keeping the fleet informed.
 *
 * - A torrent still downloading is run by one worker: the live worker with
 *   the highest rendezvous score for it (a hash of worker id and info
 *   hash). Every worker computes the same owner from the same heartbeats,
 *   without talking; when the owner dies, its heartbeat expires and the
 *   next-highest takes over from the fleet's bitfield.
 * - A complete torrent is seeded, from the shared volume, by the
 *   `seedReplicas` live workers with the highest rendezvous scores for it
 *   (its downloader among them), by one for a private torrent, or by
 *   every worker (0), as the fleet's config says (DEFAULT_SEED_REPLICAS).
 *   When a worker joins or dies, only the torrents whose top scores
 *   changed move.
 * - Paused and removed torrents are run by none.
 * - A magnet link still without its metadata has its owner fetch it
 *   (MagnetOwner); then it runs as any torrent.
 *
 * Verified pieces go to the fleet's bitfield once a tick, and what a
 * check found (a torrent added over data already there, a recheck)
 * replaces it. A registry entry whose `rechecks` grew is checked again.
 *
 * The operator's rules apply here too, the same on every worker because
 * they are pure functions of the shared state (fleet-policy.ts): the
 * queue (a running torrent past the active limits waits, `queued`), the
 * seeding rules (the torrent's owner pauses or removes it when one is
 * reached: ShareRules), and moves (the owner has the data moved, then the
 * torrent runs from its new save folder everywhere). Lifetime totals are
 * kept by TotalsKeeper.
 *
 * It keeps up by events, and does nothing while nothing changes: each
 * change marks the torrents it concerns, and a sync pass reconciles only
 * those (sync-passes.ts, fleet-sync.ts); the runs themselves, started,
 * handing pieces over and closed, are FleetRuns (fleet-runs.ts). The
 * engine's ticks likewise cost what changed (EngineTick.changed and
 * `gone`): the totals and the seeding rules look at those torrents only.
 *
 * It runs unchanged on both stores (JetStream buckets in the fleet, files
 * for `seedbox serve`): what differs is plugged in, the torrents' data
 * (`data`), moving and deleting it, and what else each tick does
 * (`onTick`: in the fleet, the heartbeat and the figures over NATS).
 */

/** Totals go to the store this often (ticks), and when a torrent stops here. */
const TOTALS_EVERY_TICKS = 30;
/** A completion ticks early, after this long, so that a burst of them makes one tick (and one heartbeat, and one message of figures), not one each. */
const EARLY_TICK_MS = 250;

export class FleetRunner implements FleetView {
  private readonly picture = new FleetPicture();
  private readonly runs: FleetRuns;
  private readonly workers: LiveWorkers;
  private readonly sync: FleetSync;
  private readonly passes: SyncPasses;
  private stops: (() => void)[] = [];
  private membershipTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The extra tick a completion asked for, not yet run. */
  private earlyTick: NodeJS.Timeout | undefined;
  private readonly onTick = (t: EngineTick): void => this.tick(t);
  private config: FleetConfig = defaultFleetConfig();
  private readonly totalsKeeper: TotalsKeeper;
  private readonly shareRules: ShareRules;
  /** Torrents whose move (by this worker) or rule action is under way. */
  private readonly busy = new Set<string>();
  private ticks = 0;
  /** Each tick's figures, out once its pieces are in the fleet's bitfield. */
  private readonly publisher: TickPublisher;
  /** The membership the owners (whose clock counts, who applies the seeding rules) were last worked out for. */
  private ownersFor: readonly string[] | undefined;
  private readonly magnets: MagnetOwner;
  /** The config's encryption policy, else this process's own, on the engine. */
  private readonly encryption: FleetEncryption;

  constructor(private readonly o: FleetRunnerOptions) {
    this.workers = new LiveWorkers(
      o.state,
      () => ({ workerId: o.workerId, peerIdHex: Buffer.from(o.engine.peerId).toString('hex'), host: o.announce.host, port: o.announce.port, grpc: o.grpcEndpoint }),
      o.log,
    );
    this.encryption = new FleetEncryption(o.engine, o.log);
    this.totalsKeeper = new TotalsKeeper(o.state, o.log);
    this.runs = new FleetRuns({
      state: o.state,
      engine: o.engine,
      log: o.log,
      data: o.data,
      recorded: (hex) => this.picture.bitBytes(hex),
      registered: (hex) => this.picture.has(hex),
      ended: (hex) => this.totalsKeeper.endRun(hex),
      // Pieces the fleet verified while a check trusted a record (resume data, the bitfield as it
      // was) are adopted at the next pass, as any that come later are; a check that hashed is the
      // truth, and its bitfield replaces the fleet's.
      checked: (hex, outcome) => {
        const reg = this.picture.get(hex);
        if (outcome.hashed > 0 || !reg || this.picture.bitfield(hex, reg.meta).count <= outcome.have.count) return;
        this.passes.markTorrent(hex);
        this.schedule();
      },
      // Finishing is news worth not waiting a tick for: the figures (the
      // control API's watch), the bitfield (other workers start seeding) and
      // the heartbeat (`completed` to the trackers) go out now. A tick covers
      // every torrent, so completions close together (thousands of small
      // torrents) share one, at most every EARLY_TICK_MS.
      completed: () => {
        this.earlyTick ??= setTimeout(() => {
          this.earlyTick = undefined;
          if (!this.stopped) this.tick(o.engine.snapshot());
        }, EARLY_TICK_MS);
      },
    });
    const timeoutMs = o.metadataTimeoutMs ?? 120_000;
    this.magnets = new MagnetOwner({
      state: o.state,
      // The engine's one magnet flow: the trackers announce the swarm while it fetches.
      fetch: (magnet, signal) => o.engine.fetchMetadata(magnet, { timeoutMs, signal }),
      log: o.log,
      retryMs: o.metadataRetryMs,
      onSettled: () => this.schedule(),
    });
    this.sync = new FleetSync({
      picture: this.picture,
      runs: this.runs,
      workers: this.workers,
      magnets: this.magnets,
      busy: this.busy,
      config: () => this.config,
      stopped: () => this.stopped,
      again: (hex) => this.passes.markTorrent(hex),
      workerId: o.workerId,
      state: o.state,
      log: o.log,
      moveData: o.moveData,
    });
    this.shareRules = new ShareRules({
      picture: this.picture,
      totals: this.totalsKeeper,
      busy: this.busy,
      config: () => this.config,
      mine: (hex) => this.sync.owner(hex) === o.workerId,
      state: o.state,
      removeTorrent: o.removeTorrent,
      log: o.log,
    });
    this.publisher = new TickPublisher(
      () => this.runs.flush(),
      (t) => o.onTick?.(t),
      () => this.stopped,
    );
    this.passes = new SyncPasses(
      (work) => this.sync.pass(work),
      (e) => o.log.error('fleet sync failed', { error: e as Error }),
    );
  }

  async start(): Promise<void> {
    const { state, log } = this.o;
    await this.workers.refresh();
    await this.totalsKeeper.start();
    this.stops.push(() => this.totalsKeeper.stop());
    this.stops.push(
      await state.watchConfig((c) => {
        const before = this.config;
        this.config = c;
        this.shareRules.allChanged();
        const limits = effectiveSpeed(c);
        if (this.o.speedLimits) this.o.speedLimits(limits);
        else this.o.engine.setLimits(limits);
        this.encryption.apply(c);
        // Speed limits, categories, share limits and the like place no torrent: no pass for them.
        if (placementChanged(before, c)) {
          this.passes.markAll();
          this.schedule();
        }
      }),
    );
    if (this.o.stats) {
      this.stops.push(
        this.o.stats.onTick((t) => {
          const q = this.config.queue;
          const changed = this.sync.queue.observe(t.changed, q, Date.now(), t.removed);
          // Slow torrents leave the count: the queue may move on.
          if (changed && q.enabled && q.ignoreSlow) {
            this.passes.markQueue();
            this.schedule();
          }
        }),
      );
    }
    this.stops.push(
      await state.watchBitfields((hex, bytes) => {
        this.picture.setBits(hex, bytes);
        this.passes.markTorrent(hex);
        this.schedule();
      }),
    );
    this.stops.push(
      await state.watchTorrents(
        (hex, e) => {
          try {
            this.picture.setEntry(hex, e);
          } catch (err) {
            log.warn('registered torrent cannot be parsed', { infoHash: hex, error: err as Error });
          }
          if (!e) this.sync.rendezvous.forget(hex);
          this.shareRules.entryChanged(hex);
          this.passes.markTorrent(hex);
          this.schedule();
        },
        (key, err) => log.warn('bad registry entry', { key, error: err }),
      ),
    );
    this.membershipTimer = setInterval(() => void this.membership(), this.o.membershipMs ?? 2000);
    this.o.engine.on('tick', this.onTick);
  }

  /**
   * The membership, read again. Only a change of the list moves torrents;
   * besides, a pass is due for work an earlier one gave back (a failure, a
   * move that ended) and for magnets, whose next attempt may be due.
   */
  private async membership(): Promise<void> {
    const changed = await this.workers.refresh();
    if (changed) this.passes.markAll();
    if (changed || this.passes.pending || this.picture.awaitingCount > 0) this.schedule();
  }

  /** Registered torrents paused by the operator. */
  get pausedCount(): number {
    return this.picture.pausedCount;
  }

  /** The torrents this worker runs now. */
  get runningTorrents(): string[] {
    return [...this.runs.keys()];
  }

  get syncFigures(): SyncFigures {
    return { passes: this.passes.passes, reconciled: this.sync.reconciled, ranked: this.sync.rendezvous.ranked };
  }

  // ---- FleetView: what the control API reads of the fleet ----

  queued(infoHashHex: string): boolean {
    const r = this.picture.get(infoHashHex);
    return r !== undefined && r.entry.desired === 'running' && !this.sync.queue.has(infoHashHex);
  }

  totals(infoHashHex: string): TorrentTotals | undefined {
    return this.picture.has(infoHashHex) ? this.totalsKeeper.get(infoHashHex) : undefined;
  }

  doneBytes(infoHashHex: string): number | undefined {
    return this.picture.doneBytes(infoHashHex);
  }

  fileDone(infoHashHex: string): number[] | undefined {
    return this.picture.fileDone(infoHashHex);
  }

  done(infoHashHex: string): boolean | undefined {
    return this.picture.done(infoHashHex);
  }

  pieces(infoHashHex: string): Uint8Array | undefined {
    return this.picture.has(infoHashHex) ? (this.picture.bitBytes(infoHashHex) ?? new Uint8Array(0)) : undefined;
  }

  metainfo(infoHashHex: string): Metainfo | undefined {
    return this.picture.get(infoHashHex)?.meta;
  }

  /**
   * Graceful stop: the sessions close, pieces on their way to the writers
   * are answered (Engine.stop drains them), the last verified pieces go
   * to the bitfield, and a last heartbeat with no torrents tells the
   * tracker-client to announce `stopped` for us.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.membershipTimer);
    clearTimeout(this.earlyTick);
    this.o.engine.off('tick', this.onTick);
    for (const s of this.stops) s();
    await this.passes.idle();
    await this.magnets.stop();
    // The last tick's figures count too.
    const now = Date.now();
    for (const s of this.o.engine.snapshot().torrents) this.totalsKeeper.record(s, now, this.sync.owner(s.infoHash) === this.o.workerId);
    await this.o.engine.stop();
    await this.runs.flush();
    this.o.onStop?.();
    await this.runs.closeAll();
    await this.totalsKeeper.flush();
    await this.o.state.removeWorker(this.o.workerId).catch(() => {});
  }

  /** Resolves once the running set matches the state as it is now (e.g. a removed torrent has stopped). */
  settled(): Promise<void> {
    return this.passes.schedule();
  }

  private schedule(): void {
    if (!this.stopped) void this.passes.schedule();
  }

  private tick(t: EngineTick): void {
    this.publisher.push(t);
    const totals = this.totalsKeeper;
    this.followOwners();
    // Time counts to the last tick a torrent was in; then to this one for the rest.
    for (const hex of t.gone) {
      totals.endRun(hex);
      this.shareRules.left(hex);
    }
    totals.advance(t.time);
    const me = this.o.workerId;
    for (const s of t.changed) {
      totals.record(s, t.time, this.sync.owner(s.infoHash) === me);
      this.shareRules.seen(s);
    }
    this.shareRules.tick(t.time);
    if (++this.ticks % TOTALS_EVERY_TICKS === 0) void totals.flush();
  }

  /**
   * The membership changed since the last tick: each torrent's owner may
   * have, and with it who counts its time and who applies its seeding
   * rules. A pass over the runs, only then.
   */
  private followOwners(): void {
    const workers = this.workers.list;
    if (workers === this.ownersFor) return;
    const first = this.ownersFor === undefined;
    this.ownersFor = workers;
    if (first) return;
    this.totalsKeeper.recount((hex) => this.sync.owner(hex) === this.o.workerId);
    this.shareRules.allChanged();
  }
}

/** Whether a config change can move torrents: the queue, or how many workers seed each. */
function placementChanged(a: FleetConfig, b: FleetConfig): boolean {
  const ra = effectiveSeedReplicas(a);
  const rb = effectiveSeedReplicas(b);
  return ra.public !== rb.public || ra.private !== rb.private || JSON.stringify(a.queue) !== JSON.stringify(b.queue);
}
