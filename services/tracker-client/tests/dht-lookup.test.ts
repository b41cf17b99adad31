import { describe, expect, it } from 'vitest';
import type { KrpcQuery } from '@seedbox/protocol';
import { DhtQueryError } from '../src/dht/dht-errors.js';
import type { QueryReply } from '../src/dht/dht-rpc.js';
import { announceToHolders, lookup, type LookupContact, type LookupQueryFn } from '../src/dht/lookup.js';
import { compareDistance, idToHex, randomIdWithPrefix, randomNodeId, type NodeContact } from '../src/dht/node-id.js';
import { RoutingTable } from '../src/dht/routing-table.js';

// The iterative lookup over an in-memory network of real routing tables:
// no sockets, so the algorithm's bounds and its answer can be checked exactly.

interface SimNode {
  contact: NodeContact;
  table: RoutingTable;
  dead: boolean;
}

function network(size: number): SimNode[] {
  const nodes: SimNode[] = Array.from({ length: size }, (_, i) => {
    const id = randomNodeId();
    return { contact: { id, host: `10.1.${i >> 8}.${i & 255}`, port: 6881 }, table: new RoutingTable(id), dead: false };
  });
  for (const n of nodes) for (const m of nodes) if (n !== m) n.table.heard(m.contact);
  return nodes;
}

function queryFn(nodes: SimNode[], stats: { inFlight: number; max: number; sent: number }): LookupQueryFn {
  const byHost = new Map(nodes.map((n) => [n.contact.host, n]));
  return async (to: LookupContact, q: KrpcQuery): Promise<QueryReply> => {
    stats.sent++;
    stats.inFlight++;
    stats.max = Math.max(stats.max, stats.inFlight);
    await new Promise((r) => setTimeout(r, 1));
    stats.inFlight--;
    const node = byHost.get(to.host);
    if (!node || node.dead) throw new DhtQueryError('timeout', q.method, to.host, 'no answer');
    const target = q.method === 'find_node' ? q.target : q.method === 'get_peers' ? q.infoHash : node.contact.id;
    return {
      from: { host: to.host, port: to.port },
      response: { id: node.contact.id, nodes: node.table.closest(target, 8), ...(q.method === 'get_peers' && { token: Uint8Array.of(7, 7) }) },
    };
  };
}

/** The nodes in `gone` (hex ids) failed twice in `t`: bad, no longer listed. */
function markFailed(t: RoutingTable, gone: Set<string>): void {
  for (const e of t.entries()) {
    if (gone.has(idToHex(e.id))) {
      t.failed(e.host, e.port);
      t.failed(e.host, e.port);
    }
  }
}

const trueClosest = (nodes: SimNode[], target: Uint8Array, k: number) =>
  nodes
    .filter((n) => !n.dead)
    .map((n) => n.contact)
    .sort((a, b) => compareDistance(a.id, b.id, target))
    .slice(0, k)
    .map((c) => idToHex(c.id));

/** The lookup's k closest against the network's: the three closest exactly, and 7 of the 8. */
function expectNearlyClosest(found: readonly NodeContact[], truth: readonly string[]): void {
  const ids = found.map((c) => idToHex(c.id));
  expect(ids.slice(0, 3)).toEqual(truth.slice(0, 3));
  expect(ids.filter((id) => truth.includes(id)).length).toBeGreaterThanOrEqual(7);
}

