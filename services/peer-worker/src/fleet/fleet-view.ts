import type { NatsConnection, Subscription } from 'nats';
import { watchServiceHeartbeats, type ServiceHeartbeat } from '@seedbox/cluster';
import type { Logger } from '@seedbox/runtime';
import type { StatsSource } from '../control/backend.js';
import { FleetMembers, memberOf, type FleetMember, type FleetMembersOptions } from './fleet-members.js';
import { RateHistory, type RateSeries } from './rate-history.js';

/**
 * What the fleet view shows (GET /api/seedbox/v1/fleet, the web UI's
 * Fleet page): every service process with its health and figures, and
 * the fleet's total rates over the last ten minutes. A peer-worker builds
 * it from NATS (NatsFleetView); `seedbox serve`, a fleet of one, from
 * itself (LocalFleetView). The web API sees only this interface.
 */
export interface FleetView {
  /** Every member on show at `now`: live ones, and lost ones for a while. */
  members(now: number): FleetMember[];
  /** The fleet's total download and upload rate, a point a second, over the last ten minutes this process has seen. */
  history(): RateSeries;
}

/** Feeds `history` from each tick's figures (every torrent's rates, summed by the source). */
export function followRates(history: RateHistory, stats: Pick<StatsSource, 'onTick'>, now: () => number = Date.now): () => void {
  return stats.onTick((t) => history.record(now(), t.downloadRate, t.uploadRate));
}

/** A peer-worker's view: heartbeats from NATS (its own among them), rates from the StatsBoard. */
export class NatsFleetView implements FleetView {
  private readonly board: FleetMembers;
  private readonly rates = new RateHistory();
  private readonly sub: Subscription;
  private readonly unfollow: () => void;
  private lastWarning = 0;

  constructor(o: { nc: NatsConnection; stats: Pick<StatsSource, 'onTick'>; log: Logger; now?: () => number; members?: FleetMembersOptions }) {
    const now = o.now ?? Date.now;
    this.board = new FleetMembers(o.members);
    this.sub = watchServiceHeartbeats(
      o.nc,
      (hb) => this.board.note(hb, now()),
      (e) => {
        // A process sending garbage would do so every 2 s: say so once a minute.
        if (now() - this.lastWarning < 60_000) return;
        this.lastWarning = now();
        o.log.warn('malformed service heartbeat skipped', { field: e.field, error: e });
      },
    );
    this.unfollow = followRates(this.rates, o.stats, now);
  }

  members(now: number): FleetMember[] {
    return this.board.list(now);
  }

  history(): RateSeries {
    return this.rates.series();
  }

  close(): void {
    this.sub.unsubscribe();
    this.unfollow();
  }
}

/** `seedbox serve`: one member, itself, always as it is now; the rates from its own ticks. */
export class LocalFleetView implements FleetView {
  private readonly rates = new RateHistory();
  private readonly unfollow: () => void;

  constructor(
    /** Its heartbeat as it would send one now (it sends none: there is no NATS). */
    private readonly self: () => ServiceHeartbeat,
    stats: Pick<StatsSource, 'onTick'>,
    now: () => number = Date.now,
  ) {
    this.unfollow = followRates(this.rates, stats, now);
  }

  members(now: number): FleetMember[] {
    return [memberOf(this.self(), now, now)];
  }

  history(): RateSeries {
    return this.rates.series();
  }

  close(): void {
    this.unfollow();
  }
}
