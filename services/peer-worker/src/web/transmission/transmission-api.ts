import type { WebApi, WebApiContext } from '../web-api.js';
import type { WebRequest, WebResponse } from '../web-request.js';
import { RecentActivity } from './tr-activity.js';
import { answerRpc } from './tr-dispatch.js';
import type { TrEnv } from './tr-env.js';

/**
 * The Transmission RPC at /transmission/rpc, as Transmission 4.0 serves
 * it (rpc-version 17), over the same ControlBackend as the gRPC API:
 * Sonarr, Radarr, transmission-remote and the Transmission client
 * libraries work against it unchanged.
 *
 * A request goes through what Transmission's rpc-server.cc checks, in its
 * order: HTTP Basic auth when a login is configured (401, or 403 for an
 * address banned after failed logins), then the CSRF session id (409 with
 * the id to use, which every replica shares), then the method: POST only
 * (405 otherwise). The body is the RPC (tr-dispatch.ts), answered 200.
 *
 * Unlike Transmission, no CORS headers are sent: with "any origin may
 * read", a page in the user's browser could read the 409's session id and
 * so get past the CSRF check of a server that asks no login.
 *
 *   startWebServer({ host, port, apis: [createTransmissionApi(ctx)], log });
 */

export const TRANSMISSION_PREFIX = '/transmission/rpc';
const SESSION_HEADER = 'X-Transmission-Session-Id';
const REALM = 'Transmission';

/** Transmission's plain error page: `<h1>CODE: REASON</h1>` and what follows. */
function page(status: number, reason: string, text = '', headers: Record<string, string> = {}): WebResponse {
  return { status, headers: { 'Content-Type': 'text/html; charset=UTF-8', ...headers }, body: `<h1>${status}: ${reason}</h1>${text}` };
}

/** The 409 that hands a client the session id, worded as Transmission words it (clients only read the header). */
function conflict(sessionId: string): WebResponse {
  const text =
    '<p>Your request had an invalid session-id header.</p>' +
    '<p>To fix this, follow these steps:' +
    '<ol><li> When reading a response, get its X-Transmission-Session-Id header and remember it' +
    '<li> Add the updated header to your outgoing requests' +
    '<li> When you get this 409 error message, resend your request with the updated header' +
    '</ol></p>' +
    '<p>This requirement has been added to help prevent ' +
    '<a href="https://en.wikipedia.org/wiki/Cross-site_request_forgery">CSRF</a> attacks.</p>' +
    `<p><code>${SESSION_HEADER}: ${sessionId}</code></p>`;
  return page(409, 'Conflict', text, { [SESSION_HEADER]: sessionId });
}

function header(req: WebRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

async function handle(req: WebRequest, env: TrEnv): Promise<WebResponse> {
  const { auth } = env.ctx;
  if (auth.required) {
    const login = auth.checkBasic(header(req, 'Authorization'), req.remoteAddress);
    if (login === 'banned') return page(403, 'Forbidden', '<p>Too many failed logins from this address; try again later.</p>');
    if (login !== 'ok') return page(401, 'Unauthorized', '', { 'WWW-Authenticate': `Basic realm="${REALM}"` });
  }
  if (header(req, SESSION_HEADER) !== auth.transmissionSessionId) return conflict(auth.transmissionSessionId);
  if (req.method !== 'POST') return page(405, 'Method Not Allowed', '', { Allow: 'POST' });
  const answer = await answerRpc(await req.body(), env);
  return { status: 200, headers: { 'Content-Type': 'application/json; charset=UTF-8' }, body: JSON.stringify(answer) };
}

export function createTransmissionApi(ctx: WebApiContext): WebApi {
  const env: TrEnv = { ctx, activity: new RecentActivity(), startedAt: ctx.now() };
  return { prefix: TRANSMISSION_PREFIX, handle: (req) => handle(req, env) };
}
