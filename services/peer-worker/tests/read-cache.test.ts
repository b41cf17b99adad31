/**
 * ReadCache, behind seeding: one read per span, blocks from memory after
 * it, least recently used spans evicted over the budget, and nothing kept
 * once clear() says nobody is left to serve.
 */
import { describe, expect, it } from 'vitest';
import { ReadCache } from '../src/read-cache.js';

const PIECE = 64 * 1024;
const SPAN = 32 * 1024;

/** Piece `index`'s byte at `offset`, so every read can be checked. */
const byteAt = (index: number, offset: number): number => (index * 31 + offset) & 0xff;

function disk() {
  const reads: string[] = [];
  const held: (() => void)[] = [];
  let hold = false;
  const read = async (index: number, begin: number, length: number): Promise<Uint8Array> => {
    reads.push(`${index}:${begin}+${length}`);
    if (hold) await new Promise<void>((resolve) => held.push(resolve));
    return Uint8Array.from({ length }, (_, i) => byteAt(index, begin + i));
  };
  return {
    read,
    reads,
    holdReads: (on: boolean) => void (hold = on),
    release: () => held.splice(0).forEach((r) => r()),
  };
}

const expected = (index: number, begin: number, length: number) => Uint8Array.from({ length }, (_, i) => byteAt(index, begin + i));

describe('ReadCache', () => {
  it('reads a whole span on a miss and serves the blocks after it from memory', async () => {
    const d = disk();
    const cache = new ReadCache(d.read, () => PIECE, { spanBytes: SPAN, maxBytes: 4 * SPAN });
    expect(await cache.block(0, 0, 16384)).toEqual(expected(0, 0, 16384));
    expect(cache.peek(0, 16384, 16384)).toEqual(expected(0, 16384, 16384));
    expect(await cache.block(0, 16384, 16384)).toEqual(expected(0, 16384, 16384));
    expect(d.reads).toEqual([`0:0+${SPAN}`]);
    expect(cache.size).toBe(SPAN);
  });

  it('shares one read between concurrent misses on a span', async () => {
    const d = disk();
    const cache = new ReadCache(d.read, () => PIECE, { spanBytes: SPAN });
    const [a, b] = await Promise.all([cache.block(1, 0, 16384), cache.block(1, 16384, 16384)]);
    expect(a).toEqual(expected(1, 0, 16384));
    expect(b).toEqual(expected(1, 16384, 16384));
    expect(d.reads).toHaveLength(1);
  });

  it('evicts the least recently used span over its budget', async () => {
    const d = disk();
    const cache = new ReadCache(d.read, () => PIECE, { spanBytes: SPAN, maxBytes: 2 * SPAN });
    await cache.block(0, 0, 16384);
    await cache.block(1, 0, 16384);
    await cache.block(0, 0, 16384); // span 0 is now the most recent
    await cache.block(2, 0, 16384); // over budget: span 1 goes
    expect(cache.size).toBe(2 * SPAN);
    expect(cache.peek(0, 0, 16384)).toBeDefined();
    expect(cache.peek(1, 0, 16384)).toBeUndefined();
    expect(cache.peek(2, 0, 16384)).toBeDefined();
  });

  it('clear() lets go of every span, and a read under way when it came is answered but not kept', async () => {
    const d = disk();
    const cache = new ReadCache(d.read, () => PIECE, { spanBytes: SPAN });
    await cache.block(0, 0, 16384);
    await cache.block(1, 0, 16384);
    d.holdReads(true);
    const late = cache.block(2, 0, 16384);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.peek(0, 0, 16384)).toBeUndefined();
    d.release();
    expect(await late).toEqual(expected(2, 0, 16384));
    expect(cache.size).toBe(0);
    expect(cache.peek(2, 0, 16384)).toBeUndefined();
    // It caches again for whoever comes next.
    d.holdReads(false);
    await cache.block(0, 0, 16384);
    expect(cache.peek(0, 16384, 16384)).toEqual(expected(0, 16384, 16384));
  });
});
