/** The `ls` table at the sizes a seedbox reaches: tens of thousands of rows. */
import { describe, expect, it } from 'vitest';
import { table } from '../src/torrent-view.js';

describe('table', () => {
  it('pads each column to its widest cell, right-aligned where asked', () => {
    expect(table(['A', 'NUMBER'], [false, true], [['xyz', '1'], ['q', '22']])).toEqual(['A    NUMBER', 'xyz       1', 'q        22']);
  });

  it('lays out 200,000 rows (more than a call takes as arguments)', () => {
    const rows = Array.from({ length: 200_000 }, (_, i) => [`t${i}`, String(i)]);
    const lines = table(['NAME', 'N'], [false, true], rows);
    expect(lines).toHaveLength(200_001);
    expect(lines.at(-1)).toBe('t199999  199999');
  });
});
