import { connect, isIPv6, type Socket } from 'node:net';
import { DEFAULT_MAX_PIECE_LENGTH, encodePieceDataFrameHeader, encodePieceDataPreamble, PieceDataFrameError } from './piece-data-frame.js';

/**
 * The peer-worker's end of the direct piece-data path: one TCP connection
 * per disk-writer address, opened on first use, reused across pieces,
 * opened again after it breaks (format: piece-data-frame.ts; the writer's
 * end: piece-data-listener.ts).
 *
 * A frame is written in one synchronous run (header, then the piece's 16 KiB
 * blocks as they are, corked into one writev), so frames of sends that
 * overlap never interleave, and nothing is concatenated: the socket holds
 * references to the caller's blocks until the kernel has taken them, which
 * is when send() resolves. That is the back-pressure: a writer that reads
 * slowly leaves sends pending, and what the socket holds is only what the
 * pending sends handed it (the sink's pieces in flight, which it keeps
 * until their answers anyway).
 *
 * The answer to a piece comes over NATS, not here: a resolved send means
 * the bytes left this process, not that the writer took them. A send that
 * rejects (PieceDataLinkError) may have left part of its frame behind; the
 * connection is gone then, and the writer drops what it had of the frame.
 */

export type PieceDataLinkFailure =
  /** The address is not `host:port` / `[v6]:port`. */
  | 'bad-address'
  /** The write id, length or blocks cannot make a frame (nothing was sent). */
  | 'bad-frame'
  /** No connection within connectTimeoutMs. */
  | 'connect-timeout'
  /** Nothing listens there (ECONNREFUSED). */
  | 'refused'
  /** Any other failure to connect (no route, a name that does not resolve). */
  | 'unreachable'
  /** The connection broke, or the writer closed it, before the bytes were written. */
  | 'broken'
  /** close() was called. */
  | 'closed';

export class PieceDataLinkError extends Error {
  override readonly name = 'PieceDataLinkError';
  constructor(
    readonly reason: PieceDataLinkFailure,
    readonly address: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`piece data to ${address}: ${message}`, options);
  }
}

export interface PieceDataLinksOptions {
  /** Default 3 s. */
  connectTimeoutMs?: number;
  /** A connection with no send for this long is closed. Default 60 s (under the writers' 5 min, so it is the worker that closes). */
  idleMs?: number;
  /** Longest piece sent; longer is a 'bad-frame' at once. Default 256 MiB, as the writers'. */
  maxPieceLength?: number;
  onConnect?: (address: string) => void;
  onDisconnect?: (address: string, reason: string) => void;
}

/** `host:port`, the host in brackets when it is an IPv6 address. */
export function formatPieceDataAddress(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The host and port of `host:port` or `[v6]:port`; undefined when it is neither. */
export function parsePieceDataAddress(address: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+(?:%[\w.-]+)?)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address);
  if (!m) return undefined;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port < 1 || port > 65535 || (m[1] !== undefined && !isIPv6(host))) return undefined;
  return { host, port };
}

export class PieceDataLinks {
  private readonly links = new Map<string, Link>();
  private closed = false;

  constructor(private readonly opts: PieceDataLinksOptions = {}) {}

  /** Open connections (connecting ones included). */
  get connections(): number {
    return this.links.size;
  }

  /** Bytes handed to the sockets and not yet taken by the kernel: at most what the pending sends hold. */
  get bufferedBytes(): number {
    let n = 0;
    for (const link of this.links.values()) n += link.buffered;
    return n;
  }

  /**
   * Writes one frame: the header, then `blocks` in order (`length` bytes in
   * all). Resolves once the socket has handed every byte to the kernel.
   */
  send(address: string, writeId: string, blocks: readonly Uint8Array[], length: number): Promise<void> {
    if (this.closed) return Promise.reject(new PieceDataLinkError('closed', address, 'the links are closed'));
    let header: Buffer;
    try {
      header = encodePieceDataFrameHeader(writeId, length, this.opts.maxPieceLength ?? DEFAULT_MAX_PIECE_LENGTH);
    } catch (e) {
      if (!(e instanceof PieceDataFrameError)) throw e;
      return Promise.reject(new PieceDataLinkError('bad-frame', address, e.message, { cause: e }));
    }
    let total = 0;
    for (const b of blocks) total += b.byteLength;
    // A header that promises other than what follows would desynchronise the stream for every later piece.
    if (total !== length) return Promise.reject(new PieceDataLinkError('bad-frame', address, `write id ${writeId}: the blocks hold ${total} bytes, not ${length}`));
    let link = this.links.get(address);
    if (!link) {
      const target = parsePieceDataAddress(address);
      if (!target) return Promise.reject(new PieceDataLinkError('bad-address', address, 'not host:port or [IPv6]:port'));
      const fresh: Link = new Link(address, target, this.opts, () => {
        if (this.links.get(address) === fresh) this.links.delete(address);
      });
      this.links.set(address, fresh);
      link = fresh;
    }
    return link.send(header, blocks);
  }

