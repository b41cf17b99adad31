import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { WriteTargetError, type WriteTarget } from './write-targets.js';

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
   * `targets` in the same thread (see write-targets.ts). Answers whether it
   * matched (and so was written) with the buffers to use afterwards; a
   * failed write rejects with WriteTargetError, after the targets before it
   * were written. Optional: without it the caller hashes, then writes.
   */
  hashAndWrite?(buffers: readonly Uint8Array[], expected: Uint8Array, targets: readonly WriteTarget[]): Promise<HashAndWriteResult>;
  /** With hashAndWrite: writes a piece already checked, answering the buffers to use afterwards. */
  writeChecked?(buffers: readonly Uint8Array[], targets: readonly WriteTarget[]): Promise<Uint8Array[]>;
  close(): Promise<void>;
}

export interface HashAndWriteResult {
  /** The digest was the one expected, and the piece is written. */
  match: boolean;
  /** As HashResult's. */
  buffers: Uint8Array[];
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

// The worker's code travels as a string (`eval: true`) so that it runs the
// same from src/ under vitest, which would hand Node a .ts worker file it
// cannot load, and from dist/ in production, with no worker file whose path
// differs between the two. It is plain CommonJS, the dialect of eval'd
// workers, and small enough to read here.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { ftruncateSync, writevSync } = require('node:fs');
// The views of the piece's bytes [from, from + length), in order.
function slice(buffers, from, length) {
  const out = [];
  for (const b of buffers) {
    if (length === 0) break;
    if (from >= b.length) { from -= b.length; continue; }
    const take = Math.min(b.length - from, length);
    out.push(b.subarray(from, from + take));
    from = 0;
    length -= take;
  }
  return out;
}
// Each target: truncated first if asked, then pwritev until every byte is down (IOV_MAX at a time):
// writeAll's loop (vectored-write.ts), which eval'd code cannot import.
function write(buffers, targets) {
  for (let k = 0; k < targets.length; k++) {
    const t = targets[k];
    try {
      if (t.sizeTo !== undefined) ftruncateSync(t.fd, t.sizeTo);
      let parts = slice(buffers, t.pieceOffset, t.length);
      let at = t.position;
      while (parts.length > 0) {
        const n = writevSync(t.fd, parts.slice(0, 1024), at);
        if (!(n > 0)) throw Object.assign(new Error('writev wrote ' + n + ' bytes at offset ' + at), { code: 'EIO', syscall: 'writev' });
        at += n;
        let left = n;
        while (parts.length > 0 && left >= parts[0].length) left -= parts.shift().length;
        if (left > 0) parts[0] = parts[0].subarray(left);
      }
    } catch (err) {
      return { target: k, code: err.code, syscall: err.syscall, message: err.message };
    }
  }
  return undefined;
}
parentPort.on('message', ({ id, buffers, transferred, expected, targets, hash }) => {
  try {
    let digest;
    if (hash) {
      const h = createHash('sha1');
      for (const b of buffers) h.update(b);
      digest = h.digest();
    }
    // With targets: written when the hash is the one expected, or when there is no hash to check (checked before).
    const writeError = targets && (!hash || digest.equals(expected)) ? write(buffers, targets) : undefined;
    if (!transferred) return parentPort.postMessage({ id, digest, writeError });
    // Give the piece back: transferred, so still no copy.
    parentPort.postMessage({ id, digest, writeError, buffers }, [...new Set(buffers.map((b) => b.buffer))]);
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.stack || err) });
  }
});
`;

interface Job {
  resolve: (r: HashResult & { writeError?: WriteTargetError }) => void;
  reject: (e: Error) => void;
  /** The input, when it was posted without a transfer and so is still ours to hand back. */
  kept: Uint8Array[] | undefined;
}

interface WriteJob {
  /** Undefined: write without hashing (the piece was checked before). */
  expected: Uint8Array | undefined;
  targets: readonly WriteTarget[];
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
  /** Ends the thread once it has been idle for idleMs. */
  idleTimer: NodeJS.Timeout | undefined;
  /** The pool ended it (idle, or closing): its exit is no crash. */
  retiring: boolean;
}

type WriteErrorReply = { target: number; code?: string; syscall?: string; message: string };
type Reply = { id: number; digest?: Uint8Array; buffers?: Uint8Array[]; writeError?: WriteErrorReply } | { id: number; error: string };

export interface Sha1PoolOptions {
  /**
   * A thread with no job for this long exits; the next hash that needs it
   * starts it again. Default 30 s; Infinity keeps threads for good.
   */
  idleMs?: number;
}

/**
 * How long a hash thread may wait for work. A thread is a V8 isolate of its
 * own, 10 MiB of RSS idle and about twice that once it has hashed; a seedbox
 * seeding thousands of complete torrents hashes nothing for hours, and
 * starting a thread again costs ~30 ms, once, before the first piece of a
 * new download.
 */
export const HASH_THREAD_IDLE_MS = 30_000;

/**
 * A pool of up to `size` worker threads that hash pieces. Threads start
 * when there is work for them (a job goes to an idle running thread first,
 * else to a new one while the pool is below its size, else to the least
 * busy) and exit after `idleMs` without a job. Idle threads do not keep the
 * process alive.
 */
export class Sha1Pool implements Sha1Hasher {
  readonly size: number;
  private readonly idleMs: number;
  private readonly slots = new Set<Slot>();
  private nextId = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  private live = 0;
  /** Every thread's exit, for close() to wait on (those retired while idle too). */
  private readonly exits = new Set<Promise<unknown>>();

  /** `size` threads at most; by default one per core but one, which is left to the event loop. */
  constructor(size = Math.max(1, availableParallelism() - 1), options: Sha1PoolOptions = {}) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`a SHA-1 pool needs at least one thread, not ${size}`);
    const idleMs = options.idleMs ?? HASH_THREAD_IDLE_MS;
    if (!(idleMs > 0)) throw new RangeError(`a SHA-1 pool's idle time must be above 0 ms, not ${idleMs}`);
    this.size = size;
    this.idleMs = idleMs;
  }

  /** Threads started and not yet exited (0 before the first hash, after idleMs without one, and once `close()` has resolved). */
  get threads(): number {
    return this.live;
  }

  hash(buffers: readonly Uint8Array[]): Promise<HashResult> {
    return this.submit(buffers, undefined);
  }

  async hashAndWrite(buffers: readonly Uint8Array[], expected: Uint8Array, targets: readonly WriteTarget[]): Promise<HashAndWriteResult> {
    // A 20-byte copy: a view of the torrent's piece hashes would post all of them.
    const want = expected.slice();
    const r = written(await this.submit(buffers, { expected: want, targets }));
    return { match: r.digest.equals(want), buffers: r.buffers };
  }

  /** Writes a piece already checked to `targets` in a hash thread (as hashAndWrite does, without the hash). */
  async writeChecked(buffers: readonly Uint8Array[], targets: readonly WriteTarget[]): Promise<Uint8Array[]> {
    return written(await this.submit(buffers, { expected: undefined, targets })).buffers;
  }

  private submit(buffers: readonly Uint8Array[], write: WriteJob | undefined): Promise<HashResult & { writeError?: WriteTargetError }> {
    if (this.closed) return Promise.reject(new HasherClosedError());
    const slot = this.pick();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const nonEmpty = buffers.filter((b) => b.byteLength > 0);
      const job: Job = { resolve, reject, kept: undefined };
      try {
        this.post(slot, id, job, nonEmpty, false, write);
      } catch {
        // DataCloneError: an ArrayBuffer that cannot be transferred (marked
        // untransferable, say). Nothing was detached; copy it instead.
        this.post(slot, id, job, nonEmpty, true, write);
      }
    });
  }

  /** An idle running thread, else a new one while there is room, else the least busy. */
  private pick(): Slot {
    let least: Slot | undefined;
    for (const slot of this.slots) {
      if (slot.jobs.size === 0) return slot;
      if (!least || slot.jobs.size < least.jobs.size) least = slot;
    }
    return least && this.slots.size >= this.size ? least : this.spawn();
  }

  private post(slot: Slot, id: number, job: Job, buffers: Uint8Array[], forceCopy: boolean, write: WriteJob | undefined): void {
    let views = buffers;
    let transfer: ArrayBuffer[] = [];
    if (forceCopy || !buffers.every((b) => b.buffer instanceof SharedArrayBuffer)) {
      if (!forceCopy && ownsDistinctBuffers(buffers)) {
        transfer = buffers.map((b) => b.buffer as ArrayBuffer);
      } else {
        const copy = copyToFresh(buffers);
        views = [copy];
        transfer = [copy.buffer as ArrayBuffer];
      }
    }
    job.kept = transfer.length === 0 ? buffers : undefined;
    slot.worker.postMessage(
      { id, buffers: views, transferred: transfer.length > 0, expected: write?.expected, targets: write?.targets, hash: write?.expected !== undefined || !write },
      transfer,
    );
    if (slot.jobs.size === 0) {
      slot.worker.ref(); // busy: a pending hash keeps the process alive
      clearTimeout(slot.idleTimer);
      slot.idleTimer = undefined;
    }
    slot.jobs.set(id, job);
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    const slot: Slot = { worker, jobs: new Map(), idleTimer: undefined, retiring: false };
    this.slots.add(slot);
    this.live++;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    this.exits.add(exited);
    worker.on('message', (reply: Reply) => {
      const job = slot.jobs.get(reply.id);
      slot.jobs.delete(reply.id);
      if (slot.jobs.size === 0) this.idle(slot);
      if (!job) return;
      if ('error' in reply) {
        job.reject(new HashWorkerError(`hashing failed in a worker: ${reply.error}`));
        return;
      }
      const digest = reply.digest ? Buffer.from(reply.digest.buffer, reply.digest.byteOffset, reply.digest.byteLength) : Buffer.alloc(0);
      const w = reply.writeError;
      const writeError = w && new WriteTargetError(w.target, Object.assign(new Error(w.message), { code: w.code, syscall: w.syscall }));
      job.resolve({ digest, buffers: job.kept ?? reply.buffers ?? [], ...(writeError ? { writeError } : {}) });
    });
    worker.on('error', (err) => this.fail(slot, new HashWorkerError(`a SHA-1 worker crashed: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => {
      this.live--;
      this.exits.delete(exited);
      this.slots.delete(slot);
      clearTimeout(slot.idleTimer);
      // A crash: its jobs fail, and the next hash starts a thread in its place.
      if (!slot.retiring && !this.closed) this.fail(slot, new HashWorkerError(`a SHA-1 worker exited (code ${code})`));
      // Closed: its jobs fail once it has stopped, not before. A job may be
      // writing through a storage's descriptors (hashAndWrite), which the
      // storage closes when the job is answered.
      else if (this.closed) this.fail(slot, new HasherClosedError());
    });
    // An idle pool must not keep the process alive. After the listeners:
    // adding a 'message' listener refs the worker's port again.
    worker.unref();
    return slot;
  }

  /** No job left: the thread no longer keeps the process alive, and exits if none comes within idleMs. */
  private idle(slot: Slot): void {
    slot.worker.unref();
    if (!Number.isFinite(this.idleMs)) return;
    slot.idleTimer = setTimeout(() => {
      if (slot.jobs.size > 0) return;
      slot.retiring = true;
      this.slots.delete(slot); // new jobs go elsewhere from now on
      void slot.worker.terminate();
    }, this.idleMs);
    slot.idleTimer.unref();
  }

  private fail(slot: Slot, err: Error): void {
    const jobs = [...slot.jobs.values()];
    slot.jobs.clear();
    for (const job of jobs) job.reject(err);
  }

  /** Stops every thread and rejects pending jobs with HasherClosedError as each exits; resolves once they have. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      for (const slot of this.slots) {
        slot.retiring = true;
        clearTimeout(slot.idleTimer);
        void slot.worker.terminate(); // its jobs fail at its exit
      }
      this.closing = Promise.all([...this.exits]).then(() => undefined);
    }
    return this.closing;
  }
}

/** A job's answer, or its failed write thrown, carrying the piece's buffers to use afterwards. */
function written(r: HashResult & { writeError?: WriteTargetError }): HashResult {
  if (r.writeError) {
    r.writeError.buffers = r.buffers;
    throw r.writeError;
  }
  return r;
}

/** Whether each buffer is an ordinary ArrayBuffer it covers whole, and no two share one (a transfer list may not repeat). */
function ownsDistinctBuffers(buffers: readonly Uint8Array[]): boolean {
  const seen = new Set<ArrayBufferLike>();
  for (const b of buffers) {
    if (b.buffer instanceof SharedArrayBuffer) return false;
    if (b.byteOffset !== 0 || b.byteLength !== b.buffer.byteLength) return false;
    if (seen.has(b.buffer)) return false;
    seen.add(b.buffer);
  }
  return true;
}

function copyToFresh(buffers: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const b of buffers) total += b.byteLength;
  // Outside Node's Buffer pool, so the whole ArrayBuffer is ours to transfer.
  const out = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (const b of buffers) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}
