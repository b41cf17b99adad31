import type { Metainfo } from '@seedbox/protocol';
import { defaultFleetConfig, effectiveSeedReplicas, effectiveSpeed, type SpeedLimits, type FleetConfig, type FleetStore, type RegistryEntry, type TorrentTotals } from '@seedbox/cluster';
import type { Logger } from '@seedbox/runtime';
import type { StatsSource } from '../control/backend.js';
import type { FleetView } from './fleet-backend.js';
import { EncryptionPolicyError, type Engine, type EngineTick } from '../engine.js';
import type { EncryptionPolicy } from '../encryption/encryption-policy.js';
import { applySettings, filesOf, lazyData, type FleetTorrentData, type Running } from './fleet-run.js';
import { FleetPicture } from './fleet-picture.js';
import { activeTorrents, shareLimitReached, SlowWatch } from './fleet-policy.js';
import { MagnetOwner } from './magnet-owner.js';
import { LiveWorkers } from './live-workers.js';
import { moveTorrent } from './torrent-move.js';
import { amongReplicas, rendezvousOwner } from './rendezvous.js';
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
 * reached), and moves (the owner has the data moved, then the torrent
 * runs from its new save folder everywhere). Lifetime totals are kept by
 * TotalsKeeper.
 *
 * It runs unchanged on both stores (JetStream buckets in the fleet, files
 * for `seedbox serve`): what differs is plugged in, the torrents' data
 * (`data`), moving and deleting it, and what else each tick does
 * (`onTick`: in the fleet, the heartbeat and the figures over NATS).
 */

export interface FleetRunnerOptions {
  state: FleetStore;
  engine: Engine;
  /** The data of a torrent this worker runs, in its save folder (undefined: a folder of its own). */
  data: (meta: Metainfo, recorded: () => Uint8Array | undefined, savePath: string | undefined) => FleetTorrentData | Promise<FleetTorrentData>;
  /** Moves a torrent's content from one save folder to another (the fleet: a disk-writer does it). */
  moveData: (meta: Metainfo, from: string | undefined, to: string) => Promise<void>;
  /** Removes a torrent from the fleet, and its data with `deleteData` (a seeding rule's action). */
  removeTorrent: (infoHashHex: string, deleteData: boolean) => Promise<void>;
  /** Every torrent's figures, this worker's and the others' (for the queue's slow torrents). */
  stats?: StatsSource | undefined;
  /**
   * The global speed limits in force changed (the config, or its
   * alternative pair switched). Default: this engine's limits; in the fleet,
   * FleetBandwidth shares them among the workers.
   */
  speedLimits?: ((limits: SpeedLimits) => void) | undefined;
  /** After each tick's bitfields are handed over (the fleet: heartbeat and figures). */
  onTick?: (t: EngineTick) => void;
  /** After the engine stopped (the fleet: the last heartbeat, with no torrents). */
  onStop?: () => void;
  workerId: string;
  /** What trackers should give out for this worker. */
  announce: { host?: string | undefined; port: number };
  grpcEndpoint?: string;
  log: Logger;
  /** How often the live workers are read. Default 2 s. */
  membershipMs?: number;
  /** One attempt at a magnet's metadata gives up after this long. Default 2 min. */
  metadataTimeoutMs?: number;
  /** A failed attempt is made again this long after. Default 60 s. */
  metadataRetryMs?: number;
}

/** Totals go to the store this often (ticks), and when a torrent stops here. */
const TOTALS_EVERY_TICKS = 30;

export class FleetRunner implements FleetView {
  private readonly picture = new FleetPicture();
  private readonly running = new Map<string, Running>();
  private readonly workers: LiveWorkers;
  private stops: (() => void)[] = [];
  private membershipTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private syncing: Promise<void> = Promise.resolve();
  private readonly onTick = (t: EngineTick): void => this.tick(t);
  private config: FleetConfig = defaultFleetConfig();
  /** Running torrents the queue lets be active now (all of them with queueing off). */
  private active = new Set<string>();
  private readonly slow = new SlowWatch();
  private readonly totalsKeeper: TotalsKeeper;
  /** Torrents whose move (by this worker) or rule action is under way. */
  private readonly busy = new Set<string>();
  private ticks = 0;
  private readonly magnets: MagnetOwner;
  /** This process's SEEDBOX_ENCRYPTION: what the engine goes back to while the config sets none. */
  private readonly ownEncryption: EncryptionPolicy;

