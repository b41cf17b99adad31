import type { ChangesVerdict, TorrentStatsList, WorkerState, WorkerTorrentStats } from './tracker-client-types.js';

/** How TrackerClient reads heartbeats (pure): their torrents as one map, and whether a partial one follows the last applied. */

/** The torrents of a heartbeat by lower-case hex info hash, filled in one pass. */
export function statsMap(list: TorrentStatsList): Map<string, WorkerTorrentStats> {
  const torrents = new Map<string, WorkerTorrentStats>();
  if (list instanceof Map) for (const [hex, st] of list as ReadonlyMap<string, WorkerTorrentStats>) torrents.set(hex.toLowerCase(), st);
  else for (const hex in list) torrents.set(hex.toLowerCase(), (list as Readonly<Record<string, WorkerTorrentStats>>)[hex]!);
  return torrents;
}

/**
 * Whether a partial heartbeat with this seq may be applied to the worker's
 * state. A partial only says what changed since the one before it, so one
 * that does not follow the last applied (seq + 1) would leave the worker's
 * torrents wrong for good (a join or a leave missed): from then on every
 * partial is ignored until a full heartbeat, which lists everything,
 * brings the worker back in step (the peer-workers send one every few
 * seconds). Without a seq (in one process, handed over in order) a partial
 * is taken while the worker is in step.
 */
export function changesVerdict(worker: Pick<WorkerState, 'seq' | 'inStep'>, seq: number | undefined): ChangesVerdict {
  if (seq !== undefined && worker.seq !== undefined && seq <= worker.seq) return 'stale';
  if (!worker.inStep) return 'out-of-step';
  if (seq === undefined) return 'applied';
  return worker.seq !== undefined && seq === worker.seq + 1 ? 'applied' : 'out-of-step';
}

/** The torrents one heartbeat lists and the other does not: those joined, then those left. */
export function joinedOrLeft(before: ReadonlyMap<string, unknown>, after: ReadonlyMap<string, unknown>): string[] {
  const changed: string[] = [];
  for (const hex of after.keys()) if (!before.has(hex)) changed.push(hex);
  for (const hex of before.keys()) if (!after.has(hex)) changed.push(hex);
  return changed;
}
