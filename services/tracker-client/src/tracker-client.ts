import { TrackerError } from '@seedbox/protocol';
import type { TrackerStatus } from '@seedbox/cluster';
import { announcePolicy } from './announce-plan.js';
import type { TrackerWarning } from './announcer.js';
import { AnnouncerFactory } from './announcer-factory.js';
import { AnnouncerRegistry } from './announcer-registry.js';
import { DhtMembership } from './dht-membership.js';
import { OwnWorkers } from './own-workers.js';
import { FilteringPeerFeed } from './peer-feed.js';
import type { Scraper, ScrapeTarget } from './scraper.js';
import { TrackerHolds } from './tracker-backoff.js';
import type { AnnouncerEntry, ChangesVerdict, TorrentState, TrackerClientOptions, TrackerTorrent, WorkerHeartbeat, WorkerHeartbeatChanges, WorkerState, WorkerTorrentStats } from './tracker-client-types.js';
import { TrackerGate } from './tracker-gate.js';
import { TrackerStatusBook } from './tracker-status-book.js';
import { TrackerTiers } from './tiers.js';
import { NetworkTrackerTransport, type TrackerTransport } from './transport.js';
import { checkIdentity, defaultLocalAddresses, sameIdentity, type WorkerIdentity } from './worker-identity.js';

export type { WorkerIdentity };
import { changesVerdict, joinedOrLeft, statsMap } from './worker-beats.js';
export type { ChangesVerdict, TrackerClientOptions, TrackerTorrent, WorkerHeartbeat, WorkerHeartbeatChanges, WorkerTorrentStats } from './tracker-client-types.js';

/**
 * The tracker-client service core: announces every torrent for every
 * peer-worker of the fleet.
 *
 * The swarm must see each worker as its own peer (its peer id, its address,
 * its port), so an announce is made per (torrent, worker): a torrent seeded
 * by N workers appears in the tracker as N peers, each reachable. Workers
 * tell us who they are and how far along they are through heartbeats (in
 * embedded mode, a poll of the in-process worker); a full heartbeat starts
 * the announcers of the torrents it lists, stops those it no longer lists,
 * and notices a download finishing (`completed`). Between full ones a
 * worker sends only what changed (heartbeatChanges), so an idle worker
 * with 10,000 torrents costs next to nothing a second.
 *
 * Peers found by any worker's announce are peers of the torrent: they go to
 * the PeerFeed once, through a FilteringPeerFeed that drops our own workers
 * and peers already sent.
 *
 * What each tracker last answered is kept per torrent (TrackerStatusBook)
 * for the control APIs, and a reannounce asked for by hand brings every
 * announcer of the torrent forward (Announcer.announceNow).
 *
 * At scale (thousands of torrents on a few trackers) the announcers share
 * what is the tracker's, not the torrent's: its slots (TrackerGate: a few
 * requests in flight, urgent ones and downloading torrents first), its
 * HTTP connection pool (the transport's), and its holds (TrackerHolds:
 * a 429 or "try again later" leaves it alone for every torrent). A
 * Scraper asks each tracker for the counts of all its torrents every half
 * hour, in batches, behind the announces.
 *
 * All of this runs on one event loop and is touched only from it. What
 * is the same for many announcers is made once and shared, not copied into
 * each (10,000 in serve): the client's options, a worker's identity, the
 * announce policies (announcer-factory.ts makes the announcers).
 */

export class TrackerClient {
  private readonly torrents = new Map<string, TorrentState>();
  private readonly workers = new Map<string, WorkerState>();
  private readonly announcers = new AnnouncerRegistry();
  private readonly transport: TrackerTransport;
  private readonly ownsTransport: boolean;
  private readonly feed: FilteringPeerFeed;
  /** Our workers, as peer lists name them (see own-workers.ts). */
  private readonly own: OwnWorkers;
  /** Announcers being stopped (workers gone, torrents removed), awaited by stop(). */
  private readonly stopping = new Set<Promise<void>>();
  private closed = false;
  private readonly sweeper: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly book: TrackerStatusBook;
  private readonly dht: DhtMembership | undefined;
  /** The DHT switch (the fleet's setting): off, no torrent is looked up or announced. */
  private dhtOn = true;
  /** Each tracker's slots and holds, shared by every announcer and the scraper. */
  private readonly gate: TrackerGate;
  private readonly holds = new TrackerHolds();
  private readonly scraper: Scraper | undefined;
  /** Makes each (torrent, worker)'s announcer, and the scraper, from what they share. */
  private readonly factory: AnnouncerFactory;

