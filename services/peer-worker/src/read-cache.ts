/**
 * The bounded read cache behind seeding. A peer that asks for one block of
 * a piece nearly always asks for the rest of it next, so a miss reads a
 * whole aligned span (up to 1 MiB of the piece) with one positional read
 * and serves the following blocks from memory. Spans are evicted least
 * recently used once the cache holds more than its byte budget; concurrent
 * misses on one span share one read.
 *
 * Every block handed out is a lease on its span: the span's memory goes
 * back to the process's piece buffers (@seedbox/runtime/piece-buffers), to
 * be read into again, only once it has left the cache and every block cut
 * from it was released (written to the socket, or dropped). Allocating a
 * fresh MiB per read instead cost a seed a full garbage collection every
 * ~32 MiB sent (V8 counts the buffers' memory against its heap limit) and
 * a page fault per 4 KiB read: a quarter of its CPU (docs/BENCHMARKS.md,
 * seed-1g). The pool is the one the downloads use, with one cap for the
 * process and its own idle trim, so spare buffers are bounded however many
 * torrents seed. A lease never released only costs that reuse: the span is
 * left to the garbage collector.
 */
import { pieceBuffers, type PieceBufferPool } from '@seedbox/runtime/piece-buffers';

/**
 * Reads bytes [begin, begin+length) of piece `index`. `into`, when given,
 * is a buffer of exactly `length` bytes to read into (from the piece
 * buffers: perhaps one that served an evicted span); the answer is then
 * that buffer.
 */
export type SpanReader = (index: number, begin: number, length: number, into?: Uint8Array) => Promise<Uint8Array>;

export interface ReadCacheOptions {
  /** Most bytes held. */
  maxBytes?: number;
  /** Size of one cached span. */
  spanBytes?: number;
  /** Where spans' buffers come from and go back to. Default: the process's. */
  buffers?: PieceBufferPool;
}

/** A block's bytes, valid until release() (call it once they are on the socket, or not sent after all). */
export interface BlockLease {
  readonly bytes: Uint8Array;
  release(): void;
}

/** One span read from disk, and how many blocks cut from it are still out. */
class Span {
  cached = false;

  constructor(
    readonly data: Uint8Array,
    private readonly buffers: PieceBufferPool,
    /** Blocks out, counting those promised to the callers that waited on its read. */
    private users: number,
  ) {}

  lease(offset: number, length: number): BlockLease {
    this.users++;
    return this.promised(offset, length);
  }

  /** A block for a caller already counted in `users` (it waited on the read). */
  promised(offset: number, length: number): BlockLease {
    return new Lease(this, this.data.subarray(offset, offset + length));
  }

  /** Out of the cache: its buffer goes back once no block is out. */
  evicted(): void {
    this.cached = false;
    if (this.users === 0) this.buffers.give(this.data);
  }

  returned(): void {
    if (--this.users === 0 && !this.cached) this.buffers.give(this.data);
  }
}

class Lease implements BlockLease {
  private span: Span | undefined;

  constructor(
    span: Span,
    readonly bytes: Uint8Array,
  ) {
    this.span = span;
  }

  release(): void {
    // Once only: a second call must not free a span another block still uses.
    const span = this.span;
    this.span = undefined;
    span?.returned();
  }
}

/**
 * A span's read under way, and how many callers wait on it. The span is
 * born with them counted as its users: between the read's end and each
 * caller's turn, other reads may evict it, and its buffer must not be
 * read into meanwhile.
 */
interface Read {
  span: Promise<Span>;
  waiters: number;
}

/** A block read on its own (it straddles spans): nothing to give back. */
class Unshared implements BlockLease {
  constructor(readonly bytes: Uint8Array) {}
  release(): void {}
}

export class ReadCache {
  // Both maps exist only while they hold something (undefined when empty):
  // every seeding torrent has a cache, and most of thousands are idle.
  private spans: Map<string, Span> | undefined;
  private inflight: Map<string, Read> | undefined;
  private readonly buffers: PieceBufferPool;
  private bytes = 0;
  /** Moves at each clear(): a read started before it is not kept. */
  private generation = 0;
  private readonly maxBytes: number;
  private readonly spanBytes: number;
  hits = 0;
  misses = 0;

