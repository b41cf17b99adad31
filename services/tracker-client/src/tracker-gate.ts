import { TrackerError, type AnnounceEvent } from '@seedbox/protocol';

/**
 * How many requests each tracker has from us at once, and who goes next.
 *
 * A fleet seeding 10,000 torrents restarts with 10,000 `started`
 * announces due at once, all to the same few trackers; sent together they
 * are a storm the tracker answers with 429s or a ban. So every announce
 * and scrape to a tracker (one host:port, whatever the torrent or the
 * worker) first takes one of its `perTracker` slots (default 4, as many
 * as the HTTP connection pool holds: http-agents.ts), and waits in line
 * when none is free. An idle tracker is asked at once: a downloading
 * torrent's first announce is not delayed.
 *
 * The line is ordered by what waiting costs, then first come first
 * served: `stopped` and `completed` first (the swarm's view of us is wrong
 * until they land, and `stopped` runs under the shutdown deadline), then
 * torrents still downloading (they need peers to make progress), then
 * seeds (their peers find them anyway), and scrapes last (counts for a
 * screen). A waiter whose signal aborts leaves the line.
 *
 * The slot is held for the bounded try only (tracker-attempt.ts starts its
 * clock once the slot is taken), so the time spent in line never counts
 * against a tracker as a timeout.
 */

export const TrackerPriority = { urgent: 0, leeching: 1, seeding: 2, scrape: 3 } as const;
export type TrackerPriorityValue = (typeof TrackerPriority)[keyof typeof TrackerPriority];
const LEVELS = 4;

/** Where an announce goes in the line: its event and whether the torrent still downloads. */
export function announcePriority(event: AnnounceEvent, left: number): TrackerPriorityValue {
  if (event === 'stopped' || event === 'completed') return TrackerPriority.urgent;
  return left > 0 ? TrackerPriority.leeching : TrackerPriority.seeding;
}

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

/**
 * The tracker a URL names: scheme, host and port (`http://t.test:80`).
 * Announce URLs of one tracker differ in their path and passkey; its
 * limits and its backoff are the server's. A URL that does not parse is
 * its own key.
 */
export function trackerKey(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname.toLowerCase()}:${u.port || DEFAULT_PORTS[u.protocol] || ''}`;
  } catch {
    return url;
  }
}

export interface TrackerGateOptions {
  /** Requests in flight to one tracker at most. Default 4. */
  perTracker?: number;
}

export const TRACKER_GATE_DEFAULTS: Required<TrackerGateOptions> = { perTracker: 4 };

/** Gives the slot back; calling it again does nothing. */
export type Release = () => void;

interface Waiter {
  grant: () => void;
  /** Left the line (aborted) or was granted: skipped when met in a queue. */
  done: boolean;
}

/** One tracker's slots and line: a FIFO per priority, read from `heads` so taking the next is O(1). */
interface Lane {
  active: number;
  queues: Waiter[][];
  heads: number[];
  waiting: number;
}

export class TrackerGate {
  readonly perTracker: number;
  private readonly lanes = new Map<string, Lane>();

  constructor(options: TrackerGateOptions = {}) {
    this.perTracker = Math.max(1, Math.floor(options.perTracker ?? TRACKER_GATE_DEFAULTS.perTracker));
  }

  /**
   * A slot of the tracker `url` names: at once when one is free and nobody
   * waits, else when its turn comes. Rejects with TRACKER_ABORTED when
   * `signal` aborts first.
   */
  acquire(url: string, priority: TrackerPriorityValue, signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(new TrackerError('TRACKER_ABORTED', 'cancelled while waiting for the tracker'));
    const key = trackerKey(url);
    const lane = this.lane(key);
    if (lane.active < this.perTracker && lane.waiting === 0) {
      lane.active++;
      return Promise.resolve(this.releaser(key, lane));
    }
    return new Promise<Release>((resolve, reject) => {
      const onAbort = (): void => {
        if (waiter.done) return;
        waiter.done = true;
        lane.waiting--;
        this.forgetIfIdle(key, lane);
        reject(new TrackerError('TRACKER_ABORTED', 'cancelled while waiting for the tracker'));
      };
      const waiter: Waiter = {
        done: false,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.releaser(key, lane));
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      lane.queues[priority]!.push(waiter);
      lane.waiting++;
    });
  }

  /** Requests in flight to the tracker `url` names, and those waiting. */
  load(url: string): { active: number; waiting: number } {
    const lane = this.lanes.get(trackerKey(url));
    return { active: lane?.active ?? 0, waiting: lane?.waiting ?? 0 };
  }

  private lane(key: string): Lane {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { active: 0, queues: Array.from({ length: LEVELS }, () => []), heads: new Array<number>(LEVELS).fill(0), waiting: 0 };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private releaser(key: string, lane: Lane): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      lane.active--;
      this.pump(key, lane);
    };
  }

  private pump(key: string, lane: Lane): void {
    while (lane.active < this.perTracker) {
      const next = this.next(lane);
      if (!next) break;
      next.done = true;
      lane.waiting--;
      lane.active++;
      next.grant();
    }
    this.forgetIfIdle(key, lane);
  }

  /** The first live waiter of the most urgent non-empty queue. */
  private next(lane: Lane): Waiter | undefined {
    for (let p = 0; p < LEVELS; p++) {
      const q = lane.queues[p]!;
      let head = lane.heads[p]!;
      while (head < q.length && q[head]!.done) head++;
      const w = head < q.length ? q[head] : undefined;
      // Compact once the taken part is most of the array, so a long line does not keep its history.
      if (head > 64 && head * 2 > q.length) {
        q.splice(0, head);
        head = 0;
      }
      lane.heads[p] = head;
      if (w) return w;
    }
    return undefined;
  }

  private forgetIfIdle(key: string, lane: Lane): void {
    if (lane.active > 0 || lane.waiting > 0 || this.lanes.get(key) !== lane) return;
    this.lanes.delete(key);
  }
}
