/**
 * The list's selection, as file managers do it: a click selects one row,
 * Ctrl/⌘-click or Space toggles one, Shift extends from the anchor, and
 * the cursor is the row the keyboard is on. Pure.
 */

export interface Selection {
  selected: ReadonlySet<string>;
  /** The row the keyboard is on (and whose details show). */
  cursor: string | undefined;
  /** Where a Shift range starts. */
  anchor: string | undefined;
}

export const NO_SELECTION: Selection = { selected: new Set(), cursor: undefined, anchor: undefined };

export type PickMode = 'only' | 'toggle' | 'range';

export function pick(s: Selection, order: readonly string[], hash: string, mode: PickMode): Selection {
  if (mode === 'only') return { selected: new Set([hash]), cursor: hash, anchor: hash };
  if (mode === 'toggle') {
    const selected = new Set(s.selected);
    if (selected.has(hash)) selected.delete(hash);
    else selected.add(hash);
    return { selected, cursor: hash, anchor: hash };
  }
  const from = s.anchor !== undefined ? order.indexOf(s.anchor) : -1;
  const to = order.indexOf(hash);
  if (from < 0 || to < 0) return { selected: new Set([hash]), cursor: hash, anchor: hash };
  const [a, b] = from <= to ? [from, to] : [to, from];
  return { selected: new Set(order.slice(a, b + 1)), cursor: hash, anchor: s.anchor };
}

/** The cursor moved by `step` rows (clamped); with `extend`, the range from the anchor follows it. */
export function moveCursor(s: Selection, order: readonly string[], step: number, extend: boolean): Selection {
  if (order.length === 0) return s;
  const at = s.cursor !== undefined ? order.indexOf(s.cursor) : -1;
  const next = at < 0 ? (step > 0 ? 0 : order.length - 1) : Math.min(order.length - 1, Math.max(0, at + step));
  const hash = order[next]!;
  if (extend) return pick(s.anchor === undefined ? { ...s, anchor: s.cursor ?? hash } : s, order, hash, 'range');
  return pick(s, order, hash, 'only');
}

export function selectAll(order: readonly string[], s: Selection): Selection {
  return { selected: new Set(order), cursor: s.cursor ?? order[0], anchor: s.anchor };
}

/** Drops hashes that are gone (removed torrents) from the selection. */
export function prune(s: Selection, present: (hash: string) => boolean): Selection {
  const gone = [...s.selected].some((h) => !present(h)) || (s.cursor !== undefined && !present(s.cursor));
  if (!gone) return s;
  return {
    selected: new Set([...s.selected].filter(present)),
    cursor: s.cursor !== undefined && present(s.cursor) ? s.cursor : undefined,
    anchor: s.anchor !== undefined && present(s.anchor) ? s.anchor : undefined,
  };
}
