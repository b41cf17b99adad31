/**
 * Seeding reads spans into the buffers of evicted ones (read-cache.ts). A
 * block still waiting in a socket's buffer must keep its bytes until the
 * socket let go of them: here one leech stops reading with blocks queued
 * behind a full socket, while another has the seed read the whole torrent
 * through a cache of two spans, so every buffer freed is read into again at
 * once. The first leech then reads on and checks every byte it gets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes, createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Bitfield, encodeHandshake, encodeMessage, encodeRequestBatch, type Metainfo } from '@seedbox/protocol';
import { Engine } from '../src/engine.js';
import { MemorySink, memoryData } from './support/memory-data.js';
import { metaFor } from './support/scripted-peer.js';
import { readWire } from './support/wire-reader.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const BLOCK = 16384;
const PIECE = 256 * 1024;
const SPAN = 64 * 1024;
const data = randomBytes(8 * 1024 * 1024);
const meta = metaFor(data, PIECE) as Metainfo;

/** A leech over raw TCP: asks for `blocks` once unchoked (then stops reading when `stall`), and keeps every block it receives. */
function rawLeech(port: number, blocks: readonly { index: number; begin: number }[], stall = false) {
  const got = new Map<string, Buffer>();
  const socket: Socket = connect(port, '127.0.0.1');
  cleanups.push(() => void socket.destroy());
  socket.on('error', () => {});
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  let stalled!: () => void;
  const asked = new Promise<void>((r) => (stalled = r));
  socket.write(encodeHandshake({ infoHash: meta.infoHash, peerId: createHash('sha1').update(`leech-${port}-${blocks.length}-${Math.random()}`).digest(), fast: false }));
  socket.write(encodeMessage({ type: 'interested' }));
  readWire(socket, {
    handshake: () => {},
    limits: { maxBitfieldLength: Math.ceil(meta.pieceCount / 8) },
    message: (m) => {
      if (m.type === 'unchoke') {
        socket.write(encodeRequestBatch(blocks.map((b) => ({ ...b, length: BLOCK }))));
        if (stall) {
          socket.pause();
          stalled();
        }
      }
      if (m.type === 'piece') {
        got.set(`${m.index}:${m.begin}`, Buffer.from(m.block));
        if (got.size === blocks.length) resolveAll();
      }
    },
  });
  return { socket, got, all, asked };
}

const blocksOf = (first: number, last: number) =>
  Array.from({ length: (last - first + 1) * (PIECE / BLOCK) }, (_, k) => ({ index: first + Math.floor(k / (PIECE / BLOCK)), begin: (k % (PIECE / BLOCK)) * BLOCK }));

describe('seeding through the read cache', () => {
  it('keeps the bytes of blocks queued behind a full socket while their spans are evicted and their buffers read into', async () => {
    const engine = new Engine({
      sink: new MemorySink(meta),
      listen: { host: '127.0.0.1', port: 0 },
      tickMs: 100,
      encryption: 'disable',
      torrent: { readCache: { spanBytes: SPAN, maxBytes: 2 * SPAN } },
    });
    await engine.start();
    cleanups.push(() => engine.stop());
    /** Reads into a buffer an earlier read filled: a span's buffer used again. */
    let readsIntoUsed = 0;
    const filled = new WeakSet<ArrayBufferLike>();
    const torrent = engine.add(meta, {
      data: memoryData(meta.pieceCount, {
        have: Bitfield.full(meta.pieceCount),
        read: async (i, b, l, into) => {
          // Answered in a later turn of the event loop, as a disk read is: write callbacks run meanwhile.
          await new Promise((r) => setImmediate(r));
          const src = data.subarray(i * PIECE + b, i * PIECE + b + l);
          if (!into) return Buffer.from(src);
          if (filled.has(into.buffer)) readsIntoUsed++;
          filled.add(into.buffer);
          into.set(src);
          return into;
        },
      }),
    });
    await new Promise<void>((resolve) => torrent.once('checked', () => resolve()));
    const port = engine.listenPort!;

    // The first leech asks for 6 MiB and reads none of it: the kernel takes ~4 MiB, and blocks wait in the seed's socket.
    const stuck = rawLeech(port, blocksOf(0, 23), true);
    await stuck.asked;
    await new Promise((r) => setTimeout(r, 500));
    // The second reads 31 of the 32 pieces (one request under the seed's queue of 500 each): the cache turns over 124 times.
    const other = rawLeech(port, blocksOf(0, 30));
    await other.all;
    expect(readsIntoUsed).toBeGreaterThan(64);
    stuck.socket.resume();
    await stuck.all;
    for (const [key, block] of [...stuck.got, ...other.got]) {
      const [index, begin] = key.split(':').map(Number) as [number, number];
      expect(block.equals(data.subarray(index * PIECE + begin, index * PIECE + begin + BLOCK)), `block ${key}`).toBe(true);
    }
  }, 30_000);
});
