/**
 * @seedbox/cluster: what the services exchange over NATS: the piece path
 * (the NATS transport of PieceSink), and the subjects and buckets of the
 * fleet.
 */
export * from './subjects.js';
export * from './nats-piece-sink.js';
export * from './piece-write-server.js';
export * from './fleet-state.js';
export * from './piece-sink.js';
export * from './lean-nats/lean-nats-connection.js';
export * from './service-process.js';
export * from './service-heartbeat.js';
export * from './fleet-store.js';
export * from './local-fleet-store.js';
export * from './storage-requests.js';
export * from './tracker-status.js';
export * from './tracker-requests.js';
export * from './peer-lists.js';
export { awaitingMetadata, readBitfield, SHARE_RULES, type MoveError, type ShareRule } from './registry-entry.js';
export * from './torrent-settings.js';
export * from './settings-rules.js';
export * from './piece-data-frame.js';
export * from './piece-data-links.js';
export * from './piece-data-listener.js';
export { NatsWireError, ServerOpParser } from './lean-nats/nats-wire.js';
export { SentFigures, type AnnounceFigures, type FiguresSource } from './sent-figures.js';
