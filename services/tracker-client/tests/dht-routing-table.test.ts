import { describe, expect, it } from 'vitest';
import { commonPrefixLength, compareDistance, randomIdWithPrefix, randomNodeId, sameId, type NodeContact } from '../src/dht/node-id.js';
import { RoutingTable } from '../src/dht/routing-table.js';

const MIN = 60_000;

/** An id sharing exactly `prefix` leading bits with `base`. */
function idAt(base: Uint8Array, prefix: number): Uint8Array {
  return randomIdWithPrefix(base, prefix, true);
}

let portSeq = 10_000;
function contact(id: Uint8Array): NodeContact {
  portSeq++;
  return { id, host: `10.${(portSeq >> 16) & 255}.${(portSeq >> 8) & 255}.${portSeq & 255}`, port: 6881 };
}

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('node ids', () => {
  it('randomIdWithPrefix shares exactly the asked prefix', () => {
    const base = randomNodeId();
    for (const p of [0, 1, 7, 8, 9, 63, 158, 159]) {
      expect(commonPrefixLength(base, randomIdWithPrefix(base, p, true))).toBe(p);
      expect(commonPrefixLength(base, randomIdWithPrefix(base, p, false))).toBeGreaterThanOrEqual(p);
    }
    expect(commonPrefixLength(base, base)).toBe(160);
  });
});

