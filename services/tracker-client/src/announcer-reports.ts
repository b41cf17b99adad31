import type { AnnounceAnswer, AnnounceRoundFailure, AnnouncerOptions, TrackerWarning } from './announcer-types.js';

/**
 * How an Announcer (announcer.ts) tells its owner what happened: each
 * answer and failure, the peers found, every warning, all named by torrent
 * and worker. A sink that throws is its own problem, never the
 * announcer's. Functions over the announcer's options rather than an
 * object of their own: a client runs one announcer per torrent and worker
 * (10,000 in serve), and each should hold no more than it must.
 */

/** Where the announcer's schedule stands, read when a report goes out (a sink may move it). */
export interface Schedule {
  readonly nextAnnounceAt: number | undefined;
}

/** Who the reports are about. */
export function namesOf(o: AnnouncerOptions): { infoHashHex: string; workerId?: string } {
  return { infoHashHex: o.infoHashHex, ...(o.workerId !== undefined ? { workerId: o.workerId } : {}) };
}

export function warn(o: AnnouncerOptions, w: Omit<TrackerWarning, 'infoHashHex' | 'workerId'>): void {
  try {
    o.onWarning({ ...namesOf(o), ...w });
  } catch {
    // A throwing warning sink must not take the announcer down with it.
  }
}

/** Tells the answer (its warnings, the success), once the next announce is scheduled. */
export function reportAnswer(o: AnnouncerOptions, { url, event, response: r, startedAt }: AnnounceAnswer, schedule: Schedule): void {
  if (r.warning !== undefined) {
    warn(o, { kind: 'tracker-warning', url, event, message: `${url} warns: ${r.warning}` });
  }
  if (r.invalidPeers > 0) {
    warn(o, { kind: 'invalid-peers', url, event, message: `${url} sent ${r.invalidPeers} unusable peer entries (dropped)` });
  }
  try {
    o.onAnnounce?.({ ...namesOf(o), url, event, response: r, startedAt, nextAnnounceAt: schedule.nextAnnounceAt });
  } catch {
    // A throwing sink is its own problem, not the announcer's.
  }
}

/** The round's failures, once its next announce is scheduled; a tracker backing off is next asked at its retry. */
export function reportFailures(o: AnnouncerOptions, failed: AnnounceRoundFailure[], schedule: Schedule): void {
  for (const { retryAt, ...f } of failed) {
    // A held tracker is not asked by the rounds: its retry is when it is asked next.
    const next = f.heldUntil !== undefined ? retryAt : Math.min(retryAt, schedule.nextAnnounceAt ?? Number.POSITIVE_INFINITY);
    try {
      o.onFailure?.({ ...namesOf(o), ...f, nextAnnounceAt: next });
    } catch {
      // A throwing sink is its own problem, not the announcer's.
    }
  }
}

/** An answer's peers, to the peer feed. */
export function deliverPeers(o: AnnouncerOptions, { url, response: r }: AnnounceAnswer): void {
  if (r.peers.length > 0) {
    try {
      o.onPeers(r.peers, url);
    } catch (e) {
      warn(o, { kind: 'peer-feed-failed', url, message: `the peer feed threw: ${String(e)}`, error: e as Error });
    }
  }
}
