import type { AnnounceSuccess, TrackerWarning } from '@seedbox/tracker-client';

/**
 * How `download` and `seed` report their trackers: with --json, one
 * `announce` or `tracker-warning` line each; otherwise warnings on stderr,
 * once per tracker and kind so a dead tracker retried all day is one line.
 */
export function trackerReporting(
  json: boolean,
  emit: (o: Record<string, unknown>) => void,
  err: NodeJS.WritableStream,
): { onTrackerWarning: (w: TrackerWarning) => void; onAnnounce: (s: AnnounceSuccess) => void } {
  const said = new Set<string>();
  return {
    onTrackerWarning: (w) => {
      if (json) {
        emit({ event: 'tracker-warning', kind: w.kind, url: w.url ?? null, code: w.code ?? null, message: w.message });
        return;
      }
      const key = `${w.url ?? ''} ${w.kind}`;
      if (said.has(key)) return;
      said.add(key);
      err.write(`tracker: ${w.message}\n`);
    },
    onAnnounce: (s) => {
      if (json) {
        emit({
          event: 'announce',
          url: s.url,
          announceEvent: s.event,
          peers: s.response.peers.length,
          interval: s.response.interval,
          ...(s.response.warning !== undefined ? { warning: s.response.warning } : {}),
        });
      }
    },
  };
}
