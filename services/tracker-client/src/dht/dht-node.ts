import { setMaxListeners } from 'node:events';
import type { KrpcQuery, PeerAddress } from '@seedbox/protocol';
import { defaultResolver, resolveBootstrap, type BootstrapAddress, type HostResolver } from './dht-bootstrap.js';
import { DhtBindError, DhtLifecycleError, DhtQueryError, DhtStateFileError } from './dht-errors.js';
import { answerQuery, type HandlerState } from './dht-handlers.js';
import { DhtRpc, type DhtLog, type IncomingQuery, type QueryAnswer, type QueryReply } from './dht-rpc.js';
import { DhtMaintenance } from './dht-maintenance.js';
import { loadDhtState, saveDhtState } from './dht-state-file.js';
import { TokenSecrets } from './dht-tokens.js';
import { announceToHolders, lookup, type LookupContact } from './lookup.js';
import { addressFamily, addressKey, randomNodeId, type NodeContact } from './node-id.js';
import { PeerStore, type PeerStoreOptions } from './peer-store.js';
import type { QueryRateLimitOptions } from './rate-limit.js';
import { RoutingTable, type RoutingTableOptions } from './routing-table.js';

/**
 * A BitTorrent DHT node (BEP 5, with BEP 32's IPv6 when `host6` is given):
 * the tracker-client's second way, beside trackers, to find peers for the
 * fleet's torrents and to announce the fleet's workers.
 *
 * This class is the lifecycle and the wiring; each part has its file:
 * dht-rpc.ts (sockets, transactions, rate limits), routing-table.ts,
 * dht-handlers.ts (our answers), dht-tokens.ts, peer-store.ts, lookup.ts,
 * dht-state-file.ts, dht-bootstrap.ts.
 *
 * States: idle → starting → running → stopping → stopped, one way only (a
 * stopped node is not restarted: make a new one). Incoming queries are
 * answered from `starting` on, so nodes bootstrapping off each other at the
 * same moment can. Every answer to one of our queries puts its sender in
 * the routing table, and every timeout counts a failure against it; that
 * is the only way nodes enter the table (see routing-table.ts).
 *
 * Once running, dht-maintenance.ts keeps the table fresh and saved.
 */

export type DhtNodeState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

export interface DhtNodeOptions {
  /** IPv4 address to bind; default 0.0.0.0. */
  host?: string;
  /** UDP port; 0 lets the system choose (see `port`). */
  port: number;
  /** BEP 32: also bind this IPv6 address (e.g. '::'), on the same port number when it is free. An IPv6 bind failure is a warning. */
  host6?: string;
  /** Routers or known nodes to join through; names are resolved at start. */
  bootstrap: readonly BootstrapAddress[];
  /** Where the routing table is kept between runs. */
  stateFile?: string;
  /** Default: the saved one, else random. */
  nodeId?: Uint8Array;
  now?: () => number;
  log?: DhtLog;
  queryTimeoutMs?: number;
  maxOutstanding?: number;
  rateLimit?: QueryRateLimitOptions;
  peerStore?: Omit<PeerStoreOptions, 'now'>;
  table?: Omit<RoutingTableOptions, 'now'>;
  /** Lookup parallelism (BEP 5 / Kademlia: 3). */
  alpha?: number;
  /** How often maintenance runs (default 60 s). */
  maintenanceMs?: number;
  /** How often the table is saved while running (default 10 min); it is always saved at stop. */
  saveIntervalMs?: number;
  /** Resolves bootstrap names; default dns.lookup. */
  resolve?: HostResolver;
}

export interface GetPeersOptions {
  /** Announce this TCP port to the closest nodes after the lookup. */
  announcePort?: number;
  /** Announce each of these ports (one announce_peer per distinct port and node). */
  announcePorts?: readonly number[];
  signal?: AbortSignal;
}

export interface DhtStats {
  state: DhtNodeState;
  /** Live nodes in the routing tables (both families). */
  nodes: number;
  nodes6: number;
  replacements: number;
  queriesIn: number;
  queriesOut: number;
  /** Incoming queries dropped by the rate limits. */
  answersDropped: number;
  malformed: number;
  timeouts: number;
  errorReplies: number;
  strays: number;
  outstanding: number;
  storedTorrents: number;
  storedPeers: number;
}

