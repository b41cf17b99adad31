import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { PieceGeometry } from '@seedbox/protocol';
import { cutAtSpans, IOV_MAX, writeAll, writeSpans, type WritableFile } from '../src/vectored-write.js';
import { contentFor, TempDirs, type FileSpec } from './support/fixtures.js';

/** A file in memory with pwritev's contract; writes at most `maxPerCall` bytes per call, like a short write. */
class MemFile implements WritableFile {
  readonly calls: { buffers: Uint8Array[]; position: number }[] = [];
  constructor(
    readonly bytes: Uint8Array,
    private readonly maxPerCall = Infinity,
  ) {}
  async writev(buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }> {
    if (buffers.length > IOV_MAX) throw new Error(`EINVAL: ${buffers.length} buffers`);
    this.calls.push({ buffers: [...buffers], position });
    let written = 0;
    for (const b of buffers) {
      const n = Math.min(b.length, this.maxPerCall - written);
      this.bytes.set(b.subarray(0, n), position + written);
      written += n;
      if (written >= this.maxPerCall) break;
    }
    return { bytesWritten: written };
  }
}

/** Cuts `data` at the given offsets (sorted, deduplicated; empty pieces kept when offsets repeat). */
function split(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...cuts].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const p of points) {
    out.push(data.subarray(at, p));
    at = p;
  }
  out.push(data.subarray(at));
  return out;
}

/** Writes piece `index` of a torrent of `files` into memory files, cut at `cuts`; answers the files' bytes concatenated. */
async function writeInMemory(files: FileSpec[], pieceLength: number, index: number, cuts: number[], maxPerCall = Infinity) {
  const data = contentFor(files);
  const g = new PieceGeometry({ pieceLength, totalLength: data.length, files });
  const mem = files.map((f) => new MemFile(new Uint8Array(f.length), maxPerCall));
  const piece = data.subarray(index * pieceLength, index * pieceLength + g.pieceSize(index));
  await writeSpans(mem, g.spans(index), split(piece, cuts));
  const onDisk = Buffer.concat(mem.map((m) => m.bytes));
  return { data, onDisk, mem, start: index * pieceLength, end: index * pieceLength + piece.length };
}