  constructor(private readonly options: TrackerClientOptions) {
    this.now = options.now ?? Date.now;
    this.book = new TrackerStatusBook(options.onTrackerStatus, this.now);
    const timeout = options.workerTimeoutMs;
    if (timeout !== undefined) {
      this.sweeper = setInterval(() => this.expireWorkers(), Math.max(10, Math.min(timeout / 2, 5000)));
      // The sweep alone is no reason to keep a process alive.
      this.sweeper.unref();
    }
    this.gate = new TrackerGate(options.perTrackerLimit !== undefined ? { perTracker: options.perTrackerLimit } : {});
    const network = options.network ?? {};
    this.transport = options.transport ?? new NetworkTrackerTransport({ ...network, httpAgents: { maxSockets: this.gate.perTracker, ...network.httpAgents } });
    this.ownsTransport = options.transport === undefined;
    this.own = new OwnWorkers(() => [...this.workers.values()].map((w) => w.identity), options.localAddresses ?? defaultLocalAddresses);
    this.feed = new FilteringPeerFeed(options.peerFeed, {
      isOwn: (p) => this.own.has(p),
      ...(options.recentPeerTtlMs !== undefined ? { recentTtlMs: options.recentPeerTtlMs } : {}),
    });
    this.factory = new AnnouncerFactory({
      options,
      transport: this.transport,
      gate: this.gate,
      holds: this.holds,
      feed: this.feed,
      book: this.book,
      own: this.own,
      latest: (workerId, hex) => this.workers.get(workerId)?.torrents.get(hex),
      onWarning: this.warn,
      now: this.now,
    });
    this.dht = options.dht ? new DhtMembership(options.dht, (hex, peers) => this.feed.peersFound(hex, peers, 'dht')) : undefined;
    this.scraper = options.scrape === false ? undefined : this.factory.scraper(() => this.scrapeTargets());
    this.scraper?.start();
  }

  /** What happened to found peers: forwarded, own, duplicate, invalid. */
  get peerCounts(): Readonly<FilteringPeerFeed['counts']> {
    return this.feed.counts;
  }

  /** Starts announcing a torrent for every worker that serves it. Adding it again changes nothing. */
  addTorrent(torrent: TrackerTorrent): void {
    this.assertOpen();
    if (!(torrent.infoHash instanceof Uint8Array) || torrent.infoHash.length !== 20) {
      throw new TrackerError('TRACKER_BAD_FIELD', 'infoHash must be 20 bytes');
    }
    const hex = Buffer.from(torrent.infoHash).toString('hex');
    if (this.torrents.has(hex)) return;
    const tiers = new TrackerTiers(torrent.announce, this.options.random);
    const o = this.options;
    const policy = announcePolicy(torrent.announceToAllTiers ?? o.announceToAllTiers ?? false, torrent.announceToAllTrackers ?? o.announceToAllTrackers ?? false);
    this.torrents.set(hex, { infoHash: Uint8Array.from(torrent.infoHash), private: torrent.private ?? false, tiers, policy });
    for (const url of tiers.skipped) {
      this.warn({ kind: 'unusable-url', infoHashHex: hex, url, message: `'${url}' is not an http, https or udp tracker; skipped` });
    }
    // Only this torrent: a pass over every worker's every torrent per add made adding N torrents O(N²).
    for (const worker of this.workers.values()) {
      const stats = worker.torrents.get(hex);
      if (stats) this.syncOne(worker, hex, stats);
    }
    this.syncDht([hex]);
  }

  /**
   * Stops announcing a torrent (`stopped` to its trackers for every
   * worker) and forgets what its trackers said, unless `keepStatus`: a
   * torrent that only pauses (EmbeddedTrackers) still shows its trackers'
   * last word, as in the fleet, where a paused torrent stays added.
   */
  async removeTorrent(infoHashHex: string, options: { keepStatus?: boolean } = {}): Promise<void> {
    const hex = infoHashHex.toLowerCase();
    this.torrents.delete(hex);
    this.syncDht([hex]);
    this.feed.forget(hex);
    if (!options.keepStatus) this.book.forget(hex);
    await Promise.all(this.announcers.ofTorrent(hex).map((e) => this.stopEntry(e)));
  }

  /**
   * A worker's full heartbeat: every torrent it serves, so the announcers
   * of those it does not list stop. It (re)establishes the worker: its
   * identity, and the seq that its partial heartbeats follow. Throws
   * TrackerError TRACKER_BAD_FIELD for an identity that cannot be announced
   * (a peer id that is not 20 bytes, port 0, a host that is no address);
   * nothing is changed then.
   */
  heartbeat(hb: WorkerHeartbeat): void {
    this.assertOpen();
    const identity = checkIdentity(hb);
    const torrents = statsMap(hb.torrents);
    const existing = this.workers.get(identity.workerId);
    const same = existing !== undefined && sameIdentity(existing.identity, identity);
    if (existing && !same) {
      // A restarted worker with a new port or peer id is a different peer
      // to the swarm: the old one leaves (`stopped`), the new one `started`.
      for (const e of this.announcers.ofWorker(identity.workerId)) void this.stopEntry(e);
    }
    const announceAs = same ? existing.announceAs : this.factory.announceAs(identity);
    this.workers.set(identity.workerId, { identity, announceAs, torrents, lastSeen: this.now(), seq: hb.seq, inStep: true });
    this.own.changed();
    this.sync(identity.workerId);
    // The DHT needs to hear of the torrents this worker started or stopped serving (all, for a new identity).
    if (!same) this.syncDht(existing ? new Set([...existing.torrents.keys(), ...torrents.keys()]) : torrents.keys());
    else {
      const changed = joinedOrLeft(existing.torrents, torrents);
      if (changed.length > 0) this.syncDht(changed);
    }
  }

