import type { Api } from '../api.js';
import { formatBytes, formatPercent } from '../format.js';
import { attempt } from '../toasts.js';
import { usePoll } from './use-poll.js';

/** The Files tab: torrents/files with each file's progress and a priority to pick (torrents/filePrio). */

export const PRIORITIES = [
  { value: 0, label: 'Do not download' },
  { value: 1, label: 'Normal' },
  { value: 6, label: 'High' },
  { value: 7, label: 'Maximum' },
];

export function FilesTab(props: { api: Api; hash: string }) {
  const { api, hash } = props;
  const { data: files, error, reload } = usePoll(() => api.files(hash), [hash], 2000);
  if (error) return <p class="tab-error">{error}</p>;
  if (!files) return <p class="muted">Loading…</p>;
  if (files.length === 0) return <p class="muted">No files known yet (the metadata is still being fetched).</p>;
  const setPriority = async (index: number, priority: number) => {
    if (await attempt('Setting the priority failed', () => api.filePriority(hash, [index], priority))) reload();
  };
  return (
    <table class="files">
      <thead>
        <tr>
          <th>Name</th>
          <th class="num">Size</th>
          <th>Progress</th>
          <th>Priority</th>
        </tr>
      </thead>
      <tbody>
        {files.map((f) => (
          <tr key={f.index} data-index={f.index}>
            <td class="name" title={f.name}>
              {f.name}
            </td>
            <td class="num">{formatBytes(f.size)}</td>
            <td>
              <div class={f.priority === 0 ? 'bar tone-stopped' : 'bar tone-done'} role="progressbar" aria-label={`${f.name} progress`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.floor(f.progress * 1000) / 10}>
                <div class="fill" style={{ width: `${Math.min(100, f.progress * 100)}%` }} />
                <span class="bar-text">{formatPercent(f.progress)}</span>
              </div>
            </td>
            <td>
              <select aria-label={`Priority of ${f.name}`} value={String(f.priority)} onChange={(e) => void setPriority(f.index, Number(e.currentTarget.value))}>
                {PRIORITIES.map((p) => (
                  <option key={p.value} value={String(p.value)}>
                    {p.label}
                  </option>
                ))}
                {!PRIORITIES.some((p) => p.value === f.priority) && <option value={String(f.priority)}>Mixed ({f.priority})</option>}
              </select>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
