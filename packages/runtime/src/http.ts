import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/**
 * The HTTP side of a service: Prometheus scrapes /metrics, Kubernetes probes
 * /healthz (liveness: restart me) and /readyz (readiness: send me no work).
 * Plain node:http, because three GET routes do not justify a framework.
 */

/** A check answers true when fine, or a sentence saying what is wrong. */
export type HealthCheck = () => true | string;

export interface ObservabilityServerOptions {
  host: string;
  /** 0 picks a free port; the server reports the real one. */
  port: number;
  registry: Registry;
  checks: {
    /** Liveness; when absent the process is alive as long as it answers. */
    live?: HealthCheck;
    ready: HealthCheck;
  };
}

export interface ObservabilityServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startObservabilityServer(options: ObservabilityServerOptions): Promise<ObservabilityServer> {
  const { registry, checks } = options;
  const server = createServer((req, res) => {
    handle(req, res, registry, checks).catch((err: unknown) => {
      // handle() already answers its own failures; this is for a response that broke mid-way.
      if (!res.headersSent) send(res, req, 500, 'text/plain; charset=utf-8', `internal error: ${describe(err)}\n`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Prometheus keeps its scrape connection open; without this close()
        // would wait for the keep-alive timeout.
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, registry: Registry, checks: ObservabilityServerOptions['checks']): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, req, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  const path = (req.url ?? '/').split('?', 1)[0];
  switch (path) {
    case '/metrics': {
      let body: string;
      try {
        body = await registry.metrics();
      } catch (err) {
        send(res, req, 500, 'text/plain; charset=utf-8', `collecting metrics failed: ${describe(err)}\n`);
        return;
      }
      send(res, req, 200, registry.contentType, body);
      return;
    }
    case '/healthz':
      answerCheck(res, req, checks.live, 'ok');
      return;
    case '/readyz':
      answerCheck(res, req, checks.ready, 'ready');
      return;
    default:
      send(res, req, 404, 'text/plain; charset=utf-8', 'not found\n');
  }
}

function answerCheck(res: ServerResponse, req: IncomingMessage, check: HealthCheck | undefined, okText: string): void {
  let verdict: true | string;
  try {
    verdict = check === undefined ? true : check();
  } catch (err) {
    // A check that throws is itself a failure to report, not a reason to crash.
    verdict = `check failed: ${describe(err)}`;
  }
  if (verdict === true) send(res, req, 200, 'text/plain; charset=utf-8', `${okText}\n`);
  else send(res, req, 503, 'text/plain; charset=utf-8', `${verdict}\n`);
}

function send(res: ServerResponse, req: IncomingMessage, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  // Probes and scrapes must see the current state, never a cached one.
  res.setHeader('Cache-Control', 'no-store');
  res.end(req.method === 'HEAD' ? undefined : body);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
