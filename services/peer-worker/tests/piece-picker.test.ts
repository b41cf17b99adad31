import { describe, expect, it } from 'vitest';
import { Bitfield } from '@seedbox/protocol';
import { PiecePicker } from '../src/piece-picker.js';

function bits(n: number, set: number[]): Bitfield {
  const b = new Bitfield(n);
  for (const i of set) b.set(i);
  return b;
}

describe('PiecePicker', () => {
  it('picks the rarest piece the peer has', () => {
    const have = bits(6, [0, 1, 2, 3]); // past the random-first phase
    const p = new PiecePicker(have, { randomFirstPieces: 4 });
    p.addPeer(bits(6, [4, 5]));
    p.addPeer(bits(6, [5]));
    p.addPeer(bits(6, [5]));
    expect(p.pick(bits(6, [4, 5]))).toBe(4);
    expect(p.pick(bits(6, [5]))).toBe(5);
    expect(p.pick(bits(6, [0, 1]))).toBeUndefined(); // we have those
  });

  it('stops its scan at a piece nothing can beat, and sees pieces grow rarer when a peer leaves', () => {
    const all = bits(64, Array.from({ length: 64 }, (_, i) => i));
    const p = new PiecePicker(new Bitfield(64), { randomFirstPieces: 0, extentPieces: 8, random: () => 0 });
    p.addPeer(all);
    p.addPeer(all);
    p.peerHas(1); // a third peer's HAVE: piece 1 at 3, the rest at 2
    expect(p.pick('all')).toBe(0);
    p.markBusy(0);
    // The second peer leaves: piece 1 at 2, the rest at 1. A scan stopping
    // at the old floor of 2 would take piece 1; the rarest after it is 2.
    p.removePeer(all);
    expect(p.pick('all')).toBe(2);
    p.markBusy(2);
    expect(p.pick('all')).toBe(3); // the extent under way goes on
  });

  it('breaks ties at random', () => {
    const have = bits(10, [0, 1, 2, 3]);
    const seen = new Set<number>();
    for (let run = 0; run < 200; run++) {
      const p = new PiecePicker(have.clone(), { randomFirstPieces: 4 });
      seen.add(p.pick('all')!);
    }
    expect([...seen].sort()).toEqual([4, 5, 6, 7, 8, 9]);
  });

  it('draws one random number per random pick, and each candidate of the top priority has its share', () => {
    const priorities = Uint8Array.from([1, 1, 2, 1, 2, 2, 0, 2, 1, 1]);
    const have = bits(10, [7]);
    for (const [r, expected] of [
      [0, 2],
      [0.34, 4],
      [0.67, 5],
      [0.999, 5],
    ] as const) {
      let draws = 0;
      const p = new PiecePicker(have.clone(), {
        randomFirstPieces: 4,
        priorities,
        random: () => {
          draws++;
          return r;
        },
      });
      expect(p.pick('all')).toBe(expected);
      expect(draws).toBe(1);
    }
    // Only what the peer has, and nothing once it has none of the candidates.
    const p = new PiecePicker(have.clone(), { randomFirstPieces: 4, priorities, random: () => 0 });
    expect(p.pick(bits(10, [0, 5]))).toBe(5);
    expect(p.pick(bits(10, [6, 7]))).toBeUndefined();
  });

  it('picks at random for the first pieces, ignoring rarity', () => {
    const seen = new Set<number>();
    for (let run = 0; run < 200; run++) {
      const p = new PiecePicker(new Bitfield(8), { randomFirstPieces: 4 });
      p.addPeer(bits(8, [1, 2, 3, 4, 5, 6, 7]));
      p.addPeer(bits(8, [1, 2, 3, 4, 5, 6, 7]));
      seen.add(p.pick('all')!);
    }
    // Rarest-first would always answer 0.
    expect(seen.size).toBeGreaterThan(3);
  });

  it('takes the rarest extent by extent: the next piece of the extent under way, then a fresh extent whole', () => {
    // 64 pieces in extents of 8, all equally rare (one seed): past the random first pieces.
    for (let run = 0; run < 20; run++) {
      const p = new PiecePicker(new Bitfield(64), { randomFirstPieces: 0, extentPieces: 8 });
      const order: number[] = [];
      for (let k = 0; k < 64; k++) {
        const i = p.pick('all')!;
        p.markBusy(i);
        order.push(i);
      }
      expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 64 }, (_, i) => i));
      // Each run of 8 picks is one extent, in order.
      for (let e = 0; e < 8; e++) {
        const first = order[e * 8]!;
        expect(first % 8).toBe(0);
        expect(order.slice(e * 8, e * 8 + 8)).toEqual(Array.from({ length: 8 }, (_, k) => first + k));
      }
    }
  });

  it('starts extents at random, so that leeches of one swarm spread out', () => {
    const firsts = new Set<number>();
    for (let run = 0; run < 100; run++) {
      const p = new PiecePicker(new Bitfield(64), { randomFirstPieces: 0, extentPieces: 8 });
      firsts.add(p.pick('all')!);
    }
    expect(firsts.size).toBeGreaterThan(4);
  });

  it('leaves an extent for a rarer piece elsewhere, and skips what the extent has under way', () => {
    const p = new PiecePicker(new Bitfield(32), { randomFirstPieces: 0, extentPieces: 8, random: () => 0 });
    p.addPeer(bits(32, Array.from({ length: 32 }, (_, i) => i)));
    expect(p.pick('all')).toBe(0);
    p.markBusy(0);
    p.markBusy(1); // another session took it
    expect(p.pick('all')).toBe(2);
    p.markBusy(2);
    // A second peer has everything but 20: 20 is now the rarest, whatever the extent under way.
    p.addPeer(bits(32, Array.from({ length: 32 }, (_, i) => i).filter((i) => i !== 20)));
    expect(p.pick('all')).toBe(20);
    p.markBusy(20);
    // 20's extent (16-23) goes on once equally rare again, from 21; back in it, 16-19 come after its end.
    p.peerHas(20);
    expect(p.pick('all')).toBe(21);
  });

  it('without extents, breaks every tie at random', () => {
    const seen = new Set<number>();
    const p = new PiecePicker(new Bitfield(64), { randomFirstPieces: 0 });
    let last = -2;
    let adjacent = 0;
    for (let k = 0; k < 64; k++) {
      const i = p.pick('all')!;
      if (i === last + 1) adjacent++;
      last = i;
      p.markBusy(i);
      seen.add(i);
    }
    expect(seen.size).toBe(64);
    expect(adjacent).toBeLessThan(20);
  });

  it('skips busy pieces and counts what is left to start', () => {
    const p = new PiecePicker(new Bitfield(3), { randomFirstPieces: 0 });
    expect(p.unstartedCount).toBe(3);
    p.markBusy(0);
    p.markBusy(1);
    expect(p.unstartedCount).toBe(1);
    expect(p.pick('all')).toBe(2);
    p.markBusy(2);
    expect(p.pick('all')).toBeUndefined();
    expect(p.unstartedCount).toBe(0);
    p.markIdle(1); // failed its hash check
    expect(p.unstartedCount).toBe(1);
    expect(p.pick('all')).toBe(1);
    p.markHave(0);
    p.markHave(0);
    expect(p.unstartedCount).toBe(1);
  });

  it('forgets a departed peer', () => {
    const p = new PiecePicker(bits(3, [0]), { randomFirstPieces: 0 });
    const a = bits(3, [1]);
    p.addPeer(a);
    p.peerHas(2);
    expect(p.availabilityOf(1)).toBe(1);
    expect(p.availabilityOf(2)).toBe(1);
    p.removePeer(a);
    expect(p.availabilityOf(1)).toBe(0);
  });
});
