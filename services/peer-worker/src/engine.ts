import { EventEmitter } from 'node:events';
import type { Magnet, Metainfo, PeerAddress } from '@seedbox/protocol';
import type { PeerInfo } from '@seedbox/cluster';
import { Bandwidth, type BandwidthLimits, type ResolvedLimits } from './bandwidth/bandwidth.js';
import { checkEncryptionPolicy, type EncryptionPolicy } from './encryption/encryption-policy.js';
import type { AddTorrentOptions, ConnectionLimits, EngineEvents, EngineOptions } from './engine-options.js';
import type { MetadataFetcher } from './metadata-fetcher.js';
import { resolveMagnet, type ResolvedMagnet } from './magnet-resolver.js';
import type { PeerDiscovery, SwarmHandle, SwarmInfo, SwarmMember } from './peer-discovery.js';
import { generatePeerId } from './peer-id.js';
import { ConnectionBudget } from './peer-list.js';
import { LISTENER_DEFAULTS, PeerListener, REFUSED_CONNECTIONS, type RefusedConnection } from './peer-listener.js';
import type { FileSelection } from './file-selection.js';
import { Torrent, type TorrentData, type TorrentSnapshot } from './torrent.js';
import { TickLedger, type ConnectionFigures, type EngineTick } from './engine-tick.js';

export type { ConnectionFigures, EngineTick, TorrentSums } from './engine-tick.js';

/**
 * The engine: every torrent of one process, the one port it listens on,
 * the one 1-second clock, and peer discovery, behind one API (add, remove,
 * pause, resume, snapshot, events), as rqbit's `Session` is. The CLI's
 * `download` and `seed`, the fleet's peer-worker and `seedbox serve` are
 * compositions of it; none of them drives a Torrent's internals.
 *
 * Where verified pieces go is a PieceSink (the disk-writer in this
 * process, or the disk-writer fleet over NATS); where a torrent's data is
 * read from and checked is its TorrentData; how peers are found is a
 * PeerDiscovery. The engine itself does no file or NATS I/O.
 */

interface Entry {
  torrent: Torrent;
  swarm: SwarmHandle | undefined;
  info: SwarmInfo;
  /** Its snapshot at the last tick (TickLedger). */
  last: TorrentSnapshot | undefined;
}

export class Engine extends EventEmitter<EngineEvents> {
  readonly peerId: Uint8Array;
  private readonly o: EngineOptions;
  private readonly entries = new Map<string, Entry>();
  /** Which torrents the clock moves, and what changed since the last tick. */
  private readonly ledger = new TickLedger<Entry>(() => this.entries.values());
  /** Magnet links whose metadata is being fetched, for the listener to route their peers. */
  private readonly fetching = new Map<string, MetadataFetcher>();
  private listener: PeerListener | undefined;
  private timer: NodeJS.Timeout | undefined;
  private discoveryNow: PeerDiscovery | undefined;
  private stopping: Promise<void> | undefined;
  private readonly budget: ConnectionBudget;
  private readonly bandwidth: Bandwidth;
  private encryptionNow: EncryptionPolicy = 'prefer';
  private readonly encryptionPolicy = (): EncryptionPolicy => this.encryptionNow;
  listenPort: number | undefined;

  constructor(options: EngineOptions) {
    super();
    this.o = options;
    this.peerId = options.peerId ?? generatePeerId();
    this.budget = new ConnectionBudget(options.maxConnections ?? 500);
    this.bandwidth = new Bandwidth(options.limits);
    this.setEncryption(options.encryption ?? 'prefer');
  }

  /** The encryption policy new connections follow. */
  get encryption(): EncryptionPolicy {
    return this.encryptionNow;
  }

  /**
   * Sets the encryption policy for connections made from now on. Throws an
   * EncryptionPolicyError, changing nothing, for an unknown policy or one
   * that needs RC4 where this Node has none (no --openssl-legacy-provider).
   */
  setEncryption(policy: EncryptionPolicy): void {
    checkEncryptionPolicy(policy);
    this.encryptionNow = policy;
  }

