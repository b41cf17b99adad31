/** @seedbox/disk-writer: verifies pieces and writes them to the shared volume. */
export * from './piece-sink.js';
export { DiskWriter, type DiskWriterOptions } from './disk-writer.js';
export {
  TorrentStorage,
  StorageError,
  DEFAULT_MAX_OPEN_FILES,
  type StorageLayout,
  type StorageOptions,
  type StorageErrorCode,
} from './storage.js';
export { Sha1Pool, InlineSha1, HasherClosedError, HashWorkerError, type Sha1Hasher, type HashResult } from './sha1-pool.js';
export { writeSpans, writeAll, cutAtSpans, IOV_MAX, type WritableFile, type FileLookup, type SpanParts } from './vectored-write.js';
export { checkPieces, makeResumeData, loadResumeData, saveResumeData, type ResumeData, type CheckResult, type CheckOptions } from './resume.js';
export * from './service.js';
