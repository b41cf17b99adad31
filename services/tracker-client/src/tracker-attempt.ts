import { TrackerError } from '@seedbox/protocol';
import type { TrackerHold, TrackerHolds } from './tracker-backoff.js';
import { trackerKey, type Release, type TrackerGate, type TrackerPriorityValue } from './tracker-gate.js';

/**
 * The bounded try every announce to one tracker gets (libtorrent's
 * tracker_receive_timeout: 10 s). A black-holed UDP tracker would
 * otherwise hold a round for BEP 15's whole schedule (15+30+60+120 s),
 * and the trackers listed after it would not be asked meanwhile; libtorrent
 * and Transmission give up on such a tracker after a few seconds too.
 *
 * The signal aborts when `parent` does (shutdown) or when the bound
 * passes; a setTimeout, not AbortSignal.timeout, so the clock is the one
 * the tests fake.
 */
export interface BoundedAttempt {
  signal: AbortSignal;
  /** The error to report: TRACKER_TIMEOUT when the bound cut the announce short. */
  error(e: TrackerError): TrackerError;
  done(): void;
}

export function boundedAttempt(parent: AbortSignal, boundMs: number): BoundedAttempt {
  const controller = new AbortController();
  let timedOut = false;
  const onParent = (): void => controller.abort();
  if (parent.aborted) controller.abort();
  else parent.addEventListener('abort', onParent, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, boundMs);
  return {
    signal: controller.signal,
    error: (e) =>
      timedOut && !parent.aborted && e.code === 'TRACKER_ABORTED'
        ? new TrackerError('TRACKER_TIMEOUT', `timed out: no reply within ${Math.round(boundMs / 100) / 10} s`, { expected: boundMs })
        : e,
    done: () => {
      clearTimeout(timer);
      parent.removeEventListener('abort', onParent);
    },
  };
}

/** What an announce threw, as the TrackerError it should have been (the transport's contract). */
export function asTrackerError(e: unknown): TrackerError {
  if (e instanceof TrackerError) return e;
  return new TrackerError('TRACKER_NETWORK', e instanceof Error ? e.message : String(e), { cause: e });
}

/**
 * A request we did not send: the tracker is on hold (TrackerHolds) after
 * asking us to come back later. Reported as a failure of the announce
 * (the status says why and until when), never as a warning of its own:
 * the reply that set the hold was the news.
 */
export class TrackerHeldError extends TrackerError {
  override name = 'TrackerHeldError';

  constructor(
    url: string,
    readonly hold: TrackerHold,
  ) {
    super('TRACKER_RETRY_LATER', `${trackerKey(url)} asked us to come back later: ${hold.why}`);
  }
}

/**
 * What comes before every request to a tracker: a tracker on hold is not
 * asked (TrackerHeldError), and a free slot of the tracker is waited for
 * (TrackerGate), in line by `priority`. The hold is looked at again once
 * the slot is ours: a 429 may have come while we waited. Rejects with
 * TRACKER_ABORTED when `signal` aborts in line.
 */
export async function takeTurn(
  url: string,
  o: { gate: TrackerGate; holds: TrackerHolds; priority: TrackerPriorityValue; signal?: AbortSignal; now: () => number },
): Promise<Release> {
  const held = o.holds.heldAt(url, o.now());
  if (held) throw new TrackerHeldError(url, held);
  const release = await o.gate.acquire(url, o.priority, o.signal);
  const since = o.holds.heldAt(url, o.now());
  if (since) {
    release();
    throw new TrackerHeldError(url, since);
  }
  return release;
}

/** Rejects as soon as `signal` aborts (calling `onAbort`), without cancelling the shared promise itself. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, onAbort: () => void = () => {}): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    onAbort();
    return Promise.reject(new TrackerError('TRACKER_ABORTED', 'announce cancelled'));
  }
  return new Promise<T>((resolve, reject) => {
    const aborted = (): void => {
      onAbort();
      reject(new TrackerError('TRACKER_ABORTED', 'announce cancelled'));
    };
    signal.addEventListener('abort', aborted, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', aborted);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', aborted);
        reject(e);
      },
    );
  });
}
