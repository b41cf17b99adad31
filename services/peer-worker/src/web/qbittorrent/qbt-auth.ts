import type { IncomingHttpHeaders } from 'node:http';
import type { WebAuth } from '../web-auth.js';
import { text, type WebRequest, type WebResponse } from '../web-request.js';
import type { QbtCall } from './qbt-context.js';

/**
 * Who may call the WebAPI, as qBittorrent decides it
 * (src/webui/webapplication.cpp, api/authcontroller.cpp): a `SID` session
 * cookie from auth/login, or `Authorization: Bearer <API key>` (qBittorrent
 * 5.2's API keys), or HTTP Basic credentials (5.2 takes those too, and
 * @ctrl/qbittorrent and Sonarr send them). Without any, every endpoint but
 * auth/login is 403 "Forbidden". With no credentials configured there is
 * nothing to check (the server is on loopback only): everyone is let in.
 *
 * Sessions are WebAuth's signed tokens, so any replica accepts a cookie
 * another one issued.
 */

export const SESSION_COOKIE = 'SID';
const BANNED_MESSAGE = 'Your IP address has been banned after too many failed authentication attempts.';

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (name !== '' && !out.has(name)) out.set(name, value);
  }
  return out;
}

/** The cookie qBittorrent sets at login (with its CSRF protection on, the default): HttpOnly, the whole site, same-site only. */
export function sessionCookie(token: string): string {
  return `${SESSION_COOKIE}=${token}; HttpOnly; path=/; SameSite=Strict`;
}

/** What logout sets: the cookie emptied and expired. */
export function clearedCookie(): string {
  return `${SESSION_COOKIE}=; HttpOnly; path=/; SameSite=Strict; Max-Age=0; expires=Thu, 01 Jan 1970 00:00:00 GMT`;
}

function hostOf(value: string): string | undefined {
  try {
    return new URL(value.includes('://') ? value : `http://${value}`).host.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * qBittorrent's CSRF check: a browser's Origin (else Referer) must name
 * the host the request was sent to (X-Forwarded-Host behind a proxy).
 * Clients that send neither header (Sonarr, scripts) pass.
 */
export function isCrossSite(headers: IncomingHttpHeaders): boolean {
  const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  const target = first(headers['x-forwarded-host']) ?? first(headers.host);
  const source = first(headers.origin) ?? first(headers.referer);
  if (source === undefined || source === '' || target === undefined) return false;
  const from = hostOf(source);
  return from === undefined || from !== hostOf(target);
}

export interface Access {
  allowed: boolean;
  /** The session token the request carried, when valid. */
  token?: string;
  /** A fresh token to set, when the session was past half its life. */
  renewed?: string;
}

export function checkAccess(auth: WebAuth, req: Pick<WebRequest, 'headers' | 'remoteAddress'>): Access {
  const token = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
  if (token) {
    const v = auth.verifySession(token);
    if (v.valid) return v.renewed === undefined ? { allowed: true, token } : { allowed: true, token, renewed: v.renewed };
  }
  if (!auth.required) return { allowed: true };
  const authorization = req.headers.authorization ?? '';
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (bearer) return { allowed: auth.checkApiKey(bearer[1]!) };
  if (/^Basic\s/i.test(authorization)) return { allowed: auth.checkBasic(authorization, req.remoteAddress) === 'ok' };
  return { allowed: false };
}

/**
 * auth/login: "Ok." with a new session cookie, or "Fails." (200) for
 * wrong credentials; a banned address gets 403 with qBittorrent's
 * sentence, even with the right password. The attempt that reaches the
 * limit still answers "Fails.", as qBittorrent checks the ban first.
 */
export async function login({ app, req, params }: QbtCall, access: Access): Promise<WebResponse> {
  const auth = app.ctx.auth;
  if (access.token !== undefined) return text(200, 'Ok.');
  if (!auth.required) return text(200, 'Ok.', { 'Set-Cookie': sessionCookie(auth.issueSession()) });
  if (auth.isBanned(req.remoteAddress)) return text(403, BANNED_MESSAGE);
  const outcome = auth.login(params.text('username') ?? '', params.text('password') ?? '', req.remoteAddress);
  if (outcome !== 'ok') {
    app.ctx.log.warn('qBittorrent API: login failed', { address: req.remoteAddress, banned: outcome === 'banned' });
    return text(200, 'Fails.');
  }
  return text(200, 'Ok.', { 'Set-Cookie': sessionCookie(auth.issueSession()) });
}

/** auth/logout: ends the session here (other replicas refuse it once it expires) and clears the cookie. */
export async function logout({ app }: QbtCall, access: Access): Promise<WebResponse> {
  if (access.token !== undefined) app.ctx.auth.revoke(access.token);
  return text(200, '', { 'Set-Cookie': clearedCookie() });
}