  /**
   * A worker's partial heartbeat: the torrents that joined or whose figures
   * changed, and those gone, since its last heartbeat. Costs O(what it
   * lists): the others' announcers are not looked at. It counts as a sign
   * of life whenever it comes from the worker's known identity, even when
   * it cannot be applied. A worker unknown here, under another identity
   * (it restarted: its full heartbeat says so), or out of step (see
   * changesVerdict) is left as it is until its next full heartbeat.
   * Throws as heartbeat() does for a bad identity.
   */
  heartbeatChanges(ch: WorkerHeartbeatChanges): ChangesVerdict {
    this.assertOpen();
    const identity = checkIdentity(ch);
    const worker = this.workers.get(identity.workerId);
    if (!worker || !sameIdentity(worker.identity, identity)) return 'out-of-step';
    worker.lastSeen = this.now();
    const verdict = changesVerdict(worker, ch.seq);
    if (verdict !== 'applied') {
      if (verdict === 'out-of-step') worker.inStep = false;
      return verdict;
    }
    if (ch.seq !== undefined) worker.seq = ch.seq;
    const joinedOrLeft: string[] = [];
    for (const listed of ch.gone ?? []) {
      const hex = listed.toLowerCase();
      if (!worker.torrents.has(hex)) continue;
      // Stopped before it leaves the map: `stopped` carries the worker's last figures (stopEntry).
      const entry = this.announcers.get(hex, identity.workerId);
      if (entry) void this.stopEntry(entry);
      worker.torrents.delete(hex);
      joinedOrLeft.push(hex);
    }
    for (const [hex, stats] of statsMap(ch.torrents)) {
      if (!worker.torrents.has(hex)) joinedOrLeft.push(hex);
      worker.torrents.set(hex, stats);
      this.syncOne(worker, hex, stats);
    }
    if (joinedOrLeft.length > 0) this.syncDht(joinedOrLeft);
    return 'applied';
  }

  /** A worker left (or its heartbeats expired): `stopped` for all its torrents. */
  async removeWorker(workerId: string): Promise<void> {
    // Stop first: stopEntry() takes the worker's last figures for `stopped`.
    const stopping = this.announcers.ofWorker(workerId).map((e) => this.stopEntry(e));
    const listed = this.workers.get(workerId)?.torrents.keys();
    this.workers.delete(workerId);
    if (listed) this.syncDht(listed);
    this.own.changed();
    await Promise.all(stopping);
  }

  /** Stops the announces of workers silent for longer than workerTimeoutMs. */
  expireWorkers(): void {
    const timeout = this.options.workerTimeoutMs;
    if (timeout === undefined || this.closed) return;
    const now = this.now();
    for (const [workerId, w] of [...this.workers]) {
      if (now - w.lastSeen <= timeout) continue;
      for (const hex of w.torrents.keys()) {
        if (!this.torrents.has(hex)) continue;
        this.warn({ kind: 'worker-expired', infoHashHex: hex, workerId, message: `no heartbeat from ${workerId} for ${now - w.lastSeen} ms; announcing it stopped` });
      }
      void this.removeWorker(workerId);
    }
  }

  /** How many announcers run (a gauge read every second: no list built for it). */
  get announcerCount(): number {
    return this.announcers.size;
  }

  /** The announcers running, for introspection and tests. */
  list(): { infoHashHex: string; workerId: string; lastTracker: string | undefined; nextAnnounceAt: number | undefined }[] {
    return this.announcers.all().map((e) => ({
      infoHashHex: e.infoHashHex,
      workerId: e.workerId,
      lastTracker: e.announcer.lastTracker,
      nextAnnounceAt: e.announcer.nextAnnounceAt,
    }));
  }

  /** Asks every announcer of a torrent for an early announce (a worker wants more peers). */
  requestPeers(infoHashHex: string): void {
    for (const e of this.announcers.ofTorrent(infoHashHex.toLowerCase())) e.announcer.requestAnnounce();
  }