  constructor(private readonly o: FleetRunnerOptions) {
    this.workers = new LiveWorkers(
      o.state,
      () => ({ workerId: o.workerId, peerIdHex: Buffer.from(o.engine.peerId).toString('hex'), host: o.announce.host, port: o.announce.port, grpc: o.grpcEndpoint }),
      o.log,
    );
    this.ownEncryption = o.engine.encryption;
    this.totalsKeeper = new TotalsKeeper(o.state, o.log);
    const timeoutMs = o.metadataTimeoutMs ?? 120_000;
    this.magnets = new MagnetOwner({
      state: o.state,
      // The engine's one magnet flow: the trackers announce the swarm while it fetches.
      fetch: (magnet, signal) => o.engine.fetchMetadata(magnet, { timeoutMs, signal }),
      log: o.log,
      retryMs: o.metadataRetryMs,
      onSettled: () => this.schedule(),
    });
  }

  async start(): Promise<void> {
    const { state, log } = this.o;
    await this.workers.refresh();
    await this.totalsKeeper.start();
    this.stops.push(() => this.totalsKeeper.stop());
    this.stops.push(
      await state.watchConfig((c) => {
        this.config = c;
        const limits = effectiveSpeed(c);
        if (this.o.speedLimits) this.o.speedLimits(limits);
        else this.o.engine.setLimits(limits);
        this.applyEncryption(c);
        this.schedule();
      }),
    );
    if (this.o.stats) {
      this.stops.push(
        this.o.stats.onTick((list) => {
          const now = Date.now();
          for (const s of list) this.slow.observe(s.infoHashHex, s.downloadRate, s.uploadRate, this.config.queue, now);
          // Slow torrents leave the count: the queue may move on.
          if (this.config.queue.enabled && this.config.queue.ignoreSlow) this.schedule();
        }),
      );
    }
    this.stops.push(
      await state.watchBitfields((hex, bytes) => {
        this.picture.setBits(hex, bytes);
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
          this.schedule();
        },
        (key, err) => log.warn('bad registry entry', { key, error: err }),
      ),
    );
    this.membershipTimer = setInterval(() => {
      void this.workers.refresh().then(() => this.schedule());
    }, this.o.membershipMs ?? 2000);
    this.o.engine.on('tick', this.onTick);
  }

  /**
   * The config's encryption policy, or this process's own while it has
   * none; connections made from now on follow it. A policy this process
   * cannot keep (RC4 without --openssl-legacy-provider) leaves the one in
   * force and is a warning: the config is the fleet's, and other workers
   * may keep it.
   */
  private applyEncryption(c: FleetConfig): void {
    const policy = c.encryption ?? this.ownEncryption;
    if (policy === this.o.engine.encryption) return;
    try {
      this.o.engine.setEncryption(policy);
      this.o.log.info('encryption policy changed', { encryption: policy, from: c.encryption !== undefined ? 'fleet config' : 'SEEDBOX_ENCRYPTION' });
    } catch (e) {
      if (!(e instanceof EncryptionPolicyError)) throw e;
      this.o.log.warn('the fleet config asks for an encryption policy this process cannot keep; keeping the one in force', { asked: policy, kept: this.o.engine.encryption, error: e });
    }
  }

  /** Registered torrents paused by the operator. */
  get pausedCount(): number {
    return this.picture.pausedCount;
  }

  /** The torrents this worker runs now. */
  get runningTorrents(): string[] {
    return [...this.running.keys()];
  }

  // ---- FleetView: what the control API reads of the fleet ----

