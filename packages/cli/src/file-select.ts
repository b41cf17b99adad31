import type { Metainfo } from '@seedbox/protocol';
import type { FilePriority } from '@seedbox/peer-worker';
import { UsageError } from './cli-error.js';

/**
 * `seedbox download --only LIST` / `--skip LIST`: which files of a torrent
 * to fetch. LIST is file numbers as `seedbox inspect` prints them (from 0,
 * BEP 47 padding files not counted), separated by commas, with ranges:
 * `0,2-4`. `--only` fetches those files and skips the rest; `--skip` skips
 * those and fetches the rest; the two do not combine.
 */
export interface FileChoice {
  only?: string | undefined;
  skip?: string | undefined;
}

/** Parses LIST into file numbers, each below `count`; a bad LIST is a one-line UsageError. */
export function parseFileList(list: string, count: number, flag: string): Set<number> {
  const out = new Set<number>();
  for (const part of list.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new UsageError(`${flag} '${list}': '${part}' is not a file number or a range N-M (numbers as seedbox inspect lists them)`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new UsageError(`${flag} '${list}': the range ${part} runs backwards`);
    if (to >= count) throw new UsageError(`${flag} '${list}': file ${to} does not exist; the torrent has ${count} file${count === 1 ? '' : 's'} (0-${count - 1})`);
    for (let i = from; i <= to; i++) out.add(i);
  }
  return out;
}

/** The engine's priorities (one per entry of meta.files, padding included) for a choice; undefined when there is none. */
export function filePriorities(meta: Pick<Metainfo, 'files'>, choice: FileChoice): FilePriority[] | undefined {
  if (choice.only !== undefined && choice.skip !== undefined) throw new UsageError('--only and --skip do not combine: give one of them');
  const list = choice.only ?? choice.skip;
  if (list === undefined) return undefined;
  const real = meta.files.flatMap((f, i) => (f.padding ? [] : [i]));
  const chosen = parseFileList(list, real.length, choice.only !== undefined ? '--only' : '--skip');
  const priorities: FilePriority[] = meta.files.map(() => (choice.only !== undefined ? 'skip' : 'normal'));
  for (const n of chosen) priorities[real[n]!] = choice.only !== undefined ? 'normal' : 'skip';
  return priorities;
}
