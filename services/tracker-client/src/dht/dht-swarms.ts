import type { PeerAddress } from '@seedbox/protocol';
import type { DhtLog } from './dht-rpc.js';
import type { GetPeersOptions } from './dht-node.js';
import { idToHex } from './node-id.js';

/**
 * Keeps a set of torrents announced on the DHT for the whole fleet: each
 * joined torrent is looked up and announced at once, then again every
 * 15 minutes (BEP 5 peers live 30 minutes in other nodes' stores, so one
 * missed round costs nothing), for every distinct port of the workers that
 * serve it.
 *
 * A fleet may serve thousands of torrents, so at most `maxConcurrent`
 * lookups run at a time and the rest wait in order of due time; rounds are
 * spread with jitter so torrents joined together do not stay in lockstep.
 * A round that fails (the node not running yet, or stopping) is retried
 * after `retryMs`.
 *
 * States of a torrent: waiting (a timer until its next round), queued (due,
 * waiting for a lookup slot), running (its lookup under way). leave()
 * aborts a running lookup; setPorts() with a port not announced before
 * queues a round at once, so a worker that starts seeding is announced
 * without waiting 15 minutes.
 */

/** What DhtSwarms needs of a DhtNode. */
export interface PeerLookup {
  getPeers(infoHash: Uint8Array, o?: GetPeersOptions): Promise<PeerAddress[]>;
}

export interface DhtSwarmsOptions {
  /** Between rounds of one torrent (default 15 min). */
  intervalMs?: number;
  /** Each interval is shortened by up to this fraction, at random (default 0.2). */
  jitter?: number;
  /** After a failed round (default 60 s). */
  retryMs?: number;
  /** Lookups at once (default 4). */
  maxConcurrent?: number;
  random?: () => number;
  log?: DhtLog;
}

export const DHT_SWARMS_DEFAULTS = { intervalMs: 15 * 60_000, jitter: 0.2, retryMs: 60_000, maxConcurrent: 4 } as const;

export type PeersCallback = (peers: PeerAddress[]) => void;

interface Swarm {
  infoHash: Uint8Array;
  hex: string;
  ports: number[];
  onPeers: PeersCallback;
  state: 'waiting' | 'queued' | 'running';
  timer?: NodeJS.Timeout;
  abort?: AbortController;
  /** A port was added while the round ran: go again when it ends. */
  again: boolean;
}

export class DhtSwarms {
  private readonly node: PeerLookup;
  private readonly opts: Required<Omit<DhtSwarmsOptions, 'log'>>;
  private readonly log: DhtLog | undefined;
  private readonly swarms = new Map<string, Swarm>();
  private readonly queue: Swarm[] = [];
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(node: PeerLookup, options: DhtSwarmsOptions = {}) {
    this.node = node;
    this.log = options.log;
    this.opts = {
      intervalMs: options.intervalMs ?? DHT_SWARMS_DEFAULTS.intervalMs,
      jitter: options.jitter ?? DHT_SWARMS_DEFAULTS.jitter,
      retryMs: options.retryMs ?? DHT_SWARMS_DEFAULTS.retryMs,
      maxConcurrent: options.maxConcurrent ?? DHT_SWARMS_DEFAULTS.maxConcurrent,
      random: options.random ?? Math.random,
    };
  }

  get size(): number {
    return this.swarms.size;
  }

  stats(): { joined: number; queued: number; running: number } {
    return { joined: this.swarms.size, queued: this.queue.length, running: this.running.size };
  }

  /** Starts announcing a torrent on `ports` (one announce per distinct port); found peers go to `onPeers`. Joining again replaces both. */
  join(infoHash: Uint8Array, ports: readonly number[], onPeers: PeersCallback): void {
    if (this.stopped) return;
    const hex = idToHex(infoHash);
    const existing = this.swarms.get(hex);
    if (existing) {
      existing.onPeers = onPeers;
      this.setPorts(infoHash, ports);
      return;
    }
    const swarm: Swarm = { infoHash: new Uint8Array(infoHash), hex, ports: distinctPorts(ports), onPeers, state: 'waiting', again: false };
    this.swarms.set(hex, swarm);
    this.enqueue(swarm);
  }

  /** Stops announcing a torrent; a lookup under way is aborted. */
  leave(infoHash: Uint8Array): void {
    const swarm = this.swarms.get(idToHex(infoHash));
    if (!swarm) return;
    this.swarms.delete(swarm.hex);
    clearTimeout(swarm.timer);
    swarm.abort?.abort();
    const i = this.queue.indexOf(swarm);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** The workers' ports changed; a new port is announced at once. */
  setPorts(infoHash: Uint8Array, ports: readonly number[]): void {
    const swarm = this.swarms.get(idToHex(infoHash));
    if (!swarm) return;
    const next = distinctPorts(ports);
    const added = next.some((p) => !swarm.ports.includes(p));
    swarm.ports = next;
    if (!added) return;
    if (swarm.state === 'running') swarm.again = true;
    else if (swarm.state === 'waiting') {
      clearTimeout(swarm.timer);
      this.enqueue(swarm);
    }
  }

  /** Forgets every torrent and waits for the lookups under way to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const swarm of [...this.swarms.values()]) this.leave(swarm.infoHash);
    await Promise.all([...this.running]);
  }

  private enqueue(swarm: Swarm): void {
    swarm.state = 'queued';
    this.queue.push(swarm);
    this.pump();
  }

  private schedule(swarm: Swarm, delayMs: number): void {
    swarm.state = 'waiting';
    swarm.timer = setTimeout(() => this.enqueue(swarm), delayMs);
    swarm.timer.unref();
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.opts.maxConcurrent && this.queue.length > 0) {
      const swarm = this.queue.shift()!;
      const round = this.round(swarm).finally(() => {
        this.running.delete(round);
        this.pump();
      });
      this.running.add(round);
    }
  }

  private async round(swarm: Swarm): Promise<void> {
    swarm.state = 'running';
    swarm.again = false;
    swarm.abort = new AbortController();
    let ok = true;
    try {
      const peers = await this.node.getPeers(swarm.infoHash, { announcePorts: swarm.ports, signal: swarm.abort.signal });
      if (peers.length > 0 && this.swarms.get(swarm.hex) === swarm) {
        try {
          swarm.onPeers(peers);
        } catch (e) {
          this.log?.warn('dht peers callback failed', { infoHash: swarm.hex, error: (e as Error).message });
        }
      }
    } catch (e) {
      ok = false;
      if (this.swarms.get(swarm.hex) === swarm) this.log?.debug('dht round failed', { infoHash: swarm.hex, error: (e as Error).message });
    }
    swarm.abort = undefined;
    if (this.stopped || this.swarms.get(swarm.hex) !== swarm) return; // left while it ran
    if (swarm.again) this.enqueue(swarm);
    else this.schedule(swarm, ok ? this.opts.intervalMs * (1 - this.opts.jitter * this.opts.random()) : this.opts.retryMs);
  }
}

function distinctPorts(ports: readonly number[]): number[] {
  return [...new Set(ports.filter((p) => Number.isInteger(p) && p >= 1 && p <= 65535))];
}
