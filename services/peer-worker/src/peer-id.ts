import { randomBytes } from 'node:crypto';

/**
 * Azureus-style peer id (`-SB0100-` + 12 random bytes): clients and trackers
 * read the prefix as the client name and version.
 */
export const CLIENT_PREFIX = '-SB0100-';
export const CLIENT_NAME = 'seedbox 0.1.0';

export function generatePeerId(): Uint8Array {
  const id = Buffer.alloc(20);
  id.write(CLIENT_PREFIX, 0, 'latin1');
  randomBytes(12).copy(id, 8);
  return id;
}
