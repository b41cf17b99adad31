import { KRPC_ERROR, type KrpcQuery, type KrpcResponse, type KrpcWant, type PeerAddress } from '@seedbox/protocol';
import type { QueryAnswer } from './dht-rpc.js';
import type { TokenSecrets } from './dht-tokens.js';
import { addressFamily } from './node-id.js';
import type { PeerStore } from './peer-store.js';
import type { RoutingTable } from './routing-table.js';

/**
 * How we answer the four BEP 5 queries, as a function of our state: no
 * socket, no clock, no side effect but storing an announced peer.
 *
 * - ping: our id.
 * - find_node: the k nodes closest to the target.
 * - get_peers: a write token for the asker's IP, and the peers announced
 *   to us for that info hash if we have any, else the k closest nodes (so
 *   the asker's lookup gets closer).
 * - announce_peer: stored only with a token we issued to this IP (see
 *   dht-tokens.ts); with implied_port the peer's port is the query's UDP
 *   source port (BEP 5: for peers behind NAT, where the two are the same
 *   mapping), else the `port` argument. The peer's address is always the
 *   query's source address, never something the query says.
 *
 * BEP 32: node lists go out as `nodes` (IPv4) and `nodes6` (IPv6) as the
 * query's `want` asks, and without `want` in the family the query came in
 * on; peers (`values`) are those of the asker's family, the only ones it
 * can be sure to reach.
 */

export interface HandlerState {
  ownId: Uint8Array;
  /** A routing table per family we serve. */
  tables: { 4?: RoutingTable; 6?: RoutingTable };
  tokens: TokenSecrets;
  peers: PeerStore;
  /** Nodes per answer (BEP 5: k = 8). */
  k: number;
  /** Peers per get_peers answer; 50 compact IPv6 peers still fit a datagram well under 1,500 bytes. */
  maxValues: number;
}

export function answerQuery(state: HandlerState, from: PeerAddress, query: KrpcQuery): QueryAnswer {
  const family = addressFamily(from.host);
  switch (query.method) {
    case 'ping':
      return respond({ id: state.ownId });
    case 'find_node':
      return respond({ id: state.ownId, ...closestNodes(state, query.target, query.want, family) });
    case 'get_peers': {
      const token = state.tokens.issue(from.host);
      const values = state.peers.get(query.infoHash, { max: state.maxValues, family });
      if (values.length > 0) return respond({ id: state.ownId, token, values });
      return respond({ id: state.ownId, token, ...closestNodes(state, query.infoHash, query.want, family) });
    }
    case 'announce_peer': {
      if (!state.tokens.check(from.host, query.token)) {
        return { kind: 'error', code: KRPC_ERROR.protocol, message: 'bad token' };
      }
      const port = query.impliedPort ? from.port : query.port;
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        return { kind: 'error', code: KRPC_ERROR.protocol, message: 'bad port' };
      }
      state.peers.add(query.infoHash, { host: from.host, port });
      return respond({ id: state.ownId });
    }
  }
}

function respond(response: KrpcResponse): QueryAnswer {
  return { kind: 'response', response };
}

function closestNodes(state: HandlerState, target: Uint8Array, want: readonly KrpcWant[] | undefined, family: 4 | 6): Pick<KrpcResponse, 'nodes' | 'nodes6'> {
  const wanted = want && want.length > 0 ? want : [family === 4 ? 'n4' : 'n6'];
  const out: Pick<KrpcResponse, 'nodes' | 'nodes6'> = {};
  if (wanted.includes('n4')) out.nodes = state.tables[4]?.closest(target, state.k) ?? [];
  if (wanted.includes('n6')) out.nodes6 = state.tables[6]?.closest(target, state.k) ?? [];
  return out;
}
