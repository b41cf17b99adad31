import type { AnnounceEvent, AnnounceResponse, TrackerError, TrackerErrorCode } from '@seedbox/protocol';

/**
 * What an Announcer is told and what it tells (announcer.ts): who is
 * announced, the figures, the timing, and the outcomes it reports, one
 * typed value each (a success, a tracker's failure, a warning).
 */

export interface AnnounceIdentity {
  peerId: Uint8Array;
  port: number;
  /** The address peers should dial; omitted, the tracker uses the request's source address. */
  host?: string;
  /** A random 32-bit key, stable across announces (BEP 3 `key`). */
  key: number;
}

export interface TransferStats {
  uploaded: number;
  downloaded: number;
  left: number;
}

export type TrackerWarningKind =
  /** One tracker failed this round; the next one in the tier list is tried. */
  | 'announce-failed'
  /** Every tracker failed this round; the round is retried later. */
  | 'all-failed'
  /** The announce worked but the tracker sent a `warning message`. */
  | 'tracker-warning'
  /** The reply had peer entries we dropped (port 0, address 0.0.0.0...). */
  | 'invalid-peers'
  /** `stopped` could not be delivered before the deadline. */
  | 'stop-failed'
  /** A URL in the torrent's tracker list that cannot be announced to. */
  | 'unusable-url'
  /** The PeerFeed threw: a bug downstream, reported rather than crashing the announcer. */
  | 'peer-feed-failed'
  /** A worker's heartbeats stopped; its announces were stopped (TrackerClient's workerTimeoutMs). */
  | 'worker-expired';

export interface TrackerWarning {
  kind: TrackerWarningKind;
  infoHashHex: string;
  /** The worker the announce was for. */
  workerId?: string;
  url?: string;
  event?: AnnounceEvent;
  /** The TrackerError code, when there is one. */
  code?: TrackerErrorCode;
  /** One line for a log. */
  message: string;
  error?: Error;
}

export interface AnnounceSuccess {
  infoHashHex: string;
  workerId?: string;
  url: string;
  event: AnnounceEvent;
  response: AnnounceResponse;
  /** When the request was sent (ms epoch). */
  startedAt: number;
  /** When the next announce is due (ms epoch), or undefined after `stopped`. */
  nextAnnounceAt: number | undefined;
}

/** One tracker failed an announce; reported when its round ended (a later tracker may have answered). */
export interface AnnounceFailed {
  infoHashHex: string;
  workerId?: string;
  url: string;
  event: AnnounceEvent;
  error: TrackerError;
  /** When the request was sent and when it failed (ms epoch). */
  startedAt: number;
  failedAt: number;
  /** When the next round is due: the retry after a round that failed everywhere, else the regular one. */
  nextAnnounceAt: number | undefined;
}

export interface AnnounceTiming {
  /** Peers asked for per announce. Default 50. */
  numWant?: number;
  /** Our own floor under the tracker's interval. Default 60 s. */
  minIntervalMs?: number;
  /** Our ceiling over it. Default 2 h. */
  maxIntervalMs?: number;
  /** Delay before retrying after every tracker failed; doubles per failed round. Default 30 s. */
  retryBaseMs?: number;
  /** Largest retry delay. Default 30 min. */
  retryMaxMs?: number;
  /** Deadline for the `stopped` announces on shutdown. Default 5 s. */
  stopTimeoutMs?: number;
  /** The least time between two announces asked for by hand (announceNow). Default 10 s. */
  manualFloorMs?: number;
}

export const ANNOUNCE_TIMING_DEFAULTS: Required<AnnounceTiming> = {
  numWant: 50,
  minIntervalMs: 60_000,
  maxIntervalMs: 2 * 60 * 60_000,
  retryBaseMs: 30_000,
  retryMaxMs: 30 * 60_000,
  stopTimeoutMs: 5_000,
  manualFloorMs: 10_000,
};
