import type { Api } from '../api.js';
import { formatBytes, formatDate, formatDuration, formatLimit, formatRate, formatRatio } from '../format.js';
import type { Properties, Torrent } from '../types.js';
import { usePoll } from './use-poll.js';

/** The General tab: torrents/properties, every two seconds while shown. */

function Row(props: { label: string; value: string | number | undefined }) {
  return (
    <>
      <dt>{props.label}</dt>
      <dd>{props.value === undefined || props.value === '' ? '–' : props.value}</dd>
    </>
  );
}

function pieces(p: Properties): string {
  if (p.pieces_num < 0) return '–';
  return `${p.pieces_num} × ${formatBytes(p.piece_size)} (have ${p.pieces_have})`;
}

export function GeneralTab(props: { api: Api; torrent: Torrent }) {
  const hash = props.torrent.hash;
  const { data: p, error } = usePoll(() => props.api.properties(hash), [hash], 2000);
  if (error) return <p class="tab-error">{error}</p>;
  if (!p) return <p class="muted">Loading…</p>;
  return (
    <div class="general">
      <section>
        <h3>Transfer</h3>
        <dl>
          <Row label="Time active" value={formatDuration(p.time_elapsed)} />
          <Row label="Seeding for" value={formatDuration(p.seeding_time)} />
          <Row label="ETA" value={formatDuration(p.eta)} />
          <Row label="Downloaded" value={formatBytes(p.total_downloaded)} />
          <Row label="Uploaded" value={formatBytes(p.total_uploaded)} />
          <Row label="Ratio" value={formatRatio(p.share_ratio)} />
          <Row label="Average down" value={p.dl_speed_avg >= 0 ? formatRate(p.dl_speed_avg) : '–'} />
          <Row label="Average up" value={p.up_speed_avg >= 0 ? formatRate(p.up_speed_avg) : '–'} />
          <Row label="Limits" value={`↓ ${formatLimit(p.dl_limit)} ↑ ${formatLimit(p.up_limit)}`} />
          <Row label="Connections" value={p.nb_connections} />
          <Row label="Seeds / peers" value={`${p.seeds} / ${p.peers}`} />
          <Row label="Wasted" value={formatBytes(p.total_wasted)} />
        </dl>
      </section>
      <section>
        <h3>Information</h3>
        <dl>
          <Row label="Total size" value={formatBytes(p.total_size)} />
          <Row label="Pieces" value={pieces(p)} />
          <Row label="Info hash v1" value={p.infohash_v1 ?? hash} />
          <Row label="Info hash v2" value={p.infohash_v2} />
          <Row label="Save folder" value={p.save_path} />
          <Row label="Created by" value={p.created_by} />
          <Row label="Created on" value={formatDate(p.creation_date)} />
          <Row label="Added on" value={formatDate(p.addition_date)} />
          <Row label="Completed on" value={formatDate(p.completion_date)} />
          <Row label="Private" value={p.is_private === undefined ? undefined : p.is_private ? 'yes' : 'no'} />
          <Row label="Comment" value={p.comment} />
        </dl>
      </section>
    </div>
  );
}
