/**
 * @seedbox/runtime: what the three service processes (peer-worker,
 * disk-writer, tracker-client) share, per docs/OPERATIONS-CONTRACT.md:
 * configuration from SEEDBOX_ variables and flags, JSON-lines logs, the
 * /metrics + /healthz + /readyz HTTP server and the contract's metrics,
 * grpc.health.v1 and its gRPC server, and graceful shutdown.
 */
export {
  ConfigError,
  configHelp,
  defineOptions,
  isHelpRequested,
  loadConfig,
  redactConfig,
  type ConfigOf,
  type ConfigRule,
  type ConfigSchema,
  type LoadConfigInput,
  type OptionKind,
  type OptionSpec,
} from './config.js';
export {
  commonOptions,
  grpcAccessOptions,
  diskWriterOptions,
  peerWorkerOptions,
  trackerClientOptions,
  serveOptions,
  webOptions,
  type CommonConfig,
  type GrpcAccessConfig,
  type WebConfig,
  type DiskWriterConfig,
  type PeerWorkerConfig,
  type TrackerClientConfig,
  type ServeConfig,
} from './service-options.js';
export {
  createLogger,
  serializeError,
  silentLogger,
  type LogFields,
  type LogLevel,
  type LogStream,
  type Logger,
  type LoggerOptions,
  type SerializedError,
} from './log.js';
export {
  startObservabilityServer,
  type HealthCheck,
  type ObservabilityServer,
  type ObservabilityServerOptions,
} from './http.js';
export {
  DISK_PIECE_RESULTS,
  LATENCY_BUCKETS_SECONDS,
  createCommonMetrics,
  createDiskWriterMetrics,
  createPeerWorkerMetrics,
  createTrackerClientMetrics,
  exportedMetricNames,
  type CommonMetrics,
  type DiskPieceResult,
  type DiskWriterMetrics,
  type PeerWorkerMetrics,
  type PeerWorkerMetricsOptions,
  type ServiceName,
  type TickSnapshot,
  type TickTorrent,
  type TorrentStates,
  type TrackerClientMetrics,
} from './metrics.js';
export { TORRENT_METRICS_MODES, TORRENT_SERIES_LINGER_MS, type TorrentMetricsMode } from './torrent-series.js';
export {
  HealthService,
  startGrpcServer,
  type GrpcServerOptions,
  type GrpcServiceEntry,
  type HealthStatus,
  type RunningGrpcServer,
} from './health.js';
export { installShutdown, type ShutdownOptions, type ShutdownStep, type ShutdownTrigger, type SignalSource } from './shutdown.js';
export { listenOrExplain, readSettingFile, routeGrpcLogs, settingOrExplain, StartupError } from './startup.js';
export { bearerTokenInterceptor, grpcAccessOf, tokenInterceptor, type GrpcAccess } from './grpc-access.js';
export { PieceBufferPool, pieceBuffers } from './piece-buffers.js';
