/**
 * @seedbox/tracker-client: announces torrents to HTTP and UDP trackers on
 * behalf of peer-workers, and hands the peers found to them.
 */
export {
  TrackerClient,
  type ChangesVerdict,
  type TrackerClientOptions,
  type TrackerTorrent,
  type WorkerHeartbeat,
  type WorkerHeartbeatChanges,
  type WorkerIdentity,
  type WorkerTorrentStats,
} from './tracker-client.js';
export { EmbeddedTrackers, EMBEDDED_WORKER_ID, type EmbeddedMember, type EmbeddedSwarm, type EmbeddedTrackersOptions } from './embedded.js';
export { FilteringPeerFeed, type FilteringPeerFeedOptions, type PeerCandidate, type PeerFeed } from './peer-feed.js';
export {
  Announcer,
  ANNOUNCE_TIMING_DEFAULTS,
  type AnnounceIdentity,
  type AnnounceFailed,
  type AnnounceSuccess,
  type AnnounceTiming,
  type AnnouncerOptions,
  type TrackerWarning,
  type TrackerWarningKind,
  type TransferStats,
} from './announcer.js';
export { TrackerTiers, type TierEntry } from './tiers.js';
export { planRound, regularDelayMs, type AnnouncePlan, type AnnouncePolicy } from './announce-plan.js';
export {
  TrackerBackoff,
  TrackerHolds,
  trackerRetryDelayMs,
  retryLaterMs,
  TRACKER_BACKOFF_DEFAULTS,
  RETRY_LATER_DEFAULTS,
  type RetryLaterOptions,
  type TrackerBackoffOptions,
  type TrackerHold,
} from './tracker-backoff.js';
export { TrackerGate, TrackerPriority, TRACKER_GATE_DEFAULTS, announcePriority, trackerKey, type TrackerGateOptions, type TrackerPriorityValue } from './tracker-gate.js';
export { Scraper, SCRAPE_TIMING_DEFAULTS, canScrape, type ScrapeOutcome, type ScrapeTarget, type ScrapeTiming, type ScraperOptions } from './scraper.js';
export { TrackerStatusBook, failureKind } from './tracker-status-book.js';
export { NetworkTrackerTransport, type NetworkTransportOptions, type TrackerTransport } from './transport.js';
export { httpAnnounce, HttpTrackerClient, HTTP_TRACKER_DEFAULTS, retryAfterHeaderMs, type HttpTrackerOptions } from './http-tracker.js';
export { TrackerAgents, HTTP_AGENT_DEFAULTS, type HttpAgentOptions } from './http-agents.js';
export { UdpTrackerClient, UDP_TRACKER_DEFAULTS, type UdpTrackerOptions } from './udp-tracker.js';
export * from './service.js';
export { DhtPeerSource, DEFAULT_DHT_BOOTSTRAP, parseDhtBootstrap, type DhtPeerSourceOptions } from './dht-peer-source.js';
export {
  DhtNode,
  type DhtNodeOptions,
  type DhtNodeState,
  type DhtStats,
  type GetPeersOptions,
} from './dht/dht-node.js';
export { DhtSwarms, DHT_SWARMS_DEFAULTS, type DhtSwarmsOptions, type PeerLookup, type PeersCallback } from './dht/dht-swarms.js';
export { DhtError, DhtBindError, DhtLifecycleError, DhtQueryError, DhtStateFileError, type DhtErrorCode, type DhtQueryFailure } from './dht/dht-errors.js';
export type { DhtLog } from './dht/dht-rpc.js';
export type { BootstrapAddress, HostResolver } from './dht/dht-bootstrap.js';
export type { QueryRateLimitOptions, RateLimit } from './dht/rate-limit.js';
