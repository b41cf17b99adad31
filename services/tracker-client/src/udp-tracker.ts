import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns/promises';
import {
  TrackerError,
  decodeUdpAnnounceResponse,
  decodeUdpConnectResponse,
  decodeUdpScrapeResponse,
  encodeUdpAnnounceRequest,
  encodeUdpConnectRequest,
  encodeUdpScrapeRequest,
  normalizeHost,
  peerKey,
  udpUrlData,
  type AnnounceParams,
  type AnnounceResponse,
  type ScrapeResponse,
} from '@seedbox/protocol';
import { abortable } from './tracker-attempt.js';

/**
 * UDP tracker announces and scrapes (BEP 15).
 *
 * One socket per address family serves every tracker and every announce: a
 * fleet announces thousands of (torrent, worker) pairs, and a socket each
 * would be thousands of file descriptors for packets that are all alike.
 * Replies are routed by transaction id, and a reply counts only when it also
 * comes from the address the request went to.
 *
 * - Connection ids are cached per tracker address for their lifetime (BEP 15:
 *   one minute after we received it), so re-announces within that minute
 *   skip the connect round trip. An announce that finds its id expired while
 *   it waits for a reply connects again.
 * - Retransmits follow the BEP: a request unanswered after 15 * 2^n seconds is
 *   sent again (same bytes, same transaction id, so a late reply to an earlier
 *   copy still counts) and n grows. The base is configurable so tests run in
 *   milliseconds. BEP 15 lets n climb to 8 (over an hour between tries); we
 *   give up after n = 3 (15+30+60+120 s). The announcer does not wait that
 *   long: its bounded try (tracker-attempt.ts, 10 s) moves the round on to
 *   the next tracker, while a connect under way goes on here (it is shared,
 *   not tied to one caller), so a retry of that tracker joins it. The next
 *   exchange starts again at n = 0.
 * - A reply with our transaction id but the wrong length or action fails the
 *   announce at once: the tracker is broken, and waiting longer will not fix
 *   it. Packets we cannot route (shorter than the header, or an unknown
 *   transaction id) are dropped, since they may be late copies for requests
 *   already answered; but they are remembered, so that a tracker that only
 *   ever sends those fails with a code that says so instead of a bare timeout.
 */

export interface UdpTrackerOptions {
  /** The 15 of 15 * 2^n seconds, in ms. */
  retransmitBaseMs?: number;
  /** The largest n; a request is given up after waiting at n = maxRetransmits. */
  maxRetransmits?: number;
  /** How long a connection id may be used after it was received (BEP 15: 60 s). */
  connectionIdTtlMs?: number;
  /** Resolves a tracker's host name; the default is the system resolver. */
  lookup?: (host: string) => Promise<{ address: string; family: 4 | 6 }>;
  now?: () => number;
}

export const UDP_TRACKER_DEFAULTS = {
  retransmitBaseMs: 15_000,
  maxRetransmits: 3,
  connectionIdTtlMs: 60_000,
} as const;

interface Endpoint {
  address: string;
  port: number;
  family: 4 | 6;
  /** `address:port`, normalised: the key of the connection-id cache and of reply matching. */
  key: string;
}

interface Pending {
  endpointKey: string;
  onPacket: (packet: Buffer) => void;
  /** Unroutable packets from this endpoint while we waited (a few, for the error message). */
  strays: string[];
  strayKinds: Set<'short' | 'transaction'>;
  fail: (err: TrackerError) => void;
}

interface Connection {
  id: bigint;
  expiresAt: number;
}

const MAX_STRAYS_KEPT = 4;

export class UdpTrackerClient {
  private readonly opts: Required<Omit<UdpTrackerOptions, 'lookup' | 'now'>>;
  private readonly lookup: (host: string) => Promise<{ address: string; family: 4 | 6 }>;
  private readonly now: () => number;
  private readonly sockets: { 4?: dgram.Socket; 6?: dgram.Socket } = {};
  private readonly pending = new Map<number, Pending>();
  private readonly connections = new Map<string, Connection>();
  /** A connect under way per endpoint, shared by the announces that need it. */
  private readonly connecting = new Map<string, { promise: Promise<Connection>; waiters: number; cancel: AbortController }>();
  private closed = false;
  /** Packets dropped because they matched no request; for metrics. */
  strayPackets = 0;

  constructor(options: UdpTrackerOptions = {}) {
    this.opts = {
      retransmitBaseMs: options.retransmitBaseMs ?? UDP_TRACKER_DEFAULTS.retransmitBaseMs,
      maxRetransmits: options.maxRetransmits ?? UDP_TRACKER_DEFAULTS.maxRetransmits,
      connectionIdTtlMs: options.connectionIdTtlMs ?? UDP_TRACKER_DEFAULTS.connectionIdTtlMs,
    };
    this.lookup = options.lookup ?? defaultLookup;
    this.now = options.now ?? Date.now;
  }