describe('iterative lookup', () => {
  const nodes = network(300);

  it('finds the k closest nodes of the whole network, alpha queries at a time', async () => {
    const stats = { inFlight: 0, max: 0, sent: 0 };
    const me = nodes[0]!;
    const target = randomNodeId();
    const result = await lookup({
      ownId: me.contact.id,
      target,
      method: 'get_peers',
      seeds: me.table.closest(target, 8),
      query: queryFn(nodes.slice(1), stats),
      families: [4],
    });
    // Kademlia's promise is probabilistic: a node whose every neighbour
    // near the target keeps a full bucket without it can stay unseen (CI
    // saw the 8th closest missed, the 9th found, once). The closest ones
    // are found, and all but at most one of the 8.
    expectNearlyClosest(result.closest, trueClosest(nodes.slice(1), target, 8));
    expect(result.tokenHolders).toHaveLength(8);
    expect(stats.max).toBeLessThanOrEqual(3);
    expect(stats.sent).toBeLessThan(60);
  });

  it('routes around nodes that do not answer', async () => {
    const net = network(300); // its own: the tables are changed below
    const me = net[0]!;
    const target = randomNodeId();
    // The 4 closest nodes our table knows are dead. Our table still lists
    // them, so the lookup starts with them; the others' tables have seen
    // them fail (else every answer would keep naming them, and Kademlia
    // itself could not see past them).
    const dead = new Set(me.table.closest(target, 4).map((c) => idToHex(c.id)));
    const others = net.filter((n) => n !== me && !dead.has(idToHex(n.contact.id)));
    for (const n of others) markFailed(n.table, dead);
    const result = await lookup({
      ownId: me.contact.id,
      target,
      method: 'find_node',
      seeds: me.table.closest(target, 8),
      query: queryFn(others, { inFlight: 0, max: 0, sent: 0 }),
      families: [4],
    });
    expect(result.queried - result.answered).toBe(4);
    // As above: the closest found exactly, all but at most one of the 8 (CI saw the 8th missed, the 9th found).
    expectNearlyClosest(result.closest, trueClosest(others, target, 8));
  });

  it('sends at most maxQueries, however many new nodes the answers invent', async () => {
    let sent = 0;
    const target = randomNodeId();
    const hostile: LookupQueryFn = async (to) => {
      sent++;
      await Promise.resolve();
      // Every answer names 8 fresh nodes, each closer to the target than any before.
      const nodes = Array.from({ length: 8 }, (_, i) => ({ id: randomIdWithPrefix(target, sent, true), host: `10.9.${(sent >> 5) & 255}.${((sent << 3) + i) & 255}`, port: 1 }));
      return { from: { host: to.host, port: to.port }, response: { id: randomNodeId(), nodes } };
    };
    await lookup({ ownId: randomNodeId(), target, method: 'find_node', seeds: [{ host: '10.9.0.1', port: 1 }], query: hostile, families: [4], maxQueries: 40 });
    expect(sent).toBe(40);
  });

  it('starts from routers without ids', async () => {
    const me = randomNodeId();
    const target = randomNodeId();
    const routers = nodes.slice(0, 2).map((n) => ({ host: n.contact.host, port: n.contact.port }));
    const result = await lookup({ ownId: me, target, method: 'find_node', seeds: routers, query: queryFn(nodes, { inFlight: 0, max: 0, sent: 0 }), families: [4] });
    expectNearlyClosest(result.closest, trueClosest(nodes, target, 8));
  });

  it('rejects with an aborted DhtQueryError when its signal fires', async () => {
    const ac = new AbortController();
    const me = nodes[0]!;
    const run = lookup({ ownId: me.contact.id, target: randomNodeId(), method: 'find_node', seeds: me.table.closest(me.contact.id, 8), query: queryFn(nodes, { inFlight: 0, max: 0, sent: 0 }), families: [4], signal: ac.signal });
    ac.abort();
    await expect(run).rejects.toMatchObject({ reason: 'aborted' });
  });

  it('announces once per distinct port to every token holder', async () => {
    const sent: KrpcQuery[] = [];
    const q: LookupQueryFn = async (to, query) => {
      sent.push(query);
      return { from: to, response: { id: randomNodeId() } };
    };
    const holders = nodes.slice(0, 3).map((n) => ({ node: n.contact, token: Uint8Array.of(1) }));
    const accepted = await announceToHolders(q, randomNodeId(), randomNodeId(), holders, [5, 6, 5], new AbortController().signal);
    expect(accepted).toBe(6);
    expect(sent.every((s) => s.method === 'announce_peer' && !s.impliedPort)).toBe(true);
  });
});