  /** The engine-wide limits in force, bytes/s, 0 for none. */
  get limits(): ResolvedLimits {
    return this.bandwidth.limits;
  }

  /**
   * Replaces the engine-wide pair of limits, at once, for every torrent
   * (a direction left out, or 0, is unlimited). "Alternative speeds" are
   * this call with the other pair (see effectiveLimits); in a fleet, each
   * worker calls it every tick with its share of the fleet's limit (see
   * bandwidth/fleet-share.ts). Throws a BandwidthLimitError for a value
   * that is not bytes per second, before changing anything.
   */
  setLimits(limits: BandwidthLimits): void {
    this.bandwidth.setLimits(limits);
  }

  /** Whether each direction was held back by a limit since the last call: a worker's "wanting" in the fleet's share. */
  takeBandwidthWanting(): { download: boolean; upload: boolean } {
    return this.bandwidth.takeWanting();
  }

  /** Listens (unless told not to) and starts the clock. A port in use rejects. */
  async start(): Promise<void> {
    if (this.o.listen !== false) {
      const listen = this.o.listen ?? {};
      this.listener = new PeerListener({
        ...(listen.host !== undefined ? { host: listen.host } : {}),
        ...(listen.port !== undefined ? { port: listen.port } : {}),
        ...this.o.incoming,
        lookup: (hex) => this.entries.get(hex)?.torrent ?? this.fetching.get(hex),
        infoHashes: () => [...this.entries.keys(), ...this.fetching.keys()],
        encryption: this.encryptionPolicy,
        accepting: () => this.budget.hasRoom(this.listener?.handshaking ?? 0),
      });
      this.listenPort = (await this.listener.listen()).port;
    }
    this.discoveryNow = this.o.discovery?.({ peerId: this.peerId, listenPort: this.listenPort });
    this.timer = setInterval(() => this.tick(), this.o.tickMs ?? 1000);
  }

  /** Peer connections now: every torrent's sessions, and those the listener holds until their handshake. */
  connectionCount(): number {
    return this.budget.count + (this.listener?.handshaking ?? 0);
  }

  /** Incoming connections the listener refused, by reason, since start. */
  get refusedConnections(): Partial<Record<RefusedConnection, number>> {
    return { ...this.listener?.refused };
  }

  /** The connection figures of a tick, now; changes nothing. */
  connectionFigures(): ConnectionFigures {
    const refused = Object.fromEntries(REFUSED_CONNECTIONS.map((r) => [r, this.listener?.refused[r] ?? 0])) as Record<RefusedConnection, number>;
    return { open: this.connectionCount(), handshaking: this.listener?.handshaking ?? 0, refused };
  }

  /** The limits in force, defaults filled in. */
  get connectionLimits(): ConnectionLimits {
    const incoming = this.o.incoming ?? {};
    return {
      maxConnections: this.budget.limit,
      maxHandshaking: incoming.maxHandshaking ?? LISTENER_DEFAULTS.maxHandshaking,
      maxPerIp: incoming.maxPerIp ?? LISTENER_DEFAULTS.maxPerIp,
      handshakeTimeoutMs: incoming.handshakeTimeoutMs ?? LISTENER_DEFAULTS.handshakeTimeoutMs,
    };
  }

  get discovery(): PeerDiscovery | undefined {
    return this.discoveryNow;
  }

