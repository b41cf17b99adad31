import { setMaxListeners } from 'node:events';
import { peerKey, type KrpcQuery, type KrpcWant, type PeerAddress } from '@seedbox/protocol';
import { DhtQueryError } from './dht-errors.js';
import type { QueryReply } from './dht-rpc.js';
import { addressFamily, addressKey, compareDistance, sameId, type NodeContact } from './node-id.js';

/**
 * The iterative Kademlia lookup (BEP 5) for find_node and get_peers, and
 * the announce_peer round that follows a get_peers lookup.
 *
 * Candidates are kept sorted by distance to the target. At most `alpha`
 * queries are in the air, each to the closest candidate not yet asked
 * among the k closest still standing (a node that failed drops out and the
 * next one moves up). The lookup ends when the k closest standing
 * candidates have all answered: nothing closer can be learned from them.
 * Queries still in the air then are abandoned, not awaited, since they can
 * only concern nodes farther away.
 *
 * Bounds, because the nodes we ask choose what we ask next: at most
 * `maxCandidates` candidates are kept (the farthest unasked ones are
 * dropped) and at most `maxQueries` queries are sent per lookup.
 *
 * Bootstrap routers come as contacts without an id; they sort after every
 * node with a known id, and take the id they answer with.
 *
 * No socket here: queries go through the `query` function the DHT node
 * gives, which also feeds its routing table, so a lookup runs in tests
 * over a fake network.
 */

/** A node to ask: its id is unknown for bootstrap routers. */
export interface LookupContact {
  id?: Uint8Array;
  host: string;
  port: number;
}

export type LookupQueryFn = (to: LookupContact, query: KrpcQuery, signal: AbortSignal) => Promise<QueryReply>;

export interface LookupOptions {
  ownId: Uint8Array;
  target: Uint8Array;
  method: 'find_node' | 'get_peers';
  seeds: readonly LookupContact[];
  query: LookupQueryFn;
  /** Address families we can reach; node lists of others are ignored. */
  families: readonly (4 | 6)[];
  k?: number;
  alpha?: number;
  maxQueries?: number;
  maxCandidates?: number;
  signal?: AbortSignal;
}

export const LOOKUP_DEFAULTS = { k: 8, alpha: 3, maxQueries: 200, maxCandidates: 100 } as const;

/** A node that answered get_peers with a write token: whom we may announce to. */
export interface TokenHolder {
  node: NodeContact;
  token: Uint8Array;
}

export interface LookupResult {
  /** The k closest nodes that answered, closest first. */
  closest: NodeContact[];
  /** Those of `closest` that gave a token (get_peers). */
  tokenHolders: TokenHolder[];
  /** Every distinct peer found in `values` (get_peers). */
  peers: PeerAddress[];
  queried: number;
  answered: number;
}

type CandidateState = 'new' | 'asking' | 'answered' | 'failed';

interface Candidate {
  contact: LookupContact;
  key: string;
  state: CandidateState;
  token?: Uint8Array;
}

