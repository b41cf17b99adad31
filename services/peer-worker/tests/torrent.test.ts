import { afterEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import type { Metainfo } from '@seedbox/protocol';
import type { PieceSink, PieceWrite, PieceWriteOutcome } from '@seedbox/disk-writer';
import { PeerWorker } from '../src/worker.js';
import type { CloseReason } from '../src/peer-session.js';
import { metaFor, startScriptedSeed, type ScriptedSeed } from './support/scripted-peer.js';

/** A PieceSink that verifies like the disk-writer and keeps pieces in memory. */
class MemorySink implements PieceSink {
  readonly pieces = new Map<number, Buffer>();
  constructor(private readonly meta: Metainfo) {}
  async writePiece(w: PieceWrite): Promise<PieceWriteOutcome> {
    const h = createHash('sha1');
    for (const b of w.blocks) h.update(b as Uint8Array);
    const expected = this.meta.pieceHashes.subarray(w.index * 20, w.index * 20 + 20);
    if (!h.digest().equals(expected)) return { status: 'hash-mismatch' };
    this.pieces.set(w.index, Buffer.concat(w.blocks.map((b) => Buffer.from(b))));
    return { status: 'written', micros: 0 };
  }
  content(): Buffer {
    return Buffer.concat([...this.pieces.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b));
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(data: Buffer, pieceLength: number, torrentOptions = {}) {
  const meta = metaFor(data, pieceLength) as Metainfo;
  const sink = new MemorySink(meta);
  const worker = new PeerWorker({ sink, listen: false, tickMs: 100, torrent: torrentOptions });
  await worker.start();
  cleanups.push(() => worker.stop());
  const torrent = worker.addTorrent(meta);
  const closed: CloseReason[] = [];
  torrent.on('closed', (_s, reason) => closed.push(reason));
  const done = new Promise<void>((resolve) => torrent.once('complete', resolve));
  return { meta, sink, worker, torrent, closed, done };
}

async function seed(o: Parameters<typeof startScriptedSeed>[0]): Promise<ScriptedSeed> {
  const s = await startScriptedSeed(o);
  cleanups.push(() => s.close());
  return s;
}

describe('Torrent download', () => {
  it('downloads every piece from one seed, including a one-byte last piece', async () => {
    const data = randomBytes(65536 * 5 + 1);
    const t = await setup(data, 65536);
    const s = await seed({ data, pieceLength: 65536, infoHash: t.meta.infoHash, fast: true });
    t.torrent.addPeers([{ host: '127.0.0.1', port: s.port }]);
    await t.done;
    expect(t.sink.content().equals(data)).toBe(true);
  });

  it('drops a peer that alone sent bad data twice, and finishes from an honest one', async () => {
    const data = randomBytes(32768 * 8);
    const t = await setup(data, 32768, { maxPeers: 1 });
    const liar = await seed({ data, pieceLength: 32768, infoHash: t.meta.infoHash, corruptPieces: new Set([0, 1, 2, 3, 4, 5, 6, 7]) });
    t.torrent.addPeers([{ host: '127.0.0.1', port: liar.port }]);
    await new Promise<void>((resolve) => t.torrent.on('closed', (_s, r) => r === 'bad-data' && resolve()));
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
    const meta = metaFor(data, 16384) as Metainfo;
    const worker = new PeerWorker({ sink: new MemorySink(meta), listen: { host: '127.0.0.1', port: 0 }, tickMs: 100 });
    await worker.start();
    cleanups.push(() => worker.stop());
    const torrent = worker.addTorrent(meta);
    const reasons: CloseReason[] = [];
    const closedTwice = new Promise<void>((resolve) =>
      torrent.on('closed', (_s, r) => {
        reasons.push(r);
        if (reasons.length === 2) resolve();
      }),
    );
    torrent.addPeers([{ host: '127.0.0.1', port: worker.listenPort! }]);
    await closedTwice;
    expect(reasons).toContain('self-connection');
  });
});
