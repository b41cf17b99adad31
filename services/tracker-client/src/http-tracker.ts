import http from 'node:http';
import https from 'node:https';
import {
  TrackerError,
  buildHttpAnnounceUrl,
  parseHttpAnnounceResponse,
  type AnnounceParams,
  type AnnounceResponse,
} from '@seedbox/protocol';

/**
 * HTTP(S) announces (BEP 3): one GET, bounded in time and in size.
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
  body: Buffer;
}

export async function httpAnnounce(
  announceUrl: string,
  params: AnnounceParams,
  options: HttpTrackerOptions = {},
  signal?: AbortSignal,
): Promise<AnnounceResponse> {
  const opts = { ...HTTP_TRACKER_DEFAULTS, ...options };
  const deadline = Date.now() + opts.timeoutMs;
  let url = buildHttpAnnounceUrl(announceUrl, params);
  for (let redirects = 0; ; redirects++) {
    const reply = await get(url, opts, deadline, signal);
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
    if (reply.status === 200) return parseHttpAnnounceResponse(reply.body, { maxBytes: opts.maxBytes });
    // Some trackers put a bencoded `failure reason` in a 4xx/5xx reply: that
    // text explains more than the status does, so it wins when there is one.
    try {
      parseHttpAnnounceResponse(reply.body, { maxBytes: opts.maxBytes });
    } catch (e) {
      if (e instanceof TrackerError && e.code === 'TRACKER_FAILURE') throw e;
    }
    throw new TrackerError('TRACKER_HTTP_STATUS', `tracker answered HTTP ${reply.status}`, { received: reply.status, expected: 200 });
  }
}

function get(url: string, opts: Required<HttpTrackerOptions>, deadline: number, signal: AbortSignal | undefined): Promise<RawReply> {
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

    const onResponse = (res: http.IncomingMessage): void => {
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
      res.on('end', () => finish(undefined, { status, location: res.headers.location, body: Buffer.concat(chunks, size) }));
      res.on('error', (cause) => finish(new TrackerError('TRACKER_NETWORK', `reading the reply failed: ${cause.message}`, { cause })));
      // A connection closed before the body ended: 'close' without 'end'.
      res.on('close', () => {
        if (!res.complete) finish(new TrackerError('TRACKER_NETWORK', 'connection closed before the reply was complete'));
      });
    };

    const lib = url.startsWith('https:') ? https : http;
    try {
      // agent: false: one connection per announce. Announces are minutes
      // apart, so keep-alive saves nothing, and idle pooled sockets would keep
      // a shutting-down process (and test servers) waiting.
      req = lib.get(url, { agent: false, headers: { 'user-agent': opts.userAgent, 'accept-encoding': 'identity' } }, onResponse);
    } catch (cause) {
      // Node throws synchronously for what it cannot even send (a bad header, say).
      finish(new TrackerError('TRACKER_NETWORK', `HTTP request could not be made: ${String(cause)}`, { cause }));
      return;
    }
    req.on('error', (cause) => finish(new TrackerError('TRACKER_NETWORK', `HTTP request failed: ${cause.message}`, { cause })));
  });
}