  /**
   * Adds a torrent: it checks its data, then downloads or seeds (or waits,
   * paused), and joins discovery. Adding one that is there answers it.
   */
  add(meta: Metainfo, options: AddTorrentOptions, handover?: ResolvedMagnet['swarm']): Torrent {
    const existing = this.entries.get(meta.infoHashHex);
    if (existing) return existing.torrent;
    const torrent = new Torrent({
      ...this.o.torrent,
      meta,
      sink: this.o.sink,
      data: options.data,
      peerId: this.peerId,
      paused: options.paused,
      files: options.files,
      listenPort: this.listenPort,
      connections: this.budget,
      encryption: this.encryptionPolicy,
      bandwidth: this.bandwidth.torrent(),
      limits: options.limits,
    });
    const info: SwarmInfo = { infoHash: meta.infoHash, infoHashHex: meta.infoHashHex, announce: meta.announce, private: meta.private };
    const entry: Entry = { torrent, info, swarm: undefined, last: undefined };
    this.entries.set(meta.infoHashHex, entry);
    this.ledger.added(entry);
    // A removed torrent's late events (its stop) wake nothing.
    torrent.on('wake', () => {
      if (this.entries.get(meta.infoHashHex) === entry) this.ledger.wake(entry);
    });
    if (options.peers && options.peers.length > 0) torrent.addPeers(options.peers);
    if (handover) {
      handover.attach(this.member(entry));
      entry.swarm = handover.handle;
    }
    // In the swarm while trading; out of it (trackers hear `stopped`) while paused or in error.
    torrent.on('state', (state) => {
      if (state === 'downloading' || state === 'seeding') this.join(entry);
      else if (state !== 'checking') this.track(this.leave(entry));
    });
    return torrent;
  }

  private member(entry: Entry): SwarmMember {
    const { torrent } = entry;
    return {
      totals: () => torrent.transferTotals(),
      peersFound: (peers: readonly PeerAddress[]) => torrent.addPeers(peers),
      // A dormant torrent's last snapshot stays the same object until it wakes (and its totals are in it).
      quiet: () => (this.ledger.isAwake(entry) ? undefined : entry.last),
    };
  }

  private join(entry: Entry): void {
    if (entry.swarm || !this.discoveryNow) return;
    entry.swarm = this.discoveryNow.join(entry.info, this.member(entry));
  }

  /** Leaves under way that no caller waits for (see remove). */
  private readonly leaving = new Set<Promise<void>>();

  private track(left: Promise<void>): void {
    const p = left.catch(() => {}).finally(() => this.leaving.delete(p));
    this.leaving.add(p);
  }

  private leave(entry: Entry): Promise<void> {
    const swarm = entry.swarm;
    entry.swarm = undefined;
    return swarm?.leave() ?? Promise.resolve();
  }

  /**
   * Fetches a magnet link's info dictionary (BEP 9) from its peers, those
   * given and those discovery finds; incoming peers for it reach the fetch
   * through our listener. See magnet-resolver.ts.
   */
  fetchMetadata(magnet: Magnet, options: { peers?: readonly PeerAddress[]; timeoutMs: number; keepSwarm?: boolean; signal?: AbortSignal }): Promise<ResolvedMagnet> {
    return resolveMagnet({
      magnet,
      peerId: this.peerId,
      listenPort: this.listenPort,
      encryption: this.encryptionPolicy,
      discovery: this.discoveryNow,
      peers: options.peers,
      timeoutMs: options.timeoutMs,
      keepSwarm: options.keepSwarm ?? false,
      signal: options.signal,
      onFetcher: (f) => {
        if (f) this.fetching.set(magnet.infoHashHex, f);
        else this.fetching.delete(magnet.infoHashHex);
      },
    });
  }

  /** A magnet link from metadata to torrent: trackers see one client throughout, under one peer id and port. */
  async addMagnet(
    magnet: Magnet,
    options: Omit<AddTorrentOptions, 'data' | 'files'> & {
      data: (meta: Metainfo) => Promise<TorrentData>;
      /** The selection, or a function of the metadata once it is in (file numbers can only be checked then). */
      files?: FileSelection | ((meta: Metainfo) => FileSelection) | undefined;
      timeoutMs: number;
    },
  ): Promise<{ torrent: Torrent; resolved: ResolvedMagnet }> {
    const resolved = await this.fetchMetadata(magnet, { ...(options.peers ? { peers: options.peers } : {}), timeoutMs: options.timeoutMs, keepSwarm: true });
    let data: TorrentData;
    try {
      data = await options.data(resolved.meta);
    } catch (e) {
      await resolved.swarm?.handle.leave();
      throw e;
    }
    let torrent: Torrent;
    try {
      const files = typeof options.files === 'function' ? options.files(resolved.meta) : options.files;
      torrent = this.add(resolved.meta, { data, paused: options.paused, files, peers: resolved.peers }, resolved.swarm);
    } catch (e) {
      await resolved.swarm?.handle.leave();
      throw e;
    }
    return { torrent, resolved };
  }

