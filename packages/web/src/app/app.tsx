import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { CategoryDialog, LimitsDialog, RemoveDialog } from './action-dialogs.js';
import { AddDialog, droppedTorrents } from './add-dialog.js';
import { api } from './api.js';
import { Details } from './details/details.js';
import { Filters } from './filters.js';
import { FleetView } from './fleet/fleet-view.js';
import { Header, type View } from './header.js';
import { Login } from './login.js';
import { EMPTY_SYNC_STATE, type SyncState } from './maindata.js';
import { DEFAULT_SORT, NO_FILTER, visibleTorrents, type ListFilter, type SortOrder } from './query.js';
import { NO_SELECTION, prune, type Selection } from './selection.js';
import { Settings } from './settings.js';
import { SyncLoop } from './sync.js';
import { toggleTheme } from './theme.js';
import { attempt, notify, onLoginNeeded, Toasts } from './toasts.js';
import { Toolbar } from './toolbar.js';
import { TorrentList } from './torrent-list.js';

/**
 * The page: login until the API lets us in, then the live list (one
 * sync/maindata poll a second), its filters, actions and dialogs, and
 * the details of the torrent last opened; or the fleet view (#fleet in
 * the address, so a reload stays there).
 */

type Dialog = { kind: 'add'; files: File[] } | { kind: 'remove' } | { kind: 'category' } | { kind: 'limits' } | { kind: 'settings' } | undefined;

const SORT_KEY = 'seedbox.sort';

const viewOfLocation = (): View => (location.hash === '#fleet' ? 'fleet' : 'torrents');

function storedSort(): SortOrder {
  try {
    const s = JSON.parse(localStorage.getItem(SORT_KEY) ?? 'null') as SortOrder | null;
    return s && typeof s.key === 'string' && typeof s.descending === 'boolean' ? s : DEFAULT_SORT;
  } catch {
    return DEFAULT_SORT;
  }
}

