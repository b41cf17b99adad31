import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import {
  KRPC_ERROR,
  KrpcError,
  decodeKrpc,
  encodeKrpc,
  parseIpv4,
  parseIpv6,
  type KrpcMessage,
  type KrpcQuery,
  type KrpcResponse,
  type PeerAddress,
} from '@seedbox/protocol';
import { DhtBindError, DhtQueryError } from './dht-errors.js';
import { addressFamily, addressKey } from './node-id.js';
import { QueryRateLimiter, type QueryRateLimitOptions } from './rate-limit.js';

/**
 * KRPC over UDP (BEP 5): the DHT's sockets, our outgoing queries, and the
 * door incoming queries come through.
 *
 * - One socket per address family (udp4, and udp6 when asked for, BEP 32)
 *   carries every query and answer: a DHT node is one UDP endpoint, which
 *   is what other nodes store in their tables.
 * - Our queries get a 2-byte transaction id and a timer (3 s by default);
 *   an answer counts only if its `t` is pending and it comes from the
 *   address the query went to, so a third party cannot answer for a node.
 *   At most `maxOutstanding` queries are in the air; more wait their turn
 *   in order, so a burst of lookups paces itself instead of dropping.
 * - Incoming queries pass a per-address and a global token bucket
 *   (rate-limit.ts); over the limit they are dropped unanswered and counted.
 * - Nothing thrown while handling a datagram leaves the socket handler:
 *   a malformed datagram is counted and dropped (or answered with a KRPC
 *   error when its `t` could be read, as BEP 5 asks), and a failing handler
 *   is answered with error 202 and logged.
 *
 * What an answer means for the routing table is the DHT node's business:
 * this file only moves messages.
 */

/** What the node answers a query with: a response, or a KRPC error. */
export type QueryAnswer = { kind: 'response'; response: KrpcResponse } | { kind: 'error'; code: number; message: string };

export interface IncomingQuery {
  from: PeerAddress;
  query: KrpcQuery;
  /** BEP 43: the sender does not want to be in our routing table. */
  readOnly: boolean;
}

export interface QueryReply {
  response: KrpcResponse;
  from: PeerAddress;
}

export interface DhtLog {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface DhtRpcOptions {
  /** Answers one incoming query; it may throw (answered with error 202). */
  onQuery: (q: IncomingQuery) => QueryAnswer;
  /** How long a query waits for its answer (libtorrent: 3 s before giving up on a node in a lookup). */
  queryTimeoutMs?: number;
  /** Queries in the air at once. */
  maxOutstanding?: number;
  rateLimit?: QueryRateLimitOptions;
  log?: DhtLog;
}

export const DHT_RPC_DEFAULTS = { queryTimeoutMs: 3_000, maxOutstanding: 64 } as const;

export interface DhtRpcCounters {
  queriesIn: number;
  /** Incoming queries dropped unanswered by the rate limits. */
  answersDropped: number;
  queriesOut: number;
  timeouts: number;
  errorReplies: number;
  /** Datagrams that are not KRPC (or break its rules). */
  malformed: number;
  /** Answers with an unknown transaction id, or from the wrong address. */
  strays: number;
}

interface Pending {
  toKey: string;
  method: string;
  resolve: (r: QueryReply) => void;
  reject: (e: DhtQueryError) => void;
  timer: NodeJS.Timeout;
}

export class DhtRpc {
  readonly counters: DhtRpcCounters = { queriesIn: 0, answersDropped: 0, queriesOut: 0, timeouts: 0, errorReplies: 0, malformed: 0, strays: 0 };
  private readonly onQuery: (q: IncomingQuery) => QueryAnswer;
  private readonly timeoutMs: number;
  private readonly maxOutstanding: number;
  private readonly limiter: QueryRateLimiter;
  private readonly log: DhtLog | undefined;
  private readonly sockets: { 4?: dgram.Socket; 6?: dgram.Socket } = {};
  private readonly pending = new Map<number, Pending>();
  /** Queries waiting for a slot, oldest first. */
  private readonly waiting: { go: () => void; fail: (e: DhtQueryError) => void }[] = [];
  private nextTid = randomInt(0x10000);
  /** Query slots taken (at most maxOutstanding); a slot is held from slot() until the query settles. */
  private inFlight = 0;
  private closed = false;

