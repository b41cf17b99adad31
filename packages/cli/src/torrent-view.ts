import { FilePriority, ShareAction, ShareLimitReached, type Category, type FleetConfig, type Torrent, type TorrentStats } from '@seedbox/proto';
import { stateName } from './control-client.js';
import { formatBytes, formatRate } from './format.js';

/** How `ls`, `ls --long`/`get` and `config` print torrents and the fleet's config. */

/** `ls` shows this much of an info hash; any unique prefix of 6 or more is taken back. */
export const SHORT = 12;

/** Torrent names come from the file: keep control characters off the terminal. */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

export function clip(s: string, width: number): string {
  return s.length <= width ? s : `${s.slice(0, width - 1)}…`;
}

export function progress(totalLength: number, stats: TorrentStats | undefined): string {
  if (!stats) return '-';
  const fraction = totalLength > 0 ? (totalLength - stats.leftBytes) / totalLength : 1;
  return `${(fraction * 100).toFixed(1)}%`;
}

export function formatRatio(r: number): string {
  return r.toFixed(2);
}

/** A speed limit: 0 is none. */
export function formatLimit(bytesPerSecond: number): string {
  return bytesPerSecond > 0 ? formatRate(bytesPerSecond) : 'none';
}

/** A share limit in qBittorrent's numbers: -2 global, -1 none. */
export function formatShareLimit(n: number, unit: '' | ' min'): string {
  if (n === -2) return 'global';
  if (n < 0) return 'none';
  return unit === '' ? formatRatio(n) : `${n}${unit}`;
}

/** "3d 04:05:06" for long spans (seeding time runs to months), "04:05:06" below a day. */
export function formatSpan(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const hms = [Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60), s % 60].map((x) => String(x).padStart(2, '0')).join(':');
  return d > 0 ? `${d}d ${hms}` : hms;
}

const onOff = (b: boolean): string => (b ? 'on' : 'off');

const PRIORITY: Record<number, string> = {
  [FilePriority.FILE_PRIORITY_SKIP]: 'skip',
  [FilePriority.FILE_PRIORITY_NORMAL]: 'normal',
  [FilePriority.FILE_PRIORITY_HIGH]: 'high',
};

const LIMIT: Record<number, string> = {
  [ShareLimitReached.SHARE_LIMIT_REACHED_RATIO]: 'ratio',
  [ShareLimitReached.SHARE_LIMIT_REACHED_SEEDING_TIME]: 'seeding time',
  [ShareLimitReached.SHARE_LIMIT_REACHED_INACTIVE_TIME]: 'inactive seeding time',
};

const ACTION: Record<number, string> = {
  [ShareAction.SHARE_ACTION_PAUSE]: 'pause',
  [ShareAction.SHARE_ACTION_REMOVE]: 'remove',
  [ShareAction.SHARE_ACTION_REMOVE_WITH_DATA]: 'remove-with-data',
};

