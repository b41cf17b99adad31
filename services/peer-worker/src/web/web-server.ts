import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@seedbox/runtime';
import { TrustedProxies } from './trusted-proxies.js';
import type { WebApi } from './web-api.js';
import { parseForm, readBody, text, WebRequestError, type FormFields, type WebRequest, type WebResponse } from './web-request.js';

/**
 * The HTTP server of the web APIs: node:http, one port, each request
 * handed to the API whose prefix it starts with. Whatever a handler
 * throws becomes an answer (its WebRequestError status, else 500 with
 * the message logged), so no request can take the process down.
 */

export interface WebServerOptions {
  host: string;
  /** 0 picks a free port; the server reports the real one. */
  port: number;
  apis: WebApi[];
  log: Logger;
  /** Proxies whose X-Forwarded-For names the client (default: none). */
  trustedProxies?: TrustedProxies;
}

export interface WebServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startWebServer(o: WebServerOptions): Promise<WebServer> {
  const server = createServer((req, res) => {
    void respond(req, res, o);
  });
  // Clients that never finish a request hold no socket for ever.
  server.requestTimeout = 120_000;
  server.headersTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => o.log.warn('web server error', { error: e }));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Web UIs poll over kept-alive connections: without this close() waits for them to idle out.
        server.closeAllConnections();
      }),
  };
}

async function respond(req: IncomingMessage, res: ServerResponse, o: WebServerOptions): Promise<void> {
  let answer: WebResponse;
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
  } catch {
    url = new URL('http://localhost/');
  }
  const api = o.apis.find((a) => url.pathname === a.prefix || url.pathname.startsWith(a.prefix.endsWith('/') ? a.prefix : `${a.prefix}/`));
  try {
    if (!api) answer = text(404, 'Not Found');
    else answer = await api.handle(webRequest(req, url, o.trustedProxies ?? TrustedProxies.none));
  } catch (e) {
    if (e instanceof WebRequestError) answer = text(e.status, e.message);
    else {
      o.log.warn('web request failed', { method: req.method, path: url.pathname, error: e });
      answer = text(500, (e as Error).message ?? String(e));
    }
  }
  if (res.destroyed) return;
  res.statusCode = answer.status;
  for (const [k, v] of Object.entries(answer.headers ?? {})) res.setHeader(k, v);
  const body = answer.body === undefined ? undefined : typeof answer.body === 'string' ? Buffer.from(answer.body) : answer.body;
  res.setHeader('Content-Length', body?.length ?? 0);
  if (!res.hasHeader('Cache-Control')) res.setHeader('Cache-Control', 'no-store');
  // A body not read (an early refusal) is drained so the connection can be kept.
  if (!req.complete) req.resume();
  res.end(req.method === 'HEAD' ? undefined : body);
}

function webRequest(req: IncomingMessage, url: URL, proxies: TrustedProxies): WebRequest {
  let body: Promise<Buffer> | undefined;
  let form: Promise<FormFields> | undefined;
  const readOnce = (): Promise<Buffer> => (body ??= readBody(req));
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    headers: req.headers,
    remoteAddress: proxies.clientAddress(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for']),
    body: readOnce,
    form: () => (form ??= readOnce().then((b) => parseForm(b, req.headers['content-type'], url.searchParams))),
  };
}
