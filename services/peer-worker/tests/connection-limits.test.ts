import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { Metainfo } from '@seedbox/protocol';
import { Engine, type EngineOptions } from '../src/engine.js';
import { MemorySink, memoryData } from './support/memory-data.js';
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
  it('holds at most maxHandshaking silent connections, closes them at the deadline, and a real leech still downloads through the flood', async () => {
    const seed = await seedEngine({ incoming: { maxHandshaking: 20, maxPerIp: 10_000, handshakeTimeoutMs: 400 } });
    const port = seed.listenPort!;
    await Promise.all(Array.from({ length: 300 }, () => silent(port)));
    await settle(100);
    expect(seed.connectionCount()).toBeLessThanOrEqual(20);
    expect(seed.refusedConnections['too-many-handshaking']).toBeGreaterThanOrEqual(280);
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
    // Every silent connection got its deadline.
    expect(seed.refusedConnections['handshake-timeout']).toBeGreaterThanOrEqual(20);
    expect(seed.connectionCount()).toBeLessThanOrEqual(21);
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
});
