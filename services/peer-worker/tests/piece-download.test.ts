import { describe, expect, it } from 'vitest';
import { BLOCK_LENGTH } from '@seedbox/protocol';
import { PieceDownload } from '../src/piece-download.js';

describe('PieceDownload', () => {
  it('hands out blocks once, frees released ones, and collects the piece', () => {
    const d = new PieceDownload(7, BLOCK_LENGTH * 2 + 100);
    expect(d.blockCount).toBe(3);
    expect(d.blockLength(2)).toBe(100);
    expect(d.nextFree()).toBe(0);
    d.markRequested(0);
    d.markRequested(1);
    expect(d.nextFree()).toBe(2);
    expect(d.release(0)).toBe(true); // timed out: free again
    expect(d.nextFree()).toBe(0);
    d.markRequested(0);
    d.markRequested(2);
    expect(d.hasFree()).toBe(false);
    expect([0, 1, 2].map((b) => d.isPending(b))).toEqual([true, true, true]);

    expect(d.receive(1, new Uint8Array(BLOCK_LENGTH).fill(1), 'a')).toBe(true);
    expect(d.receive(1, new Uint8Array(BLOCK_LENGTH).fill(9), 'b')).toBe(false); // duplicate
    expect(d.receive(0, new Uint8Array(BLOCK_LENGTH).fill(0), 'a')).toBe(true);
    expect(d.complete).toBe(false);
    expect(d.receive(2, new Uint8Array(100).fill(2), 'a')).toBe(true);
    expect(d.complete).toBe(true);
    expect([...d.contributors]).toEqual(['a']);
    const blocks = d.blocks();
    expect(blocks).toHaveLength(1);
    expect(blocks[0]!.length).toBe(BLOCK_LENGTH * 2 + 100);
    expect(d.isPending(1)).toBe(false);
    expect(blocks[0]![BLOCK_LENGTH]).toBe(1);
    expect(blocks[0]![BLOCK_LENGTH * 2 + 99]).toBe(2);
    // The piece's own buffer, whole, so it can be transferred to a hash worker without a copy.
    expect(blocks[0]).toBe(d.buffer);
    expect(d.buffer.byteOffset).toBe(0);
    expect(d.buffer.buffer.byteLength).toBe(d.size);
  });

  it('keeps a block requested while any endgame copy is outstanding', () => {
    const d = new PieceDownload(0, BLOCK_LENGTH);
    d.markRequested(0);
    d.markRequested(0);
    expect(d.requestCount(0)).toBe(2);
    expect(d.release(0)).toBe(false); // one copy still out
    expect(d.hasFree()).toBe(false);
    expect(d.release(0)).toBe(true);
    expect(d.hasFree()).toBe(true);
  });
});
