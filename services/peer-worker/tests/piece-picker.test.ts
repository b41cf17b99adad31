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

  it('breaks ties at random', () => {
    const have = bits(10, [0, 1, 2, 3]);
    const seen = new Set<number>();
    for (let run = 0; run < 200; run++) {
      const p = new PiecePicker(have.clone(), { randomFirstPieces: 4 });
      seen.add(p.pick('all')!);
    }
    expect([...seen].sort()).toEqual([4, 5, 6, 7, 8, 9]);
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