  /** Announces to a udp:// URL. Rejects only with TrackerError. */
  async announce(url: string, params: AnnounceParams, signal?: AbortSignal): Promise<AnnounceResponse> {
    const endpoint = await this.open(url);
    const urlData = udpUrlData(url);
    const reply = await this.request(
      endpoint,
      (connectionId, tx) => encodeUdpAnnounceRequest({ connectionId, transactionId: tx, params, ...(urlData ? { urlData } : {}) }),
      (packet, tx) => decodeUdpAnnounceResponse(packet, tx, endpoint.family),
      signal,
    );
    return {
      interval: reply.interval,
      complete: reply.seeders,
      incomplete: reply.leechers,
      peers: reply.peers,
      invalidPeers: reply.invalidPeers,
    };
  }

  /**
   * A BEP 15 scrape (action 2) of up to MAX_UDP_SCRAPE_HASHES torrents,
   * on the same connection ids and retransmits as announces; the counts
   * come back in the order asked.
   */
  async scrape(url: string, infoHashes: readonly Uint8Array[], signal?: AbortSignal): Promise<ScrapeResponse> {
    const endpoint = await this.open(url);
    const reply = await this.request(
      endpoint,
      (connectionId, tx) => encodeUdpScrapeRequest({ connectionId, transactionId: tx, infoHashes }),
      (packet, tx) => decodeUdpScrapeResponse(packet, tx, infoHashes.length),
      signal,
    );
    const files = new Map(reply.map((counts, i) => [Buffer.from(infoHashes[i]!).toString('hex'), counts]));
    return { files, invalidEntries: 0 };
  }

  private async open(url: string): Promise<Endpoint> {
    if (this.closed) throw new TrackerError('TRACKER_ABORTED', 'UDP tracker client is closed');
    return this.resolve(url);
  }

  /** One request on a valid connection id: connects first when needed, and again when the id expires while it waits. */
  private async request<T>(
    endpoint: Endpoint,
    build: (connectionId: bigint, transactionId: number) => Uint8Array,
    decode: (packet: Buffer, transactionId: number) => T,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    for (;;) {
      const conn = await this.connection(endpoint, signal);
      const reply = await this.exchange(endpoint, (tx) => build(conn.id, tx), decode, signal, conn.expiresAt).catch((e: unknown) => {
        // The tracker refused the id, or something else went wrong: either
        // way the next request should start with a fresh connect.
        if (this.connections.get(endpoint.key) === conn) this.connections.delete(endpoint.key);
        throw e;
      });
      if (reply !== 'expired') return reply;
      if (this.connections.get(endpoint.key) === conn) this.connections.delete(endpoint.key);
    }
  }

  /** Cancels every request under way and closes the sockets. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of [...this.pending.values()]) p.fail(new TrackerError('TRACKER_ABORTED', 'UDP tracker client closed'));
    const sockets = [this.sockets[4], this.sockets[6]].filter((s): s is dgram.Socket => s !== undefined);
    delete this.sockets[4];
    delete this.sockets[6];
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  private async resolve(url: string): Promise<Endpoint> {
    let u: URL;
    try {
      u = new URL(url);
    } catch (cause) {
      throw new TrackerError('TRACKER_BAD_URL', `'${url}' is not a URL`, { cause });
    }
    const port = Number(u.port);
    if (u.protocol !== 'udp:' || !u.hostname || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new TrackerError('TRACKER_BAD_URL', `'${url}' is not a udp://host:port announce URL`);
    }
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    let resolved: { address: string; family: 4 | 6 };
    try {
      resolved = await this.lookup(host);
    } catch (cause) {
      throw new TrackerError('TRACKER_NETWORK', `cannot resolve '${host}': ${(cause as Error).message}`, { cause });
    }
    const address = normalizeHost(resolved.address) ?? resolved.address;
    return { address, port, family: resolved.family, key: peerKey(address, port) };
  }

  /**
   * A connection id that is still valid, from the cache or a fresh connect.
   * A connect is shared by the announces waiting for it: one of them giving
   * up (its bounded try, tracker-attempt.ts) does not fail the others, but
   * when all have, the connect is cancelled, so the next try of that
   * tracker sends a connect of its own rather than wait on a stale one.
   */
  private connection(endpoint: Endpoint, signal: AbortSignal | undefined): Promise<Connection> {
    const cached = this.connections.get(endpoint.key);
    if (cached && cached.expiresAt > this.now()) return Promise.resolve(cached);
    this.connections.delete(endpoint.key);
    let running = this.connecting.get(endpoint.key);
    if (!running) {
      const cancel = new AbortController();
      const promise = this.exchange(endpoint, encodeUdpConnectRequest, decodeUdpConnectResponse, cancel.signal, undefined)
        .then((r) => {
          if (r === 'expired') throw new Error('unreachable: a connect has no expiry');
          const conn = { id: r.connectionId, expiresAt: this.now() + this.opts.connectionIdTtlMs };
          this.connections.set(endpoint.key, conn);
          return conn;
        })
        .finally(() => {
          if (this.connecting.get(endpoint.key) === entry) this.connecting.delete(endpoint.key);
        });
      promise.catch(() => {}); // a connect nobody waits for any more must not be an unhandled rejection
      const entry = { promise, waiters: 0, cancel };
      running = entry;
      this.connecting.set(endpoint.key, entry);
    }
    const shared = running;
    shared.waiters++;
    const left = (): void => {
      if (--shared.waiters === 0) shared.cancel.abort();
    };
    // Only waiters that give up are counted out: once it settled, the connect is no longer shared.
    return abortable(shared.promise, signal, left);
  }

