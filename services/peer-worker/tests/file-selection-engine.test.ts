import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Bitfield, PieceGeometry, type Metainfo } from '@seedbox/protocol';
import { Engine } from '../src/engine.js';
import { FileSelectionError, type FilePriority, type FileSelection } from '../src/file-selection.js';
import type { Torrent, TorrentState } from '../src/torrent.js';
import { MemorySink, memoryData } from './support/memory-data.js';
import { metaFor } from './support/scripted-peer.js';

/**
 * File selection over real sockets: our seed engine, our leech engine,
 * files skipped at add time and changed while the torrent runs.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const PIECE = 16_384;

/** A multi-file torrent over `lengths`, its bytes random. */
function multiFile(lengths: number[]) {
  const data = randomBytes(lengths.reduce((a, b) => a + b, 0));
  const base = metaFor(data, PIECE, 'multi');
  let offset = 0;
  const files = lengths.map((length, i) => {
    const f = { path: [`f${i}.bin`], length, offset, padding: false };
    offset += length;
    return f;
  });
  const meta = { ...base, files, multiFile: true } as Metainfo;
  return { data, meta, geometry: new PieceGeometry(meta) };
}

async function seedOf(meta: Metainfo, data: Buffer): Promise<number> {
  const engine = new Engine({ sink: new MemorySink(meta), listen: { host: '127.0.0.1', port: 0 }, tickMs: 100 });
  await engine.start();
  cleanups.push(() => engine.stop());
  const t = engine.add(meta, {
    data: memoryData(meta.pieceCount, { have: Bitfield.full(meta.pieceCount), read: async (i, b, l) => data.subarray(i * PIECE + b, i * PIECE + b + l) }),
  });
  await new Promise<void>((resolve) => t.once('checked', () => resolve()));
  return engine.listenPort!;
}

async function leechOf(meta: Metainfo, port: number, files: FileSelection) {
  const sink = new MemorySink(meta);
  const engine = new Engine({ sink, listen: false, tickMs: 100 });
  await engine.start();
  cleanups.push(() => engine.stop());
  const data = memoryData(meta.pieceCount);
  const torrent = engine.add(meta, { data, files, peers: [{ host: '127.0.0.1', port }] });
  return { engine, sink, data, torrent };
}

const next = (torrent: Torrent, event: 'complete'): Promise<void> => new Promise((resolve) => torrent.once(event, () => resolve()));
function reach(torrent: Torrent, state: TorrentState): Promise<void> {
  if (torrent.state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const on = (s: TorrentState): void => {
      if (s === state) {
        torrent.off('state', on);
        resolve();
      }
    };
    torrent.on('state', on);
  });
}

/** Pieces that hold bytes only of the files given. */
function piecesOnlyOf(geometry: PieceGeometry, fileIndices: number[]): number[] {
  const out: number[] = [];
  for (let p = 0; p < geometry.pieceCount; p++) if (geometry.spans(p).every((s) => fileIndices.includes(s.fileIndex))) out.push(p);
  return out;
}

