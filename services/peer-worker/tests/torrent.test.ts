import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Bitfield, encodeHandshake, encodeMessage, type Metainfo } from '@seedbox/protocol';
import { Engine } from '../src/engine.js';
import type { CloseReason } from '../src/peer-session.js';
import type { Torrent, TorrentState } from '../src/torrent.js';
import { MemorySink, memoryData } from './support/memory-data.js';
import { metaFor, startScriptedSeed, type ScriptedSeed } from './support/scripted-peer.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(data: Buffer, pieceLength: number, torrentOptions = {}, listen: false | { host: string; port: number } = false) {
  const meta = metaFor(data, pieceLength) as Metainfo;
  const sink = new MemorySink(meta);
  const engine = new Engine({ sink, listen, tickMs: 100, torrent: torrentOptions, encryption: 'disable' });
  await engine.start();
  cleanups.push(() => engine.stop());
  const torrent = engine.add(meta, { data: memoryData(meta.pieceCount) });
  const closed: CloseReason[] = [];
  torrent.on('closed', (_s, reason) => closed.push(reason));
  const done = new Promise<void>((resolve) => torrent.once('complete', resolve));
  return { meta, sink, engine, torrent, closed, done };
}

async function seed(o: Parameters<typeof startScriptedSeed>[0]): Promise<ScriptedSeed> {
  const s = await startScriptedSeed(o);
  cleanups.push(() => s.close());
  return s;
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

function closedWith(torrent: Torrent, reason: CloseReason): Promise<void> {
  return new Promise((resolve) => torrent.on('closed', (_s, r) => r === reason && resolve()));
}

/** A raw peer that dials us and handshakes for `infoHash` as `peerId`; it answers nothing after. */
async function rawPeer(port: number, infoHash: Uint8Array, fill: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  cleanups.push(() => void socket.destroy());
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(encodeHandshake({ infoHash, peerId: new Uint8Array(20).fill(fill), fast: true, extended: false }));
  return socket;
}

describe('Torrent download', () => {
  it('downloads every piece from one seed, including a one-byte last piece', async () => {
    const data = randomBytes(65536 * 5 + 1);
    const t = await setup(data, 65536);
    const s = await seed({ data, pieceLength: 65536, infoHash: t.meta.infoHash, fast: true });
    t.torrent.addPeers([{ host: '127.0.0.1', port: s.port }]);
    await t.done;
    expect(t.sink.content().equals(data)).toBe(true);
    expect(t.torrent.state).toBe('seeding');
  });

  it('drops a peer that alone sent bad data twice, and finishes from an honest one', async () => {
    const data = randomBytes(32768 * 8);
    const t = await setup(data, 32768, { maxPeers: 1 });
    const liar = await seed({ data, pieceLength: 32768, infoHash: t.meta.infoHash, corruptPieces: new Set([0, 1, 2, 3, 4, 5, 6, 7]) });
    t.torrent.addPeers([{ host: '127.0.0.1', port: liar.port }]);
    await closedWith(t.torrent, 'bad-data');
    const honest = await seed({ data, pieceLength: 32768, infoHash: t.meta.infoHash });
    t.torrent.addPeers([{ host: '127.0.0.1', port: honest.port }]);
    await t.done;
    expect(t.closed).toContain('bad-data');
    expect(t.sink.content().equals(data)).toBe(true);
    // Banned: never dialled again.
    expect(liar.stats.connections).toBe(1);
  });

  it('does not wait for a slow peer at the end (endgame), and cancels the copies', async () => {
    const data = randomBytes(16384 * 64);
    const t = await setup(data, 65536);
    const slow = await seed({ data, pieceLength: 65536, infoHash: t.meta.infoHash, delayMs: 30_000 });
    t.torrent.addPeers([{ host: '127.0.0.1', port: slow.port }]);
    // Let the slow seed take some requests first.
    for (let i = 0; i < 100 && slow.stats.requests === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(slow.stats.requests).toBeGreaterThan(0);
    const fast = await seed({ data, pieceLength: 65536, infoHash: t.meta.infoHash });
    const started = Date.now();
    t.torrent.addPeers([{ host: '127.0.0.1', port: fast.port }]);
    await t.done;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(t.sink.content().equals(data)).toBe(true);
    // The CANCELs for the slow peer's copies are on their way.
    for (let i = 0; i < 40 && slow.stats.cancels === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(slow.stats.cancels).toBeGreaterThan(0);
  });

  it('refuses a connection to itself', async () => {
    const data = randomBytes(16384);
    const t = await setup(data, 16384, {}, { host: '127.0.0.1', port: 0 });
    const reasons: CloseReason[] = [];
    const closedTwice = new Promise<void>((resolve) =>
      t.torrent.on('closed', (_s, r) => {
        reasons.push(r);
        if (reasons.length === 2) resolve();
      }),
    );
    t.torrent.addPeers([{ host: '127.0.0.1', port: t.engine.listenPort! }]);
    await closedTwice;
    expect(reasons).toContain('self-connection');
  });

  it('an incoming peer refused over --max-peers is forgotten: the slot it never took is free for the next peer', async () => {
    // The bug this pins: a refused incoming session was closed inside its
    // own constructor and then still added to the live set, so it held a
    // slot and kept hasPeerProspects() true for ever.
    const data = randomBytes(16384 * 8);
    const t = await setup(data, 16384, { maxPeers: 1 }, { host: '127.0.0.1', port: 0 });
    await reachState(t.torrent, 'downloading');
    const port = t.engine.listenPort!;
    const first = await rawPeer(port, t.meta.infoHash, 0xa1);
    for (let i = 0; i < 100 && t.torrent.sessionCount === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(t.torrent.sessionCount).toBe(1);
    const refused = closedWith(t.torrent, 'too-many-peers');
    await rawPeer(port, t.meta.infoHash, 0xa2);
    await rawPeer(port, t.meta.infoHash, 0xa3);
    await refused;
    expect(t.torrent.sessionCount).toBe(1);
    const left = closedWith(t.torrent, 'remote-closed');
    first.destroy();
    await left;
    for (let i = 0; i < 50 && t.torrent.sessionCount > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(t.torrent.sessionCount).toBe(0);
    // Nobody connected and nobody to dial: a download out of peers must know it.
    expect(t.torrent.hasPeerProspects()).toBe(false);
    const s = await seed({ data, pieceLength: 16384, infoHash: t.meta.infoHash, fast: true });
    t.torrent.addPeers([{ host: '127.0.0.1', port: s.port }]);
    await t.done;
    expect(s.stats.connections).toBe(1);
    expect(t.sink.content().equals(data)).toBe(true);
  });
});

describe('Torrent lifecycle', () => {
  it('checks, downloads, pauses (sessions closed, data saved), resumes where it was, and seeds', async () => {
    const data = randomBytes(16384 * 32);
    const meta = metaFor(data, 16384) as Metainfo;
    const sink = new MemorySink(meta);
    const engine = new Engine({ sink, listen: false, tickMs: 100 });
    await engine.start();
    cleanups.push(() => engine.stop());
    const dataStore = memoryData(meta.pieceCount);
    const torrent = engine.add(meta, { data: dataStore });
    const states: TorrentState[] = [];
    torrent.on('state', (s) => states.push(s));
    expect(torrent.state).toBe('checking');
    const slow = await seed({ data, pieceLength: 16384, infoHash: meta.infoHash, fast: true, delayMs: 20 });
    torrent.addPeers([{ host: '127.0.0.1', port: slow.port }]);
    await reachState(torrent, 'downloading');
    for (let i = 0; i < 200 && torrent.snapshot().piecesVerified < 3; i++) await new Promise((r) => setTimeout(r, 20));
    torrent.pause();
    expect(torrent.state).toBe('paused');
    expect(torrent.sessionCount).toBe(0);
    const verifiedAtPause = torrent.snapshot().piecesVerified;
    expect(verifiedAtPause).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 300));
    // Paused: nothing is dialled, and the bits saved are those verified.
    expect(torrent.sessionCount).toBe(0);
    expect(dataStore.saved.at(-1)!.count).toBeGreaterThanOrEqual(verifiedAtPause);
    const done = new Promise<void>((resolve) => torrent.once('complete', resolve));
    torrent.resume();
    await done;
    expect(sink.content().equals(data)).toBe(true);
    expect(states).toEqual(['downloading', 'paused', 'downloading', 'seeding']);
    await engine.remove(meta.infoHashHex);
    expect(torrent.state).toBe('stopped');
    expect(dataStore.saved.at(-1)!.isComplete).toBe(true);
  });

  it('saves its data when what it has changed: once on completing, not again on stopping or on a pause with nothing new', async () => {
    const data = randomBytes(16384 * 8);
    const meta = metaFor(data, 16384) as Metainfo;
    const engine = new Engine({ sink: new MemorySink(meta), listen: false, tickMs: 100 });
    await engine.start();
    cleanups.push(() => engine.stop());
    const dataStore = memoryData(meta.pieceCount);
    const torrent = engine.add(meta, { data: dataStore });
    const s = await seed({ data, pieceLength: 16384, infoHash: meta.infoHash, fast: true });
    const done = new Promise<void>((resolve) => torrent.once('complete', resolve));
    torrent.addPeers([{ host: '127.0.0.1', port: s.port }]);
    await done;
    await new Promise((r) => setTimeout(r, 50));
    expect(dataStore.saved.map((b) => b.isComplete)).toEqual([true]);
    torrent.pause();
    torrent.resume();
    torrent.pause();
    await engine.remove(meta.infoHashHex);
    expect(torrent.state).toBe('stopped');
    expect(dataStore.saved.length).toBe(1);
  });

  it('added paused, it checks and waits; a failed check is the error state with its reason', async () => {
    const data = randomBytes(16384 * 2);
    const meta = metaFor(data, 16384) as Metainfo;
    const engine = new Engine({ sink: new MemorySink(meta), listen: false, tickMs: 100 });
    await engine.start();
    cleanups.push(() => engine.stop());
    const paused = engine.add(meta, { data: memoryData(meta.pieceCount), paused: true });
    await reachState(paused, 'paused');
    expect(paused.checked?.have.count).toBe(0);
    await engine.remove(meta.infoHashHex);
    const broken = engine.add(meta, { data: { check: () => Promise.reject(new Error('EACCES: permission denied')) } });
    broken.on('error', () => {});
    await reachState(broken, 'error');
    expect(broken.snapshot().error).toMatch(/checking the data failed: EACCES/);
  });

  it('counts requests it refuses by reason, those the session refused (a choked peer) included', async () => {
    const data = randomBytes(16384 * 4);
    const meta = metaFor(data, 16384) as Metainfo;
    const engine = new Engine({ sink: new MemorySink(meta), listen: { host: '127.0.0.1', port: 0 }, tickMs: 60_000 });
    await engine.start();
    cleanups.push(() => engine.stop());
    const torrent = engine.add(meta, { data: memoryData(meta.pieceCount, { have: Bitfield.full(meta.pieceCount), read: async () => new Uint8Array(16384) }) });
    await reachState(torrent, 'seeding');
    const peer = await rawPeer(engine.listenPort!, meta.infoHash, 0xb1);
    for (let i = 0; i < 100 && torrent.sessionCount === 0; i++) await new Promise((r) => setTimeout(r, 20));
    // Not interested, so never unchoked: both requests break a rule.
    peer.write(encodeMessage({ type: 'request', index: 0, begin: 0, length: 16384 }));
    peer.write(encodeMessage({ type: 'request', index: 1, begin: 0, length: 16384 }));
    await new Promise((r) => setTimeout(r, 200));
    torrent.tick();
    expect(torrent.snapshot().refused).toEqual({ choked: 2 });
    torrent.tick();
    expect(torrent.snapshot().refused).toEqual({});
  });

  it('snapshot() reads figures without moving the clock; tick() closes the window', async () => {
    const data = randomBytes(16384 * 16);
    const meta = metaFor(data, 16384) as Metainfo;
    const engine = new Engine({ sink: new MemorySink(meta), listen: false, tickMs: 60_000, encryption: 'disable' });
    await engine.start();
    cleanups.push(() => engine.stop());
    const torrent = engine.add(meta, { data: memoryData(meta.pieceCount) });
    const s = await seed({ data, pieceLength: 16384, infoHash: meta.infoHash, fast: true });
    const done = new Promise<void>((resolve) => torrent.once('complete', resolve));
    torrent.addPeers([{ host: '127.0.0.1', port: s.port }]);
    await done;
    const a = torrent.snapshot();
    const b = torrent.snapshot();
    expect(b).toEqual(a);
    // No tick yet: the window that holds the download is still open.
    expect(a.downloadRate).toBe(0);
    expect(a.downloaded).toBe(data.length);
    torrent.tick();
    expect(torrent.snapshot().downloadRate).toBeGreaterThan(0);
  });
});
