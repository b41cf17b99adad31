import http from 'node:http';
import https from 'node:https';
import {
  TrackerError,
  buildHttpAnnounceUrl,
  buildHttpScrapeUrl,
  parseHttpAnnounceResponse,
  parseHttpScrapeResponse,
  type AnnounceParams,
  type AnnounceResponse,
  type ScrapeResponse,
} from '@seedbox/protocol';
import { TrackerAgents, type HttpAgentOptions } from './http-agents.js';

/**
 * HTTP(S) announces (BEP 3) and scrapes (BEP 48): one GET each, bounded
 * in time and in size, on the tracker's keep-alive pool (http-agents.ts).
 *
 * The whole exchange (DNS, connect, headers, body) runs under one deadline,
 * not a socket idle timeout: a tracker that trickles a byte every few seconds
 * would otherwise hold an announce open forever and keep the tier list from
 * moving on. The body is capped while it is read (and refused up front when
 * Content-Length already says it is too big), so a tracker cannot make us
 * buffer more than `maxBytes`.
 */

export interface HttpTrackerOptions {
  /** Deadline for the whole request, redirects included. Default 15 s. */
  timeoutMs?: number;
  /** Largest body read. Default 2 MiB: 350,000 compact peers, far more than any tracker sends. */
  maxBytes?: number;
  /** Redirects followed (trackers that moved to https). Default 2. */
  maxRedirects?: number;
  userAgent?: string;
}

export const HTTP_TRACKER_DEFAULTS: Required<HttpTrackerOptions> = {
  timeoutMs: 15_000,
  maxBytes: 2 * 1024 * 1024,
  maxRedirects: 2,
  userAgent: 'seedbox/0.1',
};

interface RawReply {
  status: number;
  location: string | undefined;
  retryAfter: string | undefined;
  body: Buffer;
}

/**
 * HTTP(S) announces and scrapes over one keep-alive pool per tracker
 * (http-agents.ts). close() closes every connection.
 */
export class HttpTrackerClient {
  private readonly opts: Required<HttpTrackerOptions>;
  private readonly agents: TrackerAgents;

  constructor(options: HttpTrackerOptions = {}, agents: HttpAgentOptions = {}) {
    this.opts = { ...HTTP_TRACKER_DEFAULTS, ...options };
    this.agents = new TrackerAgents(agents);
  }

  async announce(announceUrl: string, params: AnnounceParams, signal?: AbortSignal): Promise<AnnounceResponse> {
    const body = await fetchBody(buildHttpAnnounceUrl(announceUrl, params), this.opts, signal, (u) => this.agents.agentFor(u));
    return parseHttpAnnounceResponse(body, { maxBytes: this.opts.maxBytes });
  }

  /** A BEP 48 scrape of `infoHashes` (at most MAX_HTTP_SCRAPE_HASHES); TRACKER_BAD_URL for a tracker that has no scrape URL. */
  async scrape(announceUrl: string, infoHashes: readonly Uint8Array[], signal?: AbortSignal): Promise<ScrapeResponse> {
    const body = await fetchBody(buildHttpScrapeUrl(announceUrl, infoHashes), this.opts, signal, (u) => this.agents.agentFor(u));
    return parseHttpScrapeResponse(body, { maxBytes: this.opts.maxBytes });
  }

  close(): void {
    this.agents.destroy();
  }
}

/** One announce on a connection of its own (no pool): for a one-off, or a test. */
export async function httpAnnounce(
  announceUrl: string,
  params: AnnounceParams,
  options: HttpTrackerOptions = {},
  signal?: AbortSignal,
): Promise<AnnounceResponse> {
  const opts = { ...HTTP_TRACKER_DEFAULTS, ...options };
  const body = await fetchBody(buildHttpAnnounceUrl(announceUrl, params), opts, signal, () => false);
  return parseHttpAnnounceResponse(body, { maxBytes: opts.maxBytes });
}

/** HTTP statuses that mean "come back later": Too Many Requests, Service Unavailable. */
const RETRY_LATER_STATUS: Record<number, string> = { 429: 'Too Many Requests', 503: 'Service Unavailable' };

/**
 * GETs `url`, following redirects, and answers the body of a 200. Any
 * other status is a TrackerError: a bencoded `failure reason` in the body
 * when there is one, else TRACKER_RETRY_LATER for 429 and 503 (with
 * Retry-After), else TRACKER_HTTP_STATUS.
 */
