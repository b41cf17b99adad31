/**
 * Short lists kept for every torrent or announcer (the trackers that know
 * us, a torrent's announcers): arrays of just the right length, replaced
 * rather than changed in place (so one handed out stays as it was), and
 * undefined when empty. A Set costs ~150 bytes even for one item, and an
 * array grown by push keeps room for 16 more.
 */

/** The list with `item` at its end, unless it is in it already (then the same list). */
export function withItem<T>(list: readonly T[] | undefined, item: T): readonly T[] {
  if (!list) return [item];
  return list.includes(item) ? list : list.concat([item]);
}

/** The list without `item` (the same list when it is not in it); undefined when none is left. */
export function withoutItem<T>(list: readonly T[] | undefined, item: T): readonly T[] | undefined {
  const i = list ? list.indexOf(item) : -1;
  if (!list || i < 0) return list;
  return list.length === 1 ? undefined : list.slice(0, i).concat(list.slice(i + 1));
}
