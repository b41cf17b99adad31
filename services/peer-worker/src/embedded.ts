/**
 * @seedbox/peer-worker/embedded: the engine alone, for the embedded mode
 * (`seedbox download` and `seed`): what the package's index exports minus
 * the fleet's service, its control API and web APIs, so that a command
 * that only downloads does not load gRPC, NATS or the metrics.
 */
export { Engine, type EngineTick, type ConnectionFigures } from './engine.js';
export type { Torrent, TorrentData, TorrentSnapshot } from './torrent.js';
export type { BandwidthLimits } from './bandwidth/bandwidth.js';
export type { ResolvedMagnet } from './magnet-resolver.js';
export { MetadataFetchError } from './metadata-fetcher.js';
export { ENCRYPTION_POLICIES, EncryptionPolicyError, type EncryptionPolicy } from './encryption/encryption-policy.js';