describe('writeSpans on real files', () => {
  const dirs = new TempDirs();
  let handles: FileHandle[] = [];
  afterEach(async () => {
    await Promise.all(handles.map((h) => h.close()));
    handles = [];
    await dirs.cleanup();
  });

  async function writeToDisk(files: FileSpec[], pieceLength: number, blockSize: number) {
    const dir = await dirs.make();
    handles = await Promise.all(files.map((_, i) => open(join(dir, `f${i}`), 'w+')));
    const data = contentFor(files);
    const g = new PieceGeometry({ pieceLength, totalLength: data.length, files });
    for (let index = 0; index < g.pieceCount; index++) {
      const piece = data.subarray(index * pieceLength, index * pieceLength + g.pieceSize(index));
      const blocks: Uint8Array[] = [];
      for (let at = 0; at < piece.length; at += blockSize) blocks.push(piece.subarray(at, at + blockSize));
      await writeSpans(handles, g.spans(index), blocks);
    }
    const onDisk = Buffer.concat(await Promise.all(files.map((_, i) => readFile(join(dir, `f${i}`)))));
    return { data, onDisk };
  }

  it('writes a piece that lies inside one file', async () => {
    const { data, onDisk } = await writeToDisk([{ path: ['a'], length: 100_000 }], 32 * 1024, 16 * 1024);
    expect(onDisk.equals(data)).toBe(true);
  });

  it('writes blocks that cross one file boundary, and a final short block', async () => {
    const files = [
      { path: ['a'], length: 20_000 },
      { path: ['b'], length: 30_001 },
    ];
    const { data, onDisk } = await writeToDisk(files, 50_001, 16 * 1024);
    expect(onDisk.equals(data)).toBe(true);
  });

  it('writes a piece that crosses two boundaries', async () => {
    const files = [
      { path: ['a'], length: 5000 },
      { path: ['b'], length: 3000 },
      { path: ['c'], length: 9000 },
    ];
    const { data, onDisk } = await writeToDisk(files, 16 * 1024, 4096);
    expect(onDisk.equals(data)).toBe(true);
  });

  it('writes a piece over many small files with zero-length files in between', async () => {
    const files: FileSpec[] = [];
    for (let i = 0; i < 60; i++) files.push({ path: [`f${i}`], length: i % 3 === 0 ? 0 : 37 * i });
    const { data, onDisk } = await writeToDisk(files, 16 * 1024, 1000);
    expect(onDisk.equals(data)).toBe(true);
  });

  it('gets the same bytes on disk for random split points (property)', async () => {
    const dir = await dirs.make();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat(3000), { minLength: 1, maxLength: 8 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 }),
        async (lengths, cutFractions) => {
          const files = lengths.map((length, i) => ({ path: [`p${i}`], length }));
          const total = lengths.reduce((a, b) => a + b, 0);
          fc.pre(total > 0);
          const data = contentFor(files);
          const g = new PieceGeometry({ pieceLength: total, totalLength: total, files });
          const fhs = await Promise.all(files.map((_, i) => open(join(dir, `p${i}`), 'w+')));
          try {
            const cuts = cutFractions.map((f) => Math.floor(f * total));
            await writeSpans(fhs, g.spans(0), split(data, cuts));
          } finally {
            await Promise.all(fhs.map((h) => h.close()));
          }
          const onDisk = Buffer.concat(await Promise.all(files.map((_, i) => readFile(join(dir, `p${i}`)))));
          expect(onDisk.equals(data)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('writeSpans', () => {
  it('writes each piece of a torrent for random files, piece lengths and split points (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat(5000), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 4096 }),
        fc.nat(),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }),
        fc.option(fc.integer({ min: 1, max: 700 }), { nil: undefined }),
        async (lengths, pieceLength, pick, cutFractions, maxPerCall) => {
          const files = lengths.map((length, i) => ({ path: [`f${i}`], length }));
          const total = lengths.reduce((a, b) => a + b, 0);
          fc.pre(total > 0);
          const index = pick % Math.ceil(total / pieceLength);
          const size = Math.min(pieceLength, total - index * pieceLength);
          const cuts = cutFractions.map((f) => Math.floor(f * size));
          const { data, onDisk, start, end } = await writeInMemory(files, pieceLength, index, cuts, maxPerCall);
          // The piece's bytes are in place, and nothing else was touched.
          expect(onDisk.subarray(start, end).equals(data.subarray(start, end))).toBe(true);
          expect(onDisk.subarray(0, start).every((b) => b === 0)).toBe(true);
          expect(onDisk.subarray(end).every((b) => b === 0)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('makes one writev per file when nothing is short, from views of the blocks (no copy)', async () => {
    const files = [
      { path: ['a'], length: 10_000 },
      { path: ['empty'], length: 0 },
      { path: ['b'], length: 10_000 },
      { path: ['c'], length: 12_768 },
    ];
    const { data, onDisk, mem } = await writeInMemory(files, 32 * 1024, 0, [16 * 1024]);
    expect(onDisk.equals(data)).toBe(true);
    expect(mem.map((m) => m.calls.length)).toEqual([1, 0, 1, 1]);
    // b straddles the two blocks: two views, one from each.
    expect(mem[2]!.calls[0]!.buffers.map((b) => b.length)).toEqual([16 * 1024 - 10_000, 10_000 - (16 * 1024 - 10_000)]);
    expect(mem[2]!.calls[0]!.position).toBe(0);
    const blocksBuffer = data.buffer;
    for (const m of mem) for (const c of m.calls) for (const b of c.buffers) expect(b.buffer).toBe(blocksBuffer);
  });

  it('skips files the lookup has no handle for (padding)', async () => {
    const data = contentFor([
      { path: ['a'], length: 10 },
      { path: ['pad'], length: 6, padding: true },
      { path: ['b'], length: 16 },
    ]);
    const g = new PieceGeometry({ pieceLength: 32, totalLength: 32, files: [{ length: 10 }, { length: 6 }, { length: 16 }] });
    const a = new MemFile(new Uint8Array(10));
    const b = new MemFile(new Uint8Array(16));
    const asked: number[] = [];
    await writeSpans(
      async (i) => {
        asked.push(i);
        return i === 0 ? a : i === 2 ? b : undefined;
      },
      g.spans(0),
      [data],
    );
    expect(asked).toEqual([0, 1, 2]);
    expect(Buffer.from(a.bytes).equals(data.subarray(0, 10))).toBe(true);
    expect(Buffer.from(b.bytes).equals(data.subarray(16))).toBe(true);
  });

  it('refuses blocks that do not add up to the spans', async () => {
    const g = new PieceGeometry({ pieceLength: 100, totalLength: 100, files: [{ length: 100 }] });
    const f = [new MemFile(new Uint8Array(100))];
    await expect(writeSpans(f, g.spans(0), [new Uint8Array(99)])).rejects.toThrow(RangeError);
    await expect(writeSpans(f, g.spans(0), [new Uint8Array(100), new Uint8Array(1)])).rejects.toThrow(RangeError);
    // Trailing empty blocks are no extra bytes.
    expect(cutAtSpans(g.spans(0), [new Uint8Array(100), new Uint8Array(0)])).toHaveLength(1);
  });
});

describe('writeAll', () => {
  it('continues after short writes until every byte is written', async () => {
    const data = contentFor([{ path: ['x'], length: 50_000 }]);
    const file = new MemFile(new Uint8Array(60_000), 999);
    await writeAll(file, split(data, [1, 2, 3, 10_000, 10_001, 49_999]), 10_000);
    expect(Buffer.from(file.bytes.subarray(10_000)).equals(data)).toBe(true);
    expect(file.calls.length).toBe(Math.ceil(50_000 / 999));
    // Each call starts where the previous one stopped.
    file.calls.forEach((c, i) => expect(c.position).toBe(10_000 + i * 999));
  });

  it('never passes more than IOV_MAX buffers to one call', async () => {
    const n = 2 * IOV_MAX + 300;
    const data = contentFor([{ path: ['x'], length: n }]);
    const buffers = Array.from({ length: n }, (_, i) => data.subarray(i, i + 1));
    const file = new MemFile(new Uint8Array(n));
    await writeAll(file, buffers, 0);
    expect(file.calls.map((c) => c.buffers.length)).toEqual([IOV_MAX, IOV_MAX, 300]);
    expect(Buffer.from(file.bytes).equals(data)).toBe(true);
  });

  it('fails rather than spin when writev makes no progress', async () => {
    const stuck: WritableFile = { writev: async () => ({ bytesWritten: 0 }) };
    await expect(writeAll(stuck, [new Uint8Array(10)], 0)).rejects.toThrow(/wrote 0 bytes/);
  });
});
