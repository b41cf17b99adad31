/**
 * @seedbox/protocol: the pure BitTorrent protocol. No sockets, files, NATS or
 * gRPC in here: every function takes bytes or values and returns bytes or
 * values, so all three services and the tests share one implementation.
 *
 * wire-checks.ts and tracker-checks.ts hold helpers the codecs share; they
 * are internal and deliberately not re-exported here.
 */
export * from './errors.js';
export * from './bencode.js';
export * from './metainfo-error.js';
export * from './metainfo.js';
export * from './magnet.js';
export * from './address.js';
export * from './geometry.js';
export * from './bitfield.js';
export * from './wire-error.js';
export * from './handshake.js';
export * from './wire.js';
export * from './wire-encode.js';
export * from './extended.js';
export * from './ut-metadata.js';
export * from './pex.js';
export * from './tracker-error.js';
export * from './tracker.js';
export * from './tracker-http.js';
export * from './tracker-udp.js';
export * from './tracker-scrape.js';
export * from './peer-id.js';
export * from './mse-crypto.js';
export * from './mse.js';
export * from './krpc.js';
