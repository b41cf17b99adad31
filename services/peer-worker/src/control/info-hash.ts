import { ControlError } from './backend.js';

const INFO_HASH = /^[0-9a-f]{40}$/i;

/**
 * Checks a hex info hash from a request and answers it in lower case, the
 * form the backend keys torrents by. `field` names the request field for the
 * error, e.g. `info_hash` or `info_hashes[2]`.
 */
export function parseInfoHash(value: string, field: string): string {
  if (!INFO_HASH.test(value)) {
    const shown = value.length > 48 ? `${JSON.stringify(value.slice(0, 48))}...` : JSON.stringify(value);
    throw new ControlError('invalid-argument', `${field} must be 40 hexadecimal characters (a SHA-1 info hash), got ${shown}`);
  }
  return value.toLowerCase();
}
