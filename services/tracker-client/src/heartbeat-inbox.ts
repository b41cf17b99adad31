import { WORKER_HEARTBEAT, WORKER_HEARTBEAT_CHANGES, type ServiceContext } from '@seedbox/cluster';
import type { WorkerHeartbeat as WireHeartbeat } from '@seedbox/proto';
import type { WorkerHeartbeatChanges, WorkerTorrentStats } from './tracker-client-types.js';

/**
 * The peer-workers' heartbeats as they come off NATS, held until the event
 * loop is free and then handed over per worker in the order that keeps
 * them right:
 *
 * - a full heartbeat (`seedbox.worker.heartbeat`) lists every torrent, so
 *   only a worker's latest one matters: those that arrive while one is
 *   being handled replace each other, and a tracker-client behind (10,000
 *   torrents) skips the stale ones instead of queueing them (it once grew
 *   to 3 GiB doing so). It also makes the partial ones queued before it
 *   moot (one publisher's messages come in order);
 * - a partial one (`seedbox.worker.heartbeat.changes`) says only what
 *   changed since the one before, so none may be dropped in favour of a
 *   later one: they queue, in order, up to MAX_QUEUED_CHANGES a worker.
 *   Past that the newest are dropped; the seq gap that leaves makes the
 *   TrackerClient ignore the worker's partials until its next full one.
 *
 * Decoding stays with the caller: the bytes are only keyed by the worker
 * id read from their first field (workerOfBeat).
 */

/** Partial heartbeats held for one worker at most (a full one every few seconds empties the queue). */
export const MAX_QUEUED_CHANGES = 64;

export type BeatKind = 'full' | 'changes';

interface Pending {
  full: Uint8Array | undefined;
  changes: Uint8Array[];
}

export class HeartbeatInbox {
  private readonly pending = new Map<string, Pending>();
  private unkeyed = 0;
  private scheduled = false;

  /** `handle` gets each heartbeat kept, in order; what it throws is its own to report (the others are handled still). */
  constructor(private readonly handle: (kind: BeatKind, data: Uint8Array) => void) {}

  put(kind: BeatKind, data: Uint8Array): void {
    // Keyed by the worker id when it is where the encoder writes it, else by the message: one per worker either way.
    const key = workerOfBeat(data) ?? `\0${++this.unkeyed}`;
    let p = this.pending.get(key);
    if (!p) this.pending.set(key, (p = { full: undefined, changes: [] }));
    if (kind === 'full') {
      p.full = data;
      p.changes.length = 0;
    } else if (p.changes.length < MAX_QUEUED_CHANGES) p.changes.push(data);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  /** Hands over everything held: per worker, its latest full heartbeat, then the partial ones after it. */
  drain(): void {
    this.scheduled = false;
    const held = [...this.pending.values()];
    this.pending.clear();
    for (const p of held) {
      if (p.full) this.handOver('full', p.full);
      for (const data of p.changes) this.handOver('changes', data);
    }
  }

  private handOver(kind: BeatKind, data: Uint8Array): void {
    try {
      this.handle(kind, data);
    } catch {
      // The handler reports its own failures; one worker's bad heartbeat must not cost the others theirs.
    }
  }
}

/** Subscribes the inbox to both kinds of heartbeat. */
export function watchWorkerHeartbeats(nc: ServiceContext<unknown>['nc'], inbox: HeartbeatInbox): { unsubscribe(): void } {
  const subs = [
    nc.subscribe(WORKER_HEARTBEAT, { callback: (_err, msg) => inbox.put('full', msg.data) }),
    nc.subscribe(WORKER_HEARTBEAT_CHANGES, { callback: (_err, msg) => inbox.put('changes', msg.data) }),
  ];
  return { unsubscribe: () => subs.forEach((s) => s.unsubscribe()) };
}

/**
 * A decoded heartbeat as TrackerClient takes it: heartbeat() for a full one
 * (its `gone` is empty), heartbeatChanges() for a partial one.
 */
export function clientBeat(hb: WireHeartbeat): WorkerHeartbeatChanges & { seq: number; gone: string[] } {
  const torrents = new Map<string, WorkerTorrentStats>();
  for (const t of hb.torrents) torrents.set(t.infoHash, { uploaded: t.uploaded, downloaded: t.downloaded, left: t.left, complete: t.complete });
  return { workerId: hb.workerId, peerId: hb.peerId, port: hb.listenPort, ...(hb.announceHost !== '' ? { host: hb.announceHost } : {}), seq: hb.seq, torrents, gone: hb.gone };
}

/**
 * The worker id of an encoded WorkerHeartbeat, read without decoding the
 * rest (thousands of torrents): field 1, which the encoder writes first.
 * Undefined when it is not there first; the caller then keeps the beat.
 */
export function workerOfBeat(data: Uint8Array): string | undefined {
  if (data.length < 2 || data[0] !== 0x0a) return undefined;
  let len = 0;
  let at = 1;
  for (let shift = 0; at < data.length && shift < 21; shift += 7) {
    const b = data[at++]!;
    len |= (b & 0x7f) << shift;
    if (b < 0x80) {
      if (at + len > data.length) return undefined;
      return Buffer.from(data.buffer, data.byteOffset + at, len).toString('utf8');
    }
  }
  return undefined;
}
