import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BLOCK_LENGTH, GeometryError, PieceGeometry } from '../src/geometry.js';

describe('PieceGeometry', () => {
  it('gives a short last piece and a short last block', () => {
    const g = new PieceGeometry({ pieceLength: 65536, totalLength: 65536 * 2 + 20000, files: [{ length: 65536 * 2 + 20000 }] });
    expect(g.pieceCount).toBe(3);
    expect(g.pieceSize(0)).toBe(65536);
    expect(g.pieceSize(2)).toBe(20000);
    expect(g.blockCount(0)).toBe(4);
    expect(g.blockCount(2)).toBe(2);
    expect(g.blockSize(2, 0)).toBe(BLOCK_LENGTH);
    expect(g.blockSize(2, 1)).toBe(20000 - BLOCK_LENGTH);
    expect(() => g.blockSize(2, 2)).toThrow(GeometryError);
    expect(() => g.pieceSize(3)).toThrow(GeometryError);
  });

  it('handles a last piece of one byte', () => {
    const g = new PieceGeometry({ pieceLength: 32768, totalLength: 32769, files: [{ length: 32769 }] });
    expect(g.pieceCount).toBe(2);
    expect(g.pieceSize(1)).toBe(1);
    expect(g.blockSize(1, 0)).toBe(1);
  });

  it('maps a piece across many files, skipping zero-length ones', () => {
    const files = [{ length: 10 }, { length: 0 }, { length: 5 }, { length: 0 }, { length: 0 }, { length: 30 }, { length: 3 }];
    const g = new PieceGeometry({ pieceLength: 16, totalLength: 48, files });
    expect(g.spans(0)).toEqual([
      { fileIndex: 0, fileOffset: 0, length: 10 },
      { fileIndex: 2, fileOffset: 0, length: 5 },
      { fileIndex: 5, fileOffset: 0, length: 1 },
    ]);
    expect(g.spans(1)).toEqual([{ fileIndex: 5, fileOffset: 1, length: 16 }]);
    expect(g.spans(2)).toEqual([
      { fileIndex: 5, fileOffset: 17, length: 13 },
      { fileIndex: 6, fileOffset: 0, length: 3 },
    ]);
    expect(g.spans(0, 12, 2)).toEqual([{ fileIndex: 2, fileOffset: 2, length: 2 }]);
    expect(g.piecesOfFile(1)).toBeUndefined();
    expect(g.piecesOfFile(5)).toEqual({ first: 0, last: 2 });
  });

  it('starts with zero-length files and ends with one', () => {
    const g = new PieceGeometry({ pieceLength: 4, totalLength: 6, files: [{ length: 0 }, { length: 0 }, { length: 6 }, { length: 0 }] });
    expect(g.spans(0)).toEqual([{ fileIndex: 2, fileOffset: 0, length: 4 }]);
    expect(g.spans(1)).toEqual([{ fileIndex: 2, fileOffset: 4, length: 2 }]);
  });

  it('refuses ranges outside the piece and inconsistent input', () => {
    const g = new PieceGeometry({ pieceLength: 16, totalLength: 20, files: [{ length: 20 }] });
    expect(() => g.spans(1, 0, 5)).toThrow(GeometryError);
    expect(g.isValidRange(1, 0, 4)).toBe(true);
    expect(g.isValidRange(1, 1, 4)).toBe(false);
    expect(g.isValidRange(2, 0, 1)).toBe(false);
    expect(g.isValidRange(0, 0, 0)).toBe(false);
    expect(() => new PieceGeometry({ pieceLength: 16, totalLength: 20, files: [{ length: 19 }] })).toThrow(GeometryError);
    expect(() => new PieceGeometry({ pieceLength: 0, totalLength: 20, files: [{ length: 20 }] })).toThrow(GeometryError);
  });

  it('covers every byte exactly once (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(100), { minLength: 1, maxLength: 20 }).filter((ls) => ls.some((l) => l > 0)),
        fc.integer({ min: 1, max: 64 }),
        (lengths, pieceLength) => {
          const total = lengths.reduce((a, b) => a + b, 0);
          const g = new PieceGeometry({ pieceLength, totalLength: total, files: lengths.map((length) => ({ length })) });
          let covered = 0;
          for (let p = 0; p < g.pieceCount; p++) {
            let inPiece = 0;
            for (const s of g.spans(p)) {
              expect(s.length).toBeGreaterThan(0);
              expect(s.fileOffset + s.length).toBeLessThanOrEqual(lengths[s.fileIndex]!);
              expect(g.fileOffsets[s.fileIndex]! + s.fileOffset).toBe(p * pieceLength + inPiece);
              inPiece += s.length;
            }
            expect(inPiece).toBe(g.pieceSize(p));
            covered += inPiece;
          }
          expect(covered).toBe(total);
        },
      ),
    );
  });
});
