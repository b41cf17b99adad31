import type { FleetMember } from '../fleet/fleet-members.js';
import type { RateSeries } from '../fleet/rate-history.js';
import { checkAccess, isCrossSite, sessionCookie } from './qbittorrent/qbt-auth.js';
import type { WebApi, WebApiContext } from './web-api.js';
import { json, text, type WebRequest, type WebResponse } from './web-request.js';

/**
 * seedbox's own web API, for what neither qBittorrent's nor
 * Transmission's has a call for: under /api/seedbox/v1/, behind the same
 * login as the qBittorrent WebAPI (its SID cookie, an API key, or Basic
 * credentials: the same checkAccess), so the web UI needs one login.
 *
 * GET fleet: every service process with its health and figures, and the
 * fleet's total rates over the last ten minutes, from the FleetView this
 * process keeps.
 */

export const SEEDBOX_API_PREFIX = '/api/seedbox/v1/';

export interface FleetAnswer {
  /** This replica's clock, Unix ms: `lastSeen` and `startedAt` are read against it. */
  now: number;
  members: FleetMember[];
  /** Unix seconds, and bytes per second each way. */
  history: RateSeries;
}

export function createSeedboxApi(ctx: WebApiContext): WebApi {
  return { prefix: SEEDBOX_API_PREFIX, handle: (req) => handle(ctx, req) };
}

async function handle(ctx: WebApiContext, req: WebRequest): Promise<WebResponse> {
  const endpoint = req.path.slice(SEEDBOX_API_PREFIX.length);
  // The qBittorrent API's order: a cross-site browser request first, then the login, then the route.
  if (isCrossSite(req.headers)) return text(401, 'Unauthorized');
  const access = checkAccess(ctx.auth, req);
  if (!access.allowed) return text(403, 'Forbidden');
  const renew: Record<string, string> = access.renewed !== undefined ? { 'Set-Cookie': sessionCookie(access.renewed) } : {};
  if (endpoint !== 'fleet') return text(404, 'Not Found', renew);
  if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'Method Not Allowed', { Allow: 'GET, HEAD', ...renew });
  if (!ctx.fleet) return text(503, 'This process keeps no fleet view', renew);
  const now = ctx.now();
  const answer: FleetAnswer = { now, members: ctx.fleet.members(now), history: ctx.fleet.history() };
  return json(200, answer, { 'Cache-Control': 'no-store', ...renew });
}
