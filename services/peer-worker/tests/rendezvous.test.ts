import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { amongReplicas, rendezvousOwner, rendezvousRank } from '../src/fleet/rendezvous.js';

/**
 * Who runs what in the fleet: the owner of a download and the workers that
 * seed a complete torrent, by rendezvous hashing. The properties that make
 * it safe to compute on every worker apart: agreement, balance, the owner
 * among the seeders, and little movement when workers come and go.
 */

const hashes = Array.from({ length: 2000 }, (_, i) => createHash('sha1').update(String(i)).digest('hex'));
const workers = Array.from({ length: 8 }, (_, i) => `peer-worker-${i}`);
const seeders = (ws: readonly string[], hex: string, n: number): string[] => ws.filter((w) => amongReplicas(ws, hex, w, n));

describe('seed replicas by rendezvous hashing', () => {
  it('gives each torrent exactly N seeders, its owner among them, whatever order the workers are listed in', () => {
    for (const hex of hashes.slice(0, 200)) {
      const s = seeders(workers, hex, 2);
      expect(s).toHaveLength(2);
      expect(s).toContain(rendezvousOwner(workers, hex));
      expect(seeders([...workers].reverse(), hex, 2).sort()).toEqual([...s].sort());
      expect(rendezvousRank(workers, hex)[0]).toBe(rendezvousOwner(workers, hex));
    }
  });

  it('spreads the seeding evenly: each of 8 workers seeds about a quarter of 2,000 torrents at N = 2', () => {
    const count = new Map(workers.map((w) => [w, 0]));
    for (const hex of hashes) for (const w of seeders(workers, hex, 2)) count.set(w, count.get(w)! + 1);
    // 2 × 2000 / 8 = 500 each; binomial spread, well within ±20 %.
    for (const n of count.values()) {
      expect(n).toBeGreaterThan(400);
      expect(n).toBeLessThan(600);
    }
  });

  it('moves only what it must: a worker that dies hands each of its torrents to one other; one that joins takes only its own', () => {
    const dead = workers[3]!;
    const after = workers.filter((w) => w !== dead);
    let moved = 0;
    for (const hex of hashes) {
      const before = new Set(seeders(workers, hex, 2));
      const now = new Set(seeders(after, hex, 2));
      const lost = [...before].filter((w) => !now.has(w));
      const gained = [...now].filter((w) => !before.has(w));
      if (!before.has(dead)) {
        expect(gained).toEqual([]);
        expect(lost).toEqual([]);
      } else {
        expect(lost).toEqual([dead]);
        expect(gained).toHaveLength(1);
        moved++;
      }
    }
    expect(moved).toBeGreaterThan(350);
    expect(moved).toBeLessThan(650);
    // Joining is the same in reverse.
    const joined = [...workers, 'peer-worker-new'];
    for (const hex of hashes.slice(0, 300)) {
      const before = new Set(seeders(workers, hex, 2));
      const now = seeders(joined, hex, 2);
      for (const w of now) if (!before.has(w)) expect(w).toBe('peer-worker-new');
    }
  });

  it('has every worker seed at 0 ("all") and when there are no more workers than replicas', () => {
    expect(seeders(workers, hashes[0]!, 0)).toEqual(workers);
    expect(seeders(workers.slice(0, 2), hashes[0]!, 2)).toEqual(workers.slice(0, 2));
    expect(seeders(workers.slice(0, 1), hashes[0]!, 1)).toEqual(workers.slice(0, 1));
  });
});
