import { TrackerError } from '@seedbox/protocol';

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
