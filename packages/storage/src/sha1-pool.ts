import { close as closeCb } from 'node:fs';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { HASH_THREAD_SOURCE, type Reply, type StatReply } from './hash-thread.js';
import { HasherClosedError, HashWorkerError, type FileStats, type HashAndWriteResult, type HashResult, type Sha1Hasher } from './sha1-hasher.js';
import { WriteTargetError, type WriteTarget } from './write-targets.js';

export * from './sha1-hasher.js';

interface Job {
  resolve: (r: JobResult) => void;
  reject: (e: Error) => void;
  /** The input, when it was posted without a transfer and so is still ours to hand back. */
  kept: Uint8Array[] | undefined;
  /** closeFile's callers whose descriptors went with this job, told when it is answered. */
  closed?: (() => void)[] | undefined;
}

type JobResult = HashResult & { writeError?: WriteTargetError; opened?: (number | undefined)[]; stats?: StatReply[] };

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
  /** Its thread has started running (statFiles waits for no thread to start). */
  online: boolean;
}

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
    return { match: r.digest.equals(want), buffers: r.buffers, opened: r.opened, stats: fileStats(r.stats) };
  }

  /** Writes a piece already checked to `targets` in a hash thread (as hashAndWrite does, without the hash). */
  async writeChecked(buffers: readonly Uint8Array[], targets: readonly WriteTarget[]): Promise<HashAndWriteResult> {
    const r = written(await this.submit(buffers, { write: { expected: undefined, targets }, hash: false }));
    return { match: true, buffers: r.buffers, opened: r.opened, stats: fileStats(r.stats) };
  }

  /**
   * Stats each file in a thread, with one handoff for all of them where
   * `stat` on the event loop costs one each (the resume data of a torrent
   * of 10,000 files stats every one). undefined for a file that cannot be
   * stat'ed (missing, say). Symlinks are followed, as `stat` does.
   *
   * Undefined when no thread is up yet: a thread takes ~100 ms to start
   * here, which a torrent's first check would wait for before its first
   * connection; the caller stats them itself (resume.ts), and a thread
   * starts meanwhile for the pieces to come.
   */
  async statFiles(paths: readonly string[]): Promise<(FileStats | undefined)[] | undefined> {
    if (this.closed) throw new HasherClosedError();
    if (![...this.slots].some((s) => s.online)) {
      // Started ahead of any job: idle from the start, so it keeps no process alive and exits if no piece comes.
      if (this.slots.size === 0) this.idle(this.spawn());
      return undefined;
    }
    const { stats } = await this.submit([], { hash: false, stat: paths });
    return fileStats(stats) ?? [];
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
    // A running thread, the least busy: none is started to close files.
    let slot: Slot | undefined;
    for (const s of this.slots) if (!slot || s.jobs.size < slot.jobs.size) slot = s;
    const job: Job = { resolve: () => {}, reject: () => {}, kept: [] };
    this.post(slot!, this.nextId++, job, [], false, { hash: false });
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
    // trackUnmanagedFds off: a descriptor the thread opens belongs to a
    // storage, which keeps using it after this thread has exited (Node would
    // otherwise close it then, and its number could go to another file), and
    // one the thread closes was often opened on the event loop (Node would
    // otherwise warn on stderr that it was not the thread's to close).
    const worker = new Worker(HASH_THREAD_SOURCE, { eval: true, trackUnmanagedFds: false });
    const slot: Slot = { worker, jobs: new Map(), idleTimer: undefined, retiring: false, online: false };
    worker.once('online', () => (slot.online = true));
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
function fileStats(stats: readonly StatReply[] | undefined): (FileStats | undefined)[] | undefined {
  return stats?.map((s) => (s ? { size: s[0], mtimeMs: s[1], blocks: s[2] } : undefined));
}

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
