import type { TorrentRecord } from '../../control/backend.js';
import { TrRpcError } from './tr-args.js';

/**
 * Which torrents a request's `ids` names (rpc-spec 3.1): absent for all,
 * a torrent id, a list of ids and info hashes, or "recently-active". Ids
 * are the fleet's numbers (TorrentRecord.id), the same on every replica.
 *
 * As in Transmission, a well-formed id or hash that names no torrent is
 * skipped, so removing a torrent twice succeeds; but a value no torrent
 * could ever have (a fraction, an object, a 39-character hash) is refused,
 * naming it.
 */

/** `some`: torrent ids (numbers) and info hashes (lower-case hex), in the order given. */
export type IdSelector = { kind: 'all' } | { kind: 'recent' } | { kind: 'some'; refs: (number | string)[] };

const HASH = /^[0-9a-f]{40}$/i;

/** Transmission 4.0 spells it with a hyphen; 4.1 took the underscore too. */
function isRecent(s: string): boolean {
  return s === 'recently-active' || s === 'recently_active';
}

function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}...` : s;
}

function badId(where: string, v: unknown): TrRpcError {
  return new TrRpcError('ids', `${where} must be a torrent id (a whole number), a 40-character hex info hash or "recently-active" (got ${shown(v)})`);
}

export function parseIds(ids: unknown): IdSelector {
  if (ids === undefined || ids === null) return { kind: 'all' };
  if (typeof ids === 'string' && isRecent(ids)) return { kind: 'recent' };
  const list = Array.isArray(ids) ? ids : [ids];
  const refs = list.map((v: unknown, i) => {
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
    if (typeof v === 'string' && HASH.test(v)) return v.toLowerCase();
    throw badId(Array.isArray(ids) ? `ids[${i}]` : 'ids', v);
  });
  return { kind: 'some', refs };
}

/**
 * The records a selector names: by id for "all" and "recently-active" (the
 * order Transmission lists them in), else in the order asked, each once.
 */
export function selectTorrents(records: readonly TorrentRecord[], selector: IdSelector, recent: (r: TorrentRecord) => boolean): TorrentRecord[] {
  if (selector.kind !== 'some') {
    const chosen = selector.kind === 'all' ? [...records] : records.filter(recent);
    return chosen.sort((a, b) => a.id - b.id || a.infoHashHex.localeCompare(b.infoHashHex));
  }
  const byHash = new Map(records.map((r) => [r.infoHashHex, r]));
  // Id 0 is a record the store could not number: it is reached by hash only.
  const byId = new Map(records.filter((r) => r.id > 0).map((r) => [r.id, r]));
  const out = new Map<string, TorrentRecord>();
  for (const ref of selector.refs) {
    const r = typeof ref === 'number' ? byId.get(ref) : byHash.get(ref);
    if (r && !out.has(r.infoHashHex)) out.set(r.infoHashHex, r);
  }
  return [...out.values()];
}
