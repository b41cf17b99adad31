import { useState } from 'preact/hooks';
import type { Api } from '../api.js';
import type { Torrent } from '../types.js';
import { FilesTab } from './files-tab.js';
import { GeneralTab } from './general-tab.js';
import { PeersTab } from './peers-tab.js';
import { PiecesTab } from './pieces-tab.js';
import { TrackersTab } from './trackers-tab.js';

/**
 * One torrent's details, in tabs (a WAI-ARIA tab list: arrows move
 * between tabs). Only the open tab polls its endpoint.
 */

const TABS = [
  { id: 'general', label: 'General' },
  { id: 'files', label: 'Files' },
  { id: 'peers', label: 'Peers' },
  { id: 'trackers', label: 'Trackers' },
  { id: 'pieces', label: 'Pieces' },
] as const;
type TabId = (typeof TABS)[number]['id'];

export function Details(props: { api: Api; torrent: Torrent; onClose: () => void }) {
  const [tab, setTab] = useState<TabId>('general');
  const { api, torrent } = props;

  function onKeyDown(e: KeyboardEvent) {
    const at = TABS.findIndex((t) => t.id === tab);
    const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (step === 0) return;
    e.preventDefault();
    const next = TABS[(at + step + TABS.length) % TABS.length]!;
    setTab(next.id);
    document.getElementById(`tab-${next.id}`)?.focus();
  }

  return (
    <section class="details" aria-label={`Details of ${torrent.name}`}>
      <header class="details-head">
        <h2 title={torrent.name}>{torrent.name}</h2>
        <div role="tablist" aria-label="Details" onKeyDown={onKeyDown}>
          {TABS.map((t) => (
            <button
              key={t.id}
              id={`tab-${t.id}`}
              type="button"
              role="tab"
              aria-selected={tab === t.id}
              aria-controls="details-panel"
              tabIndex={tab === t.id ? 0 : -1}
              onClick={() => setTab(t.id)}
            >
              {t.label}
            </button>
          ))}
        </div>
        <button type="button" class="icon" aria-label="Close the details" onClick={props.onClose}>
          ×
        </button>
      </header>
      <div id="details-panel" role="tabpanel" aria-labelledby={`tab-${tab}`} class="details-body">
        {tab === 'general' && <GeneralTab api={api} torrent={torrent} />}
        {tab === 'files' && <FilesTab api={api} hash={torrent.hash} />}
        {tab === 'peers' && <PeersTab api={api} hash={torrent.hash} />}
        {tab === 'trackers' && <TrackersTab api={api} hash={torrent.hash} />}
        {tab === 'pieces' && <PiecesTab api={api} hash={torrent.hash} />}
      </div>
    </section>
  );
}
