import { UsageError } from './cli-error.js';

/**
 * Speed limits on the command line, in bytes per second: a whole number
 * of bytes (`20971520`), or a number with a binary unit, `KiB`, `MiB` or
 * `GiB` (`20MiB`, `1.5MiB`, `512KiB`; the unit's case does not matter).
 * `0` is no limit. Decimal units (`MB`, `M`, `Mbit`) are refused rather
 * than guessed at: whether 20M means 20,000,000 or 20,971,520 bytes, or
 * megabits, is exactly what a user setting a limit should not have to
 * find out afterwards.
 */

const UNITS: Record<string, number> = { '': 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** Parses the value of `flag`; a bad value is a one-line UsageError naming the flag. */
export function parseRateLimit(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const bytes = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(bytes) || (unit === 1 && m![1]!.includes('.'))) {
    throw new UsageError(`${flag} '${value}' is not a rate: give bytes per second, as a whole number or with KiB, MiB or GiB (e.g. 20MiB); 0 is no limit`);
  }
  return bytes;
}
