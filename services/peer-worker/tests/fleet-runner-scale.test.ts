/**
 * FleetRunner at 10,000 torrents (issue 20): `seedbox serve` restarting
 * over a state folder of 10,000 complete torrents (a real LocalFleetStore,
 * opened from disk), on the engine of fake-engine.ts. What is measured is
 * the runner's work, counted: sync passes, torrents reconciled, runs looked
 * at, rendezvous rankings, closes at once; not the wall clock.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { amongReplicas } from '../src/fleet/rendezvous.js';
import { CLOSE_CONCURRENCY } from '../src/fleet/fleet-runs.js';
import { ShareRules } from '../src/fleet/share-rules.js';
import { TotalsKeeper } from '../src/fleet/totals-keeper.js';
import { LocalFleetStore, register, sleep, startRunner, stateDir, until } from './support/runner-harness.js';

const N = 10_000;
const cleanups: (() => Promise<void> | void)[] = [];
const fileCleanups: (() => Promise<void> | void)[] = [];
let store: LocalFleetStore;
let hexes: string[];

beforeAll(async () => {
  const dir = await stateDir(fileCleanups);
  hexes = await register(await LocalFleetStore.open(dir), N, { complete: true });
  // A restart: everything read back from the folder.
  store = await LocalFleetStore.open(dir);
}, 120_000);
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  for (const c of fileCleanups.splice(0)) await c();
});

describe('FleetRunner at 10,000 torrents', () => {
  it('starts each torrent after one reconcile, then does nothing while nothing changes; one change is one reconcile; stops 32 closes at a time', async () => {
    // A close that takes a while, as closing a torrent's files does: one at a time, 10,000 took minutes.
    const h = await startRunner(store, cleanups, { closeMs: 2 });
    await until(() => h.engine.torrents.size === N, 'every torrent to run', 30_000);
    await h.runner.settled();
    const started = h.runner.syncFigures;
    // The watches brought 20,000 events (an entry and a bitfield each): a few passes, not 20,000.
    expect(started.passes).toBeLessThan(10);
    expect(started.reconciled).toBeLessThanOrEqual(2 * N);
    expect(h.engine.added).toHaveLength(N);
    expect(h.engine.haveReads).toBeLessThanOrEqual(N);

    // Idle: ticks and membership refreshes (every 20 ms here) come and go, and no torrent is looked at.
    const haveReads = h.engine.haveReads;
    for (let i = 0; i < 5; i++) {
      h.engine.tick();
      await sleep(40);
    }
    expect(h.runner.syncFigures).toEqual(started);
    expect(h.engine.haveReads).toBe(haveReads);
    // A speed limit changes nothing any torrent's placement depends on.
    await store.updateConfig((c) => ({ ...c, speed: { download: 1000, upload: 1000 } }));
    await h.runner.settled();
    expect(h.runner.syncFigures.reconciled).toBe(started.reconciled);

    // One torrent paused: that one torrent is reconciled, and stops.
    await store.setDesired(hexes[5]!, 'paused');
    await until(() => !h.engine.torrents.has(hexes[5]!), 'the paused torrent to stop');
    expect(h.runner.syncFigures.reconciled).toBe(started.reconciled + 1);
    expect(h.runner.pausedCount).toBe(1);
    await store.setDesired(hexes[5]!, 'running');
    await until(() => h.engine.torrents.has(hexes[5]!), 'the resumed torrent to run');

    const merges = vi.spyOn(store, 'mergeBitfield');
    let open = 0;
    let most = 0;
    const close = h.engine.remove.bind(h.engine);
    h.engine.remove = async (hex) => {
      most = Math.max(most, ++open);
      await sleep(1);
      open--;
      return close(hex);
    };
    await h.runner.stop();
    expect(h.closed).toHaveLength(N + 1);
    // Nothing was left unsaved: no store round trip per torrent.
    expect(merges).not.toHaveBeenCalled();
    merges.mockRestore();
    // The engine had stopped them all already; the closes ran side by side, bounded.
    expect(most).toBe(CLOSE_CONCURRENCY);
  }, 120_000);

  it('completions close together share one early tick (a snapshot of every torrent), not one each', async () => {
    const h = await startRunner(store, cleanups);
    await until(() => h.engine.torrents.size === N, 'every torrent to run', 30_000);
    await h.runner.settled();
    const snapshots = vi.spyOn(h.engine, 'snapshot');
    for (const t of [...h.engine.torrents.values()].slice(0, 1000)) t.emit('complete');
    await sleep(600);
    expect(snapshots).toHaveBeenCalledTimes(1);
    // A later completion has a tick of its own.
    h.engine.torrents.get(hexes[2000]!)!.emit('complete');
    await sleep(600);
    expect(snapshots).toHaveBeenCalledTimes(2);
    snapshots.mockRestore();
  }, 60_000);

  it('ranks each torrent among the workers once, not at every tick; a worker leaving moves only the torrents it seeded', async () => {
    await store.putWorker({ workerId: 'w2', peerIdHex: '00'.repeat(20), port: 1, time: Date.now() });
    await store.putWorker({ workerId: 'w3', peerIdHex: '00'.repeat(20), port: 1, time: Date.now() });
    const h = await startRunner(store, cleanups);
    const mine = (workers: string[]): string[] => hexes.filter((hex) => amongReplicas(workers, hex, 'w1', 2));
    const three = mine(['w1', 'w2', 'w3']);
    await until(() => h.engine.torrents.size === three.length, 'its share of the seeds to run', 30_000);
    await h.runner.settled();
    const ranked = h.runner.syncFigures.ranked;
    expect(ranked).toBeLessThanOrEqual(N);
    for (let i = 0; i < 5; i++) h.engine.tick();
    expect(h.runner.syncFigures.ranked).toBe(ranked);

    const before = h.runner.syncFigures;
    await store.removeWorker('w3');
    const two = mine(['w1', 'w2']);
    await until(() => h.engine.torrents.size === two.length, 'the seeds w3 left to run here');
    // Every torrent is looked at once, and only those whose seeders changed start.
    expect(h.runner.syncFigures.reconciled - before.reconciled).toBe(N);
    expect(h.engine.added).toHaveLength(three.length + (two.length - three.length));
    expect([...h.engine.torrents.keys()].sort()).toEqual([...two].sort());
    await store.removeWorker('w2');
  }, 120_000);

  it("an idle tick records no totals and judges no seeding rule; one torrent that moves is recorded alone; every torrent's time stays exact", async () => {
    const h = await startRunner(store, cleanups);
    await until(() => h.engine.torrents.size === N, 'every torrent to run', 30_000);
    await h.runner.settled();
    const t0 = Date.now();
    // The first tick: every torrent is new.
    h.engine.tick(t0);
    const before = h.runner.totals(hexes[7]!)!;
    const records = vi.spyOn(TotalsKeeper.prototype, 'record');
    const seen = vi.spyOn(ShareRules.prototype, 'seen');
    const judged = vi.spyOn(ShareRules.prototype as unknown as { judge(hex: string): void }, 'judge');
    // 40 ticks, a totals flush among them (every 30).
    for (let i = 1; i <= 40; i++) h.engine.tick(t0 + i * 1000);
    expect(records).not.toHaveBeenCalled();
    expect(seen).not.toHaveBeenCalled();
    expect(judged).not.toHaveBeenCalled();
    expect(h.runner.totals(hexes[7]!)!.seedingMs - before.seedingMs).toBe(40_000);
    expect(h.runner.totals(hexes[9_999]!)!.activeMs - before.activeMs).toBe(40_000);

    const moving = h.engine.torrents.get(hexes[7]!)!;
    moving.uploaded = 5000;
    moving.changed();
    h.engine.tick(t0 + 41_000);
    expect(records).toHaveBeenCalledTimes(1);
    expect(seen).toHaveBeenCalledTimes(1);
    expect(h.runner.totals(hexes[7]!)).toMatchObject({ uploaded: before.uploaded + 5000, seedingMs: before.seedingMs + 41_000 });
    records.mockRestore();
    seen.mockRestore();
    judged.mockRestore();
  }, 120_000);
});
