/**
 * @seedbox/storage: a torrent's files on disk, shared by the disk-writer
 * (which writes them) and the peer-worker (which reads them to seed): the
 * layout, path safety, vectored positional writes, resume data, and the
 * SHA-1 pool that verifies pieces off the event loop.
 */
export { TorrentStorage, DEFAULT_MAX_OPEN_FILES, type FileCloser, type StorageLayout, type StorageOptions } from './storage.js';
export { FileHandlePool, processFiles, DEFAULT_PROCESS_MAX_OPEN_FILES, DEFAULT_IDLE_CLOSE_MS, type FileHandlePoolOptions, type PooledFile } from './file-handles.js';
export { StorageError, StorageIoError, describeIoError, plainIoWords, type StorageErrorCode } from './storage-errors.js';
export { torrentContentPath, torrentDir, torrentRemovalPath } from './layout.js';
export { moveTorrentContent, MoveError } from './move-content.js';
export { Sha1Pool, InlineSha1, HasherClosedError, HashWorkerError, type Sha1Hasher, type HashResult, type HashAndWriteResult, type FileStats } from './sha1-pool.js';
export { WriteTargetError, type NewFile, type TargetsWritten, type WriteTarget } from './write-targets.js';
export { writeSpans, writeAll, cutAtSpans, IOV_MAX, type WritableFile, type FileLookup, type SpanParts } from './vectored-write.js';
export { checkPieces, makeResumeData, loadResumeData, saveResumeData, type ResumeData, type CheckResult, type CheckOptions } from './resume.js';
export { localTorrentData, type LocalTorrentData } from './local-data.js';
