import { NO_LIMIT, USE_GLOBAL, type FleetConfig, type FleetStore, type ShareLimits } from '@seedbox/cluster';
import type { Logger } from '@seedbox/runtime';
import type { TorrentSnapshot } from '../torrent.js';
import type { FleetPicture } from './fleet-picture.js';
import { shareLimitReached } from './fleet-policy.js';
import type { TotalsKeeper } from './totals-keeper.js';

/**
 * The time limits (seeding time, inactive time) pass with time alone, and
 * the ratio with the uploads of the other workers seeding a torrent: the
 * torrents with a limit are judged again this often (ticks), so a limit is
 * acted on within 10 s of being reached, without judging every torrent
 * every second.
 */
export const SHARE_TIME_EVERY_TICKS = 10;

export interface ShareRulesOptions {
  picture: FleetPicture;
  totals: TotalsKeeper;
  /** Torrents whose move (by this worker) or rule action is under way: shared with the sync. */
  busy: Set<string>;
  config: () => FleetConfig;
  /** Whether this worker owns the torrent: the owner alone acts. */
  mine: (infoHashHex: string) => boolean;
  state: FleetStore;
  /** Removes a torrent from the fleet, and its data with `deleteData`. */
  removeTorrent: (infoHashHex: string, deleteData: boolean) => Promise<void>;
  log: Logger;
}

/**
 * The seeding rules as a worker applies them: a complete torrent past its
 * ratio, seeding time or inactive time limit (shareLimitReached,
 * fleet-policy.ts) has its owner take the configured action, once.
 *
 * Without judging every torrent at every tick: a torrent is judged when
 * its own figures change (`seen`: its ratio may have moved), when its
 * settings change (`entryChanged`), when the config or the owners change
 * (`allChanged`), and, for the time limits and the other workers' uploads,
 * every SHARE_TIME_EVERY_TICKS ticks; and only the torrents with a limit
 * are (`limited`, kept up to date by the same events). With no limit set,
 * the usual case, a tick costs nothing here.
 */
export class ShareRules {
  /** This worker's runs with every wanted piece, and their bytes done: those a rule can apply to. */
  private readonly done = new Map<string, number>();
  /** Those of them owned here with a limit. */
  private readonly limited = new Set<string>();
  /** Torrents to place again (in `limited` or not) at the next tick. */
  private readonly marked = new Set<string>();
  /** Every torrent is to be placed again at the next tick. */
  private allMarked = false;
  private ticks = 0;

  constructor(private readonly o: ShareRulesOptions) {}

  /** How many torrents are judged every SHARE_TIME_EVERY_TICKS ticks. */
  get limitedCount(): number {
    return this.limited.size;
  }

  /** A run's new snapshot: placed, and judged if it has a limit, at this tick. */
  seen(s: TorrentSnapshot): void {
    if (!s.done) {
      this.left(s.infoHash);
      return;
    }
    this.done.set(s.infoHash, s.totalLength - s.left);
    this.marked.add(s.infoHash);
  }

  /** The run ended here. */
  left(infoHashHex: string): void {
    this.done.delete(infoHashHex);
    this.limited.delete(infoHashHex);
    this.marked.delete(infoHashHex);
  }

  /** The torrent's registry entry changed (its limits, its desired state). */
  entryChanged(infoHashHex: string): void {
    if (this.done.has(infoHashHex)) this.marked.add(infoHashHex);
  }

  /** The config or the owners changed: every torrent is placed again at the next tick. */
  allChanged(): void {
    this.allMarked = true;
  }

  /** Once a tick, after the tick's snapshots were seen: each torrent is judged once at most. */
  tick(now: number): void {
    const walk = ++this.ticks % SHARE_TIME_EVERY_TICKS === 0;
    if (this.allMarked) {
      this.allMarked = false;
      this.marked.clear();
      for (const hex of this.done.keys()) this.place(hex, now);
      return;
    }
    for (const hex of this.marked) this.place(hex, now);
    if (walk) for (const hex of this.limited) if (!this.marked.has(hex)) this.judge(hex, now);
    this.marked.clear();
  }

  /** Puts the torrent in `limited` or out of it, and judges it if in. */
  private place(hex: string, now: number): void {
    const reg = this.o.picture.get(hex);
    if (!this.done.has(hex) || !reg || !this.o.mine(hex) || !anyShareLimit(reg.entry.settings.share, this.o.config().share)) {
      this.limited.delete(hex);
      return;
    }
    this.limited.add(hex);
    this.judge(hex, now);
  }

  /** A complete torrent past its ratio or time limit: the owner takes the configured action, once. */
  private judge(hex: string, now: number): void {
    const reg = this.o.picture.get(hex);
    const doneBytes = this.done.get(hex);
    if (!reg || doneBytes === undefined || reg.entry.desired !== 'running' || this.o.busy.has(hex)) return;
    const config = this.o.config();
    const rule = shareLimitReached({ settings: reg.entry.settings, totals: this.o.totals.get(hex), doneBytes, complete: true }, config, now);
    if (!rule) return;
    const action = config.shareAction;
    this.o.busy.add(hex);
    this.o.log.info('seeding limit reached', { infoHash: hex, rule, action });
    void (async () => {
      await this.o.totals.flush();
      if (action === 'pause') await this.o.state.updateTorrent(hex, (e) => (e.desired === 'running' ? { ...e, desired: 'paused', limitReached: rule } : undefined));
      else await this.o.removeTorrent(hex, action === 'remove-with-data');
    })()
      .catch((e: unknown) => this.o.log.warn('acting on a seeding limit failed', { infoHash: hex, rule, error: e as Error }))
      .finally(() => this.o.busy.delete(hex));
  }
}

/** Whether any seeding rule (the torrent's own, else the fleet's) limits the torrent. */
function anyShareLimit(own: ShareLimits, fleet: ShareLimits): boolean {
  return limited(own.ratio, fleet.ratio) || limited(own.seedingMinutes, fleet.seedingMinutes) || limited(own.inactiveMinutes, fleet.inactiveMinutes);
}

function limited(own: number, fleet: number): boolean {
  return (own === USE_GLOBAL ? fleet : own) !== NO_LIMIT;
}
