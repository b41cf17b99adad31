/**
 * Idle torrents cost nothing per tick (issue 20): a torrent with no peers
 * skips its tick (no rate meter, no choker, no peer exchange) and answers
 * the very snapshot it answered before, until something in it changes,
 * with or without a tick. Counted in calls and by identity, not in time.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Bitfield, encodeHandshake, encodeMessage, type Metainfo } from '@seedbox/protocol';
import { Choker } from '../src/choker.js';
import { DownloadScheduler } from '../src/download-scheduler.js';
import { Engine, type EngineTick } from '../src/engine.js';
import type { PeerDiscovery, SwarmMember } from '../src/peer-discovery.js';
import { PeerExchange } from '../src/peer-exchange.js';
import { PeerList } from '../src/peer-list.js';
import { RateMeter } from '../src/rate.js';
import { ReadCache } from '../src/read-cache.js';
import { Torrent, type TorrentState } from '../src/torrent.js';
import { TorrentCounters } from '../src/torrent-counters.js';
import { UploadServer } from '../src/upload-server.js';
import { memoryData } from './support/memory-data.js';
import { metaFor, startScriptedSeed } from './support/scripted-peer.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function engineOf(o: { tickMs: number; listen?: boolean; discovery?: PeerDiscovery }): Promise<Engine> {
  const { discovery } = o;
  const engine = new Engine({
    sink: { writePiece: async () => ({ status: 'written', micros: 0 }) },
    listen: o.listen ? { host: '127.0.0.1', port: 0 } : false,
    tickMs: o.tickMs,
    encryption: 'disable',
    ...(discovery ? { discovery: () => discovery } : {}),
  });
  await engine.start();
  cleanups.push(() => engine.stop());
  return engine;
}

/** A small complete torrent, seeded from memory. */
function addSeed(engine: Engine, i: number, have?: (pieceCount: number) => Bitfield): { torrent: Torrent; meta: Metainfo; data: Buffer } {
  const data = randomBytes(16384 * 2 + i);
  const meta = metaFor(data, 16384, `t${i}.bin`) as Metainfo;
  const read = async (index: number, begin: number, length: number): Promise<Uint8Array> => data.subarray(index * 16384 + begin, index * 16384 + begin + length);
  const torrent = engine.add(meta, { data: memoryData(meta.pieceCount, { have: have?.(meta.pieceCount) ?? Bitfield.full(meta.pieceCount), read }) });
  return { torrent, meta, data };
}

/** A peer that connects to the engine, asks for block 0 of `index` and waits for it; answers how many bytes it got. */
async function fetchBlock(engine: Engine, torrent: Torrent, meta: Metainfo, index: number): Promise<{ peer: ReturnType<typeof connect>; received: () => number }> {
  const peer = connect({ host: '127.0.0.1', port: engine.listenPort! });
  cleanups.push(() => void peer.destroy());
  peer.on('error', () => {});
  let received = 0;
  peer.on('data', (d: Buffer) => (received += d.length));
  await new Promise<void>((resolve) => peer.once('connect', resolve));
  peer.write(encodeHandshake({ infoHash: meta.infoHash, peerId: new Uint8Array(20).fill(0xc3), fast: true, extended: false }));
  for (let i = 0; i < 100 && torrent.sessionCount === 0; i++) await new Promise((r) => setTimeout(r, 10));
  peer.write(encodeMessage({ type: 'interested' }));
  await new Promise((r) => setTimeout(r, 50));
  peer.write(encodeMessage({ type: 'request', index, begin: 0, length: 16384 }));
  // Handshake, bitfield, unchoke and the block.
  for (let i = 0; i < 200 && received < 68 + 16384; i++) await new Promise((r) => setTimeout(r, 10));
  return { peer, received: () => received };
}

/**
 * The per-torrent parts whose Maps and Sets should exist only while they
 * hold something: an empty one costs ~170 bytes, which thousands of idle
 * torrents would hold for nothing.
 */
