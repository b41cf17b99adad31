import { createServer, type Server, type Socket } from 'node:net';
import { decodeHandshake, ProtocolError, type Handshake } from '@seedbox/protocol';

/**
 * Accepts peer connections for every torrent of a worker on one port. It
 * reads just the handshake, which names the torrent, and hands the socket to
 * that torrent; connections for torrents we don't have are closed.
 */
export interface IncomingTarget {
  acceptIncoming(socket: Socket, handshake: Handshake, leftover: Uint8Array): void;
}

export interface ListenerOptions {
  host?: string;
  port?: number;
  /** Finds the torrent for an info hash (hex). */
  lookup: (infoHashHex: string) => IncomingTarget | undefined;
  handshakeTimeoutMs?: number;
  /** Counts refused connections by reason. */
  onRefused?: (reason: 'unknown-torrent' | 'bad-handshake' | 'handshake-timeout') => void;
  /** Errors of the listening socket after start (e.g. EMFILE on accept); they never end the process. */
  onError?: (error: Error) => void;
}

export class PeerListener {
  private readonly server: Server;
  private readonly options: ListenerOptions;
  private readonly pending = new Set<Socket>();

  constructor(options: ListenerOptions) {
    this.options = options;
    this.server = createServer((socket) => this.onConnection(socket));
    // Always handled: an unhandled 'error' on a server ends the process
    // (a failed listen can emit it after listen() has already rejected).
    this.server.on('error', (err) => this.options.onError?.(err));
  }

  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, this.options.host ?? '0.0.0.0', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('listener has no TCP address');
    return { host: addr.address, port: addr.port };
  }

  private onConnection(socket: Socket): void {
    this.pending.add(socket);
    let buf: Buffer = Buffer.alloc(0);
    const done = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      this.pending.delete(socket);
    };
    const refuse = (reason: 'unknown-torrent' | 'bad-handshake' | 'handshake-timeout'): void => {
      done();
      this.options.onRefused?.(reason);
      socket.destroy();
    };
    const timer = setTimeout(() => refuse('handshake-timeout'), this.options.handshakeTimeoutMs ?? 10_000);
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let r;
      try {
        r = decodeHandshake(buf);
      } catch (err) {
        if (err instanceof ProtocolError) return refuse('bad-handshake');
        throw err;
      }
      if (r.kind === 'need-more') return;
      const target = this.options.lookup(Buffer.from(r.value.infoHash).toString('hex'));
      if (!target) return refuse('unknown-torrent');
      done();
      target.acceptIncoming(socket, r.value, buf.subarray(r.used));
    };
    const onError = (): void => refuse('bad-handshake');
    socket.on('data', onData);
    socket.on('error', onError);
  }

  async close(): Promise<void> {
    for (const s of this.pending) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
