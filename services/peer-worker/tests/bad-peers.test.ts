import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { Metainfo } from '@seedbox/protocol';
import { Engine } from '../src/engine.js';
import type { CloseReason, SessionTimeouts } from '../src/peer-session.js';
import { UNREQUESTED_ALLOWANCE } from '../src/peer-quality.js';
import type { TorrentOptions } from '../src/torrent.js';
import { MemorySink, memoryData } from './support/memory-data.js';
import { metaFor, startScriptedSeed, type ScriptedSeed, type ScriptedSeedOptions } from './support/scripted-peer.js';

/**
 * Slow and stingy peers (issue 21): a seed that unchokes and then sends a
 * byte a second, one that claims every piece and chokes for ever, one that
 * sends blocks nobody asked for. The download finishes from the honest
 * seeds beside them, and each bad peer is dropped with its own reason,
 * counted in the snapshots. The rules are in peer-quality.ts; their
 * defaults are minutes, so these tests shorten them.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const BLOCK = 16384;

async function leech(data: Buffer, pieceLength: number, o: { timeouts?: Partial<SessionTimeouts>; pipeline?: TorrentOptions['pipeline'] } = {}) {
  const meta = metaFor(data, pieceLength) as Metainfo;
  const sink = new MemorySink(meta);
  const engine = new Engine({ sink, listen: false, tickMs: 100, encryption: 'disable', torrent: { timeouts: o.timeouts, pipeline: o.pipeline } });
  await engine.start();
  cleanups.push(() => engine.stop());
  const torrent = engine.add(meta, { data: memoryData(meta.pieceCount) });
  const closed: CloseReason[] = [];
  torrent.on('closed', (_s, reason) => closed.push(reason));
  // What the snapshots count, summed over the ticks.
  const counted: Partial<Record<CloseReason, number>> = {};
  engine.on('tick', (t) => {
    for (const [reason, n] of Object.entries(t.torrents[0]?.closed ?? {})) counted[reason as CloseReason] = (counted[reason as CloseReason] ?? 0) + n;
  });
  const done = new Promise<void>((resolve) => torrent.once('complete', resolve));
  const closedWith = (reason: CloseReason): Promise<void> =>
    closed.includes(reason) ? Promise.resolve() : new Promise((resolve) => torrent.on('closed', (_s, r) => r === reason && resolve()));
  const add = (...seeds: ScriptedSeed[]): void => torrent.addPeers(seeds.map((s) => ({ host: '127.0.0.1', port: s.port })));
  return { meta, sink, engine, torrent, closed, counted, done, closedWith, add };
}

async function seed(o: ScriptedSeedOptions): Promise<ScriptedSeed> {
  const s = await startScriptedSeed(o);
  cleanups.push(() => s.close());
  return s;
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('bad peers are dropped, by reason', () => {
  it("a peer that sends blocks nobody asked for: they are wasted, not taken, and past the allowance it is dropped as 'unrequested-data'", async () => {
    const data = randomBytes(BLOCK * 64);
    const t = await leech(data, BLOCK * 4);
    const pusher = await seed({ data, pieceLength: BLOCK * 4, infoHash: t.meta.infoHash, fast: true, unrequested: 40 });
    t.add(pusher);
    await t.closedWith('unrequested-data');
    expect(pusher.stats.unrequestedSent).toBe(40);
    // Correct data, and pieces we lack; still none of it was taken, but for
    // blocks that happened to answer a request of ours already on its way.
    expect(t.torrent.snapshot().downloaded).toBeLessThanOrEqual(pusher.stats.requests * BLOCK);
    const honest = await seed({ data, pieceLength: BLOCK * 4, infoHash: t.meta.infoHash, fast: true });
    t.add(honest);
    await t.done;
    await settle(250);
    expect(t.sink.content().equals(data)).toBe(true);
    expect(t.torrent.snapshot().wasted).toBeGreaterThan(UNREQUESTED_ALLOWANCE * BLOCK);
    expect(t.counted['unrequested-data']).toBe(1);
    // Backed off a minute: not dialled again meanwhile.
    expect(pusher.stats.connections).toBe(1);
  });

  it("a seed that claims every piece and chokes for ever is dropped as 'choked-too-long', and not dialled again at once", async () => {
    const data = randomBytes(BLOCK * 16);
    const t = await leech(data, BLOCK * 4, { timeouts: { choked: 600 } });
    const stingy = await seed({ data, pieceLength: BLOCK * 4, infoHash: t.meta.infoHash, fast: true, chokeForever: true });
    t.add(stingy);
    await t.closedWith('choked-too-long');
    expect(stingy.stats.requests).toBe(0);
    // Without the backoff it would be dialled again within a second.
    await settle(1500);
    expect(stingy.stats.connections).toBe(1);
    expect(t.counted['choked-too-long']).toBe(1);
    const honest = await seed({ data, pieceLength: BLOCK * 4, infoHash: t.meta.infoHash, fast: true });
    t.add(honest);
    await t.done;
    expect(t.sink.content().equals(data)).toBe(true);
  });

  it("a seed that unchokes, then sends a byte a second, holds one request once snubbed and is dropped as 'snubbed'", async () => {
    const data = randomBytes(BLOCK * 16);
    const t = await leech(data, BLOCK * 4, { timeouts: { request: 500, snubbed: 800 } });
    const trickler = await seed({ data, pieceLength: BLOCK * 4, infoHash: t.meta.infoHash, fast: true, trickleBytesPerSecond: 1 });
    t.add(trickler);
    await t.closedWith('snubbed');
    // The pipeline's first 4, then one at a time: one more, or two when a tick fell between.
    expect(trickler.stats.requests).toBeGreaterThanOrEqual(5);
    expect(trickler.stats.requests).toBeLessThanOrEqual(7);
    expect(trickler.stats.blocksSent).toBe(0);
    const honest = await seed({ data, pieceLength: BLOCK * 4, infoHash: t.meta.infoHash, fast: true });
    t.add(honest);
    await t.done;
    await settle(250);
    expect(t.sink.content().equals(data)).toBe(true);
    expect(t.counted['snubbed']).toBe(1);
    expect(trickler.stats.connections).toBe(1);
  });

  it('all three beside two honest seeds: the download completes byte-identical from the honest ones, and each bad peer is dropped with its reason', async () => {
    // Honest seeds paced (4 requests each, answered after 150 ms: about
    // 430 KB/s each) so that the download outlasts the shortened rules.
    const data = randomBytes(BLOCK * 256);
    const pieceLength = BLOCK * 4;
    const t = await leech(data, pieceLength, { timeouts: { request: 1000, snubbed: 1000, choked: 1500 }, pipeline: { ceiling: 4 } });
    const o = { data, pieceLength, infoHash: t.meta.infoHash };
    const trickler = await seed({ ...o, fast: true, trickleBytesPerSecond: 1 });
    const stingy = await seed({ ...o, fast: true, chokeForever: true });
    const pusher = await seed({ ...o, unrequested: 40 });
    const honest = [await seed({ ...o, fast: true, delayMs: 150 }), await seed({ ...o, delayMs: 150 })];
    t.add(trickler, stingy, pusher, ...honest);
    await t.done;
    await settle(250);
    expect(t.sink.content().equals(data)).toBe(true);
    expect(t.closed).toEqual(expect.arrayContaining(['unrequested-data', 'choked-too-long', 'snubbed']));
    expect(t.closed.filter((r) => r === 'unrequested-data' || r === 'choked-too-long' || r === 'snubbed')).toHaveLength(3);
    expect(t.counted).toMatchObject({ 'unrequested-data': 1, 'choked-too-long': 1, snubbed: 1 });
    // The trickler held at most a pipeline's worth, then one block at a time, and served none.
    expect(trickler.stats.requests).toBeLessThanOrEqual(7);
    expect(trickler.stats.blocksSent).toBe(0);
    expect(stingy.stats.requests).toBe(0);
    // Every block came from the honest seeds (the pusher's requests answered before it was dropped aside).
    const fromHonest = honest.reduce((n, s) => n + s.stats.blocksSent, 0);
    expect(fromHonest).toBeGreaterThanOrEqual(256 - pusher.stats.requests);
    for (const s of [trickler, stingy, pusher]) expect(s.stats.connections).toBe(1);
  }, 30_000);
});

describe('late answers are not punished', () => {
  it('answers to requests we timed out are taken, however many, and the peer is kept', async () => {
    const data = randomBytes(BLOCK * 32);
    const t = await leech(data, BLOCK * 2, { timeouts: { request: 300 }, pipeline: { initial: 24 } });
    const late = await seed({ data, pieceLength: BLOCK * 2, infoHash: t.meta.infoHash, fast: true, delayMs: 1000 });
    t.add(late);
    await t.done;
    expect(t.sink.content().equals(data)).toBe(true);
    expect(t.closed).toEqual([]);
    // The first 24 timed out before their answers came: more late answers than the allowance.
    expect(late.stats.requests).toBeGreaterThan(32);
  }, 20_000);

  it('endgame copies answered after our CANCEL are wasted, not held against the peer', async () => {
    const data = randomBytes(BLOCK * 64);
    const t = await leech(data, BLOCK * 4, { pipeline: { initial: 24 } });
    const slow = await seed({ data, pieceLength: BLOCK * 4, infoHash: t.meta.infoHash, fast: true, delayMs: 1500, ignoreCancel: true });
    t.add(slow);
    for (let i = 0; i < 100 && slow.stats.requests < 24; i++) await settle(20);
    expect(slow.stats.requests).toBe(24);
    const fast = await seed({ data, pieceLength: BLOCK * 4, infoHash: t.meta.infoHash, fast: true });
    t.add(fast);
    await t.done;
    expect(t.sink.content().equals(data)).toBe(true);
    // Endgame asked the fast seed for the slow one's blocks and cancelled the slow copies; it answers them all the same.
    for (let i = 0; i < 150 && slow.stats.blocksSent < 24; i++) await settle(20);
    await settle(200);
    expect(slow.stats.cancels).toBe(24);
    expect(slow.stats.blocksSent).toBe(24);
    expect(t.torrent.snapshot().wasted).toBe(24 * BLOCK);
    expect(t.closed).toEqual([]);
  }, 20_000);
});
