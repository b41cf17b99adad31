import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { Metainfo } from '@seedbox/protocol';
import { Registry } from 'prom-client';
import { createPeerWorkerMetrics } from '@seedbox/runtime';
import { Engine, type EngineTick } from '../src/engine.js';
import type { EngineOptions } from '../src/engine-options.js';
import { recordTick } from '../src/fleet/figures.js';
import { REFUSED_CONNECTIONS } from '../src/peer-listener.js';
import { MemorySink, memoryData } from './support/memory-data.js';
import { until } from './support/runner-harness.js';
import { metaFor } from './support/scripted-peer.js';
import { startSeedEngine } from './support/seed-engine.js';

/**
 * The listener's limits against what a public port gets: a flood of
 * connections that never handshake, too many from one address, more than
 * the process takes. A real download (another engine) must still get
 * through.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const data = randomBytes(16384 * 64);
const meta = metaFor(data, 16384) as Metainfo;

const seedEngine = (o: Partial<EngineOptions>): Promise<Engine> => startSeedEngine(meta, data, o, cleanups);

/** A socket that connects and then says nothing (a half-open flood's unit). */
function silent(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, localAddress });
    s.on('error', () => {});
    cleanups.push(() => void s.destroy());
    s.once('connect', () => resolve(s));
  });
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('connection limits', () => {
  it('holds at most maxHandshaking silent connections, closes each at the deadline or for a newer one, and a real leech still downloads through the flood', async () => {
    const seed = await seedEngine({ incoming: { maxHandshaking: 20, maxPerIp: 10_000, handshakeTimeoutMs: 400 } });
    const port = seed.listenPort!;
    await Promise.all(Array.from({ length: 300 }, () => silent(port)));
    // Each of the 280 beyond the 20 made room for a newer one, or (on a busy machine, connecting 300 takes longer than the deadline) was closed at it.
    // Connected on our side is not yet accepted on the seed's: under load its accepts lag behind.
    const turnedAway = (): number => (seed.refusedConnections['too-many-handshaking'] ?? 0) + (seed.refusedConnections['handshake-timeout'] ?? 0);
    await until(() => turnedAway() >= 280, 'the seed to turn away 280 of the 300 silent connections');
    expect(seed.connectionCount()).toBeLessThanOrEqual(20);
    const early = seed.refusedConnections;
    expect(early['too-many-handshaking']).toBeGreaterThan(0);
    // The flood goes on while a leech downloads.
    let flooding = true;
    void (async () => {
      while (flooding) {
        await Promise.all(Array.from({ length: 50 }, () => silent(port).then((s) => s.destroy())));
        await settle(20);
      }
    })();
    const sink = new MemorySink(meta);
    const leech = new Engine({ sink, listen: false, tickMs: 100 });
    await leech.start();
    cleanups.push(() => leech.stop());
    const torrent = leech.add(meta, { data: memoryData(meta.pieceCount), peers: [{ host: '127.0.0.1', port }] });
    await new Promise<void>((resolve) => torrent.once('complete', resolve));
    flooding = false;
    expect(sink.content().equals(data)).toBe(true);
    await settle(600);
    // Every silent connection is gone: made room for a newer one, or closed at its deadline.
    const r = seed.refusedConnections;
    expect((r['too-many-handshaking'] ?? 0) + (r['handshake-timeout'] ?? 0)).toBeGreaterThanOrEqual(300);
    expect(seed.connectionCount()).toBeLessThanOrEqual(1);
  }, 30_000);

  it('a connection closed before its handshake frees its slot at once, not at the deadline', async () => {
    const seed = await seedEngine({ incoming: { maxHandshaking: 5, maxPerIp: 100, handshakeTimeoutMs: 60_000 } });
    const five = await Promise.all(Array.from({ length: 5 }, () => silent(seed.listenPort!)));
    await settle(100);
    expect(seed.connectionCount()).toBe(5);
    for (const s of five) s.destroy();
    await settle(100);
    expect(seed.connectionCount()).toBe(0);
    await Promise.all(Array.from({ length: 5 }, () => silent(seed.listenPort!)));
    await settle(100);
    expect(seed.refusedConnections['too-many-handshaking'] ?? 0).toBe(0);
  });

  it('gives a newcomer the slot of the connection that has waited longest when every slot is taken', async () => {
    // A long deadline: without the eviction the leech would wait a minute for a slot.
    const seed = await seedEngine({ incoming: { maxHandshaking: 5, maxPerIp: 100, handshakeTimeoutMs: 60_000 } });
    const port = seed.listenPort!;
    const five: Socket[] = [];
    for (let i = 0; i < 5; i++) five.push(await silent(port));
    await settle(100);
    const firstClosed = new Promise<void>((resolve) => five[0]!.once('close', () => resolve()));
    const sink = new MemorySink(meta);
    const leech = new Engine({ sink, listen: false, tickMs: 100 });
    await leech.start();
    cleanups.push(() => leech.stop());
    const torrent = leech.add(meta, { data: memoryData(meta.pieceCount), peers: [{ host: '127.0.0.1', port }] });
    await new Promise<void>((resolve) => torrent.once('complete', resolve));
    expect(sink.content().equals(data)).toBe(true);
    // The oldest silent connection made room, and only it.
    await firstClosed;
    expect(five.slice(1).every((s) => !s.destroyed && s.readyState === 'open')).toBe(true);
    expect(seed.refusedConnections['too-many-handshaking']).toBe(1);
  });

  it('takes at most maxPerIp connections from one address, and others from another', async () => {
    const seed = await seedEngine({ incoming: { maxPerIp: 3, handshakeTimeoutMs: 5000 } });
    const port = seed.listenPort!;
    for (let i = 0; i < 5; i++) await silent(port, '127.0.0.2');
    await settle(100);
    expect(seed.refusedConnections['too-many-from-address']).toBe(2);
    for (let i = 0; i < 3; i++) await silent(port, '127.0.0.3');
    await settle(100);
    expect(seed.refusedConnections['too-many-from-address']).toBe(2);
    expect(seed.connectionCount()).toBe(6);
  });

  it('dials no more than the process-wide cap leaves room for, across torrents', async () => {
    // Peers that accept and then say nothing: each dial holds a connection.
    const { createServer } = await import('node:net');
    const accepted: Socket[] = [];
    const servers = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const srv = createServer((c) => accepted.push(c.on('error', () => {})));
        await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
        cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
        return (srv.address() as { port: number }).port;
      }),
    );
    cleanups.push(() => accepted.forEach((c) => c.destroy()));
    const leech = new Engine({ sink: new MemorySink(meta), listen: false, tickMs: 100, maxConnections: 3 });
    await leech.start();
    cleanups.push(() => leech.stop());
    const other = metaFor(randomBytes(16384 * 4), 16384, 'other.bin') as Metainfo;
    const a = leech.add(meta, { data: memoryData(meta.pieceCount), peers: servers.slice(0, 3).map((port) => ({ host: '127.0.0.1', port })) });
    await new Promise<void>((r) => a.once('checked', () => r()));
    await settle(200);
    const b = leech.add(other, { data: memoryData(other.pieceCount), peers: servers.slice(3).map((port) => ({ host: '127.0.0.1', port })) });
    await new Promise<void>((r) => b.once('checked', () => r()));
    await settle(300);
    expect(leech.connectionCount()).toBe(3);
    expect(accepted.length).toBe(3);
    expect(b.sessionCount).toBe(0);
  });

  it('refuses connections past the process-wide cap', async () => {
    const seed = await seedEngine({ maxConnections: 4, incoming: { maxPerIp: 100 } });
    for (let i = 0; i < 7; i++) await silent(seed.listenPort!);
    await settle(100);
    expect(seed.connectionCount()).toBe(4);
    expect(seed.refusedConnections['over-connection-limit']).toBe(3);
  });

  it('puts its figures in every tick, and recordTick turns them into the metrics', async () => {
    const seed = await seedEngine({ incoming: { maxHandshaking: 2, maxPerIp: 100, handshakeTimeoutMs: 60_000 } });
    expect(seed.connectionLimits).toEqual({ maxConnections: 500, maxHandshaking: 2, maxPerIp: 100, handshakeTimeoutMs: 60_000 });
    for (let i = 0; i < 5; i++) await silent(seed.listenPort!);
    await settle(100);
    const tick = await new Promise<EngineTick>((resolve) => seed.once('tick', resolve));
    expect(tick.connections.open).toBe(2);
    expect(tick.connections.handshaking).toBe(2);
    // Every reason is there, so a metric or a script sees 0 rather than nothing.
    expect(Object.keys(tick.connections.refused).sort()).toEqual([...REFUSED_CONNECTIONS].sort());
    expect(tick.connections.refused['too-many-handshaking']).toBe(3);
    const registry = new Registry();
    recordTick(createPeerWorkerMetrics(registry), tick, 0);
    const text = await registry.metrics();
    expect(text).toContain('seedbox_connections_refused_total{reason="too-many-handshaking"} 3');
    expect(text).toContain('seedbox_connections_refused_total{reason="over-connection-limit"} 0');
    expect(text).toMatch(/^seedbox_connections_handshaking 2$/m);
  });
});
