import { describe, expect, it } from 'vitest';
import { pieceColumns, piecesDone } from '../src/app/details/piece-map.js';

describe('the piece map', () => {
  it('one column a piece when they fit', () => {
    expect(pieceColumns([2, 0, 1], 100)).toEqual([
      { done: 1, downloading: false },
      { done: 0, downloading: false },
      { done: 0, downloading: true },
    ]);
  });

  it('groups pieces into the columns there are, shaded by the share done', () => {
    const cols = pieceColumns([2, 2, 2, 0, 1, 0, 2, 0], 4);
    expect(cols).toEqual([
      { done: 1, downloading: false },
      { done: 0.5, downloading: false },
      { done: 0, downloading: true },
      { done: 0.5, downloading: false },
    ]);
    // Uneven groups still cover every piece once.
    const ten = pieceColumns(Array.from({ length: 10 }, () => 2), 3);
    expect(ten).toHaveLength(3);
    expect(ten.every((c) => c.done === 1)).toBe(true);
  });

  it('nothing to draw for no pieces or no width; counts pieces done', () => {
    expect(pieceColumns([], 100)).toEqual([]);
    expect(pieceColumns([2], 0)).toEqual([]);
    expect(piecesDone([2, 0, 1, 2])).toBe(2);
  });
});
