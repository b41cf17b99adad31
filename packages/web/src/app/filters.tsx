import type { SyncState } from './maindata.js';
import { ALL, filterCounts, STATUS_FILTERS, STATUS_LABELS, type ListFilter, type NameFilter } from './query.js';

/** The side panel: status, category and tag filters, each with how many torrents it would show. */

function same(a: NameFilter, b: NameFilter): boolean {
  return a.kind === b.kind && (a.kind !== 'is' || (b.kind === 'is' && a.name === b.name));
}

function Choice(props: { label: string; count: number; active: boolean; onPick: () => void }) {
  return (
    <li>
      <button type="button" class={props.active ? 'filter active' : 'filter'} aria-pressed={props.active} onClick={props.onPick}>
        <span class="filter-label">{props.label}</span>
        <span class="count">{props.count}</span>
      </button>
    </li>
  );
}

export function Filters(props: { state: SyncState; filter: ListFilter; onChange: (f: ListFilter) => void }) {
  const { state, filter, onChange } = props;
  const counts = filterCounts(state.torrents.values());
  const total = state.torrents.size;
  const categories = [...new Set([...Object.keys(state.categories), ...[...counts.category.keys()].filter((c) => c !== '')])].sort();
  const tags = [...new Set([...state.tags, ...counts.tag.keys()])].sort();
  const nameChoices = (
    title: string,
    current: NameFilter,
    names: string[],
    countOf: (n: string) => number,
    none: { label: string; count: number },
    set: (f: NameFilter) => void,
  ) => (
    <section>
      <h3>{title}</h3>
      <ul>
        <Choice label="All" count={total} active={same(current, ALL)} onPick={() => set(ALL)} />
        <Choice label={none.label} count={none.count} active={current.kind === 'none'} onPick={() => set({ kind: 'none' })} />
        {names.map((n) => (
          <Choice key={n} label={n} count={countOf(n)} active={same(current, { kind: 'is', name: n })} onPick={() => set({ kind: 'is', name: n })} />
        ))}
      </ul>
    </section>
  );
  return (
    <nav class="filters" aria-label="Filters">
      <section>
        <h3>Status</h3>
        <ul>
          {STATUS_FILTERS.map((s) => (
            <Choice key={s} label={STATUS_LABELS[s]} count={counts.status[s]} active={filter.status === s} onPick={() => onChange({ ...filter, status: s })} />
          ))}
        </ul>
      </section>
      {nameChoices(
        'Categories',
        filter.category,
        categories,
        (n) => counts.category.get(n) ?? 0,
        { label: 'Uncategorized', count: counts.category.get('') ?? 0 },
        (category) => onChange({ ...filter, category }),
      )}
      {nameChoices('Tags', filter.tag, tags, (n) => counts.tag.get(n) ?? 0, { label: 'Untagged', count: counts.untagged }, (tag) => onChange({ ...filter, tag }))}
    </nav>
  );
}