  /**
   * Sends one request and waits for its reply, retransmitting on the BEP 15
   * schedule. Answers 'expired' when `validUntil` (the connection id's
   * expiry) passes before a retransmit: that request can no longer be sent.
   */
  private exchange<T>(
    endpoint: Endpoint,
    build: (transactionId: number) => Uint8Array,
    decode: (packet: Buffer, transactionId: number) => T,
    signal: AbortSignal | undefined,
    validUntil: number | undefined,
  ): Promise<T | 'expired'> {
    return new Promise<T | 'expired'>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new TrackerError('TRACKER_ABORTED', 'announce cancelled'));
        return;
      }
      let tx: number;
      do tx = randomInt(0, 0x1_0000_0000);
      while (this.pending.has(tx));
      const packet = build(tx);
      let n = 0;
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.pending.delete(tx);
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (err: TrackerError): void => {
        done();
        reject(err);
      };
      const onAbort = (): void => fail(new TrackerError('TRACKER_ABORTED', 'announce cancelled'));
      const entry: Pending = {
        endpointKey: endpoint.key,
        strays: [],
        strayKinds: new Set(),
        fail,
        onPacket: (reply) => {
          done();
          try {
            resolve(decode(reply, tx));
          } catch (e) {
            reject(e instanceof TrackerError ? e : new TrackerError('TRACKER_BAD_RESPONSE', String(e), { cause: e }));
          }
        },
      };
      const send = (): void => {
        this.socket(endpoint.family).send(packet, endpoint.port, endpoint.address, (err) => {
          if (err && this.pending.get(tx) === entry) {
            fail(new TrackerError('TRACKER_NETWORK', `sending to ${endpoint.key} failed: ${err.message}`, { cause: err }));
          }
        });
        timer = setTimeout(onTimeout, this.opts.retransmitBaseMs * 2 ** n);
      };
      const onTimeout = (): void => {
        n++;
        if (n > this.opts.maxRetransmits) {
          fail(this.noReplyError(endpoint, entry, n));
          return;
        }
        if (validUntil !== undefined && this.now() >= validUntil) {
          done();
          resolve('expired');
          return;
        }
        send();
      };
      this.pending.set(tx, entry);
      signal?.addEventListener('abort', onAbort, { once: true });
      send();
    });
  }

  private noReplyError(endpoint: Endpoint, entry: Pending, tries: number): TrackerError {
    const waited = this.opts.retransmitBaseMs * (2 ** tries - 1);
    const base = `no valid reply from ${endpoint.key} to ${tries} tries over ${waited} ms`;
    if (entry.strays.length === 0) return new TrackerError('TRACKER_TIMEOUT', base);
    const what = `${base}; it sent only ${entry.strays.join(', ')}`;
    return entry.strayKinds.has('transaction')
      ? new TrackerError('TRACKER_TRANSACTION_MISMATCH', what)
      : new TrackerError('TRACKER_BAD_LENGTH', what);
  }

  private socket(family: 4 | 6): dgram.Socket {
    const existing = this.sockets[family];
    if (existing) return existing;
    const socket = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    // A socket error (rare for UDP: EACCES, ENOBUFS) fails what is waiting on
    // this socket and retires it; the next announce opens a new one.
    socket.on('error', (err) => {
      if (this.sockets[family] === socket) delete this.sockets[family];
      for (const p of [...this.pending.values()]) {
        p.fail(new TrackerError('TRACKER_NETWORK', `UDP socket error: ${err.message}`, { cause: err }));
      }
      socket.close();
    });
    this.sockets[family] = socket;
    return socket;
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const from = peerKey(normalizeHost(rinfo.address) ?? rinfo.address, rinfo.port);
    if (msg.length < 8) {
      this.stray(from, 'short', `a ${msg.length}-byte packet (shorter than the 8-byte header)`);
      return;
    }
    const tx = msg.readUInt32BE(4);
    const p = this.pending.get(tx);
    if (!p || p.endpointKey !== from) {
      this.stray(from, 'transaction', `a reply with transaction id ${tx}, which we did not send`);
      return;
    }
    p.onPacket(msg);
  }

  private stray(from: string, kind: 'short' | 'transaction', what: string): void {
    this.strayPackets++;
    for (const p of this.pending.values()) {
      if (p.endpointKey !== from) continue;
      p.strayKinds.add(kind);
      if (p.strays.length < MAX_STRAYS_KEPT) p.strays.push(what);
    }
  }
}

async function defaultLookup(host: string): Promise<{ address: string; family: 4 | 6 }> {
  const r = await dnsLookup(host);
  return { address: r.address, family: r.family === 6 ? 6 : 4 };
}
