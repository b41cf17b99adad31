import type { Preferences } from './types.js';

/**
 * The settings form's fields over app/preferences, and the conversion
 * both ways: speeds shown in KiB/s (sent in bytes per second, 0 = none),
 * counts where -1 is "no limit", share limits with their on/off switch,
 * choices among qBittorrent's numbers (the action at a share limit,
 * encryption), and switches (DHT). Pure, so the rules are tested without
 * a browser.
 */

export type FieldKind = 'kib' | 'int' | 'float' | 'bool' | 'choice';

export interface Choice {
  value: number;
  label: string;
}

export interface FieldSpec {
  key: keyof Preferences & string;
  label: string;
  kind: FieldKind;
  /** For a share limit's value: the switch that enables it. */
  enabledBy?: keyof Preferences & string;
  /** For a choice: the values offered. */
  choices?: readonly Choice[];
  hint?: string;
}

export const SHARE_ACTIONS: readonly Choice[] = [
  { value: 0, label: 'Stop the torrent' },
  { value: 1, label: 'Remove the torrent' },
  { value: 3, label: 'Remove the torrent and its files' },
];

export const SECTIONS: { title: string; fields: FieldSpec[] }[] = [
  {
    title: 'Speed limits',
    fields: [
      { key: 'dl_limit', label: 'Download (KiB/s)', kind: 'kib', hint: 'empty or 0: no limit' },
      { key: 'up_limit', label: 'Upload (KiB/s)', kind: 'kib' },
      { key: 'alt_dl_limit', label: 'Alternative download (KiB/s)', kind: 'kib', hint: 'used while the alternative limits are on' },
      { key: 'alt_up_limit', label: 'Alternative upload (KiB/s)', kind: 'kib' },
    ],
  },
  {
    title: 'Queueing',
    fields: [
      { key: 'queueing_enabled', label: 'Queue torrents', kind: 'bool' },
      { key: 'max_active_downloads', label: 'Active downloads at most', kind: 'int', hint: '-1: no limit' },
      { key: 'max_active_uploads', label: 'Active seeds at most', kind: 'int' },
      { key: 'max_active_torrents', label: 'Active torrents at most', kind: 'int' },
      { key: 'dont_count_slow_torrents', label: 'Do not count slow torrents', kind: 'bool' },
      { key: 'slow_torrent_dl_rate_threshold', label: 'Slow below, down (KiB/s)', kind: 'int' },
      { key: 'slow_torrent_ul_rate_threshold', label: 'Slow below, up (KiB/s)', kind: 'int' },
      { key: 'slow_torrent_inactive_timer', label: 'Slow after (seconds)', kind: 'int' },
    ],
  },
  {
    title: 'Seeding rules',
    fields: [
      { key: 'max_ratio_enabled', label: 'Stop at a ratio', kind: 'bool' },
      { key: 'max_ratio', label: 'Ratio', kind: 'float', enabledBy: 'max_ratio_enabled' },
      { key: 'max_seeding_time_enabled', label: 'Stop after seeding for', kind: 'bool' },
      { key: 'max_seeding_time', label: 'Minutes of seeding', kind: 'int', enabledBy: 'max_seeding_time_enabled' },
      { key: 'max_inactive_seeding_time_enabled', label: 'Stop after inactive for', kind: 'bool' },
      { key: 'max_inactive_seeding_time', label: 'Minutes inactive', kind: 'int', enabledBy: 'max_inactive_seeding_time_enabled' },
      { key: 'max_ratio_act', label: 'Then', kind: 'choice', choices: SHARE_ACTIONS },
    ],
  },
];

/** qBittorrent's encryption setting: 0 prefer (its "Allow encryption"), 1 require, 2 disable. */
export const ENCRYPTION_CHOICES: readonly Choice[] = [
  { value: 0, label: 'Prefer encrypted connections' },
  { value: 1, label: 'Require encryption' },
  { value: 2, label: 'Plain connections only' },
];

/** Shown with the peer discovery switches, saved with the sections above. */
export const ENCRYPTION_FIELD: FieldSpec = { key: 'encryption', label: 'Encryption', kind: 'choice', choices: ENCRYPTION_CHOICES };

/** The fleet's DHT switch, shown and saved with encryption. */
export const DHT_FIELD: FieldSpec = { key: 'dht', label: 'DHT', kind: 'bool' };

export type FormValues = Record<string, string | boolean>;

const FIELDS = [...SECTIONS.flatMap((s) => s.fields), DHT_FIELD, ENCRYPTION_FIELD];

export function toForm(p: Partial<Preferences>): FormValues {
  const out: FormValues = {};
  for (const f of FIELDS) {
    const v = p[f.key];
    if (v === undefined) continue;
    if (f.kind === 'bool') out[f.key] = Boolean(v);
    else if (f.kind === 'kib') out[f.key] = typeof v === 'number' && v > 0 ? String(Math.round(v / 1024)) : '';
    // A disabled share limit's value is -1: an empty box reads better.
    else if (f.enabledBy && typeof v === 'number' && v < 0) out[f.key] = '';
    else out[f.key] = String(v);
  }
  return out;
}

export type FormResult = { ok: true; changes: Partial<Preferences> } | { ok: false; error: string };

/** What to send to app/setPreferences: the fields that differ from `loaded`, or the first field that is not valid. */
export function fromForm(values: FormValues, loaded: Partial<Preferences>): FormResult {
  const changes: Record<string, number | boolean> = {};
  for (const f of FIELDS) {
    const raw = values[f.key];
    if (raw === undefined) continue;
    let v: number | boolean;
    if (f.kind === 'bool') v = raw === true;
    else {
      const text = String(raw).trim();
      if (f.enabledBy && values[f.enabledBy] !== true) continue;
      if (f.kind === 'kib' && text === '') v = 0;
      else {
        if (text === '') return { ok: false, error: `${f.label}: give a value` };
        const n = Number(text);
        if (!Number.isFinite(n)) return { ok: false, error: `${f.label}: ${text} is not a number` };
        if ((f.kind === 'int' || f.kind === 'choice') && !Number.isInteger(n)) return { ok: false, error: `${f.label}: give a whole number` };
        if (f.kind === 'kib' && n < 0) return { ok: false, error: `${f.label}: a limit cannot be negative` };
        v = f.kind === 'kib' ? Math.round(n * 1024) : n;
      }
    }
    if (loaded[f.key] !== v) changes[f.key] = v;
  }
  // A share limit switched on is sent with its value, as app/setPreferences needs both.
  for (const f of FIELDS) if (f.enabledBy && f.enabledBy in changes && changes[f.enabledBy] === true && !(f.key in changes) && typeof loaded[f.key] === 'number') changes[f.key] = loaded[f.key] as number;
  return { ok: true, changes: changes as Partial<Preferences> };
}
