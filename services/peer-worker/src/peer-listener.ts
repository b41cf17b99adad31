import { createServer, type Server, type Socket } from 'node:net';
import type { EncryptionPolicy } from './encryption/encryption-policy.js';
import { IncomingHandshake, type HandshakeRefusal, type IncomingOpening } from './encryption/incoming-handshake.js';
import { StreamKeys } from './encryption/stream-keys.js';

/**
 * Accepts peer connections for every torrent of a worker on one port. It
 * reads just the handshake, which names the torrent, and hands the socket to
 * that torrent; connections for torrents we don't have are closed. A peer
 * may open with the encrypted handshake (MSE) instead: the listener then
 * answers it (see encryption/incoming-handshake.ts), as the policy allows,
 * and hands over the cipher with the socket.
 *
 * A public port is also where floods come from, so it holds the line
 * before any torrent sees a socket: at most `maxHandshaking` connections
 * may be waiting for their handshake, each for `handshakeTimeoutMs`; at
 * most `maxPerIp` connections from one address are open at once (waiting
 * or handed over); `accepting()` may refuse more (the engine's total cap);
 * and while the process is out of file descriptors (EMFILE, ENFILE) new
 * connections are closed at once for a second instead of failing
 * elsewhere. Every refusal is counted by reason.
 *
 * When every handshaking slot is taken, a new connection takes the slot of
 * the one that has waited longest, which is closed (`too-many-handshaking`),
 * rather than being turned away itself. A real peer sends its handshake as
 * soon as it connects, so the oldest waiting connection is almost always
 * one that never will; and a peer turned away is not back for a while
 * (libtorrent waits `min_reconnect_time`, 60 s, before dialling a failed
 * peer again): refusing the newest let a few seconds of half-open
 * connections keep out every peer that arrived meanwhile for a minute
 * (test/connection-flood.test.ts, docs/CONNECTION-LIMITS.md).
 */
/** Why the listener closed a connection before any torrent saw it. */
export type RefusedConnection =
  | HandshakeRefusal
  | 'handshake-timeout'
  | 'too-many-handshaking'
  | 'too-many-from-address'
  | 'over-connection-limit'
  | 'out-of-file-descriptors';

/** Every reason, once: a Record so that a reason added to the type must be added here. */
const REASONS: Record<RefusedConnection, true> = {
  'bad-handshake': true,
  'bad-encrypted-handshake': true,
  'unknown-torrent': true,
  'plaintext-refused': true,
  'encrypted-refused': true,
  'handshake-timeout': true,
  'too-many-handshaking': true,
  'too-many-from-address': true,
  'over-connection-limit': true,
  'out-of-file-descriptors': true,
};
export const REFUSED_CONNECTIONS = Object.keys(REASONS) as readonly RefusedConnection[];

/** The listener's limits unless told otherwise. */
export const LISTENER_DEFAULTS = { handshakeTimeoutMs: 5_000, maxHandshaking: 64, maxPerIp: 16 } as const;

export interface IncomingTarget {
  acceptIncoming(socket: Socket, opening: IncomingOpening): void;
}

export interface ListenerOptions {
  host?: string;
  port?: number;
  /** Finds the torrent for an info hash (hex). */
  lookup: (infoHashHex: string) => IncomingTarget | undefined;
  /** Every info hash (hex) `lookup` may find: encrypted handshakes name their torrent by a hash of it. */
  infoHashes?: () => Iterable<string>;
  /** Which handshakes to take (read for each connection: it may change at run time). Default 'prefer'. */
  encryption?: () => EncryptionPolicy;
  /** How long an incoming connection may take to send its handshake, ms. Default 5 s (LISTENER_DEFAULTS). */
  handshakeTimeoutMs?: number;
  /** Connections waiting for their handshake at once. Default 64. */
  maxHandshaking?: number;
  /** Connections open from one address at once. Default 16. */
  maxPerIp?: number;
  /** Whether one more connection may be taken at all (e.g. the engine's total cap). */
  accepting?: () => boolean;
  /** Counts refused connections by reason. */
  onRefused?: (reason: RefusedConnection) => void;
  /** Errors of the listening socket after start (e.g. EMFILE on accept); they never end the process. */
  onError?: (error: Error) => void;
}