describe('file selection between two engines', () => {
  it('skips a file at add time, seeds when the rest is done, and fetches it once it is wanted again', async () => {
    const { data, meta, geometry } = multiFile([100_000, 150_000, 80_000]);
    const port = await seedOf(meta, data);
    const l = await leechOf(meta, port, { priorities: ['normal', 'skip', 'normal'] });
    await next(l.torrent, 'complete');

    expect(l.torrent.state).toBe('seeding');
    const onlySkipped = piecesOnlyOf(geometry, [1]);
    expect(onlySkipped.length).toBeGreaterThan(5);
    for (const p of onlySkipped) expect(l.sink.pieces.has(p), `piece ${p} lies only in the skipped file`).toBe(false);
    expect(l.sink.pieces.size).toBe(meta.pieceCount - onlySkipped.length);
    const snap = l.torrent.snapshot();
    expect(snap).toMatchObject({ done: true, complete: false, wantedLeft: 0, eta: 0, left: onlySkipped.length * PIECE });
    expect(snap.wanted).toBe(meta.totalLength - onlySkipped.length * PIECE);
    const progress = l.torrent.fileProgress();
    expect(progress.map((f) => f.priority)).toEqual(['normal', 'skip', 'normal']);
    expect(progress[0]!.verified).toBe(100_000);
    expect(progress[2]!.verified).toBe(80_000);
    // The skipped file has the bytes of the two pieces it shares with its neighbours, no more.
    const shared = (geometry.piecesOfFile(0)!.last + 1) * PIECE - 100_000 + (250_000 - geometry.piecesOfFile(2)!.first * PIECE);
    expect(progress[1]!.verified).toBe(shared);
    // Done downloading: resume data was saved.
    await new Promise((r) => setTimeout(r, 20));
    expect(l.data.saved.length).toBeGreaterThan(0);

    // Wanted again: back to downloading, then complete, byte for byte.
    const all = next(l.torrent, 'complete');
    l.torrent.setFilePriorities(['normal', 'high', 'normal']);
    expect(l.torrent.state).toBe('downloading');
    await all;
    expect(l.torrent.state).toBe('seeding');
    expect(l.sink.content().equals(data)).toBe(true);
    expect(l.torrent.snapshot()).toMatchObject({ done: true, complete: true, left: 0 });
  }, 30_000);

  it('skipping files while downloading stops starting their pieces; the torrent finishes with what is wanted', async () => {
    const { data, meta, geometry } = multiFile([200_000, 2_000_000, 2_000_000]);
    const port = await seedOf(meta, data);
    const l = await leechOf(meta, port, {});
    l.torrent.once('piece', () => l.torrent.setFilePriorities(['high', 'skip', 'skip']));
    await next(l.torrent, 'complete');
    expect(l.torrent.state).toBe('seeding');
    expect(l.torrent.fileProgress()[0]!.verified).toBe(200_000);
    const skippedOnly = piecesOnlyOf(geometry, [1, 2]);
    const fetched = skippedOnly.filter((p) => l.sink.pieces.has(p)).length;
    // Only what was under way when the change came (a pipeline's worth) may have landed.
    expect(fetched, `${fetched} of ${skippedOnly.length} skipped pieces were fetched`).toBeLessThan(skippedOnly.length / 4);
  }, 30_000);

  it('fetches in index order when sequential, and first/last pieces first when asked', async () => {
    const { data, meta, geometry } = multiFile([600_000, 400_000]);
    const port = await seedOf(meta, data);
    const l = await leechOf(meta, port, { sequential: true, firstLastPiece: true });
    const order: number[] = [];
    l.torrent.on('piece', (i) => order.push(i));
    await next(l.torrent, 'complete');
    expect(l.sink.content().equals(data)).toBe(true);
    // First and last pieces of both files, then the rest in order (pieces under way at once may finish out of turn).
    const ends = new Set([0, geometry.piecesOfFile(0)!.last, geometry.piecesOfFile(1)!.first, geometry.piecesOfFile(1)!.last]);
    expect(new Set(order.slice(0, ends.size))).toEqual(ends);
    const rest = order.slice(ends.size);
    const inversions = rest.filter((p, k) => k > 0 && p < rest[k - 1]!).length;
    expect(inversions, rest.join(' ')).toBeLessThan(rest.length / 4);
  }, 30_000);

  it('refuses priorities that do not fit, at add time and later, naming the rule', async () => {
    const { data, meta } = multiFile([50_000, 50_000]);
    const port = await seedOf(meta, data);
    await expect(leechOf(meta, port, { priorities: ['normal'] })).rejects.toMatchObject({ name: 'FileSelectionError', code: 'FILE_PRIORITIES_LENGTH' });
    const l = await leechOf(meta, port, {});
    expect(() => l.torrent.setFilePriorities(['normal', 'later' as FilePriority])).toThrow(FileSelectionError);
    expect(l.torrent.files.priorities).toEqual(['normal', 'normal']);
    await reach(l.torrent, 'seeding');
  }, 30_000);
});
