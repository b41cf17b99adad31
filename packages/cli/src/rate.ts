import { UsageError } from './cli-error.js';

/**
 * A byte rate as a user types it: bytes per second, or a number with k, M
 * or G for KiB, MiB or GiB per second ("20M", "1.5m", "512k"); a trailing
 * "iB", "B" or "/s" is allowed ("20MiB/s"). Powers of 1024, as qBittorrent
 * and Transmission show rates. 0 is no limit. `flag` names what is refused,
 * e.g. "--download-limit".
 */
const RATE = /^(\d+(?:\.\d+)?)\s*(?:([kmg])(?:i?b)?|b)?(?:\/s)?$/i;
const SCALE: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export function parseRate(text: string, flag: string): number {
  const m = RATE.exec(text.trim());
  const n = m ? Math.round(Number(m[1]) * (m[2] ? SCALE[m[2].toLowerCase()]! : 1)) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new UsageError(`${flag} takes bytes per second, 0 for none, or a number with k, M or G (KiB/MiB/GiB per second), e.g. 20M (got ${JSON.stringify(text)})`);
  }
  return n;
}