  constructor(
    private readonly read: SpanReader,
    private readonly pieceSize: (index: number) => number,
    options: ReadCacheOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.spanBytes = options.spanBytes ?? 1024 * 1024;
    this.buffers = options.buffers ?? pieceBuffers;
  }

  /** The block from memory when the cache holds it, without waiting a turn of the event loop; else undefined. */
  peek(index: number, begin: number, length: number): BlockLease | undefined {
    const spanStart = Math.floor(begin / this.spanBytes) * this.spanBytes;
    if (begin + length > spanStart + this.spanBytes) return undefined;
    const cached = this.spans?.get(`${index}:${spanStart}`);
    if (!cached) return undefined;
    this.hits++;
    return cached.lease(begin - spanStart, length);
  }

  /** Bytes [begin, begin+length) of piece `index`. The range must lie within one piece. */
  async block(index: number, begin: number, length: number): Promise<BlockLease> {
    const spanStart = Math.floor(begin / this.spanBytes) * this.spanBytes;
    if (begin + length > spanStart + this.spanBytes) {
      // Straddles two spans (only with odd request sizes): read it directly.
      this.misses++;
      return new Unshared(await this.read(index, begin, length));
    }
    const key = `${index}:${spanStart}`;
    const spans = this.spans;
    const cached = spans?.get(key);
    if (spans && cached) {
      this.hits++;
      // Re-insert to mark it most recently used.
      spans.delete(key);
      spans.set(key, cached);
      return cached.lease(begin - spanStart, length);
    }
    this.misses++;
    const read = this.inflight?.get(key) ?? this.startRead(key, index, spanStart);
    read.waiters++;
    return (await read.span).promised(begin - spanStart, length);
  }

  private startRead(key: string, index: number, spanStart: number): Read {
    const spanLength = Math.min(this.spanBytes, this.pieceSize(index) - spanStart);
    const generation = this.generation;
    const read: Read = {
      waiters: 0,
      span: this.read(index, spanStart, spanLength, this.buffers.take(spanLength)).then(
        (data) => {
          this.readDone(key);
          const span = new Span(data, this.buffers, read.waiters);
          if (generation === this.generation) this.insert(key, span);
          return span;
        },
        (err: unknown) => {
          this.readDone(key);
          throw err;
        },
      ),
    };
    (this.inflight ??= new Map()).set(key, read);
    return read;
  }

  private readDone(key: string): void {
    if (this.inflight?.delete(key) && this.inflight.size === 0) this.inflight = undefined;
  }

  private insert(key: string, span: Span): void {
    if (span.data.length > this.maxBytes) return;
    const spans = (this.spans ??= new Map());
    span.cached = true;
    spans.set(key, span);
    this.bytes += span.data.length;
    // Never evicts the span just put (it fits the budget alone), so the map is not left empty.
    for (const [k, v] of spans) {
      if (this.bytes <= this.maxBytes) break;
      this.remove(spans, k, v);
    }
  }

  private remove(spans: Map<string, Span>, key: string, span: Span): void {
    spans.delete(key);
    this.bytes -= span.data.length;
    span.evicted();
  }

  /** Drops a piece's spans (its data changed, e.g. it was re-downloaded). */
  invalidate(index: number): void {
    const spans = this.spans;
    if (!spans) return;
    for (const [k, v] of spans) if (k.startsWith(`${index}:`)) this.remove(spans, k, v);
    if (spans.size === 0) this.spans = undefined;
  }

  /**
   * Drops every span: nobody is left to ask for them. The budget is per
   * torrent, so spans kept for peers that left would add up, over a
   * seedbox's thousands of torrents, to far more than anything serving
   * now; the page cache keeps the bytes warm for whoever comes next. Their
   * buffers go back to the pool as their last blocks are released. Reads
   * under way still answer their callers; they are not kept.
   */
  clear(): void {
    const spans = this.spans;
    this.spans = undefined;
    this.bytes = 0;
    this.generation++;
    for (const span of spans?.values() ?? []) span.evicted();
  }

  /** Bytes of the spans held. */
  get size(): number {
    return this.bytes;
  }
}
