import { parseHostPort, type PeerAddress } from '@seedbox/protocol';
import type { BootstrapAddress } from './dht/dht-bootstrap.js';
import { DhtNode, type GetPeersOptions } from './dht/dht-node.js';
import type { DhtLog } from './dht/dht-rpc.js';
import { DhtSwarms } from './dht/dht-swarms.js';

/**
 * The DHT as a source of peers, as one process runs it: one node (its UDP
 * port, its routing table kept in `stateFile` between runs) and the swarms
 * it keeps announcing. The node starts at once; lookups asked for before
 * it is up wait for it rather than fail, so a magnet link added with the
 * process is looked up as soon as the node has joined.
 */

/** The usual public routers, as libtorrent and Transmission ship them. */
export const DEFAULT_DHT_BOOTSTRAP: readonly BootstrapAddress[] = [
  { host: 'router.bittorrent.com', port: 6881 },
  { host: 'router.utorrent.com', port: 6881 },
  { host: 'dht.transmissionbt.com', port: 6881 },
  { host: 'dht.libtorrent.org', port: 25401 },
];

/**
 * Reads a bootstrap setting: HOST:PORT,... (names or addresses), `none` for
 * no routers, nothing for the public ones. Throws an Error naming the
 * entry that is not HOST:PORT.
 */
export function parseDhtBootstrap(value: string | undefined): readonly BootstrapAddress[] {
  if (value === undefined || value.trim() === '') return DEFAULT_DHT_BOOTSTRAP;
  if (value.trim() === 'none') return [];
  return value.split(',').map((s) => {
    const a = parseHostPort(s.trim());
    if (!a) throw new Error(`'${s.trim()}' is not HOST:PORT (a list is comma-separated; 'none' for no routers)`);
    return a;
  });
}

export interface DhtPeerSourceOptions {
  /** UDP port of the node (usually the BitTorrent listen port, as libtorrent does); 0: any. */
  port: number;
  host?: string;
  bootstrap?: readonly BootstrapAddress[];
  stateFile?: string;
  log?: DhtLog;
}

export class DhtPeerSource {
  readonly node: DhtNode;
  readonly swarms: DhtSwarms;
  /** Settles when the node is up; rejects (a DhtBindError, say) when it could not start. */
  readonly ready: Promise<void>;
  private readonly routers: number;

  constructor(o: DhtPeerSourceOptions) {
    this.routers = (o.bootstrap ?? DEFAULT_DHT_BOOTSTRAP).length;
    this.node = new DhtNode({
      port: o.port,
      bootstrap: o.bootstrap ?? DEFAULT_DHT_BOOTSTRAP,
      ...(o.host !== undefined ? { host: o.host } : {}),
      ...(o.stateFile !== undefined ? { stateFile: o.stateFile } : {}),
      ...(o.log ? { log: o.log } : {}),
    });
    this.ready = this.node.start();
    // Whoever awaits `ready` hears of a failure; lookups meanwhile must not leave it unhandled.
    this.ready.catch(() => {});
    const lookup = {
      getPeers: async (infoHash: Uint8Array, opts?: GetPeersOptions): Promise<PeerAddress[]> => {
        await this.ready;
        return this.node.getPeers(infoHash, opts);
      },
    };
    this.swarms = new DhtSwarms(lookup, o.log ? { log: o.log } : {});
  }

  /**
   * Whether the DHT can find anything at all: it has routers to join
   * through, or knows nodes (its saved table, or nodes that contacted it).
   * A node with neither (`--dht-bootstrap none`, nothing saved) cannot, and
   * a download with no other source of peers then says so instead of
   * waiting.
   */
  get canFind(): boolean {
    return this.routers > 0 || this.node.stats().nodes > 0;
  }

  async stop(): Promise<void> {
    await this.swarms.stop();
    await this.ready.catch(() => {});
    await this.node.stop();
  }
}
