import { describe, expect, it } from 'vitest';
import type { PieceSink, PieceWriteOutcome } from '../src/index.js';
import { counted, WriteFigures } from '../src/write-figures.js';

const T0 = 1_700_000_000_000;
const WRITTEN: PieceWriteOutcome = { status: 'written', micros: 5 };

describe('a disk-writer’s figures', () => {
  it('averages pieces and bytes written over the last two whole seconds, and counts failures since the start', () => {
    let now = T0;
    const f = new WriteFigures(2, () => now);
    f.record(WRITTEN, 1000);
    f.record(WRITTEN, 1000);
    now = T0 + 1500;
    f.record(WRITTEN, 2000);
    f.record({ status: 'hash-mismatch' }, 2000);
    f.record({ status: 'io-error', error: 'ENOSPC' }, 2000);
    // Offered again elsewhere: neither written nor failed.
    f.record({ status: 'unknown-torrent' }, 2000);
    // The second under way is not over: only the first counts yet.
    expect(f.figures()).toEqual({ piecesPerSecond: 1, bytesPerSecond: 1000, failedPieces: 2, piecesInProgress: 0 });
    now = T0 + 2000;
    expect(f.figures()).toEqual({ piecesPerSecond: 1.5, bytesPerSecond: 2000, failedPieces: 2, piecesInProgress: 0 });
    now = T0 + 3000;
    expect(f.figures().bytesPerSecond).toBe(1000);
    // Long idle: the buckets of old seconds are not read as new.
    now = T0 + 60_000;
    expect(f.figures()).toMatchObject({ piecesPerSecond: 0, bytesPerSecond: 0, failedPieces: 2 });
    expect(f.figures(3).piecesInProgress).toBe(3);
  });

  it('counts the writes of a wrapped sink, in progress while they last', async () => {
    let now = T0;
    const f = new WriteFigures(2, () => now);
    let release: (() => void) | undefined;
    const sink: PieceSink = {
      writePiece: (w) =>
        new Promise((resolve) => {
          release = () => resolve(w.index === 1 ? { status: 'io-error', error: 'EIO' } : WRITTEN);
        }),
    };
    const s = counted(sink, f);
    const first = s.writePiece({ infoHash: 'ab'.repeat(20), index: 0, blocks: [new Uint8Array(16384), new Uint8Array(100)] });
    expect(f.figures().piecesInProgress).toBe(1);
    release!();
    expect(await first).toEqual(WRITTEN);
    const second = s.writePiece({ infoHash: 'ab'.repeat(20), index: 1, blocks: [new Uint8Array(10)] });
    release!();
    await second;
    now = T0 + 1000;
    expect(f.figures()).toEqual({ piecesPerSecond: 0.5, bytesPerSecond: 8242, failedPieces: 1, piecesInProgress: 0 });
  });
});
