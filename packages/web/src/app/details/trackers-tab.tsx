import { useState } from 'preact/hooks';
import type { Api } from '../api.js';
import { attempt, notify } from '../toasts.js';
import { usePoll } from './use-poll.js';

/**
 * The Trackers tab: torrents/trackers with each tracker's status, the
 * swarm's counts it gave and its last message (the error when it
 * failed), and a Reannounce button (torrents/reannounce: every worker
 * running the torrent announces now, past the tracker's interval).
 */

const STATUS = ['Disabled', 'Not contacted yet', 'Working', 'Updating', 'Not working'];

function count(n: number): string {
  return n < 0 ? '–' : String(n);
}

export function TrackersTab(props: { api: Api; hash: string }) {
  const { api, hash } = props;
  const { data: trackers, error, reload } = usePoll(() => api.trackers(hash), [hash], 5000);
  const [asking, setAsking] = useState(false);
  if (error) return <p class="tab-error">{error}</p>;
  if (!trackers) return <p class="muted">Loading…</p>;
  const reannounce = async () => {
    setAsking(true);
    const ok = await attempt('Reannouncing failed', () => api.reannounce([hash]));
    setAsking(false);
    if (!ok) return;
    notify('Announcing to the trackers now', 'info');
    // The answers take a moment: read the statuses again once they may be in.
    setTimeout(reload, 1500);
  };
  return (
    <>
      <div class="tab-actions">
        <button type="button" disabled={asking} onClick={() => void reannounce()}>
          Reannounce
        </button>
      </div>
      <table class="trackers">
        <thead>
          <tr>
            <th>Tier</th>
            <th>URL</th>
            <th>Status</th>
            <th class="num">Peers</th>
            <th class="num">Seeds</th>
            <th class="num">Leeches</th>
            <th class="num">Downloaded</th>
            <th>Message</th>
          </tr>
        </thead>
        <tbody>
          {trackers.map((t) => (
            <tr key={t.url} data-url={t.url} class={t.status === 4 ? 'tracker-failing' : undefined}>
              <td>{t.tier < 0 ? '' : t.tier}</td>
              <td class="name" title={t.url}>
                {t.url}
              </td>
              <td>{STATUS[t.status] ?? `Status ${t.status}`}</td>
              <td class="num">{count(t.num_peers)}</td>
              <td class="num">{count(t.num_seeds)}</td>
              <td class="num">{count(t.num_leeches)}</td>
              <td class="num">{count(t.num_downloaded)}</td>
              <td>{t.msg}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