  torrent(infoHashHex: string): Torrent | undefined {
    return this.entries.get(infoHashHex)?.torrent;
  }

  /** Peers to dial for a torrent, as if a tracker had given them; false when the engine does not run it. */
  addPeers(infoHashHex: string, peers: readonly PeerAddress[]): boolean {
    const t = this.torrent(infoHashHex);
    t?.addPeers(peers);
    return t !== undefined;
  }

  /** The peers connected to a torrent now, as the control APIs list them; undefined when the engine does not run it. */
  peers(infoHashHex: string): PeerInfo[] | undefined {
    return this.entries.get(infoHashHex)?.torrent.peerList();
  }

  get torrents(): Torrent[] {
    return [...this.entries.values()].map((e) => e.torrent);
  }

  pause(infoHashHex: string): boolean {
    const t = this.torrent(infoHashHex);
    t?.pause();
    return t !== undefined;
  }

  resume(infoHashHex: string): boolean {
    const t = this.torrent(infoHashHex);
    t?.resume();
    return t !== undefined;
  }

  /** Stops a torrent (its pieces at the sink answered, its data saved) and forgets it. The files stay. */
  async remove(infoHashHex: string): Promise<boolean> {
    const entry = this.entries.get(infoHashHex);
    if (!entry) return false;
    this.entries.delete(infoHashHex);
    this.ledger.removed(entry, infoHashHex);
    // Not awaited: leaving may wait for discovery's next beat (the last
    // figures go with `stopped`), and a torrent closed to be reopened (a
    // new save folder) is unknown to incoming peers until it is added again.
    // stop() waits for what is still leaving.
    this.track(this.leave(entry));
    await entry.torrent.stop();
    return true;
  }

  /** Whether discovery can still find peers for this torrent: when not, a download out of peers has failed. */
  canFindPeers(infoHashHex: string): boolean {
    const entry = this.entries.get(infoHashHex);
    return entry !== undefined && (this.discoveryNow?.canFind(entry.info) ?? false);
  }

  /**
   * Every torrent's figures now; changes nothing. An idle torrent's
   * snapshot is the one it answered before. `changed` holds those that
   * differ from the last tick's, `gone` is empty: the next tick has both.
   */
  snapshot(): EngineTick {
    return this.ledger.snapshot(this.tickEnd());
  }

  /** Torrents the clock moves now: those not dormant (see TickLedger). */
  get awakeCount(): number {
    return this.ledger.awakeCount;
  }

  /**
   * The clock: moves every torrent that is awake, asks discovery again for
   * those out of peers, then tells listeners what changed. A dormant
   * torrent (no peers, nothing counted, seeding or paused: most of a big
   * seedbox) is not visited at all until it wakes, and discovery keeps
   * its own timers, so an idle torrent costs nothing here.
   */
  private tick(): void {
    this.emit(
      'tick',
      this.ledger.tick(
        ({ torrent, swarm }) => {
          torrent.tick();
          if (torrent.state === 'downloading' && !torrent.hasPeerProspects()) swarm?.requestPeers();
        },
        () => this.tickEnd(),
      ),
    );
  }

  private tickEnd(): { time: number; connections: ConnectionFigures } {
    return { time: Date.now(), connections: this.connectionFigures() };
  }

  /** Stops every torrent (pieces under way answered, data saved), leaves every swarm, closes the port. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.timer);
      for (const f of this.fetching.values()) void f.stop();
      const all = [...this.entries.values()];
      this.entries.clear();
      await Promise.all(all.map((e) => Promise.all([this.leave(e), e.torrent.stop()])));
      await Promise.all(this.leaving);
      await this.listener?.close();
    })();
    return this.stopping;
  }
}
