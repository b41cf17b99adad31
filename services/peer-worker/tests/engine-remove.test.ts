/**
 * Engine.remove and the swarm's leave: a torrent closed to be opened again
 * (a move to another save folder) must not stay unknown to incoming peers
 * while discovery takes its time to say `stopped` (serve's trackers wait
 * for their next beat, 200 ms); the engine's stop still waits for every
 * leave, so no `stopped` is lost at shutdown.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Bitfield, encodeHandshake, type Metainfo } from '@seedbox/protocol';
import { Engine } from '../src/engine.js';
import type { PeerDiscovery } from '../src/peer-discovery.js';
import type { Torrent } from '../src/torrent.js';
import { memoryData } from './support/memory-data.js';
import { metaFor } from './support/scripted-peer.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Discovery whose leaves end only when the test lets them. */
function slowLeaves(): { discovery: PeerDiscovery; joins: string[]; leaving: number; release(): void } {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const state = {
    joins: [] as string[],
    leaving: 0,
    release,
    discovery: {
      canFind: () => true,
      join: (swarm) => {
        state.joins.push(swarm.infoHashHex);
        return {
          requestPeers: () => {},
          leave: async () => {
            state.leaving++;
            await released;
          },
        };
      },
    } satisfies PeerDiscovery,
  };
  return state;
}

function addSeed(engine: Engine, meta: Metainfo): Torrent {
  return engine.add(meta, { data: memoryData(meta.pieceCount, { have: Bitfield.full(meta.pieceCount), read: async (_i, _b, length) => new Uint8Array(length) }) });
}

async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; !ok(); i++) {
    if (i > 250) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether the engine answers a handshake for `meta` (a refused one is closed without an answer). */
async function answersHandshake(engine: Engine, meta: Metainfo): Promise<boolean> {
  const peer = connect({ host: '127.0.0.1', port: engine.listenPort! });
  cleanups.push(() => void peer.destroy());
  peer.on('error', () => {});
  let received = 0;
  peer.on('data', (d: Buffer) => (received += d.length));
  const closed = new Promise<void>((r) => peer.once('close', () => r()));
  await new Promise<void>((resolve) => peer.once('connect', resolve));
  peer.write(encodeHandshake({ infoHash: meta.infoHash, peerId: new Uint8Array(20).fill(0xc4), fast: true, extended: false }));
  await Promise.race([closed, until(() => received >= 68, 'the answer')]);
  return received >= 68;
}

describe('Engine.remove', () => {
  it('returns once the torrent stopped, without waiting for discovery to let it go; reopened, it answers peers at once; stop() waits for the leave', async () => {
    const leaves = slowLeaves();
    const engine = new Engine({
      sink: { writePiece: async () => ({ status: 'written', micros: 0 }) },
      listen: { host: '127.0.0.1', port: 0 },
      tickMs: 50,
      encryption: 'disable',
      discovery: () => leaves.discovery,
    });
    await engine.start();
    cleanups.push(() => {
      leaves.release();
      return engine.stop();
    });
    const meta = metaFor(randomBytes(16384 * 2), 16384, 'reopened.bin') as Metainfo;
    await until(() => addSeed(engine, meta).state === 'seeding', 'the seed');
    await until(() => leaves.joins.length === 1, 'the join');

    const removed = engine.remove(meta.infoHashHex);
    const first = await Promise.race([removed.then(() => 'removed'), new Promise((r) => setTimeout(() => r('still waiting'), 1000))]);
    expect(first).toBe('removed');
    expect(leaves.leaving).toBe(1);

    // Opened again (a new save folder): known to the listener at once.
    addSeed(engine, meta);
    expect(await answersHandshake(engine, meta)).toBe(true);

    let stopped = false;
    const stopping = engine.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(stopped).toBe(false);
    leaves.release();
    await stopping;
    expect(stopped).toBe(true);
  });
});