/** Columns padded to their widest cell; `right` marks the right-aligned ones. */
export function table(columns: string[], right: boolean[], rows: string[][]): string[] {
  // A loop, not Math.max(...rows): a listing of 100,000 torrents is more arguments than a call takes.
  const widths = columns.map((c) => c.length);
  for (const r of rows) r.forEach((cell, i) => (widths[i] = Math.max(widths[i]!, cell.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns), ...rows.map(line)];
}

const COLUMNS = ['INFO HASH', 'NAME', 'STATE', 'PROGRESS', 'DOWN', 'UP', 'PEERS', 'RATIO', 'SIZE', 'CATEGORY', 'TAGS'];
const RIGHT = [false, false, false, true, true, true, true, true, true, false, false];

export function formatTable(torrents: Torrent[]): string {
  const rows = torrents.map((t) => [
    t.infoHash.slice(0, SHORT),
    clip(printable(t.name), 40),
    stateName(t.state),
    progress(t.totalLength, t.stats),
    t.stats ? formatRate(t.stats.downloadRate) : '-',
    t.stats ? formatRate(t.stats.uploadRate) : '-',
    t.stats ? String(t.stats.peers) : '-',
    formatRatio(t.ratio),
    formatBytes(t.totalLength),
    t.category === '' ? '-' : clip(printable(t.category), 20),
    t.tags.length === 0 ? '-' : clip(printable(t.tags.join(',')), 30),
  ]);
  const lines = table(COLUMNS, RIGHT, rows);
  // A torrent in error says why below the table, where a long sentence fits.
  for (const t of torrents) if (t.error) lines.push(`${t.infoHash.slice(0, SHORT)}: ${printable(t.error)}`);
  return `${lines.join('\n')}\n`;
}

/** Everything about one torrent, `label  value` lines and then its files, numbered as --skip/--high take them. */
export function formatTorrentLong(t: Torrent): string {
  const rows: [string, string][] = [
    ['info hash', t.infoHash],
    ['name', printable(t.name)],
    ['state', stateName(t.state)],
    ['progress', progress(t.totalLength, t.stats)],
    ['size', formatBytes(t.totalLength)],
    ['save folder', printable(t.savePath)],
    ['category', t.category === '' ? '-' : printable(t.category)],
    ['tags', t.tags.length === 0 ? '-' : printable(t.tags.join(','))],
    ['ratio', `${formatRatio(t.ratio)} (limit ${formatShareLimit(t.ratioLimit, '')})`],
    ['seeding time', `${formatSpan(t.seedingSeconds)} (limit ${formatShareLimit(t.seedingTimeLimit, ' min')}, inactive limit ${formatShareLimit(t.inactiveSeedingTimeLimit, ' min')})`],
    ['active time', formatSpan(t.activeSeconds)],
    ['uploaded', formatBytes(t.uploadedTotal)],
    ['downloaded', formatBytes(t.downloadedTotal)],
    ['download limit', formatLimit(t.downloadLimit)],
    ['upload limit', formatLimit(t.uploadLimit)],
    ['queue position', String(t.queuePosition)],
    ['force start', onOff(t.forceStart)],
    ['sequential', onOff(t.sequential)],
    ['first/last piece', onOff(t.firstLastPiece)],
  ];
  if (t.stats) rows.push(['rates', `down ${formatRate(t.stats.downloadRate)}  up ${formatRate(t.stats.uploadRate)}  peers ${t.stats.peers}`]);
  if (t.limitReached !== ShareLimitReached.SHARE_LIMIT_REACHED_NONE) rows.push(['limit reached', LIMIT[t.limitReached] ?? String(t.limitReached)]);
  if (t.movingTo !== '') rows.push(['moving to', printable(t.movingTo)]);
  if (t.moveError !== '') rows.push(['move failed', printable(`to ${t.moveErrorTo}: ${t.moveError}`)]);
  rows.push(['added', new Date(t.addedAt * 1000).toISOString()]);
  if (t.error) rows.push(['error', printable(t.error)]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  lines.push('files:');
  const files = t.files.map((f, i) => [
    String(i),
    PRIORITY[f.priority] ?? 'normal',
    f.bytesDone === undefined ? '-' : `${((f.length > 0 ? f.bytesDone / f.length : 1) * 100).toFixed(1)}%`,
    formatBytes(f.length),
    printable(f.path),
  ]);
  lines.push(...table(['#', 'PRIORITY', 'DONE', 'SIZE', 'PATH'], [true, false, true, true, false], files).map((l) => `  ${l}`));
  return `${lines.join('\n')}\n`;
}

export function formatConfig(c: FleetConfig): string {
  const count = (n: number): string => (n < 0 ? 'none' : String(n));
  const rows: [string, string][] = [
    ['download limit', formatLimit(c.downloadLimit)],
    ['upload limit', formatLimit(c.uploadLimit)],
    ['alt download limit', formatLimit(c.altDownloadLimit)],
    ['alt upload limit', formatLimit(c.altUploadLimit)],
    ['alt speed', onOff(c.altSpeedEnabled)],
    ['queueing', onOff(c.queueingEnabled)],
    ['max active downloads', count(c.maxActiveDownloads)],
    ['max active seeds', count(c.maxActiveSeeds)],
    ['max active torrents', count(c.maxActiveTorrents)],
    ['ratio limit', formatShareLimit(c.ratioLimit, '')],
    ['seeding time limit', formatShareLimit(c.seedingTimeLimit, ' min')],
    ['inactive time limit', formatShareLimit(c.inactiveSeedingTimeLimit, ' min')],
    ['share action', ACTION[c.shareAction] ?? String(c.shareAction)],
    ['categories', c.categories.length === 0 ? '-' : c.categories.map((x) => printable(x.name)).join(', ')],
    ['seed replicas', c.seedReplicas === 0 ? 'all' : String(c.seedReplicas)],
    ['private seed replicas', c.privateSeedReplicas === 0 ? 'all' : String(c.privateSeedReplicas)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return `${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`;
}

export function formatCategories(categories: Category[]): string {
  const rows = categories.map((c) => [printable(c.name), c.savePath === '' ? '.' : printable(c.savePath)]);
  return `${table(['CATEGORY', 'SAVE FOLDER'], [false, false], rows).join('\n')}\n`;
}