  constructor(options: DhtRpcOptions) {
    this.onQuery = options.onQuery;
    this.timeoutMs = options.queryTimeoutMs ?? DHT_RPC_DEFAULTS.queryTimeoutMs;
    this.maxOutstanding = options.maxOutstanding ?? DHT_RPC_DEFAULTS.maxOutstanding;
    this.limiter = new QueryRateLimiter(options.rateLimit);
    this.log = options.log;
  }

  get outstanding(): number {
    return this.inFlight;
  }

  /** Whether a socket of this family is bound. */
  serves(family: 4 | 6): boolean {
    return this.sockets[family] !== undefined;
  }

  /** Binds the socket of one family; resolves with its port. Rejects with DhtBindError. */
  async bind(family: 4 | 6, host: string, port: number): Promise<number> {
    const socket = dgram.createSocket(family === 4 ? { type: 'udp4' } : { type: 'udp6', ipv6Only: true });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        socket.close();
        reject(new DhtBindError(host, port, err));
      };
      socket.once('error', onError);
      socket.bind({ address: host, port, exclusive: true }, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    // After bind, socket errors (ICMP unreachable reported on some systems,
    // a full send buffer) concern one datagram, not the node.
    socket.on('error', (err) => this.log?.warn('dht socket error', { family, error: err.message }));
    socket.on('message', (buf, rinfo) => this.receive(buf, { host: rinfo.address, port: rinfo.port }));
    this.sockets[family] = socket;
    return socket.address().port;
  }