describe('RoutingTable', () => {
  it('splits only the bucket holding our own id, and only when a node moves', () => {
    const own = new Uint8Array(20); // all zeros
    const t = new RoutingTable(own);
    // Eight nodes in the far half (first bit 1) fill the one bucket.
    for (let i = 0; i < 8; i++) expect(t.heard(contact(idAt(own, 0)))).toBe('added');
    expect(t.bucketCount).toBe(1);
    // A ninth far node: splitting would move nobody, so it waits as a replacement.
    expect(t.heard(contact(idAt(own, 0)))).toBe('replacement');
    expect(t.bucketCount).toBe(1);
    // A near node makes the split worth it: it gets the new bucket.
    expect(t.heard(contact(idAt(own, 5)))).toBe('added');
    expect(t.bucketCount).toBe(2);
    expect(t.size).toBe(9);
    expect(t.replacementCount).toBe(1);
  });

  it('stays bounded however many nodes it hears of', () => {
    const own = randomNodeId();
    const t = new RoutingTable(own);
    for (let i = 0; i < 20_000; i++) t.heard(contact(randomNodeId()));
    // Deep ids that all crowd our own bucket.
    for (let i = 0; i < 2_000; i++) t.heard(contact(idAt(own, 100 + (i % 60))));
    expect(t.bucketCount).toBeLessThanOrEqual(160);
    expect(t.size).toBeLessThanOrEqual(8 * t.bucketCount);
    expect(t.replacementCount).toBeLessThanOrEqual(8 * t.bucketCount);
    // 20,000 random ids fill about log2(20000/8) ≈ 11 buckets, each full.
    expect(t.size).toBeGreaterThan(80);
  });

  it('closest() gives the n nearest live nodes, nearest first', () => {
    const own = randomNodeId();
    const t = new RoutingTable(own);
    for (let i = 0; i < 500; i++) t.heard(contact(randomNodeId()));
    const target = randomNodeId();
    const got = t.closest(target, 8);
    const all = t.entries().sort((a, b) => compareDistance(a.id, b.id, target));
    expect(got.map((n) => n.port + n.host)).toEqual(all.slice(0, 8).map((n) => n.port + n.host));
    for (let i = 1; i < got.length; i++) expect(compareDistance(got[i - 1]!.id, got[i]!.id, target)).toBeLessThan(0);
  });

  it('replaces a bad node with a newcomer at once', () => {
    const own = new Uint8Array(20);
    const t = new RoutingTable(own);
    const nodes = Array.from({ length: 8 }, () => contact(idAt(own, 0)));
    for (const n of nodes) t.heard(n);
    const victim = nodes[3]!;
    t.failed(victim.host, victim.port);
    expect(t.entries().find((e) => e.port === victim.port && e.host === victim.host)?.state).toBe('good');
    t.failed(victim.host, victim.port); // two failures in a row: bad
    expect(t.entries().find((e) => e.host === victim.host)?.state).toBe('bad');
    expect(t.closest(own, 20).some((n) => n.host === victim.host)).toBe(false);
    const newcomer = contact(idAt(own, 0));
    expect(t.heard(newcomer)).toBe('added');
    expect(t.has(victim.host, victim.port)).toBe(false);
    expect(t.has(newcomer.host, newcomer.port)).toBe(true);
    expect(t.size).toBe(8);
  });

  it('promotes the freshest replacement when a live node goes bad', () => {
    const own = new Uint8Array(20);
    const c = clock();
    const t = new RoutingTable(own, { now: c.now });
    const nodes = Array.from({ length: 8 }, () => contact(idAt(own, 0)));
    for (const n of nodes) t.heard(n);
    const older = contact(idAt(own, 0));
    expect(t.heard(older)).toBe('replacement');
    c.advance(1_000);
    const fresher = contact(idAt(own, 0));
    expect(t.heard(fresher)).toBe('replacement');
    t.failed(nodes[0]!.host, nodes[0]!.port);
    t.failed(nodes[0]!.host, nodes[0]!.port);
    expect(t.has(nodes[0]!.host, nodes[0]!.port)).toBe(false);
    expect(t.entries().some((e) => e.host === fresher.host)).toBe(true);
    expect(t.entries().some((e) => e.host === older.host)).toBe(false);
    expect(t.replacementCount).toBe(1);
  });

  it('ages nodes good → questionable, and a query from a known node keeps it good', () => {
    const own = randomNodeId();
    const c = clock();
    const t = new RoutingTable(own, { now: c.now });
    const a = contact(randomNodeId());
    const b = contact(randomNodeId());
    t.heard(a);
    t.heard(b);
    c.advance(15 * MIN + 1);
    expect(t.questionable(10).length).toBe(2);
    expect(t.queried(a)).toBe(true); // answered once, queried us now: good again
    expect(t.questionable(10).map((n) => n.host)).toEqual([b.host]);
    expect(t.queried(contact(randomNodeId()))).toBe(false);
  });

  it('lists buckets untouched for 15 minutes, with targets inside them', () => {
    const own = new Uint8Array(20);
    const c = clock();
    const t = new RoutingTable(own, { now: c.now });
    for (let i = 0; i < 8; i++) t.heard(contact(idAt(own, 0)));
    t.heard(contact(idAt(own, 3)));
    expect(t.refreshTargets()).toEqual([]);
    c.advance(15 * MIN);
    const targets = t.refreshTargets();
    expect(targets.length).toBe(t.bucketCount);
    expect(commonPrefixLength(own, targets[0]!)).toBe(0);
    expect(commonPrefixLength(own, targets[1]!)).toBeGreaterThanOrEqual(1);
    t.touch(targets[0]!);
    expect(t.refreshTargets().length).toBe(t.bucketCount - 1);
  });

  it('refuses our own id and an id claimed from a second address; an address with a new id replaces the old', () => {
    const own = randomNodeId();
    const t = new RoutingTable(own);
    expect(t.heard(contact(own))).toBe('rejected');
    const id = randomNodeId();
    const first = contact(id);
    expect(t.heard(first)).toBe('added');
    expect(t.heard(contact(id))).toBe('rejected');
    expect(t.heard({ ...first })).toBe('updated');
    const renewed = { id: randomNodeId(), host: first.host, port: first.port };
    expect(t.heard(renewed)).toBe('added');
    expect(t.size).toBe(1);
    expect(sameId(t.entries()[0]!.id, renewed.id)).toBe(true);
  });

  it('wouldAccept says whether a querier is worth a verification ping', () => {
    const own = new Uint8Array(20);
    const t = new RoutingTable(own);
    for (let i = 0; i < 8; i++) t.heard(contact(idAt(own, 0)));
    expect(t.wouldAccept(idAt(own, 0))).toBe(false); // full far bucket, nothing bad
    expect(t.wouldAccept(idAt(own, 9))).toBe(true); // would split
    expect(t.wouldAccept(own)).toBe(false);
  });
});
