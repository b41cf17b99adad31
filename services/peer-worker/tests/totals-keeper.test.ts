import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addTotals, LocalFleetStore, ZERO_TOTALS, type FleetStore, type TorrentTotals } from '@seedbox/cluster';
import { silentLogger } from '@seedbox/runtime';
import { TotalsKeeper } from '../src/fleet/totals-keeper.js';
import type { TorrentSnapshot } from '../src/torrent.js';

const HEX = 'ab'.repeat(20);
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function snap(p: Partial<TorrentSnapshot>): TorrentSnapshot {
  return { infoHash: HEX, state: 'downloading', uploaded: 0, downloaded: 0, complete: false, ...p } as TorrentSnapshot;
}

async function keeper(): Promise<TotalsKeeper> {
  dir = mkdtempSync(join(tmpdir(), 'totals-'));
  const k = new TotalsKeeper(await LocalFleetStore.open(dir), silentLogger);
  await k.start();
  return k;
}

describe('TotalsKeeper', () => {
  it('counts a run from its first tick: a download done within one tick is counted whole', async () => {
    const k = await keeper();
    k.record(snap({ downloaded: 5 << 20, state: 'seeding', complete: true }), 1_000, true);
    expect(k.get(HEX)).toMatchObject({ downloaded: 5 << 20, uploaded: 0, seedingMs: 0, completedAt: 1_000, lastActivityAt: 1_000 });
    k.record(snap({ downloaded: 5 << 20, uploaded: 1 << 20, state: 'seeding', complete: true }), 2_000, true);
    expect(k.get(HEX)).toMatchObject({ downloaded: 5 << 20, uploaded: 1 << 20, seedingMs: 1_000, completedAt: 1_000 });
    await k.flush();
    expect(k.get(HEX)).toMatchObject({ downloaded: 5 << 20, uploaded: 1 << 20 });
    k.stop();
  });

  it('a new run (counters from zero again) adds to what the last ones moved; time only for the worker that keeps the clock', async () => {
    const k = await keeper();
    k.record(snap({ downloaded: 300 }), 1_000, false);
    k.record(snap({ downloaded: 500 }), 2_000, false);
    k.endRun(HEX);
    k.record(snap({ downloaded: 40 }), 3_000, false);
    // Made again without endRun: a smaller counter is a new run too.
    k.record(snap({ downloaded: 10 }), 4_000, false);
    expect(k.get(HEX)).toMatchObject({ downloaded: 550, activeMs: 0 });
    k.stop();
  });

  it('hands time alone over every timeOnlyEveryMs, bytes and completion at the next flush, everything after stop()', async () => {
    const store = new CountingStore();
    let now = 0;
    const k = new TotalsKeeper(store.asFleetStore(), silentLogger, { timeOnlyEveryMs: 300_000, now: () => now });
    await k.start();
    const hexes = Array.from({ length: 100 }, (_, i) => i.toString(16).padStart(40, '0'));
    const tick = (uploaded: (i: number) => number = () => 0): void => {
      now += 1000;
      hexes.forEach((hex, i) => k.record(snap({ infoHash: hex, state: 'seeding', complete: true, uploaded: uploaded(i) }), now, true));
    };
    tick();
    // Each one's completion is news.
    await k.flush();
    expect(store.calls).toBe(100);
    // 100 seeds, nothing moving, a flush every 30 ticks as the runner does: nothing to write for 5 minutes.
    for (let t = 1; t < 299; t++) {
      tick();
      if (t % 30 === 0) await k.flush();
    }
    expect(store.calls).toBe(100);
    // The time is counted all along, for this process's own readers.
    expect(k.get(hexes[0]!).seedingMs).toBe(298_000);
    // One torrent uploads: its bytes (and its time with them) go at the next flush.
    tick((i) => (i === 5 ? 1234 : 0));
    await k.flush();
    expect(store.calls).toBe(101);
    expect(store.totals.get(hexes[5]!)).toMatchObject({ uploaded: 1234, seedingMs: 299_000 });
    // Five minutes after their first unflushed second, the rest.
    tick();
    tick();
    await k.flush();
    expect(store.calls).toBe(200);
    expect(store.totals.get(hexes[0]!)?.seedingMs).toBe(301_000);
    // The last flush, after stop(), hands over whatever is left.
    tick();
    await k.flush();
    expect(store.calls).toBe(200);
    k.stop();
    await k.flush();
    expect(store.calls).toBe(300);
    expect(store.totals.get(hexes[0]!)?.seedingMs).toBe(302_000);
    expect(store.maxInFlight).toBeGreaterThan(1);
  });

  it('counts time with no record while nothing changes, by what each torrent last did, exactly, across flushes and to the last flush', async () => {
    const store = new CountingStore();
    let now = 1000;
    const k = new TotalsKeeper(store.asFleetStore(), silentLogger, { timeOnlyEveryMs: 300_000, now: () => now });
    await k.start();
    const [A, B, C] = ['a', 'b', 'c'].map((x) => x.repeat(40)) as [string, string, string];
    k.record(snap({ infoHash: A, state: 'seeding', complete: true }), now, true);
    k.record(snap({ infoHash: B, state: 'downloading' }), now, true);
    // Seeded here too, but another worker keeps its clock.
    k.record(snap({ infoHash: C, state: 'seeding', complete: true }), now, false);
    const records = vi.spyOn(k, 'record');
    // Ten minutes of ticks with nothing changing: the runner moves the clock, and flushes every 30 ticks.
    for (let t = 2; t <= 601; t++) {
      now = t * 1000;
      k.advance(now);
      if (t % 30 === 0) await k.flush();
    }
    expect(records).not.toHaveBeenCalled();
    expect(k.get(A)).toMatchObject({ seedingMs: 600_000, activeMs: 600_000 });
    expect(k.get(B)).toMatchObject({ seedingMs: 0, activeMs: 600_000 });
    expect(k.get(C)).toMatchObject({ seedingMs: 0, activeMs: 0 });
    // The completions at once (A's with its first 29 s), then time alone once it waited five minutes: B at 330 s, A at 360 s.
    expect(store.calls).toBe(4);
    k.stop();
    await k.flush();
    expect(store.calls).toBe(6);
    expect(store.totals.get(A)).toMatchObject({ seedingMs: 600_000, activeMs: 600_000, completedAt: 1000 });
    expect(store.totals.get(B)).toMatchObject({ seedingMs: 0, activeMs: 600_000 });
    expect(store.totals.get(C)).toMatchObject({ seedingMs: 0, activeMs: 0, completedAt: 1000 });
  });

  it('stops counting at a change of state, moves the clock to the new owner, counts a run to its end, and a stall as 5 s', async () => {
    let now = 0;
    const k = new TotalsKeeper(new CountingStore().asFleetStore(), silentLogger, { now: () => now });
    await k.start();
    const [A, B] = ['a', 'b'].map((x) => x.repeat(40)) as [string, string];
    const ticks = (n: number): void => {
      for (let i = 0; i < n; i++) k.advance((now += 1000));
    };
    k.record(snap({ infoHash: A, state: 'seeding', complete: true }), now, true);
    k.record(snap({ infoHash: B, state: 'seeding', complete: true }), now, false);
    ticks(10);
    k.record(snap({ infoHash: A, state: 'paused', complete: true }), now, true);
    ticks(10);
    expect(k.get(A).seedingMs).toBe(10_000);
    // The owners moved: B's clock is kept here from now, A's is not (it counts nothing while paused anyway).
    k.recount((hex) => hex === B);
    ticks(7);
    expect(k.get(B).seedingMs).toBe(7_000);
    // A stall (a suspended process) counts as 5 s, not a minute.
    k.advance((now += 60_000));
    expect(k.get(B).seedingMs).toBe(12_000);
    // The run ends: its time counts to the last tick, and no further.
    k.endRun(B);
    ticks(3);
    expect(k.get(B).seedingMs).toBe(12_000);
  });

  it('keeps a delta whose hand-over failed, and counts it once when it goes', async () => {
    const store = new CountingStore();
    const k = new TotalsKeeper(store.asFleetStore(), silentLogger);
    await k.start();
    k.record(snap({ uploaded: 100 }), 1_000, true);
    store.failing = true;
    await k.flush();
    expect(k.get(HEX).uploaded).toBe(100);
    k.record(snap({ uploaded: 150 }), 2_000, true);
    store.failing = false;
    await k.flush();
    expect(store.totals.get(HEX)).toMatchObject({ uploaded: 150, activeMs: 1_000 });
    expect(k.get(HEX).uploaded).toBe(150);
  });

  it('drops what a removed torrent had still to hand over', async () => {
    const store = new CountingStore();
    const k = new TotalsKeeper(store.asFleetStore(), silentLogger);
    await k.start();
    k.record(snap({ uploaded: 100 }), 1_000, true);
    await k.flush();
    k.record(snap({ uploaded: 300 }), 2_000, true);
    store.remove(HEX);
    await k.flush();
    expect(store.totals.has(HEX)).toBe(false);
    expect(k.get(HEX).uploaded).toBe(0);
  });
});

/** A FleetStore's totals in memory, counting the hand-overs and how many run at once. */
class CountingStore {
  readonly totals = new Map<string, TorrentTotals>();
  calls = 0;
  maxInFlight = 0;
  failing = false;
  private inFlight = 0;
  private listener: ((hex: string, t: TorrentTotals | undefined) => void) | undefined;

  asFleetStore(): FleetStore {
    return {
      watchTotals: async (onChange: (hex: string, t: TorrentTotals | undefined) => void) => {
        this.listener = onChange;
        return () => (this.listener = undefined);
      },
      addTotals: async (hex: string, delta: TorrentTotals) => {
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        await new Promise((r) => setImmediate(r));
        this.inFlight--;
        if (this.failing) throw new Error('the store is down');
        this.calls++;
        const next = addTotals(this.totals.get(hex) ?? ZERO_TOTALS, delta);
        this.totals.set(hex, next);
        this.listener?.(hex, next);
        return next;
      },
    } as unknown as FleetStore;
  }

  remove(hex: string): void {
    this.totals.delete(hex);
    this.listener?.(hex, undefined);
  }
}
