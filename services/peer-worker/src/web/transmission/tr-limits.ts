import { NO_LIMIT, USE_GLOBAL } from '@seedbox/cluster';
import { TrRpcError } from './tr-args.js';

/**
 * Transmission's limits as seedbox stores them, and back. Pure.
 *
 * Speeds: Transmission's daemon counts them in kB/s of 1000 bytes (its
 * session's `units` say so, and transmission-remote assumes it); seedbox
 * stores bytes/s. Transmission keeps a number and an on/off switch per
 * limit, where a limit of 0 that is on lets nothing through; seedbox keeps
 * one number where 0 is "no limit". So "off" is 0, and "on at 0" is refused
 * rather than read as its opposite.
 *
 * Share limits: Transmission has a number and a mode (0 the session's,
 * 1 the torrent's own, 2 none); seedbox one number, USE_GLOBAL (-2),
 * NO_LIMIT (-1) or the limit, so a number is only kept while it is in force.
 */

/** Bytes in one of Transmission's speed kilobytes. */
export const SPEED_BYTES = 1000;

/** The session's `units`: those of transmission-daemon, which these speeds follow. */
export const UNITS = {
  'speed-units': ['kB/s', 'MB/s', 'GB/s', 'TB/s'],
  'speed-bytes': SPEED_BYTES,
  'size-units': ['kB', 'MB', 'GB', 'TB'],
  'size-bytes': 1000,
  'memory-units': ['KiB', 'MiB', 'GiB', 'TiB'],
  'memory-bytes': 1024,
} as const;

/** bytes/s as kB/s; a limit under 500 B/s reads 1, not 0 (which would say "off" or "nothing passes"). */
export function toKBps(bytesPerSecond: number): number {
  if (!(bytesPerSecond > 0)) return 0;
  return Math.max(1, Math.round(bytesPerSecond / SPEED_BYTES));
}

export function fromKBps(name: string, kBps: number): number {
  if (!Number.isSafeInteger(kBps) || kBps < 0) throw new TrRpcError('argument', `speed-limit: ${name} must be a whole number of kB/s, 0 or more (got ${kBps})`);
  return kBps * SPEED_BYTES;
}

/**
 * A limit and its switch as seedbox's bytes/s (0 for none), or undefined
 * for no change. `current` is the limit now, in bytes/s.
 */
export function speedFromPair(names: { limit: string; limited: string }, limit: number | undefined, limited: boolean | undefined, current: number): number | undefined {
  if (limited === false) return 0;
  if (limit === undefined) {
    if (limited === true && current === 0) {
      throw new TrRpcError('argument', `speed-limit: ${names.limited} needs ${names.limit}: seedbox keeps no number for a limit that is off`);
    }
    return undefined;
  }
  const bytes = fromKBps(names.limit, limit);
  // Transmission would stop all transfer at "on, 0"; seedbox's 0 means the opposite.
  if (bytes === 0 && (limited === true || (limited === undefined && current > 0))) {
    throw new TrRpcError('argument', `speed-limit: ${names.limit} 0 with the limit on would stop all transfer, which seedbox cannot do (0 means no limit); send ${names.limited}: false to lift the limit`);
  }
  return bytes;
}

/** Transmission's tr_ratiolimit / tr_idlelimit. */
export const MODE_GLOBAL = 0;
export const MODE_SINGLE = 1;
export const MODE_UNLIMITED = 2;

/** A torrent's share limit (USE_GLOBAL, NO_LIMIT or the limit) as Transmission's mode. */
export function modeOf(limit: number): number {
  return limit === USE_GLOBAL ? MODE_GLOBAL : limit < 0 ? MODE_UNLIMITED : MODE_SINGLE;
}

/**
 * The number Transmission shows beside the mode: the torrent's own limit,
 * the session's while it defers to it, and -1 when none is in force
 * (writing -1 back is "no limit", so a client that echoes it changes nothing).
 */
export function shownLimit(own: number, global: number): number {
  const effective = own === USE_GLOBAL ? global : own;
  return effective >= 0 ? effective : NO_LIMIT;
}

/**
 * A torrent's mode and number as seedbox's one value, or undefined for no
 * change. A number without a mode makes it the torrent's own limit (the
 * only place seedbox can keep it); mode 1 without a number keeps the
 * torrent's own limit, and is refused when it has none.
 */
export function shareFromMode(names: { limit: string; mode: string }, limit: number | undefined, mode: number | undefined, current: number): number | undefined {
  if (mode === undefined) return limit;
  if (mode === MODE_GLOBAL) return USE_GLOBAL;
  if (mode === MODE_UNLIMITED) return NO_LIMIT;
  if (mode === MODE_SINGLE) {
    if (limit !== undefined) return limit;
    if (current >= 0) return current;
    throw new TrRpcError('argument', `share-limit: ${names.mode} 1 needs ${names.limit}: the torrent has no limit of its own`);
  }
  throw new TrRpcError('argument', `share-limit: ${names.mode} must be 0 (the session's), 1 (the torrent's own) or 2 (none) (got ${mode})`);
}

/**
 * The session's limit and switch (seedRatioLimit/seedRatioLimited,
 * idle-seeding-limit/-enabled) as seedbox's global value (NO_LIMIT or the
 * limit), or undefined for no change.
 */
export function globalShareFrom(names: { limit: string; enabled: string }, limit: number | undefined, enabled: boolean | undefined, current: number): number | undefined {
  if (enabled === false) return NO_LIMIT;
  if (limit !== undefined) return limit;
  if (enabled === true && current < 0) throw new TrRpcError('argument', `share-limit: ${names.enabled} needs ${names.limit}: seedbox keeps no number for a limit that is off`);
  return undefined;
}