async function fetchBody(
  first: string,
  opts: Required<HttpTrackerOptions>,
  signal: AbortSignal | undefined,
  agentFor: (url: string) => http.Agent | false,
): Promise<Buffer> {
  const deadline = Date.now() + opts.timeoutMs;
  let url = first;
  for (let redirects = 0; ; redirects++) {
    const reply = await getOnce(url, opts, deadline, signal, agentFor);
    if (reply.status >= 300 && reply.status < 400 && reply.location !== undefined) {
      if (redirects >= opts.maxRedirects) {
        throw new TrackerError('TRACKER_HTTP_STATUS', `more than ${opts.maxRedirects} redirects`, { received: reply.status });
      }
      let next: URL;
      try {
        next = new URL(reply.location, url);
      } catch (cause) {
        throw new TrackerError('TRACKER_BAD_URL', `redirect to an unparseable location`, { cause });
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new TrackerError('TRACKER_BAD_URL', `redirect to a ${next.protocol} URL; only http and https are followed`);
      }
      url = next.toString();
      continue;
    }
    if (reply.status === 200) return reply.body;
    // Some trackers put a bencoded `failure reason` in a 4xx/5xx reply: that
    // text explains more than the status does, so it wins when there is one.
    try {
      parseHttpAnnounceResponse(reply.body, { maxBytes: opts.maxBytes });
    } catch (e) {
      if (e instanceof TrackerError && e.code === 'TRACKER_FAILURE') throw e;
    }
    const later = RETRY_LATER_STATUS[reply.status];
    if (later !== undefined) {
      const retryAfterMs = retryAfterHeaderMs(reply.retryAfter, Date.now());
      const when = retryAfterMs === undefined ? 'without saying when' : `to retry after ${Math.round(retryAfterMs / 1000)} s`;
      throw new TrackerError('TRACKER_RETRY_LATER', `tracker answered HTTP ${reply.status} (${later}), asking us ${when}`, {
        received: reply.status,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      });
    }
    throw new TrackerError('TRACKER_HTTP_STATUS', `tracker answered HTTP ${reply.status}`, { received: reply.status, expected: 200 });
  }
}

/**
 * Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date, as ms
 * from `now`; undefined when absent or unreadable. A date in the past is
 * 0. Bounds are the caller's (tracker-backoff.ts, retryLaterMs).
 */
export function retryAfterHeaderMs(value: string | undefined, now: number): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Math.min(Number(v), 0x7fffffff / 1000) * 1000;
  // An HTTP-date names its weekday; a bare number or garbage is no date.
  if (!/^[A-Za-z]{3},/.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * One GET. A request sent on a pooled connection that the server closed
 * just then (it fails with ECONNRESET before any reply) is sent once more
 * on a new connection: keep-alive's race, not the tracker failing.
 */
async function getOnce(
  url: string,
  opts: Required<HttpTrackerOptions>,
  deadline: number,
  signal: AbortSignal | undefined,
  agentFor: (url: string) => http.Agent | false,
): Promise<RawReply> {
  try {
    return await get(url, opts, deadline, signal, agentFor(url));
  } catch (e) {
    if (!(e instanceof StaleConnectionError)) throw e;
    return get(url, opts, deadline, signal, false);
  }
}

/** The request went out on a reused connection that was reset before any reply (see getOnce). */
class StaleConnectionError extends TrackerError {}

function get(url: string, opts: Required<HttpTrackerOptions>, deadline: number, signal: AbortSignal | undefined, agent: http.Agent | false): Promise<RawReply> {
  return new Promise<RawReply>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new TrackerError('TRACKER_ABORTED', 'announce cancelled'));
      return;
    }
    let settled = false;
    let req: http.ClientRequest | undefined;
    const finish = (err: TrackerError | undefined, reply?: RawReply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        req?.destroy();
        reject(err);
      } else resolve(reply!);
    };
    const onAbort = (): void => finish(new TrackerError('TRACKER_ABORTED', 'announce cancelled'));
    const timer = setTimeout(
      () => finish(new TrackerError('TRACKER_TIMEOUT', `no complete HTTP reply within ${opts.timeoutMs} ms`, { expected: opts.timeoutMs })),
      Math.max(0, deadline - Date.now()),
    );
    signal?.addEventListener('abort', onAbort, { once: true });

    let responded = false;
    const onResponse = (res: http.IncomingMessage): void => {
      responded = true;
      const status = res.statusCode ?? 0;
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > opts.maxBytes) {
        finish(
          new TrackerError('TRACKER_TOO_LARGE', `reply declares ${declared} bytes, more than the ${opts.maxBytes} accepted`, {
            received: declared,
            expected: opts.maxBytes,
          }),
        );
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > opts.maxBytes) {
          // Hang up rather than drain: the rest is not worth the bandwidth.
          finish(
            new TrackerError('TRACKER_TOO_LARGE', `reply is more than the ${opts.maxBytes} bytes accepted`, {
              received: size,
              expected: opts.maxBytes,
            }),
          );
          return;
        }
        chunks.push(chunk);
      });
      const retryAfter = res.headers['retry-after'];
      res.on('end', () => finish(undefined, { status, location: res.headers.location, retryAfter, body: Buffer.concat(chunks, size) }));
      res.on('error', (cause) => finish(new TrackerError('TRACKER_NETWORK', `reading the reply failed: ${cause.message}`, { cause })));
      // A connection closed before the body ended: 'close' without 'end'.
      res.on('close', () => {
        if (!res.complete) finish(new TrackerError('TRACKER_NETWORK', 'connection closed before the reply was complete'));
      });
    };

    const lib = url.startsWith('https:') ? https : http;
    try {
      req = lib.get(url, { agent, headers: { 'user-agent': opts.userAgent, 'accept-encoding': 'identity' } }, onResponse);
    } catch (cause) {
      // Node throws synchronously for what it cannot even send (a bad header, say).
      finish(new TrackerError('TRACKER_NETWORK', `HTTP request could not be made: ${String(cause)}`, { cause }));
      return;
    }
    const sent = req;
    sent.on('error', (cause: NodeJS.ErrnoException) => {
      const stale = sent.reusedSocket && cause.code === 'ECONNRESET' && !responded;
      finish(new (stale ? StaleConnectionError : TrackerError)('TRACKER_NETWORK', `HTTP request failed: ${cause.message}`, { cause }));
    });
  });
}
