import { formatBytes, formatLimit, formatRate } from './format.js';
import type { ServerState } from './types.js';

export type View = 'torrents' | 'fleet';

/** The top bar: the fleet's rates and limits, the two views (the torrents, the fleet), the alternative-limits switch, and the page's own buttons. */
export function Header(props: {
  server: ServerState;
  view: View;
  onView: (view: View) => void;
  onAdd: () => void;
  onSettings: () => void;
  onToggleAlt: () => void;
  onToggleTheme: () => void;
  onToggleFilters: () => void;
  onLogout: () => void;
}) {
  const s = props.server;
  return (
    <header class="top">
      <button type="button" class="icon filters-toggle" aria-label="Show or hide the filters" onClick={props.onToggleFilters}>
        ☰
      </button>
      <h1 class="brand">seedbox</h1>
      <nav class="views" aria-label="Views">
        <button type="button" aria-pressed={props.view === 'torrents'} onClick={() => props.onView('torrents')}>
          Torrents
        </button>
        <button type="button" aria-pressed={props.view === 'fleet'} onClick={() => props.onView('fleet')}>
          Fleet
        </button>
      </nav>
      <div class="transfer" aria-label="Transfer">
        <span title={`Download limit ${formatLimit(s.dl_rate_limit)}; downloaded this session ${formatBytes(s.dl_info_data)}`}>
          ↓ <strong>{formatRate(s.dl_info_speed)}</strong>
          {s.dl_rate_limit > 0 && <small> / {formatLimit(s.dl_rate_limit)}</small>}
        </span>
        <span title={`Upload limit ${formatLimit(s.up_rate_limit)}; uploaded this session ${formatBytes(s.up_info_data)}`}>
          ↑ <strong>{formatRate(s.up_info_speed)}</strong>
          {s.up_rate_limit > 0 && <small> / {formatLimit(s.up_rate_limit)}</small>}
        </span>
        {s.free_space_on_disk >= 0 && <span class="free">Free {formatBytes(s.free_space_on_disk)}</span>}
      </div>
      <nav class="top-actions" aria-label="Main">
        <button type="button" class="primary" onClick={props.onAdd}>
          + Add
        </button>
        <button type="button" aria-pressed={s.use_alt_speed_limits} title="Alternative speed limits" onClick={props.onToggleAlt}>
          {s.use_alt_speed_limits ? 'Alt limits on' : 'Alt limits'}
        </button>
        <button type="button" onClick={props.onSettings}>
          Settings
        </button>
        <button type="button" class="icon" aria-label="Switch between the light and dark theme" title="Theme" onClick={props.onToggleTheme}>
          ◐
        </button>
        <button type="button" onClick={props.onLogout}>
          Log out
        </button>
      </nav>
    </header>
  );
}
