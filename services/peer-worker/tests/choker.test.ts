import { describe, expect, it } from 'vitest';
import { Choker, type ChokeCandidate } from '../src/choker.js';

const peer = (id: string, down: number, up = 0, extra: Partial<ChokeCandidate> = {}): ChokeCandidate => ({
  id,
  interested: true,
  downloadRate: down,
  uploadRate: up,
  snubbed: false,
  ...extra,
});

describe('Choker', () => {
  it('gives the regular slots to the fastest uploaders to us while leeching, plus one optimistic', () => {
    const c = new Choker({ slots: 4, random: () => 0 });
    const peers = [peer('a', 10), peer('b', 50), peer('c', 30), peer('d', 40), peer('e', 5), peer('f', 1)];
    const u = c.decide(peers, false, 0);
    expect(u.size).toBe(4);
    for (const id of ['b', 'd', 'c']) expect(u.has(id)).toBe(true);
    // The optimistic slot went to one of the choked peers.
    expect(['a', 'e', 'f'].filter((id) => u.has(id))).toHaveLength(1);
  });

  it('ranks by our upload rate to them while seeding', () => {
    const c = new Choker({ slots: 2, random: () => 0 });
    const u = c.decide([peer('a', 0, 100), peer('b', 0, 900), peer('c', 0, 50)], true, 0);
    expect(u.has('b')).toBe(true);
  });

  it('keeps its decision until the rotation is due', () => {
    const c = new Choker({ slots: 2, rotateSeconds: 10, random: () => 0 });
    const first = new Set(c.decide([peer('a', 10), peer('b', 20), peer('c', 30)], false, 0));
    const again = c.decide([peer('a', 100), peer('b', 20), peer('c', 30)], false, 5_000);
    expect(again).toEqual(first);
    const later = c.decide([peer('a', 100), peer('b', 20), peer('c', 30)], false, 10_000);
    expect(later.has('a')).toBe(true);
  });

  it('takes the slot from a snubbed peer and ignores uninterested ones', () => {
    const c = new Choker({ slots: 2, random: () => 0.99 });
    const u = c.decide([peer('a', 100, 0, { snubbed: true }), peer('b', 10), peer('c', 5, 0, { interested: false })], false, 0);
    expect(u.has('b')).toBe(true);
    expect(u.has('c')).toBe(false);
    // 'a' may only hold the optimistic slot, never a regular one.
  });

  it('moves the optimistic unchoke every 30 s', () => {
    let r = 0;
    const c = new Choker({ slots: 1, rotateSeconds: 10, optimisticSeconds: 30, random: () => r });
    const peers = [peer('a', 0), peer('b', 0), peer('c', 0)];
    expect([...c.decide(peers, false, 0)]).toEqual(['a']);
    r = 0.99;
    expect([...c.decide(peers, false, 10_000)]).toEqual(['a']);
    expect([...c.decide(peers, false, 30_000)]).toEqual(['c']);
  });

  it('re-decides at once when a slot holder loses interest', () => {
    const c = new Choker({ slots: 1, random: () => 0 });
    expect([...c.decide([peer('a', 10), peer('b', 5)], false, 0)]).toEqual(['a']);
    expect([...c.decide([peer('a', 10, 0, { interested: false }), peer('b', 5)], false, 1000)]).toEqual(['b']);
  });
});
