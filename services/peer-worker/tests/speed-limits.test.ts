import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Bitfield, type Metainfo } from '@seedbox/protocol';
import { BandwidthLimitError } from '../src/bandwidth/token-bucket.js';
import { Engine } from '../src/engine.js';
import type { EngineOptions } from '../src/engine-options.js';
import type { BandwidthLimits } from '../src/bandwidth/bandwidth.js';
import type { Torrent } from '../src/torrent.js';
import { MemorySink, memoryData } from './support/memory-data.js';
import { metaFor } from './support/scripted-peer.js';

/**
 * Speed limits between two of our engines over real sockets on
 * 127.0.0.1: a download limit on the leech (its sockets stop reading) and
 * an upload limit on the seed (its blocks wait), each holding the rate
 * under a generous ceiling, lifting them at run time, and the bytes
 * arriving intact under a limit. Bounds, not speed targets: the machine
 * may be slow, never faster than the limit.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const MiB = 1024 * 1024;
const pieceLength = 256 * 1024;
const data = randomBytes(24 * MiB);
const meta = metaFor(data, pieceLength) as Metainfo;

async function seedEngine(o: Partial<EngineOptions> = {}, limits?: BandwidthLimits): Promise<{ engine: Engine; torrent: Torrent }> {
  const engine = new Engine({ sink: new MemorySink(meta), listen: { host: '127.0.0.1', port: 0 }, tickMs: 100, ...o });
  await engine.start();
  cleanups.push(() => engine.stop());
  const torrent = engine.add(meta, {
    data: memoryData(meta.pieceCount, {
      have: Bitfield.full(meta.pieceCount),
      read: async (i, b, l) => data.subarray(i * pieceLength + b, i * pieceLength + b + l),
    }),
    limits,
  });
  await new Promise<void>((resolve) => torrent.once('checked', () => resolve()));
  return { engine, torrent };
}

async function leechEngine(seeds: Engine[], o: Partial<EngineOptions> = {}, limits?: BandwidthLimits) {
  const sink = new MemorySink(meta);
  const engine = new Engine({ sink, listen: false, tickMs: 100, ...o });
  await engine.start();
  cleanups.push(() => engine.stop());
  const torrent = engine.add(meta, { data: memoryData(meta.pieceCount), peers: seeds.map((s) => ({ host: '127.0.0.1', port: s.listenPort! })), limits });
  const done = new Promise<void>((resolve) => torrent.once('complete', resolve));
  return { sink, engine, torrent, done };
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Bytes the leech received per second over `ms`, measured after the first bytes came (the start-up and the first burst left out). */
async function rateOver(torrent: Torrent, ms: number): Promise<number> {
  while (torrent.snapshot().downloaded === 0) await settle(20);
  await settle(300);
  const b0 = torrent.snapshot().downloaded;
  const t0 = performance.now();
  await settle(ms);
  return (torrent.snapshot().downloaded - b0) / ((performance.now() - t0) / 1000);
}

describe('speed limits', () => {
  it('a global download limit holds the leech under it; lifted at run time, the rest comes faster, byte for byte', async () => {
    const seed = await seedEngine();
    const leech = await leechEngine([seed.engine], { limits: { download: 3 * MiB } });
    expect(leech.engine.limits).toEqual({ download: 3 * MiB, upload: 0 });
    const limited = await rateOver(leech.torrent, 2000);
    expect(limited).toBeGreaterThan(0);
    // The reads are paid for as they come; the slack is the burst (0.3 MiB) and one read over the credit.
    expect(limited).toBeLessThan(3 * MiB * 1.25);
    expect(leech.torrent.isComplete).toBe(false);
    const t0 = performance.now();
    const left = meta.totalLength - leech.torrent.snapshot().downloaded;
    leech.engine.setLimits({});
    await leech.done;
    const lifted = left / ((performance.now() - t0) / 1000);
    expect(lifted).toBeGreaterThan(limited);
    expect(leech.sink.content().equals(data)).toBe(true);
  }, 15_000);

  it("a torrent's upload limit holds the seed under it; a global limit under it narrows it further", async () => {
    const seed = await seedEngine({}, { upload: 3 * MiB });
    expect(seed.torrent.limits).toEqual({ download: 0, upload: 3 * MiB });
    const leech = await leechEngine([seed.engine]);
    const limited = await rateOver(leech.torrent, 1500);
    expect(limited).toBeGreaterThan(0);
    expect(limited).toBeLessThan(3 * MiB * 1.25);
    // The engine's limit applies on top of the torrent's: the lower one holds.
    seed.engine.setLimits({ upload: 1 * MiB });
    await settle(300);
    const narrower = await rateOver(leech.torrent, 1500);
    expect(narrower).toBeLessThan(1 * MiB * 1.35);
    seed.engine.setLimits({});
    seed.torrent.setLimits({});
    await leech.done;
    expect(leech.sink.content().equals(data)).toBe(true);
  }, 15_000);

  it('under both limits at once, from two seeds, every byte arrives intact', async () => {
    const small = data.subarray(0, 4 * MiB);
    const smallMeta = metaFor(small, pieceLength) as Metainfo;
    const seeds: Engine[] = [];
    for (let i = 0; i < 2; i++) {
      const engine = new Engine({ sink: new MemorySink(smallMeta), listen: { host: '127.0.0.1', port: 0 }, tickMs: 100, limits: { upload: 3 * MiB } });
      await engine.start();
      cleanups.push(() => engine.stop());
      const t = engine.add(smallMeta, {
        data: memoryData(smallMeta.pieceCount, { have: Bitfield.full(smallMeta.pieceCount), read: async (p, b, l) => small.subarray(p * pieceLength + b, p * pieceLength + b + l) }),
      });
      await new Promise<void>((resolve) => t.once('checked', () => resolve()));
      seeds.push(engine);
    }
    const sink = new MemorySink(smallMeta);
    const leech = new Engine({ sink, listen: false, tickMs: 100, limits: { download: 4 * MiB } });
    await leech.start();
    cleanups.push(() => leech.stop());
    const t0 = performance.now();
    const torrent = leech.add(smallMeta, { data: memoryData(smallMeta.pieceCount), peers: seeds.map((s) => ({ host: '127.0.0.1', port: s.listenPort! })) });
    await new Promise<void>((resolve) => torrent.once('complete', resolve));
    const seconds = (performance.now() - t0) / 1000;
    expect(sink.content().equals(small)).toBe(true);
    // 4 MiB at 4 MiB/s, less the first burst: not much under a second.
    expect(seconds).toBeGreaterThan(0.7);
    expect(Object.keys(torrent.peerContributions())).toHaveLength(2);
  }, 15_000);

  it('refuses a limit that is not bytes per second, naming it, and changes nothing', async () => {
    const engine = new Engine({ sink: new MemorySink(meta), listen: false, limits: { download: 1000 } });
    expect(() => engine.setLimits({ download: 5, upload: -1 })).toThrow(BandwidthLimitError);
    expect(() => engine.setLimits({ download: 5, upload: -1 })).toThrow(/upload/);
    expect(engine.limits).toEqual({ download: 1000, upload: 0 });
    expect(() => new Engine({ sink: new MemorySink(meta), listen: false, limits: { upload: 0.5 } })).toThrow(BandwidthLimitError);
  });
});
