/** Above the list: the search box and the actions on the selected torrents. */
export function Toolbar(props: {
  search: string;
  onSearch: (s: string) => void;
  selectedCount: number;
  shown: number;
  total: number;
  onStart: () => void;
  onStop: () => void;
  onRecheck: () => void;
  onRemove: () => void;
  onCategory: () => void;
  onLimits: () => void;
}) {
  const none = props.selectedCount === 0;
  return (
    <div class="toolbar" role="toolbar" aria-label="Torrent actions">
      <input type="search" class="search" aria-label="Search by name" placeholder="Search…" value={props.search} onInput={(e) => props.onSearch(e.currentTarget.value)} />
      <div class="actions">
        <button type="button" disabled={none} onClick={props.onStart}>
          Start
        </button>
        <button type="button" disabled={none} onClick={props.onStop}>
          Stop
        </button>
        <button type="button" disabled={none} onClick={props.onRecheck}>
          Recheck
        </button>
        <button type="button" disabled={none} onClick={props.onCategory}>
          Category…
        </button>
        <button type="button" disabled={none} onClick={props.onLimits}>
          Limits…
        </button>
        <button type="button" class="danger" disabled={none} onClick={props.onRemove}>
          Remove…
        </button>
      </div>
      <span class="muted count-line">
        {props.selectedCount > 0 ? `${props.selectedCount} selected · ` : ''}
        {props.shown === props.total ? `${props.total} torrents` : `${props.shown} of ${props.total} torrents`}
      </span>
    </div>
  );
}