const PARTS = [DownloadScheduler, UploadServer, ReadCache, Choker, PeerList, PeerExchange];

/**
 * Walks `root`'s fields a few levels down and answers which of PARTS it
 * reached, and the fields of theirs that hold an empty Map or Set, as
 * `Class.field`.
 */
function emptyCollections(root: object, depth = 3): { reached: string[]; empty: string[]; cachedBytes: number } {
  const reached = new Set<string>();
  const empty: string[] = [];
  let cachedBytes = 0;
  const seen = new Set<object>();
  const visit = (o: object, d: number): void => {
    if (d > depth || seen.has(o) || ArrayBuffer.isView(o) || o instanceof Map || o instanceof Set) return;
    seen.add(o);
    const part = PARTS.find((c) => o instanceof c);
    if (part) reached.add(part.name);
    if (o instanceof ReadCache) cachedBytes += o.size;
    for (const [field, v] of Object.entries(o)) {
      if (typeof v !== 'object' || v === null) continue;
      if (part && (v instanceof Map || v instanceof Set) && v.size === 0) empty.push(`${part.name}.${field}`);
      visit(v, d + 1);
    }
  };
  visit(root, 0);
  return { reached: [...reached].sort(), empty: empty.sort(), cachedBytes };
}

function reachState(torrent: Torrent, state: TorrentState): Promise<void> {
  if (torrent.state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const on = (s: TorrentState): void => {
      if (s !== state) return;
      torrent.off('state', on);
      resolve();
    };
    torrent.on('state', on);
  });
}

function nextTicks(engine: Engine, n: number): Promise<EngineTick[]> {
  const ticks: EngineTick[] = [];
  return new Promise((resolve) => {
    const on = (t: EngineTick): void => {
      ticks.push(t);
      if (ticks.length < n) return;
      engine.off('tick', on);
      resolve(ticks);
    };
    engine.on('tick', on);
  });
}

