import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Api } from '../api.js';
import { formatBytes, formatPercent, formatRate } from '../format.js';
import { reportFailure } from '../toasts.js';
import { mergePeers, sortedPeers, type PeersState } from './peers.js';

/**
 * The Peers tab: the torrent's connected peers from sync/torrentPeers,
 * polled a second apart while the tab is open, each poll asking only for
 * what changed since the last (the rid), as the list does with maindata.
 */

const INTERVAL_MS = 1000;

function usePeers(api: Api, hash: string): { state: PeersState | undefined; error: string } {
  const [state, setState] = useState<PeersState | undefined>(undefined);
  const [error, setError] = useState('');
  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let last: PeersState | undefined;
    const run = async () => {
      try {
        const answer = await api.torrentPeers(hash, last?.rid ?? 0);
        if (!alive) return;
        last = mergePeers(last, answer);
        setState(last);
        setError('');
      } catch (e) {
        if (!alive) return;
        if (e instanceof ApiError && e.needsLogin) return reportFailure('Reading the peers', e);
        setError(e instanceof ApiError ? e.message : 'The peers could not be read');
      }
      if (alive) timer = setTimeout(() => void run(), INTERVAL_MS);
    };
    setState(undefined);
    void run();
    return () => {
      alive = false;
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [hash]);
  return { state, error };
}

export function PeersTab(props: { api: Api; hash: string }) {
  const { state, error } = usePeers(props.api, props.hash);
  if (error && !state) return <p class="tab-error">{error}</p>;
  if (!state) return <p class="muted">Loading…</p>;
  const rows = sortedPeers(state);
  return (
    <>
      {error && <p class="tab-error">{error}</p>}
      {rows.length === 0 ? (
        <p class="muted">No peer is connected.</p>
      ) : (
        <table class="peers">
          <thead>
            <tr>
              <th>Address</th>
              <th>Client</th>
              <th>Flags</th>
              <th>Progress</th>
              <th class="num">Down</th>
              <th class="num">Up</th>
              <th class="num">Downloaded</th>
              <th class="num">Uploaded</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([key, p]) => (
              <tr key={key} data-peer={key}>
                <td class="addr">{key}</td>
                <td class="name" title={p.client}>
                  {p.client || '–'}
                </td>
                <td class="flags" title={p.flags_desc}>
                  {p.flags}
                </td>
                <td class="num">{formatPercent(p.progress)}</td>
                <td class="num">{formatRate(p.dl_speed, true)}</td>
                <td class="num">{formatRate(p.up_speed, true)}</td>
                <td class="num">{formatBytes(p.downloaded)}</td>
                <td class="num">{formatBytes(p.uploaded)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
