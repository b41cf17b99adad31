import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { reportFailure } from '../toasts.js';

/**
 * Polls one endpoint while a view (a details tab, the fleet page) is
 * shown: at once, then every `intervalMs` after each answer. A failure is kept as
 * a short message for the tab to show (a 403 hands over to the login),
 * and the polling goes on, so the tab recovers by itself.
 */
export function usePoll<T>(fetcher: () => Promise<T>, deps: unknown[], intervalMs: number, what = 'the details'): { data: T | undefined; error: string; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState('');
  const [tick, setTick] = useState(0);
  const latest = useRef(fetcher);
  latest.current = fetcher;

  useEffect(() => {
    setData(undefined);
    setError('');
  }, deps);

  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const d = await latest.current();
        if (!alive) return;
        setData(d);
        setError('');
      } catch (e) {
        if (!alive) return;
        if (e instanceof ApiError && e.needsLogin) return reportFailure(`Reading ${what}`, e);
        setError(e instanceof ApiError ? e.message : `${what[0]!.toUpperCase()}${what.slice(1)} could not be read`);
      }
      if (alive) timer = setTimeout(() => void run(), intervalMs);
    };
    void run();
    return () => {
      alive = false;
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [...deps, tick]);

  return { data, error, reload: () => setTick((n) => n + 1) };
}
