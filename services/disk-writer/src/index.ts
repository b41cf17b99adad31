/** @seedbox/disk-writer: verifies pieces and writes them to the shared volume. */
export * from './piece-sink.js';
export { DiskWriter, type DiskWriterOptions } from './disk-writer.js';
export { TorrentStorage, StorageError, type StorageLayout, type StorageErrorCode } from './storage.js';
export { Sha1Pool, InlineSha1, HasherClosedError, type Sha1Hasher, type HashResult } from './sha1-pool.js';
export { writeSpans, writeAll, IOV_MAX, type WritableFile } from './vectored-write.js';
