import { createHash } from 'node:crypto';
import type { WriteTarget } from './write-targets.js';

/**
 * SHA-1 of a piece, off the event loop.
 *
 * The peer-worker's event loop serves every socket; hashing a 1 MiB piece
 * takes a couple of milliseconds of CPU, which at 100 MB/s is a fifth of
 * the loop's time, all of it in one block that delays every socket. The
 * pool moves it to worker threads, and how the bytes get there depends on
 * what they are:
 *
 * - every buffer is a view into a SharedArrayBuffer: posted as it is, the
 *   worker reads the same memory, nothing is copied or detached;
 * - every buffer owns its whole ArrayBuffer (as the peer-worker's piece
 *   buffers do): the ArrayBuffers are transferred to the worker and back,
 *   nothing is copied, but the caller's views are detached meanwhile;
 * - anything else (views into a larger buffer, as a NATS message or a
 *   Buffer pool slice is, or a mix): copied once into one fresh
 *   ArrayBuffer, which is transferred. Transferring the caller's larger
 *   buffer would detach bytes that are not ours.
 *
 * Ordinary memory is preferred over shared memory on the hot path: V8
 * copies from a socket into a SharedArrayBuffer several times slower than
 * into an ArrayBuffer (measured; see docs/ARCHITECTURE.md).
 *
 * Because of the transfer, `hash` answers the buffers to use afterwards as
 * well as the digest: the ones passed in may be detached.
 */
export interface HashResult {
  digest: Buffer;
  /** The same bytes as the input, in order, possibly in new views (and without empty buffers). */
  buffers: Uint8Array[];
}

export interface Sha1Hasher {
  hash(buffers: readonly Uint8Array[]): Promise<HashResult>;
  /**
   * Hashes the piece and, when the digest is `expected`, writes it to
   * `targets` in the same thread, creating those that ask for it (see
   * write-targets.ts). Answers whether it matched (and so was written)
   * with the buffers to use afterwards and the files created; a failed
   * write or create rejects with WriteTargetError, after the targets
   * before it were written. Optional: without it the caller hashes, then
   * writes.
   */
  hashAndWrite?(buffers: readonly Uint8Array[], expected: Uint8Array, targets: readonly WriteTarget[]): Promise<HashAndWriteResult>;
  /** With hashAndWrite: writes a piece already checked (`match` is true). */
  writeChecked?(buffers: readonly Uint8Array[], targets: readonly WriteTarget[]): Promise<HashAndWriteResult>;
  /** With hashAndWrite: closes a descriptor of the storage's where the writes go (TorrentStorage's FileCloser). */
  closeFile?(fd: number): Promise<void>;
  /** Stats files off the event loop (see Sha1Pool.statFiles); undefined when it cannot now. Optional: without it they are stat'ed one by one. */
  statFiles?(paths: readonly string[]): Promise<(FileStats | undefined)[] | undefined>;
  close(): Promise<void>;
}

/** What resume data keeps of a file (see resume.ts). */
export interface FileStats {
  size: number;
  mtimeMs: number;
  /** Allocated 512-byte blocks. */
  blocks: number;
}

export interface HashAndWriteResult {
  /** The digest was the one expected, and the piece is written. */
  match: boolean;
  /** As HashResult's. */
  buffers: Uint8Array[];
  /** The descriptor of each target created (WriteTarget.create), by target index. */
  opened: (number | undefined)[] | undefined;
  /** Each target's file as the write left it, by target index (TargetsWritten.stats); undefined when nothing was written. */
  stats?: (FileStats | undefined)[] | undefined;
}

/**
 * Hashes on the calling thread: the baseline in measurements, and cheaper
 * than a thread hop for tiny pieces. It blocks the event loop for the
 * whole hash. The input buffers are left as they are.
 */
export class InlineSha1 implements Sha1Hasher {
  private closed = false;

  async hash(buffers: readonly Uint8Array[]): Promise<HashResult> {
    if (this.closed) throw new HasherClosedError();
    const h = createHash('sha1');
    for (const b of buffers) h.update(b);
    return { digest: h.digest(), buffers: [...buffers] };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export class HasherClosedError extends Error {
  override name = 'HasherClosedError';
  constructor() {
    super('the SHA-1 hasher is closed');
  }
}

/** A hash worker failed (crashed, or threw on a job); the job's buffers are lost with it. */
export class HashWorkerError extends Error {
  override name = 'HashWorkerError';
}
