/**
 * @seedbox/protocol: the pure BitTorrent protocol. No sockets, files, NATS or
 * gRPC in here: every function takes bytes or values and returns bytes or
 * values, so all three services and the tests share one implementation.
 */
export * from './errors.js';
export * from './bencode.js';
export * from './metainfo.js';
export * from './magnet.js';
export * from './geometry.js';
export * from './bitfield.js';
export * from './wire.js';
export * from './ut-metadata.js';
export * from './tracker.js';
