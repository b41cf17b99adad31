import { createHash } from 'node:crypto';
import { close as closeCb } from 'node:fs';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
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
  /** Stats files off the event loop (see Sha1Pool.statFiles). Optional: without it they are stat'ed one by one. */
  statFiles?(paths: readonly string[]): Promise<(FileStats | undefined)[]>;
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
const { closeSync, ftruncateSync, lstatSync, mkdirSync, openSync, readlinkSync, statSync, unlinkSync, writevSync } = require('node:fs');
const { dirname, join, relative, sep } = require('node:path');
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
function refuse(code, message) {
  return Object.assign(new Error(message), { code, syscall: 'open' });
}
// The folders from root down to folder, each lstat'ed and made when missing:
// FileOpener.checkFolders' rules, with its words.
function makeFolders(root, folder) {
  let at = root;
  for (const seg of folder === root ? [] : relative(root, folder).split(sep)) {
    at = join(at, seg);
    let st = lstatSync(at, { throwIfNoEntry: false });
    if (!st) {
      try { mkdirSync(at); } catch (err) { if (err.code !== 'EEXIST') throw err; }
      st = lstatSync(at);
    }
    if (st.isSymbolicLink()) throw refuse('STORAGE_SYMLINK', at + ' is a symlink; refusing to follow it');
    if (!st.isDirectory()) throw refuse('STORAGE_NOT_A_FILE', at + ' is not a folder');
  }
}
// A new file (write-targets.ts' NewFile): created exclusively, its missing folders
// first, and refused unless /proc shows it where it was asked for: FileOpener.createNew's
// rules, with its words.
function create({ root, path, flags }) {
  let fd;
  try {
    fd = openSync(path, flags, 0o644);
  } catch (err) {
    // A folder missing, or not a folder (makeFolders says which).
    if (err.code !== 'ENOENT' && err.code !== 'ENOTDIR') throw err;
    makeFolders(root, dirname(path));
    fd = openSync(path, flags, 0o644);
  }
  const real = readlinkSync('/proc/self/fd/' + fd);
  if (real === path) return fd;
  try { unlinkSync(real); } catch {}
  closeSync(fd);
  throw refuse('STORAGE_SYMLINK', path + ' leads to ' + real + ': a folder on the way is a symlink; refusing to follow it');
}
// Each target: created first if asked (its descriptor noted in \`opened\`), truncated if asked, then
// pwritev until every byte is down (IOV_MAX at a time): writeAll's loop (vectored-write.ts),
// which eval'd code cannot import.
function write(buffers, targets, opened) {
  for (let k = 0; k < targets.length; k++) {
    const t = targets[k];
    try {
      let fd = t.fd;
      if (t.create) fd = opened[k] = create(t.create);
      if (t.sizeTo !== undefined) ftruncateSync(fd, t.sizeTo);
      let parts = slice(buffers, t.pieceOffset, t.length);
      let at = t.position;
      while (parts.length > 0) {
        const n = writevSync(fd, parts.slice(0, 1024), at);
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
parentPort.on('message', ({ id, buffers, transferred, expected, targets, hash, close, stat }) => {
  // Descriptors no job uses any more (Sha1Pool.closeFile).
  if (close) for (const fd of close) try { closeSync(fd); } catch {}
  if (stat) {
    const stats = stat.map((path) => {
      try {
        const s = statSync(path, { throwIfNoEntry: false });
        return s ? [s.size, s.mtimeMs, s.blocks] : null;
      } catch {
        return null;
      }
    });
    return parentPort.postMessage({ id, stats });
  }
  try {
    let digest;
    if (hash) {
      const h = createHash('sha1');
      for (const b of buffers) h.update(b);
      digest = h.digest();
    }
    // With targets: written when the hash is the one expected, or when there is no hash to check (checked before).
    const opened = [];
    const writeError = targets && (!hash || digest.equals(expected)) ? write(buffers, targets, opened) : undefined;
    const created = opened.length > 0 ? opened : undefined;
    if (!transferred) return parentPort.postMessage({ id, digest, writeError, opened: created });
    // Give the piece back: transferred, so still no copy.
    parentPort.postMessage({ id, digest, writeError, opened: created, buffers }, [...new Set(buffers.map((b) => b.buffer))]);
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.stack || err) });
  }
});
`;

interface Job {
  resolve: (r: JobResult) => void;
  reject: (e: Error) => void;
  /** The input, when it was posted without a transfer and so is still ours to hand back. */
  kept: Uint8Array[] | undefined;
  /** closeFile's callers whose descriptors went with this job, told when it is answered. */
  closed?: (() => void)[] | undefined;
}

type JobResult = HashResult & { writeError?: WriteTargetError; opened?: (number | undefined)[]; stats?: StatReply[] };

/** A file's [size, mtimeMs, blocks], or null: it could not be stat'ed. */
type StatReply = [number, number, number] | null;

/** What a job asks of the thread besides its buffers. */
interface Task {
  write?: WriteJob | undefined;
  /** Hash the buffers (false: a write checked before, or no hash wanted). */
  hash: boolean;
  /** Stat these paths (statFiles), nothing else. */
  stat?: readonly string[] | undefined;
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
type Reply =
  | { id: number; digest?: Uint8Array; buffers?: Uint8Array[]; writeError?: WriteErrorReply; opened?: (number | undefined)[]; stats?: StatReply[] }
  | { id: number; error: string };

/** Closes a descriptor on this thread (through libuv's pool). */
const closeHere = promisify(closeCb);

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
  /** Descriptors to close (closeFile), with the next job posted or on their own (flushCloses). */
  private toClose: { fd: number; done: () => void }[] = [];
  private flushing = false;

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
    return this.submit(buffers, { hash: true });
  }

  async hashAndWrite(buffers: readonly Uint8Array[], expected: Uint8Array, targets: readonly WriteTarget[]): Promise<HashAndWriteResult> {
    // A 20-byte copy: a view of the torrent's piece hashes would post all of them.
    const want = expected.slice();
    const r = written(await this.submit(buffers, { write: { expected: want, targets }, hash: true }));
    return { match: r.digest.equals(want), buffers: r.buffers, opened: r.opened };
  }

  /** Writes a piece already checked to `targets` in a hash thread (as hashAndWrite does, without the hash). */
  async writeChecked(buffers: readonly Uint8Array[], targets: readonly WriteTarget[]): Promise<HashAndWriteResult> {
    const r = written(await this.submit(buffers, { write: { expected: undefined, targets }, hash: false }));
    return { match: true, buffers: r.buffers, opened: r.opened };
  }

  /**
   * Stats each file in a thread, with one handoff for all of them where
   * `stat` on the event loop costs one each (the resume data of a torrent
   * of 10,000 files stats every one). undefined for a file that cannot be
   * stat'ed (missing, say). Symlinks are followed, as `stat` does.
   */
  async statFiles(paths: readonly string[]): Promise<(FileStats | undefined)[]> {
    const { stats } = await this.submit([], { hash: false, stat: paths });
    return (stats ?? []).map((s) => (s ? { size: s[0], mtimeMs: s[1], blocks: s[2] } : undefined));
  }

  /**
   * Closes a storage's descriptor in a hash thread (TorrentStorage's
   * FileCloser): it goes with the next job posted, or on its own once this
   * turn of the event loop is done; no job may be using it. A close there
   * costs the loop nothing, where one through libuv's pool costs a handoff
   * each way; a download of 10,000 small files closes 10,000. With no
   * thread running it is closed here: starting one to close a file is not
   * worth it. Resolves once it is closed (or its thread has died: then it
   * is not closed here either, as its number may already be another
   * file's).
   */
  closeFile(fd: number): Promise<void> {
    if (this.closed || this.slots.size === 0) return closeHere(fd);
    return new Promise((done) => {
      this.toClose.push({ fd, done });
      if (this.flushing) return;
      this.flushing = true;
      setImmediate(() => this.flushCloses());
    });
  }

  /** Sends the descriptors no job took along on their own. */
  private flushCloses(): void {
    this.flushing = false;
    if (this.toClose.length === 0) return;
    if (this.closed || this.slots.size === 0) {
      for (const { fd, done } of this.toClose.splice(0)) void closeHere(fd).then(done, done);
      return;
    }
    const slot = this.pick();
    const job: Job = { resolve: () => {}, reject: () => {}, kept: [] };
    this.post(slot, this.nextId++, job, [], false, { hash: false });
  }

  private submit(buffers: readonly Uint8Array[], task: Task): Promise<JobResult> {
    if (this.closed) return Promise.reject(new HasherClosedError());
    const slot = this.pick();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const nonEmpty = buffers.filter((b) => b.byteLength > 0);
      const job: Job = { resolve, reject, kept: undefined };
      try {
        this.post(slot, id, job, nonEmpty, false, task);
      } catch {
        // DataCloneError: an ArrayBuffer that cannot be transferred (marked
        // untransferable, say). Nothing was detached; copy it instead.
        this.post(slot, id, job, nonEmpty, true, task);
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

  private post(slot: Slot, id: number, job: Job, buffers: Uint8Array[], forceCopy: boolean, task: Task): void {
    const { write } = task;
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
    const closing = this.toClose.length > 0 ? this.toClose.splice(0) : undefined;
    slot.worker.postMessage(
      {
        id,
        buffers: views,
        transferred: transfer.length > 0,
        expected: write?.expected,
        targets: write?.targets,
        hash: task.hash,
        close: closing?.map((c) => c.fd),
        stat: task.stat,
      },
      transfer,
    );
    if (closing) job.closed = closing.map((c) => c.done);
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
      // The thread closes a job's descriptors before anything else it does.
      if (job.closed) for (const done of job.closed) done();
      if ('error' in reply) {
        job.reject(new HashWorkerError(`hashing failed in a worker: ${reply.error}`));
        return;
      }
      const digest = reply.digest ? Buffer.from(reply.digest.buffer, reply.digest.byteOffset, reply.digest.byteLength) : Buffer.alloc(0);
      const w = reply.writeError;
      const writeError = w && new WriteTargetError(w.target, Object.assign(new Error(w.message), { code: w.code, syscall: w.syscall }));
      if (writeError) writeError.opened = reply.opened;
      job.resolve({ digest, buffers: job.kept ?? reply.buffers ?? [], opened: reply.opened, stats: reply.stats, ...(writeError ? { writeError } : {}) });
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
    for (const job of jobs) {
      // Its descriptors may or may not have been closed: not closed again (see closeFile).
      if (job.closed) for (const done of job.closed) done();
      job.reject(err);
    }
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
      // Descriptors no job took along yet: closed here.
      const left = this.toClose.splice(0).map(({ fd, done }) => closeHere(fd).then(done, done));
      this.closing = Promise.all([...this.exits, ...left]).then(() => undefined);
    }
    return this.closing;
  }
}

/** A job's answer, or its failed write thrown, carrying the piece's buffers to use afterwards. */
function written(r: JobResult): JobResult {
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