describe('idle torrents', () => {
  it('1,000 seeds with no peers: no timer of their own, no meter, choker or peer exchange runs, and every tick carries the same snapshots', async () => {
    const engine = await engineOf({ tickMs: 10 });
    const torrents = Array.from({ length: 1000 }, (_, i) => addSeed(engine, i).torrent);
    await Promise.all(torrents.map((t) => reachState(t, 'seeding')));
    // The ticks right after the check close the first windows.
    await nextTicks(engine, 2);
    const meters = vi.spyOn(RateMeter.prototype, 'tick');
    const choker = vi.spyOn(Choker.prototype, 'decide');
    const pex = vi.spyOn(PeerExchange.prototype, 'tick');
    const ticks = await nextTicks(engine, 5);
    expect(meters).not.toHaveBeenCalled();
    expect(choker).not.toHaveBeenCalled();
    expect(pex).not.toHaveBeenCalled();
    for (const t of ticks) {
      expect(t.torrents).toHaveLength(1000);
      t.torrents.forEach((s, i) => expect(s).toBe(ticks[0]!.torrents[i]));
    }
    expect(ticks[0]!.torrents[7]).toMatchObject({ state: 'seeding', peers: 0, uploadRate: 0, complete: true, done: true, left: 0 });
    // The engine's clock and a few of the test runner's: none per torrent.
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThan(20);
  });

  it('a new snapshot when what it shows changes without a tick or a peer: pause, files, adopted pieces, resume', async () => {
    const engine = await engineOf({ tickMs: 60_000 });
    const { torrent, meta } = addSeed(engine, 1, (n) => {
      const partial = new Bitfield(n);
      partial.set(0);
      return partial;
    });
    await reachState(torrent, 'downloading');
    torrent.pause();
    const paused = torrent.snapshot();
    expect(paused.state).toBe('paused');
    torrent.tick();
    torrent.tick();
    expect(torrent.snapshot()).toBe(paused);

    torrent.setFilePriorities(['skip']);
    const skipped = torrent.snapshot();
    expect(skipped).not.toBe(paused);
    expect(skipped.wanted).toBe(0);
    torrent.setFilePriorities(['normal']);
    expect(torrent.snapshot().wanted).toBe(meta.totalLength);

    // Another worker verified the rest (the fleet): ours to serve, paused or not.
    torrent.adoptPieces(Bitfield.full(meta.pieceCount));
    const adopted = torrent.snapshot();
    expect(adopted).toMatchObject({ left: 0, complete: true, piecesVerified: meta.pieceCount - 1 });
    torrent.resume();
    expect(torrent.snapshot()).toMatchObject({ state: 'seeding' });
    const seeding = torrent.snapshot();
    torrent.tick();
    expect(torrent.snapshot()).toBe(seeding);
  });

  it('wakes for a peer: it serves and its rate shows, then sleeps again once the peer is gone', async () => {
    const engine = await engineOf({ tickMs: 60_000, listen: true });
    const { torrent, meta } = addSeed(engine, 2);
    await reachState(torrent, 'seeding');
    torrent.tick();
    const idle = torrent.snapshot();
    const meters = vi.spyOn(RateMeter.prototype, 'tick');
    torrent.tick();
    expect(meters).not.toHaveBeenCalled();

    const { peer } = await fetchBlock(engine, torrent, meta, 1);
    torrent.tick();
    const busy = torrent.snapshot();
    expect(busy).not.toBe(idle);
    expect(busy).toMatchObject({ peers: 1, uploaded: 16384 });
    expect(busy.uploadRate).toBeGreaterThan(0);
    expect(torrent.snapshot()).not.toBe(busy); // a peer's counts change without a tick: never reused

    peer.destroy();
    for (let i = 0; i < 100 && torrent.sessionCount > 0; i++) await new Promise((r) => setTimeout(r, 10));
    torrent.tick(); // the close and the last bytes' window
    torrent.tick(); // back to zero
    const after = torrent.snapshot();
    expect(after).toMatchObject({ peers: 0, uploadRate: 0, closed: {}, uploaded: 16384 });
    meters.mockClear();
    torrent.tick();
    expect(meters).not.toHaveBeenCalled();
    expect(torrent.snapshot()).toBe(after);
  });

  it('downloads from a peer and serves one, then, both gone, holds no empty Map or Set in its parts and no cached span', async () => {
    const engine = await engineOf({ tickMs: 60_000, listen: true });
    const { torrent, meta, data } = addSeed(engine, 3, (n) => {
      const partial = new Bitfield(n);
      partial.set(0);
      return partial;
    });
    await reachState(torrent, 'downloading');
    const seed = await startScriptedSeed({ data, pieceLength: 16384, infoHash: meta.infoHash });
    cleanups.push(() => seed.close());
    torrent.addPeers([{ host: '127.0.0.1', port: seed.port }]);
    await reachState(torrent, 'seeding');
    await seed.close();
    await until(() => torrent.sessionCount === 0, 'the seed to be gone');

    const { peer, received } = await fetchBlock(engine, torrent, meta, 1);
    expect(received()).toBeGreaterThanOrEqual(68 + 16384);
    peer.destroy();
    await until(() => torrent.sessionCount === 0, 'the peer to be gone');
    torrent.tick(); // the close: the choker decides again, with nobody
    torrent.tick();

    const { reached, empty, cachedBytes } = emptyCollections(torrent);
    expect(reached).toEqual(PARTS.map((c) => c.name).sort());
    // The span read for the peer went with it: nobody is left to ask for it.
    expect(cachedBytes).toBe(0);
    // The one left, as the torrent's figures hold that very Set (see peer-list.ts).
    expect(empty).toEqual(['PeerList.liveSet']);
  });
});

