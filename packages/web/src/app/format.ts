import { MAX_ETA, type TorrentState } from './types.js';

/**
 * Numbers as people read them: binary units (KiB, MiB) as qBittorrent
 * shows them, rates per second, durations in the two largest units, and
 * qBittorrent's "unknown" values (-1, MAX_ETA) as ∞ or a dash rather
 * than a misleading figure. Pure.
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** 1536 → "1.50 KiB"; a negative (unknown) size → "–". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '–';
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${v} B`;
  return `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${UNITS[i]}`;
}

/** Bytes per second; 0 shows as nothing in a busy list when `blankZero`. */
export function formatRate(n: number, blankZero = false): string {
  if (blankZero && n <= 0) return '';
  return `${formatBytes(Math.max(0, n))}/s`;
}

/** A speed limit in bytes per second, where 0 or less means none. */
export function formatLimit(n: number): string {
  return n > 0 ? formatRate(n) : '∞';
}

/** Seconds as "2d 3h", "4h 5m", "6m 7s", "8s"; MAX_ETA or more is ∞, a negative is unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds >= MAX_ETA) return '∞';
  if (seconds < 0) return '–';
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** A torrent's ETA: a finished or stopped torrent's ∞ reads as such. */
export function formatEta(eta: number): string {
  return formatDuration(eta);
}

/** 0.4567 → "45.6%"; 1 → "100%"; never rounds up to 100% before it is there. */
export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction) || fraction < 0) return '–';
  if (fraction >= 1) return '100%';
  return `${(Math.floor(fraction * 1000) / 10).toFixed(1)}%`;
}

/** qBittorrent sends -1 for an infinite ratio (uploaded with nothing downloaded) and caps at 9999. */
export function formatRatio(r: number): string {
  if (!Number.isFinite(r) || r < 0 || r >= 9999) return '∞';
  return r.toFixed(2);
}

/** Seconds since the epoch as a local date and time; -1 or 0 (never) as "–". */
export function formatDate(epochSeconds: number): string {
  if (!Number.isFinite(epochSeconds) || epochSeconds <= 0) return '–';
  const d = new Date(epochSeconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "3 (10)": connected and known in the swarm, as qBittorrent's list shows seeds and peers. */
export function formatSwarm(connected: number, total: number): string {
  return total > connected ? `${connected} (${total})` : String(connected);
}

const STATE_LABELS: Record<TorrentState, string> = {
  error: 'Errored',
  missingFiles: 'Missing files',
  uploading: 'Seeding',
  stoppedUP: 'Completed',
  pausedUP: 'Completed',
  queuedUP: 'Queued',
  stalledUP: 'Seeding',
  checkingUP: 'Checking',
  forcedUP: '[F] Seeding',
  allocating: 'Allocating',
  downloading: 'Downloading',
  metaDL: 'Fetching metadata',
  forcedMetaDL: '[F] Fetching metadata',
  stoppedDL: 'Stopped',
  pausedDL: 'Stopped',
  queuedDL: 'Queued',
  stalledDL: 'Stalled',
  checkingDL: 'Checking',
  forcedDL: '[F] Downloading',
  checkingResumeData: 'Checking resume data',
  moving: 'Moving',
  unknown: 'Unknown',
};

export function stateLabel(state: string): string {
  return STATE_LABELS[state as TorrentState] ?? state;
}

/** A coarse kind for colouring a state: done, active, stopped, error or waiting. */
export function stateTone(state: string): 'done' | 'active' | 'stopped' | 'error' | 'waiting' {
  switch (state) {
    case 'error':
    case 'missingFiles':
    case 'unknown':
      return 'error';
    case 'stoppedDL':
    case 'pausedDL':
      return 'stopped';
    case 'stoppedUP':
    case 'pausedUP':
    case 'uploading':
    case 'stalledUP':
    case 'forcedUP':
    case 'queuedUP':
      return 'done';
    case 'downloading':
    case 'forcedDL':
    case 'metaDL':
    case 'forcedMetaDL':
      return 'active';
    default:
      return 'waiting';
  }
}

/** KiB/s from a text field ("" or 0: no limit) as bytes per second; undefined when not a number. */
export function parseKiBps(text: string): number | undefined {
  const t = text.trim();
  if (t === '') return 0;
  const n = Number(t);
  if (!Number.isFinite(n) || n < 0) return undefined;
  return Math.round(n * 1024);
}

/** Bytes per second as the KiB/s a limit field shows ("" for none). */
export function toKiBps(bytesPerSecond: number): string {
  return bytesPerSecond > 0 ? String(Math.round(bytesPerSecond / 1024)) : '';
}

/** The lines of the add dialog's links box that are links: blank lines and surrounding spaces dropped. */
export function linksOf(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}
