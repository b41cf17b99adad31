/**
 * Piece buffers, used again instead of allocated for every piece.
 *
 * A download allocates a buffer per piece (a megabyte or more), and so does
 * the disk-writer for each piece that arrives. Each is an ArrayBuffer
 * outside V8's heap; V8 counts that "external" memory and, as it grows,
 * asks for a full mark-compact, so a gigabyte of fresh piece buffers costs
 * dozens of full collections (measured: 63 in the disk-writer for 1 GiB,
 * with `--trace-gc`), and the kernel a page fault for every 4 KiB of fresh
 * memory. A buffer given back once its piece is written is handed out again
 * for the next piece of the same size.
 *
 * Every buffer handed out owns its whole ArrayBuffer (as `allocUnsafeSlow`
 * makes them), so the SHA-1 pool can still transfer it to a thread. A
 * buffer given back is kept only if it is still whole (a transferred one
 * is detached, and is simply dropped) and the pool is below its cap; an
 * idle pool lets its buffers go, so a seedbox that finished downloading
 * does not keep them. Not zeroed: whoever takes one writes it whole before
 * reading it, as with allocUnsafeSlow.
 *
 * Only give back a buffer nothing else refers to any more: the PieceSink
 * contract says when (piece-sink.ts).
 */
export class PieceBufferPool {
  private readonly free = new Map<number, Buffer[]>();
  /** The ArrayBuffers now in `free`: giving one back twice would hand it to two pieces at once. */
  private readonly kept = new WeakSet<ArrayBufferLike>();
  private bytes = 0;
  private takenSinceTrim = 0;
  private trimTimer: NodeJS.Timeout | undefined;
  /** Buffers handed out that came from the pool, and those allocated. */
  reused = 0;
  allocated = 0;

  constructor(
    /** Most bytes kept for reuse. */
    readonly maxBytes = 16 * 1024 * 1024,
    /** An interval with no take lets every kept buffer go. */
    readonly idleMs = 10_000,
  ) {}

  take(size: number): Buffer {
    this.takenSinceTrim++;
    const list = this.free.get(size);
    const b = list?.pop();
    if (b) {
      this.kept.delete(b.buffer);
      this.bytes -= size;
      this.reused++;
      return b;
    }
    this.allocated++;
    return Buffer.allocUnsafeSlow(size);
  }

  give(b: Uint8Array): void {
    const size = b.byteLength;
    // Detached (transferred), a view into a larger buffer, or shared memory: not ours to keep.
    if (size === 0 || b.byteOffset !== 0 || b.buffer.byteLength !== size || b.buffer instanceof SharedArrayBuffer) return;
    if (this.bytes + size > this.maxBytes || this.kept.has(b.buffer)) return;
    this.kept.add(b.buffer);
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(Buffer.from(b.buffer as ArrayBuffer, 0, size));
    this.bytes += size;
    this.armTrim();
  }

  /** Bytes kept for reuse now. */
  get keptBytes(): number {
    return this.bytes;
  }

  clear(): void {
    for (const list of this.free.values()) for (const b of list) this.kept.delete(b.buffer);
    this.free.clear();
    this.bytes = 0;
  }

  private armTrim(): void {
    if (this.trimTimer) return;
    this.takenSinceTrim = 0;
    this.trimTimer = setInterval(() => {
      if (this.takenSinceTrim === 0) {
        this.clear();
        clearInterval(this.trimTimer);
        this.trimTimer = undefined;
      }
      this.takenSinceTrim = 0;
    }, this.idleMs);
    this.trimTimer.unref();
  }
}

/** The process's pool: the download, the piece path and the disk-writer share it. */
export const pieceBuffers = new PieceBufferPool();
