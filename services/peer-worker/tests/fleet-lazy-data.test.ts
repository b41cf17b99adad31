/**
 * The fleet opens a torrent's data on its first check (lazyData): what the
 * engine calls reaches the data opened, as it was asked, including the
 * buffer the read cache gives a read to fill (a span's, used again).
 */
import { describe, expect, it } from 'vitest';
import { lazyData, type FleetTorrentData, type Running } from '../src/fleet/fleet-run.js';

describe('lazyData', () => {
  it('opens the data once, and hands a read its buffer to read into', async () => {
    const given: (Uint8Array | undefined)[] = [];
    let opens = 0;
    const data = {
      check: async () => undefined,
      read: async (_index: number, _begin: number, length: number, into?: Uint8Array) => {
        given.push(into);
        return into ?? new Uint8Array(length);
      },
    } as unknown as FleetTorrentData;
    const lazy = lazyData({ data: undefined } as unknown as Running, () => {
      opens++;
      return data;
    });
    const into = new Uint8Array(16);
    expect(await lazy.read!(0, 0, 16, into)).toBe(into);
    await lazy.read!(0, 16, 16);
    expect(given).toEqual([into, undefined]);
    expect(opens).toBe(1);
  });
});
