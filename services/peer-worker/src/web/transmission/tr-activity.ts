import type { TorrentRecord, TorrentStatsView } from '../../control/backend.js';

/**
 * What "recently-active" needs beyond the records: which torrents this
 * process changed lately, and which ids went away, for torrent-get's
 * `removed` list. Transmission keeps both per session; here they are per
 * process, bounded, and forgotten after the window.
 *
 * Removals are seen two ways: those made through this API are noted as
 * they happen, and every listing is compared with the one before, so a
 * torrent removed by another replica, the gRPC API or a share rule is
 * reported too, once this process lists again within the window.
 */

/** Transmission's window for "recently-active" (RecentlyActiveSeconds in its rpcimpl.cc). */
export const RECENT_MS = 60_000;

/** Entries kept at most per map; past it the oldest go first, so a flood of changes cannot grow memory. */
const MAX_ENTRIES = 10_000;

export class RecentActivity {
  private readonly touched = new Map<string, number>();
  private readonly removed = new Map<number, number>();
  /** Info hash -> id, as the last listing had them. */
  private known: Map<string, number> | undefined;

  /** Notes a change made to a torrent now (a setting, a start, a stop). */
  touch(infoHashHex: string, now: number): void {
    remember(this.touched, infoHashHex, now);
  }

  noteRemoved(id: number, now: number): void {
    if (id > 0) remember(this.removed, id, now);
  }

  /** Compares a full listing with the last one: ids no longer there were removed. */
  observe(records: readonly TorrentRecord[], now: number): void {
    const next = new Map(records.map((r) => [r.infoHashHex, r.id]));
    if (this.known) for (const [hex, id] of this.known) if (!next.has(hex)) this.noteRemoved(id, now);
    this.known = next;
  }

  /** Ids removed since `since` (ms), oldest first. */
  removedSince(since: number): number[] {
    return [...this.removed].filter(([, at]) => at >= since).map(([id]) => id);
  }

  /**
   * Whether a torrent was active in the window: added, completed or moving
   * data then, moving data now, or changed through this API.
   */
  isRecent(record: TorrentRecord, stats: TorrentStatsView | undefined, now: number): boolean {
    const since = now - RECENT_MS;
    if ((stats?.downloadRate ?? 0) > 0 || (stats?.uploadRate ?? 0) > 0) return true;
    const last = Math.max(record.addedAt, record.totals.lastActivityAt, record.totals.completedAt, this.touched.get(record.infoHashHex) ?? 0);
    return last >= since;
  }
}

/** Sets key to time, last in order, dropping entries past the window and the oldest past the cap. */
function remember<K>(m: Map<K, number>, key: K, now: number): void {
  m.delete(key);
  m.set(key, now);
  for (const [k, at] of m) {
    if (at >= now - RECENT_MS && m.size <= MAX_ENTRIES) break;
    m.delete(k);
  }
}
