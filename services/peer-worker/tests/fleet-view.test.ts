/**
 * The fleet view's parts: membership (live, lost after 10 s or at once on
 * a goodbye, dropped after a while), the ring of the last 600 seconds of
 * rates, and serve's fleet of one. The clock is passed in throughout.
 */
import { describe, expect, it } from 'vitest';
import type { ServiceHeartbeat } from '@seedbox/cluster';
import type { StatsTick } from '../src/control/backend.js';
import { FleetMembers, memberOf } from '../src/fleet/fleet-members.js';
import { followRates, LocalFleetView } from '../src/fleet/fleet-view.js';
import { RateHistory } from '../src/fleet/rate-history.js';

const T0 = 1_700_000_000_000;

function hb(kind: ServiceHeartbeat['kind'], instance: string, over: Partial<ServiceHeartbeat> = {}): ServiceHeartbeat {
  return { kind, instance, version: '0.1.0', startedAt: T0 - 60_000, sentAt: T0, ready: true, leaving: false, figures: {}, ...over };
}

describe('fleet membership', () => {
  it('lists members by kind then instance, live while heard from in the last 10 s, then lost, then dropped after 5 min', () => {
    const m = new FleetMembers();
    m.note(hb('tracker-client', 'tc1'), T0);
    m.note(hb('peer-worker', 'pw2'), T0);
    m.note(hb('disk-writer', 'dw1'), T0);
    m.note(hb('peer-worker', 'pw1'), T0);
    expect(m.list(T0).map((x) => `${x.kind}/${x.instance}:${x.status}`)).toEqual(['peer-worker/pw1:live', 'peer-worker/pw2:live', 'disk-writer/dw1:live', 'tracker-client/tc1:live']);

    // pw1 keeps beating; the others fall silent.
    m.note(hb('peer-worker', 'pw1', { sentAt: T0 + 10_000 }), T0 + 10_000);
    expect(m.list(T0 + 10_000).every((x) => x.status === 'live')).toBe(true);
    const later = m.list(T0 + 10_001);
    expect(later.find((x) => x.instance === 'pw1')!.status).toBe('live');
    expect(later.filter((x) => x.status === 'lost').map((x) => x.instance)).toEqual(['pw2', 'dw1', 'tc1']);
    const lost = later.find((x) => x.instance === 'dw1')!;
    expect(lost.lastSeen).toBe(T0);
    expect(lost.left).toBe(false);
    // Its uptime stops at its last heartbeat.
    expect(lost.uptimeSeconds).toBe(60);

    // Still shown 5 min after it was last heard from; gone just after, from the list and from memory.
    expect(m.list(T0 + 310_000).map((x) => x.instance)).toContain('dw1');
    expect(m.list(T0 + 310_001).map((x) => x.instance)).toEqual(['pw1']);
    m.note(hb('peer-worker', 'pw1', { sentAt: T0 + 310_001 }), T0 + 310_001);
    expect(m.size).toBe(1);
  });

  it('shows a member that said goodbye as lost at once, and the same instance back as live', () => {
    const m = new FleetMembers();
    m.note(hb('disk-writer', 'dw1', { ready: 'shutting down', leaving: true }), T0);
    expect(m.list(T0)[0]).toMatchObject({ status: 'lost', left: true, ready: 'shutting down' });
    m.note(hb('disk-writer', 'dw1', { startedAt: T0 + 1000, sentAt: T0 + 2000, ready: 'starting' }), T0 + 2000);
    expect(m.list(T0 + 2000)).toEqual([expect.objectContaining({ status: 'live', left: false, ready: 'starting', uptimeSeconds: 1 })]);
  });

  it('keys members by kind and instance, and keeps at most maxMembers (the longest silent go first)', () => {
    const m = new FleetMembers({ maxMembers: 3 });
    m.note(hb('peer-worker', 'same'), T0);
    m.note(hb('disk-writer', 'same'), T0);
    expect(m.list(T0)).toHaveLength(2);
    m.note(hb('peer-worker', 'same'), T0 + 1);
    m.note(hb('peer-worker', 'a'), T0 + 2);
    m.note(hb('peer-worker', 'b'), T0 + 3);
    expect(m.list(T0 + 3).map((x) => `${x.kind}/${x.instance}`)).toEqual(['peer-worker/a', 'peer-worker/b', 'peer-worker/same']);
  });

  it('counts a live member’s uptime from its own clock at the beat, plus the time since on ours', () => {
    // Its clock is an hour ahead: the uptime is still right.
    const skewed = hb('peer-worker', 'pw1', { startedAt: T0 + 3_600_000 - 30_000, sentAt: T0 + 3_600_000 });
    expect(memberOf(skewed, T0, T0 + 4000).uptimeSeconds).toBe(34);
  });
});

describe('the rate history', () => {
  it('keeps one point a second, the later figures of a second seen twice, and ignores a clock stepping back', () => {
    const h = new RateHistory(600);
    h.record(T0 + 100, 1000, 10);
    h.record(T0 + 900, 2000, 20);
    h.record(T0 + 1000, 3000.4, 30);
    h.record(T0 - 5000, 9, 9);
    h.record(T0 + 2000, Number.NaN, -4);
    expect(h.series()).toEqual({ t: [T0 / 1000, T0 / 1000 + 1, T0 / 1000 + 2], down: [2000, 3000, 0], up: [20, 30, 0] });
  });

  it('holds the last 600 seconds in order once the ring wraps', () => {
    const h = new RateHistory(600);
    for (let s = 0; s < 1000; s++) h.record(T0 + s * 1000, s, 2 * s);
    const { t, down, up } = h.series();
    expect(h.length).toBe(600);
    expect(t).toHaveLength(600);
    expect(t[0]).toBe(T0 / 1000 + 400);
    expect(t.at(-1)).toBe(T0 / 1000 + 999);
    expect(down[0]).toBe(400);
    expect(up.at(-1)).toBe(1998);
    expect(t.every((x, i) => i === 0 || x === t[i - 1]! + 1)).toBe(true);
  });

  it('drops points older than ten minutes before the newest when ticks were missed', () => {
    const h = new RateHistory(600);
    h.record(T0, 1, 1);
    h.record(T0 + 1000, 2, 2);
    h.record(T0 + 600_500, 3, 3);
    expect(h.series().down).toEqual([2, 3]);
  });

  it('is fed each tick with the sum of every torrent’s rates (the source keeps it)', () => {
    const h = new RateHistory();
    let listener: ((t: StatsTick) => void) | undefined;
    const off = followRates(h, { onTick: (l) => ((listener = l), () => (listener = undefined)) }, () => T0);
    listener!({ changed: [], removed: [], downloadRate: 150, uploadRate: 12, all: () => [] });
    expect(h.series()).toEqual({ t: [T0 / 1000], down: [150], up: [12] });
    off();
    expect(listener).toBeUndefined();
  });
});

describe("serve's fleet of one", () => {
  it('is always itself, live, as it is now', () => {
    let ready: true | string = 'starting';
    const view = new LocalFleetView(() => hb('serve', 'box', { sentAt: T0 + 5000, ready, figures: { torrents: 2 } }), { onTick: () => () => {} });
    expect(view.members(T0 + 5000)).toEqual([expect.objectContaining({ kind: 'serve', instance: 'box', status: 'live', ready: 'starting', uptimeSeconds: 65, figures: { torrents: 2 } })]);
    ready = true;
    expect(view.members(T0 + 5000)[0]!.ready).toBe(true);
    expect(view.history()).toEqual({ t: [], down: [], up: [] });
  });
});
