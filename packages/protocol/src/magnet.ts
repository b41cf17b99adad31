import { ProtocolError } from './errors.js';

/**
 * Magnet URIs (BEP 9): `magnet:?xt=urn:btih:<hash>&dn=<name>&tr=<tracker>&x.pe=<host:port>`.
 * The hash is 40 hex digits or 32 base32 characters (RFC 4648).
 */

export type MagnetErrorCode =
  | 'MAGNET_NOT_A_MAGNET'
  | 'MAGNET_NO_INFO_HASH'
  | 'MAGNET_BAD_INFO_HASH'
  | 'MAGNET_CONFLICTING_INFO_HASH'
  | 'MAGNET_V2_ONLY'
  | 'MAGNET_BAD_ENCODING';

export class MagnetError extends ProtocolError {
  override name = 'MagnetError';
  declare readonly code: MagnetErrorCode;
  constructor(code: MagnetErrorCode, message: string) {
    super(code, message);
  }
}

export interface Magnet {
  infoHash: Uint8Array;
  infoHashHex: string;
  displayName?: string;
  trackers: string[];
  /** Peers given with `x.pe`, as host:port. */
  peers: string[];
}

export function isMagnetUri(s: string): boolean {
  return /^magnet:\?/i.test(s);
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function decodeBase32(s: string): Uint8Array | undefined {
  const out = new Uint8Array(Math.floor((s.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (const ch of s.toUpperCase()) {
    const v = BASE32.indexOf(ch);
    if (v === -1) return undefined;
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out[o++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  return out;
}

function decodeComponent(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new MagnetError('MAGNET_BAD_ENCODING', `bad percent-encoding in ${JSON.stringify(s)}`);
  }
}

function parseBtih(value: string): Uint8Array {
  if (/^[0-9a-fA-F]{40}$/.test(value)) return new Uint8Array(Buffer.from(value, 'hex'));
  if (value.length === 32) {
    const bytes = decodeBase32(value);
    if (bytes) return bytes;
  }
  throw new MagnetError('MAGNET_BAD_INFO_HASH', `info hash ${JSON.stringify(value)} is neither 40 hex digits nor 32 base32 characters`);
}

export function parseMagnet(uri: string): Magnet {
  if (!isMagnetUri(uri)) throw new MagnetError('MAGNET_NOT_A_MAGNET', 'does not start with magnet:?');
  const query = uri.slice(uri.indexOf('?') + 1);
  let infoHash: Uint8Array | undefined;
  let sawV2 = false;
  const trackers: string[] = [];
  const peers: string[] = [];
  let displayName: string | undefined;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? '' : decodeComponent(part.slice(eq + 1));
    // Numbered parameters (xt.1, tr.2) are allowed by the magnet scheme.
    const base = key.replace(/\.\d+$/, '');
    if (base === 'xt') {
      if (/^urn:btih:/i.test(value)) {
        const h = parseBtih(value.slice(9));
        if (infoHash && Buffer.compare(infoHash, h) !== 0) {
          throw new MagnetError('MAGNET_CONFLICTING_INFO_HASH', 'two different btih info hashes');
        }
        infoHash = h;
      } else if (/^urn:btmh:/i.test(value)) {
        sawV2 = true;
      }
    } else if (base === 'dn') {
      displayName = value;
    } else if (base === 'tr') {
      if (value) trackers.push(value);
    } else if (key === 'x.pe') {
      if (value) peers.push(value);
    }
  }
  if (!infoHash) {
    if (sawV2) throw new MagnetError('MAGNET_V2_ONLY', 'only a BitTorrent v2 (btmh) hash; v1 (btih) is required');
    throw new MagnetError('MAGNET_NO_INFO_HASH', 'no xt=urn:btih: parameter');
  }
  const m: Magnet = { infoHash, infoHashHex: Buffer.from(infoHash).toString('hex'), trackers: [...new Set(trackers)], peers };
  if (displayName !== undefined) m.displayName = displayName;
  return m;
}
