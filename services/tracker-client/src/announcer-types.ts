import type { AnnounceEvent, AnnounceParams, AnnounceResponse, TrackerError, TrackerErrorCode, TrackerPeer } from '@seedbox/protocol';
import type { AnnouncePolicy } from './announce-plan.js';
import type { TrackerTiers } from './tiers.js';
import type { RetryLaterOptions, TrackerBackoffOptions, TrackerHolds } from './tracker-backoff.js';
import type { TrackerGate } from './tracker-gate.js';
import type { TrackerTransport } from './transport.js';

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
  | 'worker-expired'
  /** A scrape request failed (scraper.ts); infoHashHex is the first torrent it asked for. */
  | 'scrape-failed';

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
  /** The tracker asked us to come back later (TrackerHolds): it is left alone, for every torrent, until then (ms epoch). */
  heldUntil?: number;
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
  /**
   * The bounded try of one announce to one tracker: unanswered by then, it
   * failed ("timed out") and the next tracker is asked. Default 10 s
   * (libtorrent's tracker_receive_timeout).
   */
  trackerTimeoutMs?: number;
  /**
   * Each regular re-announce comes at interval × (1 − up to this fraction,
   * at random), never under `min interval` or our floor: torrents started
   * together (a restart with thousands) drift apart instead of announcing
   * in lockstep forever. Default 0.1.
   */
  intervalJitter?: number;
}

export const ANNOUNCE_TIMING_DEFAULTS: Required<AnnounceTiming> = {
  numWant: 50,
  minIntervalMs: 60_000,
  maxIntervalMs: 2 * 60 * 60_000,
  retryBaseMs: 30_000,
  retryMaxMs: 30 * 60_000,
  stopTimeoutMs: 5_000,
  manualFloorMs: 10_000,
  trackerTimeoutMs: 10_000,
  intervalJitter: 0.1,
};

const NO_TIMING: AnnounceTiming = Object.freeze({});
const fullTimings = new WeakMap<AnnounceTiming, Required<AnnounceTiming>>();

/**
 * The timing with the defaults filled in, made once per timing object and
 * shared by every announcer given that object (a client's thousands): a
 * copy each was ~80 bytes an announcer. So a timing is read when first
 * used; to change it, pass a new object.
 */
export function fullTiming(timing: AnnounceTiming = NO_TIMING): Required<AnnounceTiming> {
  let full = fullTimings.get(timing);
  if (!full) fullTimings.set(timing, (full = { ...ANNOUNCE_TIMING_DEFAULTS, ...timing }));
  return full;
}

export interface AnnouncerOptions {
  infoHash: Uint8Array;
  infoHashHex: string;
  /** Shared by all announcers of the torrent: a promotion helps every worker. */
  tiers: TrackerTiers;
  identity: AnnounceIdentity;
  /** Read when each request is built. */
  stats: () => TransferStats;
  transport: TrackerTransport;
  onPeers: (peers: TrackerPeer[], source: string) => void;
  onWarning: (warning: TrackerWarning) => void;
  onAnnounce?: (success: AnnounceSuccess) => void;
  onFailure?: (failure: AnnounceFailed) => void;
  /** Names the worker in warnings. */
  workerId?: string;
  timing?: AnnounceTiming;
  /** Which tiers and trackers a round announces to; default BEP 12 (the first that answers). */
  policy?: AnnouncePolicy;
  /** How a failing tracker backs off. */
  backoff?: TrackerBackoffOptions;
  /**
   * The slots of each tracker, shared by every announcer (and the scraper)
   * of a TrackerClient, so that together they keep to its limit; default
   * one of its own.
   */
  gate?: TrackerGate;
  /** Trackers that asked us to come back later, shared likewise; default its own. */
  holds?: TrackerHolds;
  /** How long such a hold lasts. */
  retryLater?: RetryLaterOptions;
  /** For the interval jitter; injectable for deterministic tests. Default Math.random. */
  random?: () => number;
  now?: () => number;
}

/** A tracker's answer within a round (or a background retry). */
export interface AnnounceAnswer {
  url: string;
  event: AnnounceEvent;
  params: AnnounceParams;
  response: AnnounceResponse;
  startedAt: number;
}

/** A tracker's failure within a round, and when it is asked again. */
export type AnnounceRoundFailure = Omit<AnnounceFailed, 'infoHashHex' | 'workerId' | 'nextAnnounceAt'> & { retryAt: number };
