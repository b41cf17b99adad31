/** @seedbox/peer-worker: the engine (torrents, peer sessions, the piece picker, the choker) and the fleet's peer-worker service. */
export { Engine, type EngineOptions, type EngineTick, type EngineEvents, type AddTorrentOptions, type TorrentDefaults } from './engine.js';
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
export { PeerListener, type ListenerOptions, type RefusedConnection } from './peer-listener.js';
export { PiecePicker } from './piece-picker.js';
export { PieceDownload } from './piece-download.js';
export { RequestPipeline, type PipelineOptions } from './request-pipeline.js';
export { RateMeter } from './rate.js';
export { generatePeerId, CLIENT_NAME, CLIENT_PREFIX } from './peer-id.js';
export {
  ControlError,
  type AddOptions,
  type QueueMove,
  type ControlBackend,
  type ControlErrorCode,
  type DesiredState,
  type TorrentRecord,
  type TorrentStatsView,
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
export { FleetRunner, type FleetRunnerOptions, type FleetTorrentData } from './fleet/fleet-runner.js';
export { FleetBackend, type FleetBackendOptions, torrentFileFromInfo } from './fleet/fleet-backend.js';
export { LocalStatsBoard, recordTick } from './fleet/figures.js';
export type { StatsSource } from './control/backend.js';
export { peerWorkerService } from './service.js';
