/**
 * ReadCache, behind seeding: one read per span, blocks from memory after
 * it, least recently used spans evicted over the budget, their buffers
 * read into again once nothing holds them, and nothing kept once clear()
 * says nobody is left to serve.
 */
import { describe, expect, it } from 'vitest';
import { PieceBufferPool } from '@seedbox/runtime/piece-buffers';
import { ReadCache, type BlockLease } from '../src/read-cache.js';

const PIECE = 64 * 1024;
const SPAN = 32 * 1024;

/** Piece `index`'s byte at `offset`, so every read can be checked. */
const byteAt = (index: number, offset: number): number => (index * 31 + offset) & 0xff;

function disk() {
  const reads: string[] = [];
  /** The buffer each read was given to read into, if any. */
  const into: (Uint8Array | undefined)[] = [];
  const held: (() => void)[] = [];
  let hold = false;
  const read = async (index: number, begin: number, length: number, target?: Uint8Array): Promise<Uint8Array> => {
    reads.push(`${index}:${begin}+${length}`);
    into.push(target);
    if (hold) await new Promise<void>((resolve) => held.push(resolve));
    // A plain Uint8Array over the same memory (the pool's are Buffers), so the bytes compare as the expected ones.
    const out = target ? new Uint8Array(target.buffer, target.byteOffset, target.length) : new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = byteAt(index, begin + i);
    return out;
  };
  return {
    read,
    reads,
    into,
    holdReads: (on: boolean) => void (hold = on),
    release: () => held.splice(0).forEach((r) => r()),
  };
}

const expected = (index: number, begin: number, length: number) => Uint8Array.from({ length }, (_, i) => byteAt(index, begin + i));

/** The bytes of a block, its lease given back at once. */
async function bytesOf(lease: Promise<BlockLease> | BlockLease | undefined): Promise<Uint8Array | undefined> {
  const l = await lease;
  if (!l) return undefined;
  const copy = l.bytes.slice();
  l.release();
  return copy;
}