export function App() {
  const [phase, setPhase] = useState<'loading' | 'login' | 'ready'>('loading');
  const [sync, setSync] = useState<SyncState>(EMPTY_SYNC_STATE);
  const [trouble, setTrouble] = useState<string | undefined>(undefined);
  const [filter, setFilter] = useState<ListFilter>(NO_FILTER);
  const [sort, setSort] = useState<SortOrder>(storedSort);
  const [selection, setSelection] = useState<Selection>(NO_SELECTION);
  const [details, setDetails] = useState<string | undefined>(undefined);
  const [dialog, setDialog] = useState<Dialog>(undefined);
  const [filtersOpen, setFiltersOpen] = useState(false);
  const [view, setView] = useState<View>(viewOfLocation);

  const loop = useRef<SyncLoop | undefined>(undefined);
  if (!loop.current) {
    loop.current = new SyncLoop(api, {
      onState: (s) => {
        setSync(s);
        setPhase('ready');
      },
      onTrouble: (e) => setTrouble(e ? `${e.message}: retrying…` : undefined),
      onLoginNeeded: () => setPhase('login'),
    });
  }
  const sync$ = loop.current;

  useEffect(() => {
    sync$.start();
    const off = onLoginNeeded(() => {
      sync$.stop();
      setPhase('login');
    });
    return () => {
      off();
      sync$.stop();
    };
  }, []);

  // Back and forward between #fleet and the list.
  useEffect(() => {
    const follow = () => setView(viewOfLocation());
    window.addEventListener('hashchange', follow);
    return () => window.removeEventListener('hashchange', follow);
  }, []);
  const showView = (v: View) => {
    setView(v);
    if (viewOfLocation() !== v) location.hash = v === 'fleet' ? '#fleet' : '';
  };

  // Dropping .torrent files anywhere on the page opens the add dialog with them.
  useEffect(() => {
    const over = (e: DragEvent) => {
      if (droppedTorrents(e) !== null) e.preventDefault();
    };
    const drop = (e: DragEvent) => {
      const files = droppedTorrents(e);
      if (files === null) return;
      e.preventDefault();
      if (files.length === 0) notify('Only .torrent files can be dropped here');
      else setDialog((d) => (d?.kind === 'add' ? d : { kind: 'add', files }));
    };
    window.addEventListener('dragover', over);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragover', over);
      window.removeEventListener('drop', drop);
    };
  }, []);

  // Removed torrents leave the selection and the details.
  useEffect(() => {
    setSelection((s) => prune(s, (h) => sync.torrents.has(h)));
    if (details !== undefined && !sync.torrents.has(details)) setDetails(undefined);
  }, [sync]);

  const shown = useMemo(() => visibleTorrents(sync.torrents.values(), filter, sort), [sync, filter, sort]);
  const selected = [...selection.selected].map((h) => sync.torrents.get(h)).filter((t) => t !== undefined);
  const hashes = selected.map((t) => t.hash);

  /** Runs an action on the selection, then polls at once so its effect shows. */
  const act = async (what: string, action: () => Promise<unknown>) => {
    await attempt(what, action);
    sync$.refresh();
  };

  if (phase === 'login')
    return (
      <>
        <Login api={api} onLoggedIn={() => sync$.start()} />
        <Toasts />
      </>
    );
  if (phase === 'loading')
    return (
      <>
        <main class="loading">
          <p class="muted">Loading…</p>
        </main>
        <Toasts />
      </>
    );

  const detailTorrent = details !== undefined ? sync.torrents.get(details) : undefined;
  return (
    <div class={view === 'fleet' ? 'layout no-side' : filtersOpen ? 'layout filters-open' : 'layout'}>
      <Header
        server={sync.server}
        view={view}
        onView={showView}
        onAdd={() => setDialog({ kind: 'add', files: [] })}
        onSettings={() => setDialog({ kind: 'settings' })}
        onToggleAlt={() => void act('Switching the alternative limits failed', () => api.toggleAltSpeed())}
        onToggleTheme={() => void toggleTheme()}
        onToggleFilters={() => setFiltersOpen(!filtersOpen)}
        onLogout={() => void attempt('Logging out failed', () => api.logout()).then(() => sync$.start())}
      />
      {trouble && (
        <p class="banner" role="alert">
          {trouble}
        </p>
      )}
      {view === 'fleet' && (
        <main class="main">
          <FleetView api={api} />
        </main>
      )}
      {view === 'torrents' && <Filters state={sync} filter={filter} onChange={setFilter} />}
      <main class="main" hidden={view !== 'torrents'}>
        <Toolbar
          search={filter.search}
          onSearch={(search) => setFilter({ ...filter, search })}
          selectedCount={hashes.length}
          shown={shown.length}
          total={sync.torrents.size}
          onStart={() => void act('Starting failed', () => api.start(hashes))}
          onStop={() => void act('Stopping failed', () => api.stop(hashes))}
          onRecheck={() => void act('Recheck failed', () => api.recheck(hashes))}
          onRemove={() => setDialog({ kind: 'remove' })}
          onCategory={() => setDialog({ kind: 'category' })}
          onLimits={() => setDialog({ kind: 'limits' })}
        />
        <TorrentList
          torrents={shown}
          sort={sort}
          onSort={(s) => {
            setSort(s);
            try {
              localStorage.setItem(SORT_KEY, JSON.stringify(s));
            } catch {
              // Not remembered: storage is off.
            }
          }}
          selection={selection}
          onSelection={setSelection}
          onOpen={setDetails}
          onRemove={() => setDialog({ kind: 'remove' })}
          emptyText={sync.torrents.size === 0 ? 'No torrents yet: add one with “+ Add”, or drop .torrent files here.' : 'No torrent matches the filters.'}
        />
        {detailTorrent && <Details key={detailTorrent.hash} api={api} torrent={detailTorrent} onClose={() => setDetails(undefined)} />}
      </main>
      {dialog?.kind === 'add' && <AddDialog api={api} categories={sync.categories} initialFiles={dialog.files} onClose={() => setDialog(undefined)} onAdded={() => sync$.refresh()} />}
      {dialog?.kind === 'remove' && selected.length > 0 && (
        <RemoveDialog
          torrents={selected}
          onClose={() => setDialog(undefined)}
          onConfirm={(deleteFiles) => {
            setDialog(undefined);
            // The details of a torrent going away close now, rather than poll it until the list drops it.
            if (details !== undefined && hashes.includes(details)) setDetails(undefined);
            void act('Removing failed', () => api.remove(hashes, deleteFiles));
          }}
        />
      )}
      {dialog?.kind === 'category' && selected.length > 0 && (
        <CategoryDialog
          torrents={selected}
          categories={sync.categories}
          onClose={() => setDialog(undefined)}
          onConfirm={(category) => {
            setDialog(undefined);
            void act('Setting the category failed', () => api.setCategory(hashes, category));
          }}
        />
      )}
      {dialog?.kind === 'limits' && selected.length > 0 && (
        <LimitsDialog
          torrents={selected}
          onClose={() => setDialog(undefined)}
          onConfirm={(down, up) => {
            setDialog(undefined);
            void act('Setting the limits failed', () => api.setLimits(hashes, down, up));
          }}
        />
      )}
      {dialog?.kind === 'settings' && <Settings api={api} categories={sync.categories} onClose={() => setDialog(undefined)} onSaved={() => sync$.refresh()} />}
      <Toasts />
    </div>
  );
}
