/**
 * What FleetRunner runs, as the shared state changes, on a state folder
 * (LocalFleetStore, as `seedbox serve` has it) and the engine of
 * fake-engine.ts: the registry's desired states, settings, rechecks and
 * pieces; the queue and its slow torrents; seed replicas across workers as
 * they come and go; moves; magnets' retries; seeding rules; and that the
 * work is done once per change (sync passes coalesce, and reconcile only
 * what an event named).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Bitfield } from '@seedbox/protocol';
import { defaultTorrentSettings, ZERO_TOTALS, type FleetConfig, type QueueConfig } from '@seedbox/cluster';
import type { StatsTick, TorrentStatsView } from '../src/control/backend.js';
import type { EngineTick } from '../src/engine.js';
import { amongReplicas } from '../src/fleet/rendezvous.js';
import { SHARE_TIME_EVERY_TICKS, ShareRules } from '../src/fleet/share-rules.js';
import { FakeEngine } from './support/fake-engine.js';
import { entryFor, LocalFleetStore, register, sleep, startRunner, stateDir, until } from './support/runner-harness.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function openStore(): Promise<LocalFleetStore> {
  const store = await LocalFleetStore.open(await stateDir(cleanups));
  cleanups.unshift(() => store.flush());
  return store;
}

const queue = (over: Partial<QueueConfig>) => (c: FleetConfig): FleetConfig => ({ ...c, queue: { ...c.queue, enabled: true, ...over } });

describe('FleetRunner', () => {
  it('runs what the registry says: pause, resume, remove, settings, rechecks, and pieces another worker verified', async () => {
    const store = await openStore();
    const [a, b, c] = await register(store, 3);
    const h = await startRunner(store, cleanups);
    await until(() => h.engine.torrents.size === 3, 'three runs');

    await store.setDesired(a!, 'paused');
    await until(() => !h.engine.torrents.has(a!), 'the paused torrent to stop');
    expect(h.closed).toEqual([a]);
    expect(h.runner.pausedCount).toBe(1);
    expect(h.runner.queued(a!)).toBe(false);
    await store.setDesired(a!, 'running');
    await until(() => h.engine.torrents.has(a!), 'the resumed torrent to run');

    await store.updateTorrent(b!, (e) => ({ ...e, settings: { ...e.settings, sequential: true, limits: { download: 1000, upload: 0 } } }));
    await store.requestRecheck(b!);
    await h.runner.settled();
    const tb = h.engine.torrents.get(b!)!;
    expect(tb.settingsCalls.sort()).toEqual(['limits', 'sequential']);
    expect(tb.rechecks).toBe(1);

    // A previous owner's pieces, in the fleet's bitfield: this run serves them too.
    await store.mergeBitfield(c!, 4, [0, 1]);
    await h.runner.settled();
    expect([...h.engine.torrents.get(c!)!.have.setIndices()]).toEqual([0, 1]);
    expect(h.runner.doneBytes(c!)).toBe(2 * 16384);

    // settled() answers once the removal is carried out (serve deletes the files after it).
    await store.removeTorrent(c!);
    await h.runner.settled();
    expect(h.closed).toContain(c);
    expect(h.engine.torrents.has(c!)).toBe(false);
    expect(h.runner.runningTorrents.sort()).toEqual([a, b].sort());
  });

  it('adopts the pieces the fleet verified while the check trusted an older record', async () => {
    const store = await openStore();
    const [a] = await register(store, 1);
    const h = await startRunner(store, cleanups, { checkMs: 100 });
    await until(() => h.engine.torrents.has(a!), 'the run');
    // Its check read the record (nothing) and is still going: the previous owner's last pieces come in now.
    await store.mergeBitfield(a!, 4, [0, 2]);
    await until(() => h.engine.torrents.get(a!)!.adopted === 1, 'the pieces to be adopted after the check');
    expect([...h.engine.torrents.get(a!)!.have.setIndices()]).toEqual([0, 2]);
  });

  it("hands a tick's verified pieces to the fleet's bitfield before its figures go out, so a reader that sees them finds the pieces too", async () => {
    const store = await openStore();
    const [a] = await register(store, 1);
    const seen: (number | undefined)[] = [];
    const h = await startRunner(store, cleanups, { onTick: () => seen.push(h.runner.doneBytes(a!)) });
    await until(() => h.engine.torrents.has(a!), 'the run');
    const run = h.engine.torrents.get(a!)!;
    run.verify(0);
    run.verify(3);
    h.engine.tick();
    await until(() => seen.length === 1, 'the figures');
    expect(seen).toEqual([16384 + 16384 - 100]);
  });

  it('carries the changes of a tick whose figures were overtaken (its flush ended after a later one) into the figures that go out', async () => {
    const store = await openStore();
    const [a] = await register(store, 1);
    const seen: EngineTick[] = [];
    const h = await startRunner(store, cleanups, { onTick: (t) => seen.push(t) });
    await until(() => h.engine.torrents.has(a!), 'the run');
    h.engine.tick();
    await until(() => seen.length === 1, 'the first figures');
    const merge = store.mergeBitfield.bind(store);
    let release: () => void = () => {};
    vi.spyOn(store, 'mergeBitfield').mockImplementationOnce(async (...args) => {
      await new Promise<void>((r) => (release = r));
      return merge(...args);
    });
    h.engine.torrents.get(a!)!.verify(0);
    // This tick's figures wait for its piece to be merged; the next one's do not.
    h.engine.tick();
    h.engine.tick();
    await until(() => seen.length === 2, 'the later figures');
    expect(seen[1]!.changed.map((s) => s.infoHash)).toEqual([a]);
    release();
    await sleep(50);
    expect(seen).toHaveLength(2);
  });

  it("makes a few passes for 1,000 torrents' entries and bitfields, each torrent reconciled once, not a pass over all per event", async () => {
    const store = await openStore();
    await register(store, 1000, { complete: true });
    const h = await startRunner(store, cleanups);
    await until(() => h.engine.torrents.size === 1000, 'every torrent to run');
    await h.runner.settled();
    expect(h.runner.syncFigures.passes).toBeLessThan(10);
    expect(h.runner.syncFigures.reconciled).toBeLessThanOrEqual(2000);
    // A run is looked at when its own torrent changed, not when any did.
    expect(h.engine.haveReads).toBeLessThanOrEqual(1000);
  });

  it('runs the queue: the first downloads in order, the next when one completes, a torrent moved to the top first, all when queueing is off', async () => {
    const store = await openStore();
    const [a, b, c] = await register(store, 3);
    await store.updateConfig(queue({ maxActiveDownloads: 1, maxActiveSeeds: 5, maxActiveTorrents: 5, ignoreSlow: false }));
    const h = await startRunner(store, cleanups);
    await until(() => h.engine.torrents.size === 1, 'one download');
    expect(h.engine.torrents.has(a!)).toBe(true);
    expect([a, b, c].map((x) => h.runner.queued(x!))).toEqual([false, true, true]);

    // a completes (another worker's pieces, say): a seed now, and b's turn.
    await store.replaceBitfield(a!, Bitfield.full(4));
    await until(() => h.engine.torrents.has(b!), 'the next download');
    expect(h.engine.torrents.has(a!)).toBe(true);
    expect(h.runner.queued(c!)).toBe(true);

    await store.updateTorrent(c!, (e) => ({ ...e, settings: { ...e.settings, queueKey: -1 } }));
    await until(() => h.engine.torrents.has(c!) && !h.engine.torrents.has(b!), 'the torrent moved to the top to replace the other');

    await store.updateConfig((cfg) => ({ ...cfg, queue: { ...cfg.queue, enabled: false } }));
    await until(() => h.engine.torrents.size === 3, 'every torrent to run');
  });

  it('leaves a slow download out of the count, so the next starts beside it, and back in once it is fast again', async () => {
    const store = await openStore();
    const [a, b] = await register(store, 2);
    await store.updateConfig(queue({ maxActiveDownloads: 1, ignoreSlow: true, slowSeconds: 0, slowDownloadRate: 100, slowUploadRate: 100 }));
    const listeners = new Set<(t: StatsTick) => void>();
    const figures = (rate: number) => {
      const changed = [{ infoHashHex: a!, downloadRate: rate, uploadRate: 0 } as TorrentStatsView];
      for (const l of listeners) l({ changed, removed: [], downloadRate: rate, uploadRate: 0, all: () => changed });
    };
    const h = await startRunner(store, cleanups, { stats: { get: () => undefined, onTick: (l) => (listeners.add(l), () => listeners.delete(l)) } });
    await until(() => h.engine.torrents.has(a!), 'the first download');
    figures(5000);
    await h.runner.settled();
    expect(h.engine.torrents.has(b!)).toBe(false);
    const passes = h.runner.syncFigures.passes;
    // The same figures again change nothing: no pass.
    figures(5000);
    expect(h.runner.syncFigures.passes).toBe(passes);
    figures(0);
    await until(() => h.engine.torrents.has(b!), 'the next download beside the slow one');
    figures(5000);
    await until(() => !h.engine.torrents.has(b!), 'the next one to wait again');
  });

  it('seeds each complete torrent from its replicas, on every worker with 0, and takes over the seeds of a worker that leaves', async () => {
    const store = await openStore();
    const hexes = await register(store, 30, { complete: true });
    await store.updateConfig((c) => ({ ...c, seedReplicas: 1 }));
    const w1 = await startRunner(store, cleanups, { workerId: 'w1' });
    const w2 = await startRunner(store, cleanups, { workerId: 'w2' });
    const share = (w: string) => hexes.filter((hex) => amongReplicas(['w1', 'w2'], hex, w, 1)).sort();
    const runs = (h: typeof w1) => [...h.engine.torrents.keys()].sort();
    await until(() => runs(w1).join() === share('w1').join() && runs(w2).join() === share('w2').join(), 'each worker to seed its share');
    expect(share('w1').length + share('w2').length).toBe(30);

    await store.updateConfig((c) => ({ ...c, seedReplicas: 0 }));
    await until(() => w1.engine.torrents.size === 30 && w2.engine.torrents.size === 30, 'both to seed everything');
    await store.updateConfig((c) => ({ ...c, seedReplicas: 1 }));
    await until(() => runs(w1).join() === share('w1').join() && runs(w2).join() === share('w2').join(), 'the shares again');

    await w2.runner.stop();
    await until(() => w1.engine.torrents.size === 30, "w1 to take w2's seeds over");
  });

  it("moves a download's data once its run is closed, then runs it from the new folder; a move whose outcome could not be recorded is made again", async () => {
    const store = await openStore();
    const [a] = await register(store, 1);
    const moves: { running: boolean; closed: number }[] = [];
    let h: Awaited<ReturnType<typeof startRunner>> | undefined = undefined;
    const updates = vi.spyOn(store, 'updateTorrent');
    h = await startRunner(store, cleanups, {
      moveData: async () => {
        moves.push({ running: h!.engine.torrents.has(a!), closed: h!.closed.length });
        // The first move's outcome cannot be written, neither as done nor as failed.
        if (moves.length === 1) updates.mockRejectedValueOnce(new Error('store down')).mockRejectedValueOnce(new Error('store down'));
      },
    });
    await until(() => h!.engine.torrents.has(a!), 'the download');
    await store.updateTorrent(a!, (e) => ({ ...e, moveTo: 'elsewhere' }));
    await until(() => moves.length === 2, 'the move, made again');
    expect(moves).toEqual([
      { running: false, closed: 1 },
      { running: false, closed: 1 },
    ]);
    await until(() => h!.engine.torrents.has(a!), 'the download to run again');
    expect(h.opened.map((o) => o.savePath)).toEqual([undefined, 'elsewhere']);
    expect((await store.getTorrent(a!))!.moveTo).toBeUndefined();
  });

  it('tries a magnet again after its retry time, with nothing else changing', async () => {
    const store = await openStore();
    const hex = 'ab'.repeat(20);
    await store.addTorrent({ infoHashHex: hex, torrentFile: new Uint8Array(0), magnet: `magnet:?xt=urn:btih:${hex}&tr=http%3A%2F%2Ft.invalid%2Fa`, desired: 'running', addedAt: 1, rechecks: 0, settings: defaultTorrentSettings(1) });
    const fake = new FakeEngine();
    let fetches = 0;
    fake.fetchMetadata = async () => {
      fetches++;
      throw new Error('no peers');
    };
    await startRunner(store, cleanups, { metadataRetryMs: 50, fake });
    await until(() => fetches >= 3, 'three attempts');
  });

  it("pauses a complete torrent at its ratio limit, by its owner's tick, and leaves one without limits", async () => {
    const store = await openStore();
    const limited = entryFor(0, { settings: { ...defaultTorrentSettings(0), share: { ratio: 0, seedingMinutes: -1, inactiveMinutes: -1 } } });
    const free = entryFor(1);
    for (const e of [limited, free]) {
      await store.addTorrent(e);
      await store.replaceBitfield(e.infoHashHex, Bitfield.full(4));
    }
    const h = await startRunner(store, cleanups);
    await until(() => h.engine.torrents.size === 2 && [...h.engine.torrents.values()].every((t) => t.snapshot().complete), 'both seeds, checked');
    h.engine.tick();
    await until(() => !h.engine.torrents.has(limited.infoHashHex), 'the limited seed to stop');
    expect(await store.getTorrent(limited.infoHashHex)).toMatchObject({ desired: 'paused', limitReached: 'ratio' });
    h.engine.tick();
    expect((await store.getTorrent(free.infoHashHex))!.desired).toBe('running');
  });

  it('pauses a seed at its seeding-time limit with its figures unchanged, judging only the torrents with a limit, and not every tick', async () => {
    const store = await openStore();
    const limited = entryFor(0, { settings: { ...defaultTorrentSettings(0), share: { ratio: -1, seedingMinutes: 1, inactiveMinutes: -1 } } });
    const free = entryFor(1);
    for (const e of [limited, free]) {
      await store.addTorrent(e);
      await store.replaceBitfield(e.infoHashHex, Bitfield.full(4));
    }
    // 50 s seeded already: 10 s to go.
    await store.addTotals(limited.infoHashHex, { ...ZERO_TOTALS, seedingMs: 50_000, completedAt: 1 });
    const h = await startRunner(store, cleanups);
    await until(() => h.engine.torrents.size === 2 && [...h.engine.torrents.values()].every((t) => t.snapshot().complete), 'both seeds, checked');
    const judged = vi.spyOn(ShareRules.prototype as unknown as { judge(hex: string): void }, 'judge');
    const t0 = Date.now();
    // Both are new at the first tick: the limited one is judged at once, the other not at all.
    h.engine.tick(t0);
    expect(judged.mock.calls.map((c) => c[0])).toEqual([limited.infoHashHex]);
    // Then nothing changes but the time: judged again every SHARE_TIME_EVERY_TICKS ticks.
    for (let i = 1; i < 2 * SHARE_TIME_EVERY_TICKS; i++) h.engine.tick(t0 + i * 1000);
    expect(judged.mock.calls.map((c) => c[0])).toEqual([limited.infoHashHex, limited.infoHashHex, limited.infoHashHex]);
    await until(() => !h.engine.torrents.has(limited.infoHashHex), 'the limited seed to stop');
    expect(await store.getTorrent(limited.infoHashHex)).toMatchObject({ desired: 'paused', limitReached: 'seeding-time' });
    expect((await store.getTorrent(free.infoHashHex))!.desired).toBe('running');
  });
});
