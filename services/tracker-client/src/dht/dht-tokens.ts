import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { normalizeHost } from '@seedbox/protocol';

/**
 * Write tokens for announce_peer (BEP 5).
 *
 * A get_peers answer carries a token that the asker must hand back in its
 * announce_peer, which proves the announcer can receive packets at the IP it
 * claims and so cannot register peers for someone else's address. The token
 * is SHA-1(secret ‖ ip), truncated: nothing is stored per asker, so a flood
 * of get_peers costs no memory. The secret changes every 5 minutes and the
 * previous one is still accepted, so a token lives 5 to 10 minutes, as BEP 5
 * describes and libtorrent does.
 *
 * Rotation is driven by the clock when a token is issued or checked rather
 * than by a timer, so there is nothing to stop and tests move time by hand.
 */

export interface TokenSecretsOptions {
  now?: () => number;
  /** How often the secret changes (BEP 5: 5 min). */
  rotateMs?: number;
  /** Bytes of the digest kept in a token. */
  tokenBytes?: number;
}

export const TOKEN_DEFAULTS = { rotateMs: 5 * 60_000, tokenBytes: 8 } as const;

const SECRET_BYTES = 16;

export class TokenSecrets {
  private readonly now: () => number;
  private readonly rotateMs: number;
  private readonly tokenBytes: number;
  private current: Buffer = randomBytes(SECRET_BYTES);
  private previous: Buffer = randomBytes(SECRET_BYTES);
  private rotatedAt: number;

  constructor(options: TokenSecretsOptions = {}) {
    this.now = options.now ?? Date.now;
    this.rotateMs = options.rotateMs ?? TOKEN_DEFAULTS.rotateMs;
    this.tokenBytes = options.tokenBytes ?? TOKEN_DEFAULTS.tokenBytes;
    this.rotatedAt = this.now();
  }

  /** The token to give `ip` now. */
  issue(ip: string): Uint8Array {
    this.rotate();
    return this.digest(this.current, ip);
  }

  /** Whether `token` was issued to `ip` under the current or the previous secret. */
  check(ip: string, token: Uint8Array): boolean {
    this.rotate();
    if (token.length !== this.tokenBytes) return false;
    const given = Buffer.from(token.buffer, token.byteOffset, token.byteLength);
    return timingSafeEqual(given, this.digest(this.current, ip)) || timingSafeEqual(given, this.digest(this.previous, ip));
  }

  private rotate(): void {
    const elapsed = this.now() - this.rotatedAt;
    if (elapsed < this.rotateMs) return;
    // After two periods or more with nothing asked, every token given out is
    // past its life: both secrets are replaced.
    this.previous = elapsed < 2 * this.rotateMs ? this.current : randomBytes(SECRET_BYTES);
    this.current = randomBytes(SECRET_BYTES);
    this.rotatedAt += Math.floor(elapsed / this.rotateMs) * this.rotateMs;
  }

  private digest(secret: Buffer, ip: string): Buffer {
    // The canonical spelling, so ::ffff:1.2.3.4 and 1.2.3.4 get one token.
    const host = normalizeHost(ip) ?? ip;
    return createHash('sha1').update(secret).update(host).digest().subarray(0, this.tokenBytes);
  }
}
