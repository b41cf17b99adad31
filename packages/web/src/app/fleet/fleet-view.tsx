import type { Api } from '../api.js';
import { usePoll } from '../details/use-poll.js';
import { formatDuration, formatRate } from '../format.js';
import { cellsOf, countMembers, healthOf, historySpan, KIND_LABELS, latestRates, readFleet } from './fleet-data.js';
import { RateChart } from './rate-chart.js';

/**
 * The Fleet page: every service process (each peer-worker and
 * disk-writer replica, the tracker-client; `seedbox serve` is a fleet of
 * one) with its health and figures, and the fleet's total rates over the
 * last ten minutes. GET /api/seedbox/v1/fleet every two seconds, the pace
 * of the heartbeats it is made from.
 */

export function FleetView(props: { api: Api }) {
  const { data, error } = usePoll(async () => readFleet(await props.api.fleet()), [], 2000, 'the fleet');
  if (!data) return <section class="fleet">{error ? <p class="tab-error">{error}</p> : <p class="muted">Loading…</p>}</section>;
  const { live, lost } = countMembers(data.members);
  const now = latestRates(data.history);
  const span = historySpan(data.history);
  return (
    <section class="fleet" aria-label="Fleet">
      {error && <p class="tab-error">{error}</p>}
      <header class="fleet-head">
        <h2>Fleet</h2>
        <p class="muted">
          {live} live{lost > 0 ? `, ${lost} lost` : ''}
          {now && ` · now ↓ ${formatRate(now.down)} ↑ ${formatRate(now.up)}`}
        </p>
      </header>
      <div class="fleet-table-wrap">
        <table class="fleet-members">
          <thead>
            <tr>
              <th>Kind</th>
              <th>Instance</th>
              <th>Health</th>
              <th>Torrents</th>
              <th class="num">Down</th>
              <th class="num">Up</th>
              <th class="c-disk">Disk writes</th>
              <th class="num c-uptime">Uptime</th>
              <th class="c-version">Version</th>
            </tr>
          </thead>
          <tbody>
            {data.members.map((m) => {
              const health = healthOf(m, data.now);
              const cells = cellsOf(m);
              return (
                <tr key={`${m.kind}/${m.instance}`} data-kind={m.kind} data-instance={m.instance} data-status={m.status} class={m.status === 'lost' ? 'member-lost' : undefined}>
                  <td>{KIND_LABELS[m.kind] ?? m.kind}</td>
                  <td class="name" title={m.instance}>
                    {m.instance}
                  </td>
                  <td class={`health tone-${health.tone}`}>{health.label}</td>
                  <td>{cells.torrents}</td>
                  <td class="num">{cells.down}</td>
                  <td class="num">{cells.up}</td>
                  <td class="c-disk">{cells.disk}</td>
                  <td class="num c-uptime">{m.uptimeSeconds < 0 ? '–' : formatDuration(m.uptimeSeconds)}</td>
                  <td class="c-version">{m.version}</td>
                </tr>
              );
            })}
            {data.members.length === 0 && (
              <tr>
                <td colSpan={9} class="empty">
                  No service has been heard from yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <h3>Total rate</h3>
      <RateChart history={data.history} label={`The fleet's total download and upload rate. ${span}`} />
      <p class="hint">{span}</p>
    </section>
  );
}
