import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Who may use the web APIs, and the state that proves it, shared by the
 * qBittorrent WebAPI and the Transmission RPC.
 *
 * Any replica must answer a client that logged in on another (the fleet's
 * Service balances each request anew), so nothing here is remembered per
 * session: a qBittorrent `SID` is a signed token (expiry, nonce, HMAC),
 * and Transmission's `X-Transmission-Session-Id` is derived from the same
 * key. The key is derived from the configured credentials, which every
 * replica shares, so every replica checks every token alike and changing
 * the password ends every session.
 *
 * With no credentials at all the APIs ask no login (the server then
 * listens on loopback only; see start-web-api.ts), as qBittorrent's
 * "bypass authentication for clients on localhost".
 */

export interface WebCredentials {
  username?: string | undefined;
  password?: string | undefined;
  /** Keys taken as `Authorization: Bearer KEY` by the qBittorrent WebAPI. */
  apiKeys?: readonly string[];
}

export interface WebAuthOptions {
  now?: () => number;
  /** A session lasts this long after its last use (qBittorrent's default: one hour). */
  sessionTtlMs?: number;
  /** Failed logins from one address before it is banned (qBittorrent's default: 5). */
  maxFailures?: number;
  /** How long a ban lasts (qBittorrent's default: one hour). */
  banMs?: number;
}

export type LoginOutcome = 'ok' | 'bad' | 'banned';

/** Addresses whose failures are tracked at once; past it the oldest is forgotten, so a flood cannot grow memory. */
const MAX_TRACKED_ADDRESSES = 10_000;

export class WebAuth {
  /** Whether any credential is configured; false: every request is let in. */
  readonly required: boolean;
  /** Transmission's session id: the same on every replica with the same credentials. */
  readonly transmissionSessionId: string;
  private readonly key: Buffer;
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly maxFailures: number;
  private readonly banMs: number;
  private readonly failures = new Map<string, { count: number; bannedUntil: number }>();
  /** Sessions ended by logout on this replica (others learn of it when the token expires). */
  private readonly revoked = new Map<string, number>();

  constructor(
    private readonly creds: WebCredentials,
    o: WebAuthOptions = {},
  ) {
    const apiKeys = creds.apiKeys ?? [];
    this.required = Boolean(creds.username || creds.password || apiKeys.length > 0);
    this.key = this.required
      ? createHmac('sha256', 'seedbox web session v1').update([creds.username ?? '', creds.password ?? '', ...apiKeys].join('\0')).digest()
      : randomBytes(32);
    this.transmissionSessionId = createHmac('sha256', this.key).update('transmission-session-id').digest('base64url').slice(0, 48);
    this.now = o.now ?? Date.now;
    this.ttlMs = o.sessionTtlMs ?? 3_600_000;
    this.maxFailures = o.maxFailures ?? 5;
    this.banMs = o.banMs ?? 3_600_000;
  }

  /** Whether this address is banned for failed logins now. */
  isBanned(address: string): boolean {
    const f = this.failures.get(address);
    return f !== undefined && f.bannedUntil > this.now();
  }

  /**
   * Checks a user name and password from `address`. Failures are counted
   * per address; at `maxFailures` in a row the address is banned for
   * `banMs`, and while banned even the right password is refused.
   */
  login(username: string, password: string, address: string): LoginOutcome {
    if (this.isBanned(address)) return 'banned';
    const ok = this.creds.password !== undefined && this.creds.password !== '' && same(username, this.creds.username ?? '') && same(password, this.creds.password);
    if (ok) {
      this.failures.delete(address);
      return 'ok';
    }
    const f = this.failures.get(address) ?? { count: 0, bannedUntil: 0 };
    this.failures.delete(address);
    f.count = f.bannedUntil !== 0 && f.bannedUntil <= this.now() ? 1 : f.count + 1;
    f.bannedUntil = f.count >= this.maxFailures ? this.now() + this.banMs : 0;
    if (f.bannedUntil !== 0) f.count = 0;
    this.failures.set(address, f);
    if (this.failures.size > MAX_TRACKED_ADDRESSES) this.failures.delete(this.failures.keys().next().value!);
    return f.bannedUntil !== 0 ? 'banned' : 'bad';
  }

  /** A new session token, valid for `sessionTtlMs`. */
  issueSession(): string {
    const body = `${(this.now() + this.ttlMs).toString(36)}.${randomBytes(12).toString('base64url')}`;
    return `${body}.${this.sign(body)}`;
  }

  /**
   * Whether a token is one of ours and not expired nor logged out. When it
   * is past half its life, `renewed` is a fresh one to set, so a client
   * in use keeps its session (the lifetime counts from the last use).
   */
  verifySession(token: string | undefined): { valid: boolean; renewed?: string } {
    if (!token) return { valid: false };
    const parts = token.split('.');
    if (parts.length !== 3) return { valid: false };
    const body = `${parts[0]}.${parts[1]}`;
    if (!same(parts[2]!, this.sign(body)) || this.revoked.has(token)) return { valid: false };
    const expires = parseInt(parts[0]!, 36);
    const now = this.now();
    if (!(expires > now)) return { valid: false };
    return expires - now < this.ttlMs / 2 ? { valid: true, renewed: this.issueSession() } : { valid: true };
  }

  /** Ends a session on this replica. */
  revoke(token: string): void {
    const now = this.now();
    for (const [t, until] of this.revoked) if (until <= now) this.revoked.delete(t);
    this.revoked.set(token, now + this.ttlMs);
  }

  checkApiKey(key: string): boolean {
    return (this.creds.apiKeys ?? []).some((k) => k !== '' && same(key, k));
  }

  /**
   * HTTP Basic auth (Transmission): the header's user name and password,
   * counted against the address's failures like a login.
   */
  checkBasic(authorization: string | undefined, address: string): LoginOutcome | 'missing' {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
    if (!m) return this.isBanned(address) ? 'banned' : 'missing';
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return this.login(decoded, '', address);
    return this.login(decoded.slice(0, colon), decoded.slice(colon + 1), address);
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}

/** Compares secrets in constant time (of the longer one's length). */
function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  const n = Math.max(x.length, y.length, 1);
  const px = Buffer.alloc(n);
  const py = Buffer.alloc(n);
  x.copy(px);
  y.copy(py);
  return timingSafeEqual(px, py) && x.length === y.length;
}