async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; !ok(); i++) {
    if (i > 500) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The next tick that says something changed. */
function nextChange(engine: Engine): Promise<EngineTick> {
  return new Promise((resolve) => {
    const on = (t: EngineTick): void => {
      if (t.changed.length === 0 && t.gone.length === 0) return;
      engine.off('tick', on);
      resolve(t);
    };
    engine.on('tick', on);
  });
}

describe("the engine's tick: what changed, not every torrent", () => {
  it('1,000 dormant seeds: a tick visits none of them (no tick, no snapshot), says nothing changed, and hands the same full list', async () => {
    const engine = await engineOf({ tickMs: 10 });
    const torrents = Array.from({ length: 1000 }, (_, i) => addSeed(engine, i).torrent);
    await Promise.all(torrents.map((t) => reachState(t, 'seeding')));
    await until(() => engine.awakeCount === 0, 'every seed to go dormant');
    const ticked = vi.spyOn(Torrent.prototype, 'tick');
    const snapshots = vi.spyOn(Torrent.prototype, 'snapshot');
    const ticks = await nextTicks(engine, 5);
    expect(ticked).not.toHaveBeenCalled();
    expect(snapshots).not.toHaveBeenCalled();
    for (const t of ticks) {
      expect(t.changed).toEqual([]);
      expect(t.gone).toEqual([]);
      expect(t.torrents).toBe(ticks[0]!.torrents);
      expect(t.sums).toEqual({ paused: 0, complete: 1000, incomplete: 0, downloadRate: 0, uploadRate: 0, peers: 0 });
    }
    expect(ticks[0]!.torrents).toHaveLength(1000);
    expect(new Set(ticks[0]!.torrents.map((s) => s.infoHash))).toEqual(new Set(torrents.map((t) => t.infoHashHex)));
  });

  it('a dormant torrent is ticked and told again when something changes it (pause, files, adopted pieces, resume), and a removed one is gone; older lists stay as they were', async () => {
    const engine = await engineOf({ tickMs: 10 });
    const partial = (n: number): Bitfield => {
      const b = new Bitfield(n);
      b.set(0);
      return b;
    };
    const [a, b, c] = [addSeed(engine, 1), addSeed(engine, 2), addSeed(engine, 3, partial)];
    await Promise.all([reachState(a.torrent, 'seeding'), reachState(b.torrent, 'seeding'), reachState(c.torrent, 'downloading')]);
    c.torrent.pause();
    await until(() => engine.awakeCount === 0, 'every torrent to go dormant');
    const [quiet] = await nextTicks(engine, 1);
    expect(quiet!.sums).toMatchObject({ paused: 1, complete: 2, incomplete: 0 });
    const hexes = (t: EngineTick): string[] => t.changed.map((s) => s.infoHash);

    a.torrent.pause();
    const paused = await nextChange(engine);
    expect(hexes(paused)).toEqual([a.meta.infoHashHex]);
    expect(paused.changed[0]).toMatchObject({ state: 'paused' });
    expect(paused.sums).toMatchObject({ paused: 2, complete: 1 });
    // The list of the tick before is not changed under its readers.
    expect(quiet!.torrents.find((s) => s.infoHash === a.meta.infoHashHex)).toMatchObject({ state: 'seeding' });
    expect(paused.torrents.find((s) => s.infoHash === a.meta.infoHashHex)).toBe(paused.changed[0]);

    b.torrent.setFilePriorities(['skip']);
    const skipped = await nextChange(engine);
    expect(hexes(skipped)).toEqual([b.meta.infoHashHex]);
    expect(skipped.changed[0]).toMatchObject({ wanted: 0, state: 'seeding' });

    // Paused, it still takes the pieces another worker verified.
    c.torrent.adoptPieces(Bitfield.full(c.meta.pieceCount));
    const adopted = await nextChange(engine);
    expect(hexes(adopted)).toEqual([c.meta.infoHashHex]);
    expect(adopted.changed[0]).toMatchObject({ complete: true, state: 'paused' });
    expect(adopted.sums).toMatchObject({ paused: 2, complete: 1, incomplete: 0 });

    a.torrent.resume();
    const resumed = await nextChange(engine);
    expect(resumed.changed[0]).toMatchObject({ infoHash: a.meta.infoHashHex, state: 'seeding' });

    await engine.remove(b.meta.infoHashHex);
    const removed = await nextChange(engine);
    expect(removed.gone).toEqual([b.meta.infoHashHex]);
    expect(removed.torrents.map((s) => s.infoHash).sort()).toEqual([a.meta.infoHashHex, c.meta.infoHashHex].sort());
    expect(removed.sums).toMatchObject({ paused: 1, complete: 1 });
    expect(resumed.torrents).toHaveLength(3);
    await until(() => engine.awakeCount === 0, 'every torrent to go dormant again');
  });
});

describe("discovery's view of a dormant torrent (SwarmMember.quiet)", () => {
  it('a dormant seed is quiet with one stamp until it wakes; awake, it has none; quiet again after a change, a new one', async () => {
    const members: SwarmMember[] = [];
    const discovery: PeerDiscovery = { canFind: () => true, join: (_s, m) => (members.push(m), { requestPeers: () => {}, leave: async () => {} }) };
    const engine = await engineOf({ tickMs: 10, discovery });
    const { torrent } = addSeed(engine, 1);
    await reachState(torrent, 'seeding');
    await until(() => members.length === 1 && engine.awakeCount === 0, 'the seed to join and go dormant');
    const member = members[0]!;
    const stamp = member.quiet?.();
    expect(stamp).toBeDefined();
    await nextTicks(engine, 3);
    expect(member.quiet?.()).toBe(stamp);

    torrent.setFilePriorities(['skip']);
    expect(member.quiet?.()).toBeUndefined();
    await until(() => engine.awakeCount === 0, 'dormant again');
    const next = member.quiet?.();
    expect(next).toBeDefined();
    expect(next).not.toBe(stamp);
  });
});

describe('TorrentCounters', () => {
  /** The two sides as the counters read them, with meters on a clock the test moves. */
  function sides(clock: { ms: number }): { download: DownloadScheduler; upload: UploadServer } {
    const meter = (): RateMeter => new RateMeter(() => clock.ms);
    return {
      download: { meter: meter(), wasted: 0, verified: 0, failed: 0 } as unknown as DownloadScheduler,
      upload: { meter: meter(), takeRefused: () => ({}) } as unknown as UploadServer,
    };
  }

  it('after skipped ticks, the first rate is over the time since a session opened, not since the last tick that ran', () => {
    const clock = { ms: 0 };
    const { download, upload } = sides(clock);
    const c = new TorrentCounters();
    c.attach(download, upload);
    c.tick();
    expect(c.skipTick()).toBe(true);
    clock.ms = 100_000; // an hour of skipped ticks, in effect
    c.sessionOpened();
    clock.ms += 500;
    upload.meter.add(1000);
    expect(c.skipTick()).toBe(false);
    c.tick();
    expect(c.last.uploadRate).toBe(2000);
  });

  it('skips a tick only once the last one closed at zero, with nothing counted since', () => {
    const clock = { ms: 0 };
    const { download, upload } = sides(clock);
    const c = new TorrentCounters();
    c.attach(download, upload);
    download.meter.add(10);
    expect(c.skipTick()).toBe(false);
    clock.ms = 1000;
    c.tick();
    expect(c.last.downloadRate).toBe(10);
    // The rate of 10 must be closed back to 0 by a tick that runs.
    expect(c.skipTick()).toBe(false);
    clock.ms = 2000;
    c.tick();
    expect(c.last.downloadRate).toBe(0);
    expect(c.skipTick()).toBe(true);
    const last = c.last;
    expect(c.skipTick()).toBe(true);
    expect(c.last).toBe(last);
  });

  it('keeps the totals of sides a recheck replaced', () => {
    const clock = { ms: 0 };
    const first = sides(clock);
    const c = new TorrentCounters();
    c.attach(first.download, first.upload);
    first.download.meter.add(100);
    first.upload.meter.add(7);
    const second = sides(clock);
    c.attach(second.download, second.upload);
    second.download.meter.add(1);
    expect(c.totals()).toMatchObject({ downloaded: 101, uploaded: 7 });
  });
});
