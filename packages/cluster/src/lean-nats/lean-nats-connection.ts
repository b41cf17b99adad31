import { readFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { buildAuthenticator, nuid, type ConnectionOptions } from 'nats';
import {
  CRLF,
  encodeConnect,
  encodeHeaders,
  encodePublishHead,
  encodeSub,
  encodeUnsub,
  PING,
  PONG,
  ServerOpParser,
  type ServerOp,
  type WireMessage,
} from './nats-wire.js';

/**
 * A second, lean NATS connection for the piece path only (pieces are
 * megabytes; everything else, the key-value buckets, heartbeats and control
 * requests, stays on nats.js). It speaks the documented client protocol
 * (nats-wire.ts) over TCP or TLS with the same settings and credentials as
 * the service's nats.js connection, and adds nothing it does not need:
 *
 * - a large message's payload arrives in a buffer of its own (one copy from
 *   the socket, no growing buffer), which the SHA-1 pool can transfer;
 * - a publish goes out as its control line, the caller's payload as it is
 *   and a CRLF, in one corked write (no concatenation);
 * - requests share one wildcard inbox subscription; a server without
 *   responders answers at once (no_responders), as nats.js does.
 *
 * Lifecycle: connecting → connected ⇄ reconnecting → closed. It keeps
 * trying to reach a server for as long as it lives (a seedbox outlives
 * NATS restarts), subscribes again after each reconnect, and drops what is
 * published while it is down: the piece path resends anything that was not
 * answered.
 */

export type LeanNatsState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface LeanMsg {
  readonly subject: string;
  readonly reply: string | undefined;
  readonly data: Buffer;
  /** 503 on a request nobody listened to. */
  readonly status: number | undefined;
  header(name: string): string | undefined;
  /** Publishes to the message's reply subject; false when it has none. */
  respond(data: Uint8Array, headers?: Record<string, string>): boolean;
}

export interface LeanSubscription {
  unsubscribe(): void;
  /** Unsubscribes, still delivering the messages the server sent before it heard of it. */
  drain(): Promise<void>;
}

export class LeanNatsError extends Error {
  constructor(
    readonly code: 'no-responders' | 'timeout' | 'disconnected' | 'closed',
    message: string,
  ) {
    super(message);
    this.name = 'LeanNatsError';
  }
}

export interface LeanNatsOptions extends Pick<ConnectionOptions, 'servers' | 'name' | 'user' | 'pass' | 'token' | 'authenticator' | 'reconnectTimeWait'> {
  tls?: { caFile?: string; certFile?: string; keyFile?: string } | null;
  /** Our own PING, to find a dead server between its messages. Default 30 s; two unanswered end the connection. */
  pingIntervalMs?: number;
  onState?: (state: LeanNatsState, detail?: string) => void;
  /** Each connection lost or attempt failed, and why (the server's -ERR when it gave one), for logs. */
  onProblem?: (detail: string) => void;
}

interface Sub {
  sid: number;
  subject: string;
  queue: string | undefined;
  callback: (msg: LeanMsg) => void;
}

/** Published while down, sent after the reconnect: small messages only (answers), and only so much. */
const MAX_HELD_BYTES = 4 * 1024 * 1024;
const HELD_MESSAGE_MAX = 64 * 1024;

export class LeanNatsConnection {
  private socket: Socket | TLSSocket | undefined;
  private parser = new ServerOpParser();
  private stateNow: LeanNatsState = 'connecting';
  private readonly subs = new Map<number, Sub>();
  private nextSid = 1;
  private readonly inbox = `_INBOX.${nuid.next()}`;
  private inboxSid: number | undefined;
  private nextRequest = 1;
  private readonly requests = new Map<string, { resolve: (m: LeanMsg) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private held: Buffer[][] = [];
  private heldBytes = 0;
  private serverIndex = 0;
  private pingTimer: NodeJS.Timeout | undefined;
  private pingsOut = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** One entry per PING sent after the handshake, in order: a flush's resolver, or undefined for a keep-alive. */
  private readonly pongQueue: ((() => void) | undefined)[] = [];
  private firstConnect: { resolve: () => void; promise: Promise<void> };
  private readonly readBuffer = Buffer.allocUnsafeSlow(64 * 1024);
  /** The server's INFO of this connection (its nonce signs the CONNECT). */
  private pendingInfo: Record<string, unknown> | undefined;
  /** CONNECT and PING sent, PONG not yet back. */
  private handshaking = false;
  /** The server's last -ERR, said when the connection then drops. */
  private lastError: string | undefined;
  /** A server said TLS when the settings did not: every later dial starts in TLS. */
  private tlsRequired = false;
  /** The server's max_payload, once connected. */
  maxPayload = 1024 * 1024;

  constructor(private readonly options: LeanNatsOptions) {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.firstConnect = { resolve, promise };
    this.dial();
  }

  get state(): LeanNatsState {
    return this.stateNow;
  }

  /** Resolves once the first connection is up (it keeps trying until then, or until close). */
  connected(): Promise<void> {
    return this.firstConnect.promise;
  }

  subscribe(subject: string, opts: { queue?: string }, callback: (msg: LeanMsg) => void): LeanSubscription {
    const sub: Sub = { sid: this.nextSid++, subject, queue: opts.queue, callback };
    this.subs.set(sub.sid, sub);
    if (this.stateNow === 'connected') this.send([encodeSub(subject, sub.queue, sub.sid)]);
    return {
      unsubscribe: () => {
        if (this.subs.delete(sub.sid) && this.stateNow === 'connected') this.send([encodeUnsub(sub.sid)]);
      },
      drain: async () => {
        if (!this.subs.has(sub.sid)) return;
        if (this.stateNow === 'connected') {
          this.send([encodeUnsub(sub.sid)]);
          await this.flush();
        }
        this.subs.delete(sub.sid);
      },
    };
  }

  publish(subject: string, data: Uint8Array, opts: { reply?: string; headers?: Record<string, string> } = {}): void {
    if (this.stateNow === 'closed') throw new LeanNatsError('closed', 'the connection is closed');
    const head = encodePublishHead(subject, opts.reply, opts.headers ? encodeHeaders(opts.headers) : undefined, data.byteLength);
    const parts = data.byteLength > 0 ? [head, data as Buffer, CRLF] : [head, CRLF];
    if (this.stateNow === 'connected') {
      this.send(parts);
    } else if (head.length + data.byteLength <= HELD_MESSAGE_MAX && this.heldBytes + head.length + data.byteLength <= MAX_HELD_BYTES) {
      this.held.push(parts.map((p) => Buffer.from(p)));
      this.heldBytes += head.length + data.byteLength;
    }
  }

  /** A request with one answer. Rejects with LeanNatsError: no-responders, timeout, disconnected (the answer would be lost), closed. */
  request(subject: string, data: Uint8Array, opts: { headers?: Record<string, string>; timeout: number }): Promise<LeanMsg> {
    if (this.stateNow !== 'connected') return Promise.reject(new LeanNatsError('disconnected', 'not connected to NATS'));
    if (this.inboxSid === undefined) {
      this.inboxSid = this.nextSid++;
      this.subs.set(this.inboxSid, { sid: this.inboxSid, subject: `${this.inbox}.*`, queue: undefined, callback: (m) => this.answer(m) });
      this.send([encodeSub(`${this.inbox}.*`, undefined, this.inboxSid)]);
    }
    const token = String(this.nextRequest++);
    return new Promise<LeanMsg>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(token);
        reject(new LeanNatsError('timeout', `no answer to ${subject} in ${opts.timeout} ms`));
      }, opts.timeout);
      this.requests.set(token, { resolve, reject, timer });
      this.publish(subject, data, { reply: `${this.inbox}.${token}`, headers: opts.headers });
    });
  }

  private answer(m: LeanMsg): void {
    const token = m.subject.slice(this.inbox.length + 1);
    const r = this.requests.get(token);
    if (!r) return;
    this.requests.delete(token);
    clearTimeout(r.timer);
    if (m.status === 503) r.reject(new LeanNatsError('no-responders', 'no one is listening'));
    else r.resolve(m);
  }

  /** Resolves when the server has processed everything sent before it (a PING's PONG). */
  flush(): Promise<void> {
    if (this.stateNow !== 'connected') return Promise.resolve();
    return new Promise((resolve) => {
      this.pongQueue.push(resolve);
      this.send([PING]);
    });
  }

  async close(): Promise<void> {
    if (this.stateNow === 'closed') return;
    if (this.stateNow === 'connected') await Promise.race([this.flush(), new Promise((r) => setTimeout(r, 2000).unref())]);
    this.setState('closed');
    clearTimeout(this.retryTimer);
    this.dropSocket();
    this.failRequests('closed');
    this.firstConnect.resolve();
  }

  private setState(s: LeanNatsState, detail?: string): void {
    if (this.stateNow === s) return;
    this.stateNow = s;
    this.options.onState?.(s, detail);
  }

  private send(parts: Uint8Array[]): void {
    const s = this.socket;
    if (!s || s.destroyed) return;
    if (parts.length === 1) {
      s.write(parts[0]!);
      return;
    }
    s.cork();
    for (const p of parts) s.write(p);
    s.uncork();
  }

  private servers(): string[] {
    const list = this.options.servers;
    const all = (Array.isArray(list) ? list : [list ?? 'nats://127.0.0.1:4222']).filter(Boolean);
    return all.length > 0 ? all : ['nats://127.0.0.1:4222'];
  }

  private dial(): void {
    if (this.stateNow === 'closed') return;
    const servers = this.servers();
    const server = servers[this.serverIndex++ % servers.length]!;
    const url = new URL(/^[a-z]+:\/\//i.test(server) ? server : `nats://${server}`);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port || 4222);
    const wantTls = url.protocol === 'tls:' || !!this.options.tls || this.tlsRequired;
    this.parser = new ServerOpParser();
    const parser = this.parser;
    let upgraded = false;
    const onOps = (ops: ServerOp[]): void => {
      for (const op of ops) this.onOp(op, () => {
        if (upgraded || !(wantTls || (op.op === 'info' && op.info.tls_required === true))) return false;
        if (!wantTls) {
          // Read in place below cannot be wrapped in TLS: start again, in TLS from the first byte.
          this.tlsRequired = true;
          this.lose('the server requires TLS');
          return true;
        }
        upgraded = true;
        this.upgrade(raw, host, onData);
        return true;
      });
    };
    const onData = (chunk: Buffer): void => {
      try {
        onOps(parser.feed(chunk));
      } catch (e) {
        this.lose(`the server sent what is not NATS: ${(e as Error).message}`);
      }
    };
    // In plain TCP, reads go into one buffer of our own, or straight into
    // the payload under way (ServerOpParser.payloadTarget): no allocation
    // per read, and a piece's bytes are not copied after the kernel's copy.
    let target: Buffer | undefined;
    const raw = wantTls
      ? tcpConnect({ host, port, noDelay: true })
      : tcpConnect({
          host,
          port,
          noDelay: true,
          onread: {
            buffer: () => (target = parser.payloadTarget()) ?? this.readBuffer,
            callback: (n: number, buf: Uint8Array) => {
              if (this.socket !== raw) return false;
              if (target && buf === target) parser.payloadFilled(n);
              else onData((buf as Buffer).subarray(0, n));
              return true;
            },
          },
        });
    this.socket = raw;
    if (wantTls) raw.on('data', onData);
    raw.on('error', () => {});
    raw.on('close', () => {
      if (this.socket === raw) this.lose('the connection closed');
    });
  }

  /** INFO said TLS (or the settings do): the rest of the conversation is inside it. */
  private upgrade(raw: Socket, host: string, onData: (chunk: Buffer) => void): void {
    raw.removeAllListeners('data');
    const t = this.options.tls ?? {};
    const secure = tlsConnect({
      socket: raw,
      servername: host,
      ...(t.caFile ? { ca: readFileSync(t.caFile) } : {}),
      ...(t.certFile ? { cert: readFileSync(t.certFile) } : {}),
      ...(t.keyFile ? { key: readFileSync(t.keyFile) } : {}),
    });
    this.socket = secure;
    secure.on('data', onData);
    secure.on('error', () => {});
    secure.on('close', () => {
      if (this.socket === secure) this.lose('the TLS connection closed');
    });
    secure.once('secureConnect', () => this.sendConnect());
  }

  private onOp(op: ServerOp, upgradeIfNeeded: () => boolean): void {
    switch (op.op) {
      case 'info':
        this.pendingInfo = op.info;
        if (typeof op.info.max_payload === 'number') {
          this.maxPayload = op.info.max_payload;
          this.parser.maxMessageBytes = op.info.max_payload + 64 * 1024;
        }
        // Only the first INFO starts the handshake; later ones announce cluster changes.
        if (this.stateNow !== 'connected' && !this.handshaking) {
          this.handshaking = true;
          if (!upgradeIfNeeded()) this.sendConnect();
        }
        return;
      case 'msg':
        return this.deliver(op.msg);
      case 'ping':
        this.send([PONG]);
        return;
      case 'pong':
        this.pingsOut = 0;
        if (this.handshaking) {
          this.handshaking = false;
          this.onConnected();
        } else {
          this.pongQueue.shift()?.();
        }
        return;
      case 'err':
        // Permission and parser errors end the connection server-side; say why.
        this.lastError = op.text;
        return;
      case 'ok':
        return;
    }
  }

  private sendConnect(): void {
    const nonce = typeof this.pendingInfo?.nonce === 'string' ? this.pendingInfo.nonce : undefined;
    const auth = buildAuthenticator(this.options as ConnectionOptions)(nonce) ?? {};
    this.send([
      encodeConnect({
        verbose: false,
        pedantic: false,
        protocol: 1,
        headers: true,
        no_responders: true,
        lang: 'seedbox-lean',
        version: '1',
        name: this.options.name ? `${this.options.name}/pieces` : 'seedbox/pieces',
        ...(this.options.tls ? { tls_required: true } : {}),
        ...auth,
      }),
      PING,
    ]);
  }

  private onConnected(): void {
    for (const s of this.subs.values()) this.send([encodeSub(s.subject, s.queue, s.sid)]);
    for (const parts of this.held.splice(0)) this.send(parts);
    this.heldBytes = 0;
    this.lastError = undefined;
    const wasReconnect = this.stateNow === 'reconnecting';
    this.setState('connected', wasReconnect ? 'reconnected' : undefined);
    this.firstConnect.resolve();
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (this.pingsOut >= 2) return this.lose('the server stopped answering PINGs');
      this.pingsOut++;
      this.pongQueue.push(undefined);
      this.send([PING]);
    }, this.options.pingIntervalMs ?? 30_000);
    this.pingTimer.unref();
  }

  private deliver(w: WireMessage): void {
    const sub = this.subs.get(w.sid);
    if (!sub) return;
    const msg: LeanMsg = {
      subject: w.subject,
      reply: w.reply,
      data: w.data,
      status: w.status,
      header: (name) => w.headers?.get(name),
      respond: (data, headers) => {
        if (!w.reply || this.stateNow === 'closed') return false;
        this.publish(w.reply, data, { headers });
        return true;
      },
    };
    sub.callback(msg);
  }

  private lose(why: string): void {
    if (this.stateNow === 'closed') return;
    const detail = this.lastError ? `${why} (server: ${this.lastError})` : why;
    this.options.onProblem?.(detail);
    this.dropSocket();
    this.handshaking = false;
    this.failRequests('disconnected');
    for (const w of this.pongQueue.splice(0)) w?.();
    if (this.stateNow === 'connected') this.setState('reconnecting', detail);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.dial(), this.options.reconnectTimeWait ?? 1000);
    this.retryTimer.unref();
  }

  private dropSocket(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    this.pingsOut = 0;
    const s = this.socket;
    this.socket = undefined;
    s?.destroy();
  }

  private failRequests(code: 'disconnected' | 'closed'): void {
    for (const [token, r] of this.requests) {
      clearTimeout(r.timer);
      r.reject(new LeanNatsError(code, code === 'closed' ? 'the connection closed' : 'the connection to NATS dropped before the answer'));
      this.requests.delete(token);
    }
  }
}
