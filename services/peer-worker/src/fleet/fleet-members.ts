import type { ServiceFigures, ServiceHeartbeat, ServiceKind } from '@seedbox/cluster';

/**
 * The fleet's membership as one peer-worker sees it, from the heartbeats
 * every service process sends every 2 s (service-heartbeat.ts): a member
 * heard from in the last 10 s is live; one silent for longer, or that
 * said it was leaving, is lost, and stays on show as lost for a while
 * (5 min) so that a person sees what went away, then is dropped.
 *
 * Times are this process's clock when the heartbeat arrived, not the
 * sender's, so a member whose clock is off is judged fairly. The clock is
 * passed in: `note` and `list` are plain functions of what was heard and
 * when.
 */

export type MemberStatus = 'live' | 'lost';

export interface FleetMember {
  kind: ServiceKind;
  instance: string;
  version: string;
  status: MemberStatus;
  /** It said it was leaving (a clean stop), rather than falling silent. */
  left: boolean;
  /** Its last readiness verdict: true, or why not. */
  ready: true | string;
  /** Unix ms at which it started (its own clock). */
  startedAt: number;
  /** Unix ms at which its last heartbeat arrived (this process's clock). */
  lastSeen: number;
  /** Seconds it has been running (live), or had been at its last heartbeat (lost). */
  uptimeSeconds: number;
  figures: ServiceFigures;
}

export interface FleetMembersOptions {
  /** A member silent for longer is lost. Default 10 s (five heartbeats). */
  liveMs?: number;
  /** A lost member is dropped this long after it was last heard from. Default 5 min. */
  keepLostMs?: number;
  /** Members kept at most (the oldest heard from go first), so odd instance ids cannot grow memory without end. */
  maxMembers?: number;
}

export const MEMBER_LIVE_MS = 10_000;
export const MEMBER_KEEP_LOST_MS = 5 * 60_000;

/** How kinds are listed: the one-process seedbox, then the fleet's services from the front. */
const KIND_ORDER: Record<ServiceKind, number> = { serve: 0, 'peer-worker': 1, 'disk-writer': 2, 'tracker-client': 3 };

/** One member as seen at `now`, from its last heartbeat and when it arrived. */
export function memberOf(hb: ServiceHeartbeat, receivedAt: number, now: number, liveMs = MEMBER_LIVE_MS): FleetMember {
  const live = !hb.leaving && now - receivedAt <= liveMs;
  // The sender's uptime at its beat (both times on its clock), plus the time since, on ours.
  const atBeat = Math.max(0, hb.sentAt - hb.startedAt);
  const uptimeMs = live ? atBeat + Math.max(0, now - receivedAt) : atBeat;
  return {
    kind: hb.kind,
    instance: hb.instance,
    version: hb.version,
    status: live ? 'live' : 'lost',
    left: hb.leaving,
    ready: hb.ready,
    startedAt: hb.startedAt,
    lastSeen: receivedAt,
    uptimeSeconds: Math.floor(uptimeMs / 1000),
    figures: hb.figures,
  };
}

export function compareMembers(a: Pick<FleetMember, 'kind' | 'instance'>, b: Pick<FleetMember, 'kind' | 'instance'>): number {
  return KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0);
}

export class FleetMembers {
  private readonly heard = new Map<string, { hb: ServiceHeartbeat; at: number }>();
  private readonly liveMs: number;
  private readonly keepLostMs: number;
  private readonly maxMembers: number;

  constructor(o: FleetMembersOptions = {}) {
    this.liveMs = o.liveMs ?? MEMBER_LIVE_MS;
    this.keepLostMs = o.keepLostMs ?? MEMBER_KEEP_LOST_MS;
    this.maxMembers = o.maxMembers ?? 1000;
  }

  /** A heartbeat arrived at `now`. Members long gone are dropped here, as heartbeats keep coming from the others. */
  note(hb: ServiceHeartbeat, now: number): void {
    const key = `${hb.kind}/${hb.instance}`;
    this.heard.delete(key);
    this.heard.set(key, { hb, at: now });
    this.prune(now);
  }

  /** Drops members lost for longer than `keepLostMs`, and the oldest heard from past `maxMembers`. */
  prune(now: number): void {
    for (const [key, m] of this.heard) if (now - m.at > this.liveMs + this.keepLostMs) this.heard.delete(key);
    // Insertion order is the order heard from (note re-inserts): the first are the oldest.
    while (this.heard.size > this.maxMembers) this.heard.delete(this.heard.keys().next().value!);
  }

  /** Every member still on show at `now`, live or lost, by kind then instance. */
  list(now: number): FleetMember[] {
    const out: FleetMember[] = [];
    for (const m of this.heard.values()) {
      if (now - m.at > this.liveMs + this.keepLostMs) continue;
      out.push(memberOf(m.hb, m.at, now, this.liveMs));
    }
    return out.sort(compareMembers);
  }

  get size(): number {
    return this.heard.size;
  }
}
