import { useEffect, useRef } from 'preact/hooks';
import { formatBytes, formatDate, formatEta, formatPercent, formatRate, formatRatio, formatSwarm, stateLabel, stateTone } from './format.js';
import { COLUMNS, toggleSort, type ColumnKey, type SortOrder } from './query.js';
import { moveCursor, pick, selectAll, type PickMode, type Selection } from './selection.js';
import type { Torrent } from './types.js';

/**
 * The torrent list: a grid with a sortable header, one row a torrent.
 * Mouse: click selects, Ctrl/⌘-click toggles, Shift-click extends, the
 * check box toggles (for touch). Keyboard: arrows move, Shift+arrows
 * extend, Space toggles, Enter opens the details, Ctrl+A selects all,
 * Delete asks to remove, Escape clears.
 */

export interface ListProps {
  torrents: Torrent[];
  sort: SortOrder;
  onSort: (s: SortOrder) => void;
  selection: Selection;
  onSelection: (s: Selection) => void;
  onOpen: (hash: string) => void;
  onRemove: () => void;
  emptyText: string;
}

function cell(key: ColumnKey, t: Torrent) {
  switch (key) {
    case 'name':
      return (
        <span class="name" title={t.name}>
          {t.name}
        </span>
      );
    case 'size':
      return formatBytes(t.size);
    case 'progress': {
      const pct = formatPercent(t.progress);
      return (
        <div class={`bar tone-${stateTone(t.state)}`} role="progressbar" aria-label={`${t.name} progress`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.floor(t.progress * 1000) / 10}>
          <div class="fill" style={{ width: `${Math.min(100, Math.max(0, t.progress * 100))}%` }} />
          <span class="bar-text">{pct}</span>
        </div>
      );
    }
    case 'state':
      return <span class={`state tone-${stateTone(t.state)}`}>{stateLabel(t.state)}</span>;
    case 'dlspeed':
      return formatRate(t.dlspeed, true);
    case 'upspeed':
      return formatRate(t.upspeed, true);
    case 'ratio':
      return formatRatio(t.ratio);
    case 'eta':
      return formatEta(t.eta);
    case 'num_seeds':
      return formatSwarm(t.num_seeds, t.num_complete);
    case 'num_leechs':
      return formatSwarm(t.num_leechs, t.num_incomplete);
    case 'category':
      return t.category;
    case 'tags':
      return t.tags;
    case 'added_on':
      return formatDate(t.added_on);
  }
}

function ariaSort(sort: SortOrder, key: ColumnKey): 'ascending' | 'descending' | 'none' {
  if (sort.key !== key) return 'none';
  return sort.descending ? 'descending' : 'ascending';
}

export function TorrentList(props: ListProps) {
  const { torrents, sort, selection } = props;
  const order = torrents.map((t) => t.hash);
  const body = useRef<HTMLTableSectionElement>(null);
  const keyboardMoved = useRef(false);

  // After a keyboard move, the focus follows the cursor (and the row scrolls into view).
  useEffect(() => {
    if (!keyboardMoved.current || selection.cursor === undefined) return;
    keyboardMoved.current = false;
    const row = body.current?.querySelector<HTMLElement>(`tr[data-hash="${selection.cursor}"]`);
    row?.focus();
  }, [selection.cursor]);

  const choose = (hash: string, mode: PickMode) => props.onSelection(pick(selection, order, hash, mode));

  function onKeyDown(e: KeyboardEvent) {
    const move = (step: number) => {
      e.preventDefault();
      keyboardMoved.current = true;
      props.onSelection(moveCursor(selection, order, step, e.shiftKey));
    };
    switch (e.key) {
      case 'ArrowDown':
        return move(1);
      case 'ArrowUp':
        return move(-1);
      case 'PageDown':
        return move(10);
      case 'PageUp':
        return move(-10);
      case 'Home':
        return move(-order.length);
      case 'End':
        return move(order.length);
      case ' ':
        if (selection.cursor !== undefined) {
          e.preventDefault();
          choose(selection.cursor, 'toggle');
        }
        return;
      case 'Enter':
        if (selection.cursor !== undefined) {
          e.preventDefault();
          choose(selection.cursor, 'only');
          props.onOpen(selection.cursor);
        }
        return;
      case 'Delete':
        if (selection.selected.size > 0) {
          e.preventDefault();
          props.onRemove();
        }
        return;
      case 'Escape':
        props.onSelection({ selected: new Set(), cursor: selection.cursor, anchor: undefined });
        return;
      case 'a':
      case 'A':
        if (e.ctrlKey || e.metaKey) {
          e.preventDefault();
          props.onSelection(selectAll(order, selection));
        }
        return;
    }
  }

  const allSelected = torrents.length > 0 && torrents.every((t) => selection.selected.has(t.hash));
  // The row the Tab key lands on: the cursor's, else the first.
  const tabStop = selection.cursor !== undefined && order.includes(selection.cursor) ? selection.cursor : order[0];

  return (
    <div class="list-wrap">
      <table class="torrents" role="grid" aria-multiselectable="true" aria-label="Torrents">
        <thead>
          <tr>
            <th class="c-check">
              <input
                type="checkbox"
                aria-label="Select all"
                checked={allSelected}
                onChange={() => props.onSelection(allSelected ? { selected: new Set(), cursor: selection.cursor, anchor: undefined } : selectAll(order, selection))}
              />
            </th>
            {COLUMNS.map((c) => (
              <th key={c.key} class={`c-${c.key}`} aria-sort={ariaSort(sort, c.key)}>
                <button type="button" class="sort" onClick={() => props.onSort(toggleSort(sort, c.key))}>
                  {c.label}
                  <span class="sort-mark" aria-hidden="true">
                    {sort.key === c.key ? (sort.descending ? '▼' : '▲') : ''}
                  </span>
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody ref={body} onKeyDown={onKeyDown}>
          {torrents.map((t) => {
            const selected = selection.selected.has(t.hash);
            return (
              <tr
                key={t.hash}
                data-hash={t.hash}
                aria-selected={selected}
                class={selected ? 'selected' : undefined}
                tabIndex={t.hash === tabStop ? 0 : -1}
                onClick={(e) => {
                  choose(t.hash, e.shiftKey ? 'range' : e.ctrlKey || e.metaKey ? 'toggle' : 'only');
                  if (!e.shiftKey && !e.ctrlKey && !e.metaKey) props.onOpen(t.hash);
                }}
              >
                <td class="c-check">
                  <input type="checkbox" tabIndex={-1} aria-label={`Select ${t.name}`} checked={selected} onClick={(e) => e.stopPropagation()} onChange={() => choose(t.hash, 'toggle')} />
                </td>
                {COLUMNS.map((c) => (
                  <td key={c.key} class={`c-${c.key}`}>
                    {cell(c.key, t)}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
      {torrents.length === 0 && <p class="empty">{props.emptyText}</p>}
    </div>
  );
}
