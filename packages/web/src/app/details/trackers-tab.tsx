import type { Api } from '../api.js';
import { usePoll } from './use-poll.js';

/** The Trackers tab: torrents/trackers with each tracker's status, counts and last message. */

const STATUS = ['Disabled', 'Not contacted yet', 'Working', 'Updating', 'Not working'];

function count(n: number): string {
  return n < 0 ? '–' : String(n);
}

export function TrackersTab(props: { api: Api; hash: string }) {
  const { api, hash } = props;
  const { data: trackers, error } = usePoll(() => api.trackers(hash), [hash], 5000);
  if (error) return <p class="tab-error">{error}</p>;
  if (!trackers) return <p class="muted">Loading…</p>;
  return (
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
          <tr key={t.url} class={t.status === 4 ? 'tracker-failing' : undefined}>
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
  );
}