  /** Sends a query and waits for its answer. Rejects only with DhtQueryError. */
  async query(to: PeerAddress, query: KrpcQuery, signal?: AbortSignal): Promise<QueryReply> {
    const toKey = addressKey(to.host, to.port);
    if (this.closed) throw new DhtQueryError('closed', query.method, toKey, 'the DHT node is stopped');
    if (!this.sockets[addressFamily(to.host)]) throw new DhtQueryError('send-failed', query.method, toKey, `no IPv${addressFamily(to.host)} socket`);
    await this.slot(query.method, toKey, signal);
    const socket = this.sockets[addressFamily(to.host)];
    if (!socket) {
      // close() ran while we waited for the slot.
      this.releaseSlot();
      throw new DhtQueryError('closed', query.method, toKey, 'the DHT node is stopped');
    }
    return new Promise<QueryReply>((resolve, reject) => {
      const tid = this.allocateTid();
      const done = () => {
        clearTimeout(entry.timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(tid);
        this.releaseSlot();
      };
      const onAbort = () => {
        done();
        reject(new DhtQueryError('aborted', query.method, toKey, 'aborted'));
      };
      const entry: Pending = {
        toKey,
        method: query.method,
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
        timer: setTimeout(() => {
          this.counters.timeouts++;
          entry.reject(new DhtQueryError('timeout', query.method, toKey, `no answer in ${this.timeoutMs} ms`));
        }, this.timeoutMs),
      };
      this.pending.set(tid, entry);
      signal?.addEventListener('abort', onAbort, { once: true });
      let packet: Buffer;
      try {
        packet = encodeKrpc({ kind: 'query', t: tidBytes(tid), query });
      } catch (e) {
        entry.reject(new DhtQueryError('send-failed', query.method, toKey, `cannot encode: ${(e as Error).message}`, { cause: e }));
        return;
      }
      this.counters.queriesOut++;
      const sendFailed = (err: Error) => entry.reject(new DhtQueryError('send-failed', query.method, toKey, err.message, { cause: err }));
      try {
        socket.send(packet, to.port, to.host, (err) => err && sendFailed(err));
      } catch (e) {
        sendFailed(e as Error); // a bad address is thrown, not passed to the callback
      }
    });
  }

  /** Fails every query in the air or waiting, and closes the sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.fail(new DhtQueryError('closed', 'query', '-', 'the DHT node stopped'));
    for (const p of [...this.pending.values()]) p.reject(new DhtQueryError('closed', p.method, p.toKey, 'the DHT node stopped'));
    const closing = ([4, 6] as const).map((f) => {
      const s = this.sockets[f];
      delete this.sockets[f];
      return s ? new Promise<void>((resolve) => s.close(() => resolve())) : Promise.resolve();
    });
    await Promise.all(closing);
  }

  private async slot(method: string, toKey: string, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new DhtQueryError('aborted', method, toKey, 'aborted');
    if (this.inFlight < this.maxOutstanding && this.waiting.length === 0) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        go: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        fail: (e: DhtQueryError) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new DhtQueryError('aborted', method, toKey, 'aborted while waiting for a query slot'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private releaseSlot(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter, or is given back.
    if (next) next.go();
    else this.inFlight--;
  }

  private allocateTid(): number {
    for (;;) {
      const tid = this.nextTid;
      this.nextTid = (this.nextTid + 1) & 0xffff;
      if (!this.pending.has(tid)) return tid;
    }
  }

  private receive(buf: Buffer, from: PeerAddress): void {
    try {
      this.dispatch(buf, from);
    } catch (e) {
      // A bug of ours on one datagram must not take the socket down.
      this.log?.warn('dht datagram handling failed', { from: addressKey(from.host, from.port), error: (e as Error).message });
    }
  }

  private dispatch(buf: Buffer, from: PeerAddress): void {
    let msg: KrpcMessage;
    try {
      msg = decodeKrpc(buf);
    } catch (e) {
      this.counters.malformed++;
      if (e instanceof KrpcError && e.answerable && e.t && this.limiter.allow(from.host)) {
        this.send(from, { kind: 'error', t: e.t, code: e.krpcCode, message: e.message });
      }
      return;
    }
    switch (msg.kind) {
      case 'query':
        this.counters.queriesIn++;
        if (!this.limiter.allow(from.host)) {
          this.counters.answersDropped++;
          return;
        }
        this.answer(from, msg.t, { from, query: msg.query, readOnly: msg.readOnly === true });
        return;
      case 'response':
      case 'error': {
        const p = msg.t.length === 2 ? this.pending.get((msg.t[0]! << 8) | msg.t[1]!) : undefined;
        if (!p || p.toKey !== addressKey(from.host, from.port)) {
          this.counters.strays++;
          return;
        }
        if (msg.kind === 'response') {
          p.resolve({ response: msg.response, from });
        } else {
          this.counters.errorReplies++;
          p.reject(new DhtQueryError('error-reply', p.method, p.toKey, `error ${msg.code}: ${msg.message}`, { krpcCode: msg.code }));
        }
        return;
      }
    }
  }

  private answer(from: PeerAddress, t: Uint8Array, q: IncomingQuery): void {
    let answer: QueryAnswer;
    try {
      answer = this.onQuery(q);
    } catch (e) {
      this.log?.warn('dht query handler failed', { method: q.query.method, error: (e as Error).message });
      answer = { kind: 'error', code: KRPC_ERROR.server, message: 'server error' };
    }
    // BEP 42: tell the asker the address we saw (only an IP literal can be encoded; a zone id cannot).
    const ip = parseIpv4(from.host) || parseIpv6(from.host) ? { ip: from } : {};
    if (answer.kind === 'response') this.send(from, { kind: 'response', t, response: answer.response, ...ip });
    else this.send(from, { kind: 'error', t, code: answer.code, message: answer.message });
  }

  private send(to: PeerAddress, msg: KrpcMessage): void {
    const socket = this.sockets[addressFamily(to.host)];
    if (!socket) return;
    let packet: Buffer;
    try {
      packet = encodeKrpc(msg);
    } catch (e) {
      this.log?.warn('dht answer cannot be encoded', { kind: msg.kind, error: (e as Error).message });
      return;
    }
    const notSent = (err: Error) => this.log?.debug('dht answer not sent', { to: addressKey(to.host, to.port), error: err.message });
    try {
      socket.send(packet, to.port, to.host, (err) => err && notSent(err));
    } catch (e) {
      notSent(e as Error);
    }
  }
}

function tidBytes(tid: number): Uint8Array {
  return Uint8Array.of(tid >> 8, tid & 0xff);
}