  /** A reannounce asked for by hand: every announcer of the torrent announces now (see Announcer.announceNow). Answers how many will. */
  reannounce(infoHashHex: string): number {
    let n = 0;
    for (const e of this.announcers.ofTorrent(infoHashHex.toLowerCase())) if (e.announcer.announceNow()) n++;
    return n;
  }

  /** What each tracker of the torrent last answered; empty when none was heard from. */
  trackerStatus(infoHashHex: string): TrackerStatus[] {
    return this.book.get(infoHashHex);
  }

  /** Scrapes every torrent at its trackers now (the sweep the timer makes every 30 minutes); resolves when done. */
  scrapeNow(): Promise<void> {
    return this.scraper?.sweep() ?? Promise.resolve();
  }

  /** Statuses stored before this process started (the fleet's bucket); announces since win. */
  restoreTrackerStatus(infoHashHex: string, list: readonly TrackerStatus[]): void {
    this.book.restore(infoHashHex, list);
  }

  /**
   * Shutdown: `stopped` for every (torrent, worker) to every tracker that
   * knows it, in parallel, each under the stop deadline; then the sockets
   * close. Never rejects.
   */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    await this.scraper?.stop();
    await Promise.all(this.announcers.all().map((e) => this.stopEntry(e)));
    await Promise.all([...this.stopping]);
    if (this.ownsTransport) await this.transport.close();
  }

  /**
   * Switches DHT lookups and announces on or off for every torrent (the
   * fleet's `dht` setting). The node itself runs on: it still answers
   * other nodes until the process stops.
   */
  setDhtEnabled(on: boolean): void {
    if (this.dhtOn === on) return;
    this.dhtOn = on;
    this.syncDht([...this.torrents.keys(), ...(this.dht?.joinedHexes() ?? [])]);
  }

  /** The DHT's view of these torrents: looked up for the ports of the workers serving them. */
  private syncDht(hexes: Iterable<string>): void {
    if (!this.dht || this.closed) return;
    for (const hex of hexes) {
      const ports: number[] = [];
      if (this.dhtOn) for (const w of this.workers.values()) if (w.torrents.has(hex)) ports.push(w.identity.port);
      this.dht.set(hex, this.torrents.get(hex), ports);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('TrackerClient is stopped');
  }

  /** Makes the announcers of one worker match its last heartbeat. */
  private sync(workerId: string): void {
    const worker = this.workers.get(workerId);
    if (!worker) return;
    for (const [hex, stats] of worker.torrents) this.syncOne(worker, hex, stats);
    for (const e of this.announcers.ofWorker(workerId)) if (!worker.torrents.has(e.infoHashHex)) void this.stopEntry(e);
  }

  /** One torrent of a worker's last heartbeat: its announcer started, `completed` sent when it came complete. */
  private syncOne(worker: WorkerState, hex: string, stats: WorkerTorrentStats): void {
    const torrent = this.torrents.get(hex);
    if (!torrent) return; // not (yet) ours to announce; addTorrent() picks it up
    let entry = this.announcers.get(hex, worker.identity.workerId);
    if (!entry) {
      // A worker (re)starting a torrent knows no peers yet: peers sent
      // before (to it before a pause, or to another worker) go out again.
      this.feed.forget(hex);
      entry = this.factory.entry(hex, torrent, worker);
      this.announcers.add(entry);
      entry.announcer.start();
    }
    const complete = stats.complete ?? stats.left === 0;
    if (!complete) entry.sawIncomplete = true;
    else if (entry.sawIncomplete && !entry.completedSent) {
      entry.completedSent = true;
      entry.announcer.completed();
    }
  }

  /** Every torrent a worker serves, at each of its trackers that it has announced to (one with a status line). */
  private *scrapeTargets(): Iterable<ScrapeTarget> {
    for (const hex of this.announcers.torrents()) {
      const listed = new Set(this.torrents.get(hex)?.tiers.tiers.flat());
      for (const url of this.book.urls(hex)) if (listed.has(url)) yield { infoHashHex: hex, url };
    }
  }

  private stopEntry(e: AnnouncerEntry): Promise<void> {
    if (!e.frozen) e.last = this.workers.get(e.workerId)?.torrents.get(e.infoHashHex) ?? e.last;
    e.frozen = true;
    this.announcers.delete(e);
    const p = e.announcer.stop().finally(() => this.stopping.delete(p));
    this.stopping.add(p);
    return p;
  }

  /** Every announcer's onWarning too, hence a bound function. */
  private readonly warn = (w: TrackerWarning): void => {
    const sink = this.options.onWarning ?? ((x: TrackerWarning) => console.warn(`tracker-client: ${x.infoHashHex.slice(0, 8)} ${x.workerId ?? ''}: ${x.message}`));
    try {
      sink(w);
    } catch {
      // A throwing sink is a logging problem, not a reason to stop announcing.
    }
  };
}
