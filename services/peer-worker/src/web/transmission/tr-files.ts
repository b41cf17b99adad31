import { SettingsError, type FilePriority, type TorrentSettingsPatch } from '@seedbox/cluster';
import type { Metainfo } from '@seedbox/protocol';
import { visibleFiles } from '../../control/control-mapping.js';
import { optIntList, type TrArgs } from './tr-args.js';

/**
 * torrent-add's and torrent-set's file arguments (files-wanted,
 * files-unwanted, priority-high/-normal/-low) as a settings patch. Pure.
 *
 * Transmission keeps "wanted" and a priority (low, normal, high) apart;
 * seedbox has one value per file: skip, normal or high. So an unwanted
 * file is skipped whatever its priority, a file wanted again comes back at
 * normal unless the same request makes it high, and low is normal (seedbox
 * has no low). Indices are those of torrent-get's `files`: BEP 47 padding
 * files are not among them. An empty list means every file, as in
 * Transmission.
 */

export interface FileArgs {
  wanted?: number[] | undefined;
  unwanted?: number[] | undefined;
  high?: number[] | undefined;
  normal?: number[] | undefined;
  low?: number[] | undefined;
}

export function readFileArgs(args: TrArgs): FileArgs {
  return {
    wanted: optIntList(args, 'files-wanted'),
    unwanted: optIntList(args, 'files-unwanted'),
    high: optIntList(args, 'priority-high'),
    normal: optIntList(args, 'priority-normal'),
    low: optIntList(args, 'priority-low'),
  };
}

export function hasFileArgs(a: FileArgs): boolean {
  return Object.values(a).some((v) => v !== undefined);
}

/**
 * The changes `a` makes to a torrent's file priorities (`current`: one per
 * metainfo file, or empty for all normal), by metainfo index; undefined
 * when nothing changes. Throws SettingsError 'file-index' for an index past
 * the list.
 */
export function filePatch(a: FileArgs, m: Pick<Metainfo, 'files'>, current: readonly FilePriority[]): TorrentSettingsPatch['files'] {
  const files = visibleFiles(m);
  const now = files.map((i) => current[i] ?? 'normal');
  const wanted = now.map((p) => p !== 'skip');
  const high = now.map((p) => p === 'high');
  const each = (list: number[] | undefined, apply: (k: number) => void): void => {
    if (list === undefined) return;
    if (list.length === 0) files.forEach((_, k) => apply(k));
    for (const k of list) {
      if (k < 0 || k >= files.length) throw new SettingsError('file-index', `file ${k} does not exist: the torrent has files 0 to ${files.length - 1}`);
      apply(k);
    }
  };
  // Transmission's order: unwanted, then wanted (a file in both ends up wanted).
  each(a.unwanted, (k) => (wanted[k] = false));
  each(a.wanted, (k) => (wanted[k] = true));
  each(a.low, (k) => (high[k] = false));
  each(a.normal, (k) => (high[k] = false));
  each(a.high, (k) => (high[k] = true));
  const changes = new Map<FilePriority, number[]>();
  files.forEach((meta, k) => {
    const next: FilePriority = !wanted[k] ? 'skip' : high[k] ? 'high' : 'normal';
    if (next === now[k]) return;
    const list = changes.get(next) ?? [];
    list.push(meta);
    changes.set(next, list);
  });
  if (changes.size === 0) return undefined;
  return [...changes].map(([priority, indices]) => ({ priority, indices }));
}
