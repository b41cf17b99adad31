/** @seedbox/peer-worker: the engine (torrents, peer sessions, the piece picker, the choker) and the fleet's peer-worker service. */
export { Engine, type EngineTick, type TorrentSums, type ConnectionFigures } from './engine.js';
export type { EngineOptions, EngineEvents, ConnectionLimits, AddTorrentOptions, TorrentDefaults } from './engine-options.js';
export { Torrent, type TorrentOptions, type TorrentData, type CheckOutcome, type TorrentSnapshot, type TorrentState, type RefusedRequest } from './torrent.js';
export type { PeerDiscovery, SwarmInfo, SwarmMember, SwarmHandle, TransferTotals } from './peer-discovery.js';
export { resolveMagnet, swarmOfMagnet, type ResolvedMagnet, type ResolveOptions, type SwarmHandover } from './magnet-resolver.js';
export { PeerSession, DEFAULT_TIMEOUTS, LOCAL_UT_METADATA_ID, type CloseReason, type SessionTimeouts, type PeerHandler, type SessionContext } from './peer-session.js';
export { PeerConnection } from './peer-connection.js';
export { PeerList } from './peer-list.js';
export {
  MetadataFetcher,
  MetadataFetchError,
  fetchMetadata,
  LEFT_WHILE_FETCHING_METADATA,
  type MetadataFetchErrorCode,
  type MetadataFetcherOptions,
  type MetadataFetchStats,
} from './metadata-fetcher.js';
export { PeerListener, LISTENER_DEFAULTS, REFUSED_CONNECTIONS, type ListenerOptions, type RefusedConnection } from './peer-listener.js';
export { PiecePicker } from './piece-picker.js';
export {
  FileSelectionError,
  FILE_PRIORITIES,
  checkPriorities,
  piecePriorities,
  type FilePriority,
  type FileSelection,
  type FileSelectionErrorCode,
  type FileProgress,
} from './file-selection.js';
export { PieceDownload } from './piece-download.js';
export { RequestPipeline, type PipelineOptions } from './request-pipeline.js';
export { RateMeter } from './rate.js';
export {
  Bandwidth,
  TorrentBandwidth,
  effectiveLimits,
  resolveLimits,
  type BandwidthLimits,
  type ResolvedLimits,
  type SpeedLimitsConfig,
} from './bandwidth/bandwidth.js';
export { TokenBucket, BandwidthLimitError } from './bandwidth/token-bucket.js';
export { Shaper, BandwidthPath, type ShaperOptions, type ShaperTimers } from './bandwidth/shaper.js';
export { shareLimit, type WorkerDemand } from './bandwidth/fleet-share.js';
export { generatePeerId, CLIENT_NAME, CLIENT_PREFIX } from './peer-id.js';
export {
  ControlError,
  type AddOptions,
  type QueueMove,
  type ControlBackend,
  type ControlErrorCode,
  type DesiredState,
  type TorrentRecord,
  type ResolvedTorrentRecord,
  type PendingTorrentRecord,
  type PendingMagnet,
  isResolved,
  recordName,
  type TorrentStatsView,
  type TrackerSource,
  type PeerSource,
  type TrackerStatus,
  type PeerInfo,
} from './control/backend.js';
export {
  createControlService,
  parseInfoHash,
  toTorrent,
  toTorrentStats,
  torrentState,
  toStatus,
  DEFAULT_TICK_TIMEOUT_MS,
  type ControlServiceOptions,
} from './control/control-service.js';
export { FleetRunner, type FleetTorrentData } from './fleet/fleet-runner.js';
export type { FleetRunnerOptions } from './fleet/fleet-runner-options.js';
export { FleetBackend, checkMagnetSources, type FleetBackendOptions } from './fleet/fleet-backend.js';
export { MagnetOwner, torrentFileFromInfo, type MagnetOwnerOptions } from './fleet/magnet-owner.js';
export { engineFigures, recordTick } from './fleet/figures.js';
export { LocalStatsBoard } from './fleet/local-stats-board.js';
export { FleetMembers, memberOf, MEMBER_LIVE_MS, type FleetMember, type MemberStatus } from './fleet/fleet-members.js';
export { RateHistory, HISTORY_SECONDS, type RateSeries } from './fleet/rate-history.js';
export { LocalFleetView, NatsFleetView, followRates, type FleetView } from './fleet/fleet-view.js';
export type { StatsSource, StatsTick } from './control/backend.js';
export { peerWorkerService } from './service.js';
export { startWebApi, type StartWebApiOptions } from './web/start-web-api.js';
export { webAuthOf, webHost } from './web/web-settings.js';
export { startWebServer, type WebServer, type WebServerOptions } from './web/web-server.js';
export { WebAuth, type WebCredentials, type WebAuthOptions, type LoginOutcome } from './web/web-auth.js';
export type { WebApi, WebApiContext } from './web/web-api.js';
export { ENCRYPTION_POLICIES, EncryptionPolicyError, checkEncryptionPolicy, type EncryptionPolicy } from './encryption/encryption-policy.js';
