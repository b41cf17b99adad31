/** @seedbox/peer-worker: peer sessions, the piece picker, and the torrents they serve. */
export { Torrent, type TorrentOptions, type TorrentTick, type PeerAddress } from './torrent.js';
export { PeerSession, DEFAULT_TIMEOUTS, LOCAL_UT_METADATA_ID, type CloseReason, type SessionTimeouts } from './peer-session.js';
export {
  MetadataFetcher,
  MetadataFetchError,
  fetchMetadata,
  LEFT_WHILE_FETCHING_METADATA,
  type MetadataFetchErrorCode,
  type MetadataFetcherOptions,
  type MetadataFetchStats,
} from './metadata-fetcher.js';
export { PeerListener } from './peer-listener.js';
export { PiecePicker } from './piece-picker.js';
export { PieceDownload } from './piece-download.js';
export { RequestPipeline, type PipelineOptions } from './request-pipeline.js';
export { RateMeter } from './rate.js';
export { generatePeerId, CLIENT_NAME, CLIENT_PREFIX } from './peer-id.js';
export { PeerWorker, type WorkerOptions, type WorkerTick } from './worker.js';
export {
  ControlError,
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
export { peerWorkerService } from './service.js';