  /** Drops every connection; pending sends reject with 'closed', and so does every later send. */
  close(): void {
    this.closed = true;
    for (const link of [...this.links.values()]) link.destroy(new PieceDataLinkError('closed', link.address, 'the links are closed'));
    this.links.clear();
  }
}

interface Pending {
  resolve(): void;
  reject(e: PieceDataLinkError): void;
}

/** One connection to one writer, from connect to close; never reopened (PieceDataLinks makes a new one). */
class Link {
  private readonly socket: Socket;
  private readonly pending = new Set<Pending>();
  private connected = false;
  private gone = false;
  private connectTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly address: string,
    target: { host: string; port: number },
    private readonly opts: PieceDataLinksOptions,
    private readonly forget: () => void,
  ) {
    const timeoutMs = opts.connectTimeoutMs ?? 3000;
    this.socket = connect({ host: target.host, port: target.port, noDelay: true });
    this.connectTimer = setTimeout(() => this.destroy(new PieceDataLinkError('connect-timeout', address, `no connection within ${timeoutMs} ms`)), timeoutMs);
    this.connectTimer.unref();
    this.socket.once('connect', () => {
      clearTimeout(this.connectTimer);
      this.connected = true;
      quietly(() => this.opts.onConnect?.(address));
    });
    this.socket.on('error', (e: NodeJS.ErrnoException) => this.destroy(this.describe(e)));
    // The writer never speaks: it closes (a refusal, its idle timeout, a restart) or resets.
    this.socket.on('data', () => this.destroy(new PieceDataLinkError('broken', address, 'the writer sent bytes on a one-way stream')));
    this.socket.on('end', () => this.destroy(new PieceDataLinkError('broken', address, 'the writer closed the connection')));
    this.socket.on('close', () => this.destroy(new PieceDataLinkError('broken', address, 'the connection closed')));
    // Written before the connection is up: the socket keeps it, and every frame, in order until then.
    this.socket.write(encodePieceDataPreamble());
  }

  get buffered(): number {
    return this.socket.writableLength;
  }

  send(header: Buffer, blocks: readonly Uint8Array[]): Promise<void> {
    clearTimeout(this.idleTimer);
    this.socket.ref();
    return new Promise<void>((resolve, reject) => {
      const p: Pending = { resolve, reject };
      this.pending.add(p);
      const s = this.socket;
      // The frame has bytes (length >= 1, checked), so some block is not empty.
      let last = blocks.length - 1;
      while (blocks[last]!.byteLength === 0) last--;
      s.cork();
      s.write(header);
      for (let i = 0; i < last; i++) if (blocks[i]!.byteLength > 0) s.write(blocks[i]!);
      // Callbacks run in write order: the last chunk's means the whole frame has left.
      s.write(blocks[last]!, (e) => {
        if (e) return; // 'error' and 'close' reject every pending send, this one included
        this.pending.delete(p);
        resolve();
        if (this.pending.size === 0) this.idle();
      });
      s.uncork();
    });
  }

  /** No send pending: let the process exit, and close the connection if none comes for idleMs. */
  private idle(): void {
    if (this.gone) return;
    this.socket.unref();
    this.idleTimer = setTimeout(() => {
      if (this.pending.size > 0) return;
      this.gone = true;
      this.forget();
      this.socket.end();
      quietly(() => this.opts.onDisconnect?.(this.address, 'idle'));
    }, this.opts.idleMs ?? 60_000);
    this.idleTimer.unref();
  }

  destroy(error: PieceDataLinkError): void {
    clearTimeout(this.connectTimer);
    clearTimeout(this.idleTimer);
    for (const p of this.pending) p.reject(error);
    this.pending.clear();
    if (this.gone) return;
    this.gone = true;
    this.forget();
    this.socket.destroy();
    quietly(() => this.opts.onDisconnect?.(this.address, error.message));
  }

  private describe(e: NodeJS.ErrnoException): PieceDataLinkError {
    if (this.connected) return new PieceDataLinkError('broken', this.address, `the connection broke: ${e.message}`, { cause: e });
    if (e.code === 'ECONNREFUSED') return new PieceDataLinkError('refused', this.address, 'nothing listens there (connection refused)', { cause: e });
    return new PieceDataLinkError('unreachable', this.address, `cannot connect: ${e.message}`, { cause: e });
  }
}

/** A hook (logs, metrics) runs inside socket events: if it throws, that must not become an uncaught exception. */
function quietly(hook: () => void): void {
  try {
    hook();
  } catch {
    // the hook's own failure; the link carries on
  }
}
