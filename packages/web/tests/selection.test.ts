import { describe, expect, it } from 'vitest';
import { moveCursor, NO_SELECTION, pick, prune, selectAll } from '../src/app/selection.js';

const order = ['a', 'b', 'c', 'd', 'e'];
const sel = (s: { selected: ReadonlySet<string> }) => [...s.selected].sort();

describe('the list selection', () => {
  it('a click selects one, a toggle adds or drops one, a range runs from the anchor', () => {
    const one = pick(NO_SELECTION, order, 'b', 'only');
    expect(sel(one)).toEqual(['b']);
    const two = pick(one, order, 'd', 'toggle');
    expect(sel(two)).toEqual(['b', 'd']);
    expect(sel(pick(two, order, 'd', 'toggle'))).toEqual(['b']);
    const range = pick(one, order, 'e', 'range');
    expect(sel(range)).toEqual(['b', 'c', 'd', 'e']);
    // The anchor stays: a second Shift-click re-draws the range from it.
    expect(sel(pick(range, order, 'a', 'range'))).toEqual(['a', 'b']);
  });

  it('arrows move the cursor (clamped), Shift+arrows extend', () => {
    let s = moveCursor(NO_SELECTION, order, 1, false);
    expect(s.cursor).toBe('a');
    s = moveCursor(s, order, 1, false);
    expect(s.cursor).toBe('b');
    expect(sel(s)).toEqual(['b']);
    s = moveCursor(s, order, 2, true);
    expect(sel(s)).toEqual(['b', 'c', 'd']);
    s = moveCursor(s, order, 99, false);
    expect(s.cursor).toBe('e');
    expect(moveCursor(NO_SELECTION, order, -1, false).cursor).toBe('e');
    expect(moveCursor(NO_SELECTION, [], 1, false)).toBe(NO_SELECTION);
  });

  it('selects all, and forgets removed torrents', () => {
    const all = selectAll(order, NO_SELECTION);
    expect(sel(all)).toEqual(order);
    const pruned = prune({ ...all, cursor: 'c' }, (h) => h !== 'c' && h !== 'e');
    expect(sel(pruned)).toEqual(['a', 'b', 'd']);
    expect(pruned.cursor).toBeUndefined();
    const same = pick(NO_SELECTION, order, 'a', 'only');
    expect(prune(same, () => true)).toBe(same);
  });
});
