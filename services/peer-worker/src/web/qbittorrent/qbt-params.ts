import type { FormFields } from '../web-request.js';
import { QbtError } from './qbt-error.js';

/**
 * Reading WebAPI parameters the way qBittorrent's controllers do
 * (Utils::String::parseBool/parseInt, `|`-separated hashes), but
 * refusing what qBittorrent would quietly read as 0: a parameter that is
 * there and not a number is a 400 naming it.
 */

/** qBittorrent's parseBool: "true"/"false" in any case (C# clients such as Sonarr send "True"); anything else is no answer. */
export function parseBool(v: string | undefined): boolean | undefined {
  const t = v?.trim().toLowerCase();
  return t === 'true' ? true : t === 'false' ? false : undefined;
}

export function requireText(p: FormFields, name: string): string {
  const v = p.text(name);
  if (v === undefined) throw new QbtError('bad-params', `the parameter ${name} is required`);
  return v;
}

/** A whole number (safe integer), or undefined when the parameter is absent or empty. */
export function optionalInt(p: FormFields, name: string): number | undefined {
  const v = p.text(name)?.trim();
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!/^[+-]?\d+$/.test(v) || !Number.isSafeInteger(n)) throw new QbtError('bad-params', `${name} must be a whole number (got ${JSON.stringify(v.slice(0, 40))})`);
  return n;
}

export function optionalNumber(p: FormFields, name: string): number | undefined {
  const v = p.text(name)?.trim();
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new QbtError('bad-params', `${name} must be a number (got ${JSON.stringify(v.slice(0, 40))})`);
  return n;
}

export function optionalBool(p: FormFields, name: string): boolean | undefined {
  const v = p.text(name);
  if (v === undefined || v.trim() === '') return undefined;
  const b = parseBool(v);
  if (b === undefined) throw new QbtError('bad-params', `${name} must be true or false (got ${JSON.stringify(v.slice(0, 40))})`);
  return b;
}

export function requireInt(p: FormFields, name: string): number {
  const n = optionalInt(p, name);
  if (n === undefined) throw new QbtError('bad-params', `the parameter ${name} is required`);
  return n;
}

/**
 * A speed limit in bytes per second as qBittorrent takes one: 0 and -1
 * both mean none (qBittorrent turns 0 into -1 and stores -1 as "no
 * limit"). Any other negative number is refused, where qBittorrent would
 * quietly read it as "no limit" too: it is more likely a mistake.
 */
export function speedLimit(name: string, n: number): number {
  if (n === 0 || n === -1) return 0;
  if (n < 0) throw new QbtError('bad-params', `${name} must be a number of bytes per second, 0 or -1 for no limit (got ${n})`);
  return n;
}

export const ALL = 'all';

/** An info hash as this API takes it: 40 hex digits, either case; a v2 or malformed id names no torrent. */
export function normalizeHash(s: string): string | undefined {
  const t = s.trim().toLowerCase();
  return /^[0-9a-f]{40}$/.test(t) ? t : undefined;
}

/** `hashes`: `|`-separated ids, or `all`; ids that are not v1 hashes are dropped (they match no torrent, as in qBittorrent). */
export function hashList(p: FormFields, name = 'hashes'): string[] | typeof ALL {
  const raw = requireText(p, name);
  if (raw.trim() === ALL) return ALL;
  const out: string[] = [];
  for (const part of raw.split('|')) {
    const h = normalizeHash(part);
    if (h !== undefined && !out.includes(h)) out.push(h);
  }
  return out;
}

/** The single `hash` of the per-torrent endpoints: missing is 400, not a hash is the 404 qBittorrent gives for a torrent it has not. */
export function singleHash(p: FormFields, name = 'hash'): string {
  const h = normalizeHash(requireText(p, name));
  if (h === undefined) throw new QbtError('not-found', 'Not Found');
  return h;
}