  queued(infoHashHex: string): boolean {
    const r = this.picture.get(infoHashHex);
    return r !== undefined && r.entry.desired === 'running' && !this.active.has(infoHashHex);
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

  pieces(infoHashHex: string): Uint8Array | undefined {
    return this.picture.has(infoHashHex) ? (this.picture.bitBytes(infoHashHex) ?? new Uint8Array(0)) : undefined;
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
    this.o.engine.off('tick', this.onTick);
    for (const s of this.stops) s();
    await this.syncing;
    await this.magnets.stop();
    // The last tick's figures count too.
    for (const s of this.o.engine.snapshot().torrents) this.totalsKeeper.record(s, Date.now(), this.owner(s.infoHash) === this.o.workerId);
    await this.o.engine.stop();
    await this.flushBitfields();
    this.o.onStop?.();
    for (const [hex, r] of this.running) await this.close(hex, r);
    await this.totalsKeeper.flush();
    await this.o.state.removeWorker(this.o.workerId).catch(() => {});
  }

  /** Resolves once the running set matches the state as it is now (e.g. a removed torrent has stopped). */
  settled(): Promise<void> {
    this.schedule();
    return this.syncing;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.syncing = this.syncing.then(() => this.sync()).catch((e: unknown) => this.o.log.error('fleet sync failed', { error: e as Error }));
  }

  /** Makes the running set match the registry, the fleet's bitfields, the queue and the membership. */
  private async sync(): Promise<void> {
    if (this.stopped) return;
    this.active = this.computeActive();
    for (const [hex, { entry, meta }] of this.picture.entries()) {
      let r = this.running.get(hex);
      // Moved: the torrent runs again from its new folder.
      if (r && r.savePath !== entry.settings.savePath) {
        await this.close(hex, r);
        r = undefined;
      }
      const want = this.shouldRun(hex, entry, meta);
      if (want && !r) this.run(hex, meta, entry);
      else if (!want && r) await this.close(hex, r);
      else if (r) {
        applySettings(r, entry.settings);
        this.adoptFleetPieces(r);
        if (entry.rechecks > r.rechecks) {
          r.rechecks = entry.rechecks;
          r.torrent?.recheck();
        }
      }
      if (entry.moveTo !== undefined && this.owner(hex) === this.o.workerId && !this.busy.has(hex)) void this.move(hex, entry, meta);
    }
    for (const [hex, r] of this.running) if (!this.picture.has(hex)) await this.close(hex, r);
    this.magnets.sync(this.picture.awaitingMetadata(), (hex) => this.owner(hex) === this.o.workerId);
  }

  /** The queue's answer over every running torrent of the registry. */
  private computeActive(): Set<string> {
    const now = Date.now();
    const running = [];
    for (const [hex, { entry, meta }] of this.picture.entries()) {
      if (entry.desired !== 'running') continue;
      running.push({ infoHashHex: hex, settings: entry.settings, complete: this.picture.isDone(hex, entry, meta), slow: this.slow.isSlow(hex, this.config.queue, now) });
    }
    return activeTorrents(running, this.config.queue);
  }

  private shouldRun(hex: string, entry: RegistryEntry, meta: Metainfo): boolean {
    if (entry.desired !== 'running' || !this.active.has(hex)) return false;
    // A download stops while its data moves; a seed goes on reading (its open files follow the rename).
    if (entry.moveTo !== undefined && !this.picture.isDone(hex, entry, meta)) return false;
    // A complete torrent is seeded by its replicas; one with files skipped stays with its owner.
    if (this.picture.isComplete(hex, meta)) return amongReplicas(this.workers.list, hex, this.o.workerId, this.seedReplicas(meta));
    // A torrent this worker is downloading stays here until it is done or
    // the owner changes, so a flapping heartbeat costs no more than a switch.
    return this.owner(hex) === this.o.workerId;
  }

  /** The owner has the data moved (torrent-move.ts); meanwhile the torrent is busy here. */
  private async move(hex: string, entry: RegistryEntry, meta: Metainfo): Promise<void> {
    this.busy.add(hex);
    try {
      await moveTorrent(this.o, hex, entry, meta);
    } finally {
      this.busy.delete(hex);
    }
  }


  private seedReplicas(meta: Metainfo): number {
    const n = effectiveSeedReplicas(this.config);
    return meta.private ? n.private : n.public;
  }

  private owner(hex: string): string {
    return rendezvousOwner(this.workers.list, hex) ?? this.o.workerId;
  }

  private run(hex: string, meta: Metainfo, entry: RegistryEntry): void {
    const { engine, log } = this.o;
    const savePath = entry.settings.savePath;
    const r: Running = { meta, torrent: undefined, data: undefined, unsaved: new Set(), rechecks: entry.rechecks, savePath, settings: entry.settings };
    this.running.set(hex, r);
    const data = lazyData(r, () => this.o.data(meta, () => this.picture.bitBytes(hex), savePath));
    // A magnet resolved here starts with the peers that gave its metadata.
    const torrent = engine.add(meta, { data, files: filesOf(entry.settings, meta), limits: entry.settings.limits, peers: this.magnets.takePeers(hex) });
    r.torrent = torrent;
    torrent.on('piece', (index) => r.unsaved.add(index));
    // What a check that hashed found is the truth now, whatever the record said.
    torrent.on('checked', (outcome) => {
      log.info('checked', { infoHash: hex, have: outcome.have.count, pieces: meta.pieceCount, fastPath: outcome.fastPath, hashed: outcome.hashed });
      if (outcome.hashed > 0) void this.o.state.replaceBitfield(hex, outcome.have).catch((e: unknown) => log.warn('recording a check failed', { infoHash: hex, error: e as Error }));
    });
    // Finishing is news worth not waiting a tick for: the figures (the
    // control API's watch), the bitfield (other workers start seeding) and
    // the heartbeat (`completed` to the trackers) go out now.
    torrent.once('complete', () => setImmediate(() => !this.stopped && this.tick(engine.snapshot())));
    torrent.on('error', (e) => log.warn('torrent error', { infoHash: hex, error: e }));
    log.info('running torrent', { infoHash: hex, name: meta.name, pieces: meta.pieceCount });
  }

  private async close(hex: string, r: Running): Promise<void> {
    this.running.delete(hex);
    await this.o.engine.remove(hex);
    this.totalsKeeper.endRun(hex);
    if (r.unsaved.size > 0 && this.picture.has(hex)) await this.o.state.mergeBitfield(hex, r.meta.pieceCount, r.unsaved).catch(() => {});
    const data = await r.data?.catch(() => undefined);
    await data?.close?.().catch(() => {});
    this.o.log.info('stopped torrent', { infoHash: hex });
  }

  /** Pieces another worker verified (a previous owner) are ours to serve too. */
  private adoptFleetPieces(r: Running): void {
    const fleet = this.picture.bitfield(r.meta.infoHashHex, r.meta);
    if (r.torrent && fleet.count > r.torrent.have.count) r.torrent.adoptPieces(fleet);
  }

  private tick(t: EngineTick): void {
    this.o.onTick?.(t);
    void this.flushBitfields();
    for (const s of t.torrents) {
      const owned = this.owner(s.infoHash) === this.o.workerId;
      this.totalsKeeper.record(s, t.time, owned);
      if (owned) this.applyShareRules(s.infoHash, s.done, s.totalLength - s.left, t.time);
    }
    if (++this.ticks % TOTALS_EVERY_TICKS === 0) void this.totalsKeeper.flush();
  }

  /** A complete torrent past its ratio or time limit: the owner takes the configured action, once. */
  private applyShareRules(hex: string, complete: boolean, doneBytes: number, now: number): void {
    const reg = this.picture.get(hex);
    if (!reg || reg.entry.desired !== 'running' || this.busy.has(hex)) return;
    const rule = shareLimitReached({ settings: reg.entry.settings, totals: this.totalsKeeper.get(hex), doneBytes, complete }, this.config, now);
    if (!rule) return;
    const action = this.config.shareAction;
    this.busy.add(hex);
    this.o.log.info('seeding limit reached', { infoHash: hex, rule, action });
    void (async () => {
      await this.totalsKeeper.flush();
      if (action === 'pause') await this.o.state.updateTorrent(hex, (e) => (e.desired === 'running' ? { ...e, desired: 'paused', limitReached: rule } : undefined));
      else await this.o.removeTorrent(hex, action === 'remove-with-data');
    })()
      .catch((e: unknown) => this.o.log.warn('acting on a seeding limit failed', { infoHash: hex, rule, error: e as Error }))
      .finally(() => this.busy.delete(hex));
  }

  private async flushBitfields(): Promise<void> {
    for (const [hex, r] of this.running) {
      if (r.unsaved.size === 0) continue;
      const pieces = [...r.unsaved];
      r.unsaved.clear();
      try {
        await this.o.state.mergeBitfield(hex, r.meta.pieceCount, pieces);
      } catch (e) {
        for (const p of pieces) r.unsaved.add(p);
        this.o.log.warn('saving verified pieces failed; will retry', { infoHash: hex, error: e as Error });
      }
    }
  }
}

