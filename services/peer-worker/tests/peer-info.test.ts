import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Bitfield, encodeHandshake, encodeMessage, type Metainfo } from '@seedbox/protocol';
import { Engine } from '../src/engine.js';
import { relevance } from '../src/peer-info.js';
import { MemorySink, memoryData } from './support/memory-data.js';
import { metaFor } from './support/scripted-peer.js';

/**
 * What the engine says about its connected peers, for the control APIs'
 * peer lists: who the peer is (its client, from its peer id), which way
 * it connected, what it has and how much of what we lack.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const bits = (length: number, set: number[]): Bitfield => {
  const b = new Bitfield(length);
  for (const i of set) b.set(i);
  return b;
};

describe('relevance', () => {
  it('is the share of the pieces we lack that the peer has; 0 when we lack none', () => {
    expect(relevance(bits(10, [0, 1, 2, 3]), bits(10, [0, 1]))).toBeCloseTo(2 / 8);
    expect(relevance(bits(10, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), bits(10, []))).toBe(1);
    expect(relevance(bits(10, [0]), bits(10, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))).toBe(0);
    expect(relevance(bits(10, []), bits(10, [3]))).toBe(0);
  });
});

describe('Engine.peers', () => {
  it('lists an incoming peer with the client its peer id names, the pieces it has, and our interest in them', async () => {
    const data = randomBytes(16384 * 8);
    const meta = metaFor(data, 16384) as Metainfo;
    const engine = new Engine({ sink: new MemorySink(meta), listen: { host: '127.0.0.1', port: 0 }, tickMs: 100 });
    await engine.start();
    cleanups.push(() => engine.stop());
    const torrent = engine.add(meta, { data: memoryData(meta.pieceCount) });
    await new Promise<void>((resolve) => (torrent.state === 'downloading' ? resolve() : torrent.on('state', (s) => s === 'downloading' && resolve())));
    expect(engine.peers(meta.infoHashHex)).toEqual([]);
    expect(engine.peers('00'.repeat(20))).toBeUndefined();

    const peerId = Buffer.alloc(20, 0x61);
    peerId.write('-LT2080-', 0, 'latin1');
    const socket: Socket = connect({ host: '127.0.0.1', port: engine.listenPort! });
    cleanups.push(() => void socket.destroy());
    socket.on('error', () => {});
    socket.on('data', () => {});
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(encodeHandshake({ infoHash: meta.infoHash, peerId, fast: false, extended: false }));
    // Half the pieces: we lack all of them, so it has half of what we lack.
    socket.write(encodeMessage({ type: 'bitfield', bits: bits(8, [0, 1, 2, 3]).toBytes() }));

    let list = engine.peers(meta.infoHashHex)!;
    for (let i = 0; i < 100 && !(list.length === 1 && list[0]!.amInterested); i++) {
      await new Promise((r) => setTimeout(r, 20));
      list = engine.peers(meta.infoHashHex)!;
    }
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      host: '127.0.0.1',
      port: socket.localPort,
      client: 'libtorrent (Rasterbar) 2.0.8',
      peerIdClient: 'libtorrent (Rasterbar) 2.0.8',
      incoming: true,
      amInterested: true,
      peerChoking: true,
      peerInterested: false,
      amChoking: true,
      optimistic: false,
      snubbed: false,
      progress: 0.5,
      relevance: 0.5,
      downloadRate: 0,
      downloaded: 0,
    });
    const snap = engine.snapshot().torrents[0]!;
    expect(snap).toMatchObject({ peers: 1, peersSending: 0, peersGetting: 0 });
  });
});