export async function lookup(options: LookupOptions): Promise<LookupResult> {
  const k = options.k ?? LOOKUP_DEFAULTS.k;
  const alpha = options.alpha ?? LOOKUP_DEFAULTS.alpha;
  const maxQueries = options.maxQueries ?? LOOKUP_DEFAULTS.maxQueries;
  const maxCandidates = options.maxCandidates ?? LOOKUP_DEFAULTS.maxCandidates;
  const { ownId, target, method, families } = options;
  if (options.signal?.aborted) throw abortError(method);

  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  const peers = new Map<string, PeerAddress>();
  const want: KrpcWant[] | undefined = families.length > 1 ? ['n4', 'n6'] : undefined;
  // Abandons the queries still in the air when the lookup ends; follows the caller's signal.
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const onAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let queried = 0;
  let answered = 0;
  let inFlight = 0;

  const byDistance = (a: Candidate, b: Candidate): number => {
    const ia = a.contact.id;
    const ib = b.contact.id;
    if (ia && ib) return compareDistance(ia, ib, target);
    return ia ? -1 : ib ? 1 : 0;
  };
  const add = (contact: LookupContact): void => {
    const key = addressKey(contact.host, contact.port);
    if (seen.has(key) || (contact.id && sameId(contact.id, ownId)) || !families.includes(addressFamily(contact.host))) return;
    seen.add(key);
    candidates.push({ contact, key, state: 'new' });
  };
  const trim = (): void => {
    candidates.sort(byDistance);
    for (let i = candidates.length - 1; candidates.length > maxCandidates && i >= 0; i--) {
      if (candidates[i]!.state === 'new') candidates.splice(i, 1);
    }
  };
  /** The k closest candidates still standing (not failed). */
  const window = (): Candidate[] => {
    const out: Candidate[] = [];
    for (const c of candidates) {
      if (c.state === 'failed') continue;
      out.push(c);
      if (out.length === k) break;
    }
    return out;
  };

  for (const s of options.seeds) add(s);
  trim();

  await new Promise<void>((resolve) => {
    const pump = (): void => {
      if (stop.signal.aborted) return finish();
      const w = window();
      if (w.length > 0 && w.every((c) => c.state === 'answered')) return finish();
      for (const c of w) {
        if (inFlight >= alpha || queried >= maxQueries) break;
        if (c.state === 'new') ask(c);
      }
      if (inFlight === 0) finish();
    };
    const finish = (): void => {
      stop.abort();
      resolve();
    };
    // The caller's abort ends the lookup at once, without waiting for the queries in the air.
    stop.signal.addEventListener('abort', () => resolve(), { once: true });
    const ask = (c: Candidate): void => {
      c.state = 'asking';
      inFlight++;
      queried++;
      const q: KrpcQuery =
        method === 'find_node'
          ? { method, id: ownId, target, ...(want && { want }) }
          : { method, id: ownId, infoHash: target, ...(want && { want }) };
      options.query(c.contact, q, stop.signal).then(
        (reply) => {
          inFlight--;
          if (stop.signal.aborted) return;
          if (sameId(reply.response.id, ownId)) {
            c.state = 'failed'; // a bootstrap entry that is ourselves
          } else {
            answered++;
            c.state = 'answered';
            c.contact = { id: reply.response.id, host: c.contact.host, port: c.contact.port };
            if (reply.response.token) c.token = reply.response.token;
            for (const n of reply.response.nodes ?? []) add(n);
            for (const n of reply.response.nodes6 ?? []) add(n);
            for (const p of reply.response.values ?? []) peers.set(peerKey(p.host, p.port), { host: p.host, port: p.port });
            trim();
          }
          pump();
        },
        () => {
          inFlight--;
          c.state = 'failed';
          pump();
        },
      );
    };
    pump();
  });
  options.signal?.removeEventListener('abort', onAbort);
  if (options.signal?.aborted) throw abortError(method);

  const closest = candidates.filter((c) => c.state === 'answered' && c.contact.id).slice(0, k);
  return {
    closest: closest.map((c) => ({ id: c.contact.id!, host: c.contact.host, port: c.contact.port })),
    tokenHolders: closest.filter((c) => c.token).map((c) => ({ node: { id: c.contact.id!, host: c.contact.host, port: c.contact.port }, token: c.token! })),
    peers: [...peers.values()],
    queried,
    answered,
  };
}

/**
 * announce_peer to every token holder, once per port (each peer-worker of
 * the fleet listens on its own port and must be announced as its own
 * peer). implied_port is 0: the port is the worker's TCP port, not our UDP
 * one. Resolves with the number of announces the nodes accepted.
 */
export async function announceToHolders(
  query: LookupQueryFn,
  ownId: Uint8Array,
  infoHash: Uint8Array,
  holders: readonly TokenHolder[],
  ports: readonly number[],
  signal: AbortSignal,
): Promise<number> {
  const sends: Promise<boolean>[] = [];
  for (const port of new Set(ports)) {
    for (const h of holders) {
      const q: KrpcQuery = { method: 'announce_peer', id: ownId, infoHash, port, token: h.token, impliedPort: false };
      sends.push(query(h.node, q, signal).then(() => true, () => false));
    }
  }
  const results = await Promise.all(sends);
  return results.filter(Boolean).length;
}

function abortError(method: string): DhtQueryError {
  return new DhtQueryError('aborted', method, 'lookup', 'the lookup was aborted');
}
