/**
 * The bounded read cache behind seeding. A peer that asks for one block of
 * a piece nearly always asks for the rest of it next, so a miss reads a
 * whole aligned span (up to 1 MiB of the piece) with one positional read
 * and serves the following blocks from memory. Spans are evicted least
 * recently used once the cache holds more than its byte budget; concurrent
 * misses on one span share one read.
 */
export type SpanReader = (index: number, begin: number, length: number) => Promise<Uint8Array>;

export interface ReadCacheOptions {
  /** Most bytes held. */
  maxBytes?: number;
  /** Size of one cached span. */
  spanBytes?: number;
}

export class ReadCache {
  // Both maps exist only while they hold something (undefined when empty):
  // every seeding torrent has a cache, and most of thousands are idle.
  private spans: Map<string, Uint8Array> | undefined;
  private inflight: Map<string, Promise<Uint8Array>> | undefined;
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
  }

  /** The bytes from memory when the cache holds them, without waiting a turn of the event loop; else undefined. */
  peek(index: number, begin: number, length: number): Uint8Array | undefined {
    const spanStart = Math.floor(begin / this.spanBytes) * this.spanBytes;
    if (begin + length > spanStart + this.spanBytes) return undefined;
    const cached = this.spans?.get(`${index}:${spanStart}`);
    if (!cached) return undefined;
    this.hits++;
    return cached.subarray(begin - spanStart, begin - spanStart + length);
  }

  /** Bytes [begin, begin+length) of piece `index`. The range must lie within one piece. */
  async block(index: number, begin: number, length: number): Promise<Uint8Array> {
    const spanStart = Math.floor(begin / this.spanBytes) * this.spanBytes;
    if (begin + length > spanStart + this.spanBytes) {
      // Straddles two spans (only with odd request sizes): read it directly.
      this.misses++;
      return this.read(index, begin, length);
    }
    const key = `${index}:${spanStart}`;
    const spans = this.spans;
    const cached = spans?.get(key);
    if (spans && cached) {
      this.hits++;
      // Re-insert to mark it most recently used.
      spans.delete(key);
      spans.set(key, cached);
      return cached.subarray(begin - spanStart, begin - spanStart + length);
    }
    this.misses++;
    let pending = this.inflight?.get(key);
    if (!pending) {
      const spanLength = Math.min(this.spanBytes, this.pieceSize(index) - spanStart);
      const generation = this.generation;
      pending = this.read(index, spanStart, spanLength).then(
        (data) => {
          this.readDone(key);
          if (generation === this.generation) this.insert(key, data);
          return data;
        },
        (err: unknown) => {
          this.readDone(key);
          throw err;
        },
      );
      (this.inflight ??= new Map()).set(key, pending);
    }
    const data = await pending;
    return data.subarray(begin - spanStart, begin - spanStart + length);
  }

  private readDone(key: string): void {
    if (this.inflight?.delete(key) && this.inflight.size === 0) this.inflight = undefined;
  }

  private insert(key: string, data: Uint8Array): void {
    if (data.length > this.maxBytes) return;
    const spans = (this.spans ??= new Map());
    spans.set(key, data);
    this.bytes += data.length;
    // Never evicts the span just put (it fits the budget alone), so the map is not left empty.
    for (const [k, v] of spans) {
      if (this.bytes <= this.maxBytes) break;
      spans.delete(k);
      this.bytes -= v.length;
    }
  }

  /** Drops a piece's spans (its data changed, e.g. it was re-downloaded). */
  invalidate(index: number): void {
    const spans = this.spans;
    if (!spans) return;
    for (const [k, v] of spans) {
      if (k.startsWith(`${index}:`)) {
        spans.delete(k);
        this.bytes -= v.length;
      }
    }
    if (spans.size === 0) this.spans = undefined;
  }

  /**
   * Drops every span: nobody is left to ask for them. The budget is per
   * torrent, so spans kept for peers that left would add up, over a
   * seedbox's thousands of torrents, to far more than anything serving
   * now; the page cache keeps the bytes warm for whoever comes next. Reads
   * under way still answer their callers; they are not kept.
   */
  clear(): void {
    this.spans = undefined;
    this.bytes = 0;
    this.generation++;
  }

  get size(): number {
    return this.bytes;
  }
}