/** Unknown queriers being verified with a ping at once. */
const MAX_VERIFY_PINGS = 16;

export class DhtNode {
  private lifecycle: DhtNodeState = 'idle';
  private readonly opts: DhtNodeOptions;
  private readonly now: () => number;
  private readonly log: DhtLog | undefined;
  private id: Uint8Array;
  private readonly tables: { 4?: RoutingTable; 6?: RoutingTable } = {};
  private readonly tokens: TokenSecrets;
  private readonly peers: PeerStore;
  private readonly rpc: DhtRpc;
  private handlerState: HandlerState | undefined;
  private boundPort = 0;
  private routers: LookupContact[] = [];
  /** Aborted at stop: every lookup and query of ours follows it. */
  private readonly life = new AbortController();
  private maintenance: DhtMaintenance | undefined;
  /** Nodes read from the state file at start. */
  private loadedNodes = 0;
  private readonly verifying = new Set<string>();
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: DhtNodeOptions) {
    // Every query of ours listens to this signal: many at once is normal, not a leak.
    setMaxListeners(0, this.life.signal);
    this.opts = options;
    this.now = options.now ?? Date.now;
    this.log = options.log;
    this.id = options.nodeId ?? randomNodeId();
    this.tokens = new TokenSecrets({ now: this.now });
    this.peers = new PeerStore({ ...options.peerStore, now: this.now });
    this.rpc = new DhtRpc({
      onQuery: (q) => this.onQuery(q),
      queryTimeoutMs: options.queryTimeoutMs,
      maxOutstanding: options.maxOutstanding,
      rateLimit: { ...options.rateLimit, now: options.rateLimit?.now ?? this.now },
      log: options.log,
    });
  }

  get state(): DhtNodeState {
    return this.lifecycle;
  }

  /** The bound UDP port (0 before start). */
  get port(): number {
    return this.boundPort;
  }

  get nodeId(): Uint8Array {
    return this.id;
  }

  /**
   * Binds, loads the saved table, pings its nodes, resolves the bootstrap
   * routers and runs a find_node for our own id to fill the table. Resolves
   * once that first lookup is over (it is bounded by the query timeouts),
   * or when stop() interrupts it. Rejects with DhtBindError when the port
   * cannot be bound (the node is then stopped), with DhtLifecycleError
   * unless the node is idle.
   */
  async start(): Promise<void> {
    if (this.lifecycle !== 'idle') throw new DhtLifecycleError('start', this.lifecycle);
    this.lifecycle = 'starting';
    this.starting = this.startUp();
    return this.starting;
  }

  private async startUp(): Promise<void> {
    const saved = await this.loadState();
    if (this.life.signal.aborted) return; // stopped before anything was bound
    if (saved && !this.opts.nodeId) this.id = saved.nodeId;
    this.loadedNodes = saved?.nodes.length ?? 0;
    const tableOptions = { ...this.opts.table, now: this.now };
    this.tables[4] = new RoutingTable(this.id, tableOptions);
    this.handlerState = { ownId: this.id, tables: this.tables, tokens: this.tokens, peers: this.peers, k: this.tables[4].k, maxValues: 50 };
    const host = this.opts.host ?? '0.0.0.0';
    try {
      this.boundPort = await this.rpc.bind(4, host, this.opts.port);
    } catch (e) {
      this.lifecycle = 'stopped';
      await this.rpc.close();
      throw e;
    }
    if (this.opts.host6) await this.bind6(this.opts.host6, tableOptions);
    this.log?.info('dht listening', { host, port: this.boundPort, ipv6: this.tables[6] !== undefined, savedNodes: saved?.nodes.length ?? 0 });

    const signal = this.life.signal;
    const families = this.families();
    const savedNodes = (saved?.nodes ?? []).filter((n) => families.includes(addressFamily(n.host)));
    await Promise.all(savedNodes.map((n) => this.ask(n, { method: 'ping', id: this.id }, signal).catch(() => undefined)));
    this.routers = await resolveBootstrap(this.opts.bootstrap, families, this.opts.resolve ?? defaultResolver, this.log);
    if (signal.aborted) return;
    await this.findNode(this.id, signal).catch((e: unknown) => this.log?.debug('dht bootstrap lookup ended', { error: (e as Error).message }));
    if (this.lifecycle !== 'starting') return; // stop() came first
    this.lifecycle = 'running';
    this.maintenance = new DhtMaintenance(
      {
        tables: () => [this.tables[4], this.tables[6]].filter((t): t is RoutingTable => t !== undefined),
        peers: this.peers,
        ownId: this.id,
        ping: (n) => this.ask(n, { method: 'ping', id: this.id }, this.life.signal),
        findNode: (target) => this.findNode(target, this.life.signal),
        ...(this.opts.stateFile && { save: () => this.save() }),
        log: this.log,
        now: this.now,
      },
      { periodMs: this.opts.maintenanceMs, saveIntervalMs: this.opts.saveIntervalMs },
    );
    this.maintenance.start();
    this.log?.info('dht bootstrapped', { nodes: this.tables[4].size + (this.tables[6]?.size ?? 0) });
  }

  private async bind6(host6: string, tableOptions: RoutingTableOptions): Promise<void> {
    try {
      await this.rpc.bind(6, host6, this.boundPort);
    } catch (e) {
      if (!(e instanceof DhtBindError)) throw e;
      this.log?.warn('dht IPv6 socket not bound; IPv4 only', { error: e.message });
      return;
    }
    this.tables[6] = new RoutingTable(this.id, tableOptions);
  }

  private async loadState(): Promise<{ nodeId: Uint8Array; nodes: NodeContact[] } | undefined> {
    if (!this.opts.stateFile) return undefined;
    try {
      return await loadDhtState(this.opts.stateFile);
    } catch (e) {
      if (!(e instanceof DhtStateFileError)) throw e;
      this.log?.warn('dht state file ignored', { error: e.message });
      return undefined;
    }
  }

  /** Saves the table, closes the sockets and clears the timers. Safe to call in any state, more than once. */
  async stop(): Promise<void> {
    if (this.lifecycle === 'idle') {
      this.lifecycle = 'stopped';
      return;
    }
    if (this.lifecycle === 'stopped') return;
    this.stopping ??= this.shutDown();
    return this.stopping;
  }

  private async shutDown(): Promise<void> {
    const ran = this.lifecycle === 'running';
    this.lifecycle = 'stopping';
    this.life.abort();
    await this.starting?.catch(() => undefined);
    await this.maintenance?.stop();
    // A node stopped while starting has not heard back from its saved nodes
    // yet: saving then would replace a good table with an emptier one.
    const liveNodes = (this.tables[4]?.size ?? 0) + (this.tables[6]?.size ?? 0);
    if (this.tables[4] && (ran || liveNodes >= this.loadedNodes)) await this.save();
    await this.rpc.close();
    this.lifecycle = 'stopped';
    this.log?.info('dht stopped', {});
  }

  /**
   * One get_peers lookup for `infoHash`: the peers the closest nodes know
   * of, and (with announcePort or announcePorts) announces to those of the
   * k closest that gave a token. Rejects with DhtLifecycleError unless
   * running, with DhtQueryError 'aborted' when `signal` or stop() aborts it.
   */
  async getPeers(infoHash: Uint8Array, o: GetPeersOptions = {}): Promise<PeerAddress[]> {
    if (this.lifecycle !== 'running') throw new DhtLifecycleError('look up peers', this.lifecycle);
    const signal = o.signal ? AbortSignal.any([o.signal, this.life.signal]) : this.life.signal;
    setMaxListeners(0, signal);
    const result = await lookup({
      ownId: this.id,
      target: infoHash,
      method: 'get_peers',
      seeds: this.seeds(infoHash),
      query: (to, q, s) => this.ask(to, q, s),
      families: this.families(),
      alpha: this.opts.alpha,
      k: this.handlerState!.k,
      signal,
    });
    this.touch(infoHash);
    const ports = [...(o.announcePorts ?? []), ...(o.announcePort !== undefined ? [o.announcePort] : [])];
    if (ports.length > 0 && result.tokenHolders.length > 0) {
      const accepted = await announceToHolders((to, q, s) => this.ask(to, q, s), this.id, infoHash, result.tokenHolders, ports, signal);
      this.log?.debug('dht announced', { ports: ports.length, holders: result.tokenHolders.length, accepted });
    }
    return result.peers;
  }

  stats(): DhtStats {
    const c = this.rpc.counters;
    const t4 = this.tables[4];
    const t6 = this.tables[6];
    return {
      state: this.lifecycle,
      nodes: (t4?.size ?? 0) + (t6?.size ?? 0),
      nodes6: t6?.size ?? 0,
      replacements: (t4?.replacementCount ?? 0) + (t6?.replacementCount ?? 0),
      queriesIn: c.queriesIn,
      queriesOut: c.queriesOut,
      answersDropped: c.answersDropped,
      malformed: c.malformed,
      timeouts: c.timeouts,
      errorReplies: c.errorReplies,
      strays: c.strays,
      outstanding: this.rpc.outstanding,
      storedTorrents: this.peers.torrentCount,
      storedPeers: this.peers.peerCount,
    };
  }

  /** Every query of ours goes through here: answers feed the routing table, timeouts count against nodes. */
  private async ask(to: LookupContact, query: KrpcQuery, signal: AbortSignal): Promise<QueryReply> {
    const table = this.tables[addressFamily(to.host)];
    try {
      const reply = await this.rpc.query(to, query, signal);
      table?.heard({ id: reply.response.id, host: reply.from.host, port: reply.from.port });
      return reply;
    } catch (e) {
      // Only silence says a node is gone: an error reply comes from a live node.
      if (e instanceof DhtQueryError && e.reason === 'timeout') table?.failed(to.host, to.port);
      throw e;
    }
  }

  private onQuery(q: IncomingQuery): QueryAnswer {
    const table = this.tables[addressFamily(q.from.host)];
    if (table && !q.readOnly) {
      const contact = { id: q.query.id, host: q.from.host, port: q.from.port };
      if (!table.queried(contact)) this.verify(table, contact);
    }
    return answerQuery(this.handlerState!, q.from, q.query);
  }

  /** A node that queried us and would get a slot: ping it, and its answer puts it in the table. */
  private verify(table: RoutingTable, contact: NodeContact): void {
    const key = addressKey(contact.host, contact.port);
    if (this.life.signal.aborted || this.verifying.size >= MAX_VERIFY_PINGS || this.verifying.has(key) || !table.wouldAccept(contact.id)) return;
    this.verifying.add(key);
    this.ask(contact, { method: 'ping', id: this.id }, this.life.signal)
      .catch(() => undefined)
      .finally(() => this.verifying.delete(key));
  }

  private families(): (4 | 6)[] {
    return this.tables[6] ? [4, 6] : [4];
  }

  /** Where a lookup starts: the closest nodes we know, and the routers when we know few. */
  private seeds(target: Uint8Array): LookupContact[] {
    const k = this.handlerState!.k;
    const known: LookupContact[] = [...(this.tables[4]?.closest(target, k) ?? []), ...(this.tables[6]?.closest(target, k) ?? [])];
    return known.length >= k ? known : [...known, ...this.routers];
  }

  private touch(target: Uint8Array): void {
    this.tables[4]?.touch(target);
    this.tables[6]?.touch(target);
  }

  private async findNode(target: Uint8Array, signal: AbortSignal): Promise<void> {
    await lookup({
      ownId: this.id,
      target,
      method: 'find_node',
      seeds: this.seeds(target),
      query: (to, q, s) => this.ask(to, q, s),
      families: this.families(),
      alpha: this.opts.alpha,
      k: this.handlerState!.k,
      signal,
    });
    this.touch(target);
  }

  private async save(): Promise<void> {
    if (!this.opts.stateFile) return;
    const nodes: NodeContact[] = [];
    for (const t of [this.tables[4], this.tables[6]]) {
      for (const e of t?.entries() ?? []) if (e.state !== 'bad') nodes.push({ id: e.id, host: e.host, port: e.port });
    }
    try {
      await saveDhtState(this.opts.stateFile, { nodeId: this.id, nodes });
    } catch (e) {
      this.log?.warn('dht state not saved', { path: this.opts.stateFile, error: (e as Error).message });
    }
  }
}
