import type { AddOptions } from '../control/backend.js';

/**
 * Magnet links this process is resolving, for the web APIs to show.
 *
 * ControlBackend.addMagnet answers only once the metadata is in (up to two
 * minutes), but qBittorrent and Transmission answer an add at once and list
 * the torrent meanwhile (qBittorrent's `metaDL`). So an API starts the
 * resolution here and answers; until the backend has the record, the
 * magnet is listed from this table, and the record replaces it once it
 * exists. A failed resolution stays listed, with its reason, for
 * `keepFailedMs` or until deleted, so a client polling the list sees why
 * the torrent never came.
 *
 * It is per process: another replica does not know of a resolution under
 * way here (the record it shows once added is shared, as every record is).
 * Nothing here knows either API's field names.
 */

export interface PendingMagnet {
  infoHashHex: string;
  /** The link's `dn`, else the info hash: what a client shows until the metadata names it. */
  name: string;
  /** The link's `tr` URLs. */
  trackers: string[];
  uri: string;
  options: AddOptions;
  /** ms since the epoch. */
  addedAt: number;
  /** Why the resolution failed; undefined while it is under way. */
  error?: string | undefined;
  /** When it failed (ms since the epoch). */
  failedAt?: number | undefined;
}

export interface PendingMagnetsOptions {
  now?: () => number;
  /** How long a failed resolution stays listed (default ten minutes). */
  keepFailedMs?: number;
  /** Resolutions listed at once; past it a new magnet is refused (default 500), so a flood of links cannot grow memory. */
  maxEntries?: number;
}

export type StartOutcome = 'started' | 'already-pending' | 'full';

export class PendingMagnets {
  private readonly entries = new Map<string, PendingMagnet>();
  /** Deleted while still resolving: the record that arrives is to be removed again. */
  private readonly cancelled = new Set<string>();
  private readonly now: () => number;
  private readonly keepFailedMs: number;
  private readonly maxEntries: number;

  constructor(o: PendingMagnetsOptions = {}) {
    this.now = o.now ?? Date.now;
    this.keepFailedMs = o.keepFailedMs ?? 10 * 60_000;
    this.maxEntries = o.maxEntries ?? 500;
  }

  /**
   * Lists the magnet and runs `resolve` (the backend's addMagnet) without
   * waiting for it. Once it succeeds the magnet leaves the list; if it was
   * deleted meanwhile, `discard` (a removal of the new record) runs
   * instead, as the backend cannot stop a resolution half way. A failure
   * keeps the magnet listed with the error's message.
   */
  start(entry: Omit<PendingMagnet, 'addedAt' | 'error' | 'failedAt'>, resolve: () => Promise<unknown>, discard: () => Promise<unknown>): StartOutcome {
    this.expire();
    const existing = this.entries.get(entry.infoHashHex);
    if (existing && existing.error === undefined) return 'already-pending';
    if (!existing && this.entries.size >= this.maxEntries) return 'full';
    const pending: PendingMagnet = { ...entry, trackers: [...entry.trackers], addedAt: this.now() };
    this.entries.set(entry.infoHashHex, pending);
    this.cancelled.delete(entry.infoHashHex);
    const hex = entry.infoHashHex;
    void resolve().then(
      async () => {
        if (this.entries.get(hex) === pending) this.entries.delete(hex);
        if (this.cancelled.delete(hex)) await discard().catch(() => undefined);
      },
      (e: unknown) => {
        this.cancelled.delete(hex);
        if (this.entries.get(hex) !== pending) return;
        pending.error = e instanceof Error ? e.message : String(e);
        pending.failedAt = this.now();
      },
    );
    return 'started';
  }

  /** Every magnet listed now (failures past `keepFailedMs` dropped). */
  list(): PendingMagnet[] {
    this.expire();
    return [...this.entries.values()];
  }

  get(infoHashHex: string): PendingMagnet | undefined {
    this.expire();
    return this.entries.get(infoHashHex);
  }

  /**
   * Takes a magnet off the list; a resolution still under way is marked
   * so that its record is discarded when it arrives. False when it was not
   * listed.
   */
  delete(infoHashHex: string): boolean {
    const entry = this.entries.get(infoHashHex);
    if (!entry) return false;
    this.entries.delete(infoHashHex);
    if (entry.error === undefined) this.cancelled.add(infoHashHex);
    return true;
  }

  private expire(): void {
    const now = this.now();
    for (const [hex, e] of this.entries) if (e.failedAt !== undefined && now - e.failedAt >= this.keepFailedMs) this.entries.delete(hex);
  }
}