describe('ReadCache', () => {
  it('reads a whole span on a miss and serves the blocks after it from memory', async () => {
    const d = disk();
    const cache = new ReadCache(d.read, () => PIECE, { spanBytes: SPAN, maxBytes: 4 * SPAN });
    expect(await bytesOf(cache.block(0, 0, 16384))).toEqual(expected(0, 0, 16384));
    expect(await bytesOf(cache.peek(0, 16384, 16384))).toEqual(expected(0, 16384, 16384));
    expect(await bytesOf(cache.block(0, 16384, 16384))).toEqual(expected(0, 16384, 16384));
    expect(d.reads).toEqual([`0:0+${SPAN}`]);
    expect(cache.size).toBe(SPAN);
  });

  it('shares one read between concurrent misses on a span', async () => {
    const d = disk();
    const cache = new ReadCache(d.read, () => PIECE, { spanBytes: SPAN });
    const [a, b] = await Promise.all([bytesOf(cache.block(1, 0, 16384)), bytesOf(cache.block(1, 16384, 16384))]);
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
    expect(await bytesOf(late)).toEqual(expected(2, 0, 16384));
    expect(cache.size).toBe(0);
    expect(cache.peek(2, 0, 16384)).toBeUndefined();
    // It caches again for whoever comes next.
    d.holdReads(false);
    await cache.block(0, 0, 16384);
    expect(await bytesOf(cache.peek(0, 16384, 16384))).toEqual(expected(0, 16384, 16384));
  });

  describe('reading into the buffers of evicted spans', () => {
    /** A cache of one span, with a pool of its own to watch. */
    function oneSpanCache(d: ReturnType<typeof disk>, pieceSize: (index: number) => number = () => PIECE) {
      const buffers = new PieceBufferPool();
      const cache = new ReadCache(d.read, pieceSize, { spanBytes: SPAN, maxBytes: SPAN, buffers });
      /** Spans' buffers back in the pool. */
      const spare = () => buffers.keptBytes / SPAN;
      return { cache, spare };
    }

    it('reads into an evicted span once no block cut from it is out', async () => {
      const d = disk();
      const { cache, spare } = oneSpanCache(d);
      const first = await cache.block(0, 0, 16384);
      const firstBuffer = first.bytes.buffer;
      first.release();
      await bytesOf(cache.block(1, 0, 16384)); // evicts span 0, no block out: its buffer is spare
      expect(spare()).toBe(1);
      expect(await bytesOf(cache.block(2, 0, 16384))).toEqual(expected(2, 0, 16384));
      expect(d.into[2]?.buffer).toBe(firstBuffer);
      expect(spare()).toBe(1); // span 1's, evicted by span 2
    });

    it('keeps an evicted span whose block is still out until the block is released, once', async () => {
      const d = disk();
      const { cache, spare } = oneSpanCache(d);
      const a = await cache.block(0, 0, 16384);
      const b = cache.peek(0, 16384, 16384)!;
      await bytesOf(cache.block(1, 0, 16384)); // evicts span 0 while a and b are out
      expect(spare()).toBe(0);
      await bytesOf(cache.block(2, 0, 16384)); // evicts span 1: spare, and span 0's bytes untouched
      expect(d.into[2]?.buffer).not.toBe(a.bytes.buffer);
      expect(a.bytes).toEqual(expected(0, 0, 16384));
      a.release();
      a.release(); // a second release must not free b's span
      expect(spare()).toBe(1);
      await bytesOf(cache.block(3, 0, 16384));
      await bytesOf(cache.block(4, 0, 16384));
      expect(d.into.slice(3).map((x) => x?.buffer)).not.toContain(b.bytes.buffer);
      expect(b.bytes).toEqual(expected(0, 16384, 16384));
      b.release(); // span 0 is spare now, with span 3's
      expect(spare()).toBe(2);
    });

    it('counts the callers waiting on a read as users of its span, so an eviction before their turn frees nothing', async () => {
      const d = disk();
      const { cache, spare } = oneSpanCache(d);
      d.holdReads(true);
      const zero = cache.block(0, 0, 16384);
      const one = cache.block(1, 0, 16384);
      d.release();
      // Span 0 is put, then span 1 evicts it, all before `zero`'s caller has its block.
      const [z, o] = await Promise.all([zero, one]);
      expect(spare()).toBe(0);
      d.holdReads(false);
      await bytesOf(cache.block(2, 0, 16384));
      expect(z.bytes).toEqual(expected(0, 0, 16384));
      z.release();
      o.release();
    });

    it('clear() gives back the buffers of spans nobody holds, and the others as their blocks are released', async () => {
      const d = disk();
      const { cache, spare } = oneSpanCache(d);
      await bytesOf(cache.block(0, 0, 16384));
      const late = await cache.block(1, 0, 16384);
      expect(spare()).toBe(1);
      expect(cache.size).toBe(SPAN);
      cache.clear();
      expect(cache.size).toBe(0);
      expect(spare()).toBe(1); // span 1's block is still out
      expect(late.bytes).toEqual(expected(1, 0, 16384));
      late.release();
      expect(spare()).toBe(2);
      // Nothing cached: the next block is read again.
      expect(await bytesOf(cache.block(1, 0, 16384))).toEqual(expected(1, 0, 16384));
      expect(d.reads).toHaveLength(3);
    });

    it("reads a span shorter than the others (a piece's end) into a buffer of its own size", async () => {
      const d = disk();
      const { cache } = oneSpanCache(d, (i) => (i === 1 ? SPAN / 2 : PIECE));
      await bytesOf(cache.block(0, 0, 16384));
      await bytesOf(cache.block(1, 0, 16384));
      expect(d.into[1]?.length).toBe(SPAN / 2);
      expect(d.reads[1]).toBe(`1:0+${SPAN / 2}`);
    });
  });
});
