import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * SHA-1 of a piece, off the event loop.
 *
 * The peer-worker's event loop serves every socket; hashing a 1 MiB piece
 * takes about half a millisecond of CPU, which at 400 MB/s would be a fifth
 * of the loop's time. The pool moves it to worker threads without copying
 * the piece: a buffer that owns its whole ArrayBuffer (as the peer-worker's
 * piece buffers do) is transferred to the worker and back; shared memory is
 * read in place. Anything else (a view into a larger buffer, as a NATS
 * message is) is copied once so it can be transferred.
 *
 * Because of the transfer, `hash` answers the buffers to use afterwards:
 * the ones passed in may be detached.
 */
export interface HashResult {
  digest: Buffer;
  /** The same bytes as the input, possibly in new views. */
  buffers: Uint8Array[];
}

export interface Sha1Hasher {
  hash(buffers: readonly Uint8Array[]): Promise<HashResult>;
  close(): Promise<void>;
}

/** Hashes on the calling thread: the baseline in measurements, and for callers without threads to spare. */
export class InlineSha1 implements Sha1Hasher {
  async hash(buffers: readonly Uint8Array[]): Promise<HashResult> {
    const h = createHash('sha1');
    for (const b of buffers) h.update(b);
    return { digest: h.digest(), buffers: [...buffers] };
  }
  async close(): Promise<void> {}
}

// The worker's code travels as a string (`eval: true`) so that it runs the
// same from src/ under vitest and from dist/ in production, with no worker
// file whose path differs between the two.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', ({ id, buffers }) => {
  const h = createHash('sha1');
  for (const b of buffers) h.update(b);
  const back = buffers.map((b) => b.buffer).filter((ab) => !(ab instanceof SharedArrayBuffer));
  parentPort.postMessage({ id, digest: h.digest(), buffers }, back);
});
`;

interface Job {
  resolve: (r: HashResult) => void;
  reject: (e: Error) => void;
}

export class HasherClosedError extends Error {
  override name = 'HasherClosedError';
  constructor() {
    super('the SHA-1 pool is closed');
  }
}

export class Sha1Pool implements Sha1Hasher {
  private readonly workers: { worker: Worker; busy: number }[] = [];
  private readonly jobs = new Map<number, Job>();
  private nextId = 0;
  private closed = false;

  constructor(size = Math.max(1, availableParallelism() - 1)) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      const slot = { worker, busy: 0 };
      worker.on('message', ({ id, digest, buffers }: { id: number; digest: Uint8Array; buffers: Uint8Array[] }) => {
        slot.busy--;
        if (slot.busy === 0) worker.unref();
        const job = this.jobs.get(id);
        this.jobs.delete(id);
        job?.resolve({ digest: Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength), buffers });
      });
      worker.on('error', (err) => {
        for (const job of this.jobs.values()) job.reject(err);
        this.jobs.clear();
      });
      worker.unref(); // an idle pool must not keep the process alive
      this.workers.push(slot);
    }
  }

  hash(buffers: readonly Uint8Array[]): Promise<HashResult> {
    if (this.closed) return Promise.reject(new HasherClosedError());
    const transfer: ArrayBuffer[] = [];
    const views = buffers.map((b) => {
      if (b.buffer instanceof SharedArrayBuffer) return b;
      const owned = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b);
      transfer.push(owned.buffer as ArrayBuffer);
      return owned;
    });
    const id = this.nextId++;
    let slot = this.workers[0]!;
    for (const w of this.workers) if (w.busy < slot.busy) slot = w;
    if (slot.busy === 0) slot.worker.ref();
    slot.busy++;
    return new Promise<HashResult>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject });
      slot.worker.postMessage({ id, buffers: views }, transfer);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.jobs.values()) job.reject(new HasherClosedError());
    this.jobs.clear();
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