export class PeerListener {
  private readonly server: Server;
  private readonly options: ListenerOptions;
  /** Connections waiting for their handshake, oldest first, each with what closes it. */
  private readonly pending = new Map<Socket, (reason: RefusedConnection) => void>();
  /** Open connections by remote address, from accept to close. */
  private readonly perIp = new Map<string, number>();
  /** Until when new connections are closed at once (out of file descriptors). */
  private starvedUntil = 0;
  private readonly streamKeys: StreamKeys;
  /** Refusals by reason since start. */
  readonly refused: Partial<Record<RefusedConnection, number>> = {};

  constructor(options: ListenerOptions) {
    this.options = options;
    this.streamKeys = new StreamKeys(options.infoHashes ?? (() => []));
    this.server = createServer((socket) => this.onConnection(socket));
    // Always handled: an unhandled 'error' on a server ends the process
    // (a failed listen can emit it after listen() has already rejected).
    this.server.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      // Out of descriptors: back off for a second rather than accept into failures.
      if (code === 'EMFILE' || code === 'ENFILE') this.starvedUntil = Date.now() + 1000;
      this.options.onError?.(err);
    });
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

  get handshaking(): number {
    return this.pending.size;
  }

  private count(reason: RefusedConnection): void {
    this.refused[reason] = (this.refused[reason] ?? 0) + 1;
    this.options.onRefused?.(reason);
  }

  private onConnection(socket: Socket): void {
    socket.on('error', () => {}); // a reset before anyone listens must not throw
    const ip = socket.remoteAddress ?? '';
    const early: RefusedConnection | undefined =
      Date.now() < this.starvedUntil
        ? 'out-of-file-descriptors'
        : (this.perIp.get(ip) ?? 0) >= (this.options.maxPerIp ?? LISTENER_DEFAULTS.maxPerIp)
          ? 'too-many-from-address'
          : this.options.accepting && !this.options.accepting()
            ? 'over-connection-limit'
            : undefined;
    if (early) {
      this.count(early);
      socket.destroy();
      return;
    }
    // Every slot taken: the connection that has waited longest gives up its slot (see above).
    if (this.pending.size >= (this.options.maxHandshaking ?? LISTENER_DEFAULTS.maxHandshaking)) {
      const oldest = this.pending.values().next();
      if (!oldest.done) oldest.value('too-many-handshaking');
    }
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    socket.once('close', () => {
      const n = (this.perIp.get(ip) ?? 1) - 1;
      if (n <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, n);
    });
    const opening = new IncomingHandshake({
      policy: this.options.encryption?.() ?? 'prefer',
      findInfoHash: (req2) => this.streamKeys.find(req2),
      send: (bytes) => socket.write(bytes),
    });
    const done = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', done);
      this.pending.delete(socket);
    };
    const refuse = (reason: RefusedConnection): void => {
      done();
      this.count(reason);
      socket.destroy();
    };
    const timer = setTimeout(() => refuse('handshake-timeout'), this.options.handshakeTimeoutMs ?? LISTENER_DEFAULTS.handshakeTimeoutMs);
    this.pending.set(socket, refuse);
    const onData = (chunk: Buffer): void => {
      const r = opening.receive(chunk);
      if (r.kind === 'need-more') return;
      if (r.kind === 'refused') return refuse(r.reason);
      const target = this.options.lookup(Buffer.from(r.opening.handshake.infoHash).toString('hex'));
      if (!target) return refuse('unknown-torrent');
      done();
      target.acceptIncoming(socket, r.opening);
    };
    const onError = (): void => refuse('bad-handshake');
    socket.on('data', onData);
    socket.on('error', onError);
    // Closed by the peer before its handshake: its slot is free at once, not at the deadline.
    socket.once('close', done);
  }

  async close(): Promise<void> {
    for (const s of this.pending.keys()) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
