import { parseHostPort } from './address.js';
import { ProtocolError } from './errors.js';

/**
 * Magnet URIs (BEP 9):
 *
 *     magnet:?xt=urn:btih:<info hash>&dn=<name>&tr=<tracker>&x.pe=<host:port>
 *
 * The info hash is 40 hex digits or 32 base32 characters (RFC 4648 alphabet,
 * either case). Parameters may be numbered (`tr.1`, `xt.2`), as the magnet
 * scheme allows. Values are percent-decoded as UTF-8, and '+' is a space, as
 * in the form encoding that most clients use to write `dn`.
 *
 * Only the info hash is essential. A tracker or peer that is unusable is
 * dropped rather than failing the whole link (a bad `x.pe` only costs one
 * peer), but anything wrong with the hash is an error: without it there is
 * no torrent.
 */

export type MagnetErrorCode =
  /** Does not start with `magnet:?`. */
  | 'MAGNET_NOT_A_MAGNET'
  /** No `xt=urn:btih:` parameter (and no v2 hash either). */
  | 'MAGNET_NO_INFO_HASH'
  /** A btih hash of the wrong length or with a character outside its alphabet. */
  | 'MAGNET_BAD_INFO_HASH'
  /** Two `xt=urn:btih:` parameters name different torrents. */
  | 'MAGNET_CONFLICTING_INFO_HASH'
  /** Only a BitTorrent v2 hash (`urn:btmh:`); we speak v1 only. */
  | 'MAGNET_V2_ONLY'
  /** A `%` escape that is malformed or decodes to invalid UTF-8. */
  | 'MAGNET_BAD_ENCODING';

export class MagnetError extends ProtocolError {
  override name = 'MagnetError';
  declare readonly code: MagnetErrorCode;
  /** The query parameter that broke the rule, e.g. `xt` or `dn`, when there is one. */
  readonly param: string | undefined;

  constructor(code: MagnetErrorCode, message: string, param?: string) {
    super(code, param === undefined ? message : `magnet parameter '${param}': ${message}`);
    this.param = param;
  }
}

export interface Magnet {
  infoHash: Uint8Array;
  infoHashHex: string;
  displayName?: string;
  /** Tracker URLs in the order given, without duplicates. */
  trackers: string[];
  /** Peers given with `x.pe`, as host:port (IPv6 hosts in brackets). */
  peers: string[];
}

export function isMagnetUri(s: string): boolean {
  return /^magnet:\?/i.test(s);
}

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const HEX_RE = /^[0-9a-f]{40}$/i;

/** RFC 4648 base32 without padding. The caller checks the length, so 32 characters give exactly 20 bytes. */
function decodeBase32(s: string): Uint8Array | undefined {
  const out = new Uint8Array(Math.floor((s.length * 5) / 8));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (const ch of s.toUpperCase()) {
    const v = BASE32_ALPHABET.indexOf(ch);
    if (v === -1) return undefined;
    // Only the low `bits` bits of acc are pending, so masking keeps it small.
    acc = ((acc << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  return out;
}

function decodeValue(raw: string, param: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    throw new MagnetError('MAGNET_BAD_ENCODING', `bad percent-encoding in ${JSON.stringify(raw)}`, param);
  }
}

function parseBtih(hash: string, param: string): Uint8Array {
  if (hash.length === 40) {
    if (HEX_RE.test(hash)) return new Uint8Array(Buffer.from(hash, 'hex'));
    throw new MagnetError('MAGNET_BAD_INFO_HASH', `40-character info hash ${JSON.stringify(hash)} is not all hex digits`, param);
  }
  if (hash.length === 32) {
    const bytes = decodeBase32(hash);
    if (bytes) return bytes;
    throw new MagnetError('MAGNET_BAD_INFO_HASH', `32-character info hash ${JSON.stringify(hash)} is not base32 (A-Z, 2-7)`, param);
  }
  throw new MagnetError(
    'MAGNET_BAD_INFO_HASH',
    `info hash is ${hash.length} characters; expected 40 hex digits or 32 base32 characters`,
    param,
  );
}

function isPeerAddress(s: string): boolean {
  return parseHostPort(s) !== undefined;
}

export function parseMagnet(uri: string): Magnet {
  if (!isMagnetUri(uri)) throw new MagnetError('MAGNET_NOT_A_MAGNET', `not a magnet URI (must start with 'magnet:?'): ${JSON.stringify(uri.slice(0, 40))}`);
  const query = uri.slice('magnet:?'.length);
  let infoHash: Uint8Array | undefined;
  let sawV2 = false;
  const trackers: string[] = [];
  const peers: string[] = [];
  let displayName: string | undefined;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq === -1 ? part : part.slice(0, eq);
    const base = key.replace(/\.\d+$/, '');
    const value = eq === -1 ? '' : decodeValue(part.slice(eq + 1), key);
    switch (base) {
      case 'xt':
        if (/^urn:btih:/i.test(value)) {
          const h = parseBtih(value.slice('urn:btih:'.length), key);
          if (infoHash && Buffer.compare(infoHash, h) !== 0) {
            throw new MagnetError('MAGNET_CONFLICTING_INFO_HASH', 'two xt parameters name different btih info hashes', key);
          }
          infoHash = h;
        } else if (/^urn:btmh:/i.test(value)) {
          // A hybrid link carries both; only a btmh-only link is refused below.
          sawV2 = true;
        }
        // Other URN kinds (sha1, ed2k, ...) belong to other networks: ignored.
        break;
      case 'dn':
        // The first name wins; a later one is more likely a stray duplicate.
        displayName ??= value;
        break;
      case 'tr':
        if (value.trim() !== '' && !trackers.includes(value.trim())) trackers.push(value.trim());
        break;
      case 'x.pe':
        if (isPeerAddress(value) && !peers.includes(value)) peers.push(value);
        break;
      default:
        // ws, as, xs, so, kt, ... are not used by this engine.
        break;
    }
  }
  if (!infoHash) {
    if (sawV2) throw new MagnetError('MAGNET_V2_ONLY', 'has only a BitTorrent v2 (urn:btmh:) hash; a v1 urn:btih: hash is required', 'xt');
    throw new MagnetError('MAGNET_NO_INFO_HASH', 'no xt=urn:btih: parameter, so the torrent is unknown', 'xt');
  }
  const magnet: Magnet = { infoHash, infoHashHex: Buffer.from(infoHash).toString('hex'), trackers, peers };
  if (displayName !== undefined) magnet.displayName = displayName;
  return magnet;
}
