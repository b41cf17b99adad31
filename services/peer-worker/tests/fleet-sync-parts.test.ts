/**
 * The parts that keep FleetRunner's sync incremental: coalesced passes over
 * dirty marks, the queue's answer kept between passes, what a bitfield
 * says read once per change, rendezvous rankings kept per membership, and
 * a membership read that says whether it changed.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { Bitfield } from '@seedbox/protocol';
import { defaultFleetConfig, LocalFleetStore, type RegistryEntry } from '@seedbox/cluster';
import { silentLogger } from '@seedbox/runtime';
import { FleetPicture } from '../src/fleet/fleet-picture.js';
import { activeTorrents, SlowWatch } from '../src/fleet/fleet-policy.js';
import { LiveWorkers } from '../src/fleet/live-workers.js';
import { QueueGate } from '../src/fleet/queue-gate.js';
import { amongReplicas, rendezvousOwner, RendezvousCache } from '../src/fleet/rendezvous.js';
import { SyncPasses, type SyncWork } from '../src/fleet/sync-passes.js';
import { eachLimited } from '../src/fleet/fleet-runs.js';
import { entryFor, sleep, stateDir } from './support/runner-harness.js';

const work = (torrents: string[] = [], over: Partial<SyncWork> = {}): SyncWork => ({ all: false, torrents: new Set(torrents), queue: false, ...over });

describe('SyncPasses', () => {
  it('runs one pass for any number of events, one more for those during it, each taking the marks made before it started', async () => {
    const taken: SyncWork[] = [];
    let release: () => void = () => {};
    const passes = new SyncPasses(async (w) => {
      taken.push(w);
      if (taken.length === 1) await new Promise<void>((r) => (release = r));
    }, (e) => { throw e; });
    for (let i = 0; i < 1000; i++) {
      passes.markTorrent(`t${i % 10}`);
      void passes.schedule();
    }
    while (taken.length === 0) await sleep(1);
    // The first pass is under way: these 1,000 events make one pass more, not 1,000.
    for (let i = 0; i < 1000; i++) {
      passes.markTorrent(`u${i % 3}`);
      void passes.schedule();
    }
    passes.markAll();
    const last = passes.schedule();
    release();
    await last;
    expect(taken.map((w) => [w.all, [...w.torrents].length])).toEqual([
      [false, 10],
      [true, 3],
    ]);
    expect(passes.passes).toBe(2);
    expect(passes.pending).toBe(false);
  });

  it('keeps the marks of a pass that failed for the next one', async () => {
    let fail = true;
    const taken: SyncWork[] = [];
    const errors: unknown[] = [];
    const passes = new SyncPasses(async (w) => {
      taken.push(w);
      if (fail) throw new Error('store down');
    }, (e) => errors.push(e));
    passes.markTorrent('a');
    passes.markQueue();
    await passes.schedule();
    expect(errors).toHaveLength(1);
    expect(passes.pending).toBe(true);
    fail = false;
    passes.markTorrent('b');
    await passes.schedule();
    expect([...taken[1]!.torrents].sort()).toEqual(['a', 'b']);
    expect(taken[1]!.queue).toBe(true);
  });
});

describe('FleetPicture', () => {
  const e = entryFor(1);
  const hex = e.infoHashHex;

  it('reads a bitfield once per change of its bytes', () => {
    const p = new FleetPicture();
    p.setEntry(hex, e);
    const meta = p.get(hex)!.meta;
    const half = new Bitfield(4);
    half.set(0);
    half.set(1);
    p.setBits(hex, half.toBytes());
    const first = p.bitfield(hex, meta);
    expect(first.count).toBe(2);
    expect(p.isComplete(hex, meta)).toBe(false);
    expect(p.bitfield(hex, meta)).toBe(first);
    expect(p.doneBytes(hex)).toBe(2 * 16384);
    p.setBits(hex, Bitfield.full(4).toBytes());
    expect(p.bitfield(hex, meta)).not.toBe(first);
    expect(p.isComplete(hex, meta)).toBe(true);
    expect(p.isDone(hex, e, meta)).toBe(true);
    p.setBits(hex, undefined);
    expect(p.bitfield(hex, meta).count).toBe(0);
  });

  it('answers whether the wanted pieces are there, worked out again when the bitfield or the file priorities change', () => {
    const p = new FleetPicture();
    const multi = entryFor(2);
    p.setEntry(multi.infoHashHex, multi);
    const meta = p.get(multi.infoHashHex)!.meta;
    const skipNone = { ...multi, settings: { ...multi.settings, filePriorities: ['normal' as const] } };
    expect(p.isDone(multi.infoHashHex, skipNone, meta)).toBe(false);
    const three = new Bitfield(4);
    for (const i of [0, 1, 2]) three.set(i);
    p.setBits(multi.infoHashHex, three.toBytes());
    expect(p.isDone(multi.infoHashHex, skipNone, meta)).toBe(false);
    // Its one file skipped: nothing is wanted, so nothing is missing.
    expect(p.isDone(multi.infoHashHex, { ...multi, settings: { ...multi.settings, filePriorities: ['skip' as const] } }, meta)).toBe(true);
    expect(p.isDone(multi.infoHashHex, skipNone, meta)).toBe(false);
    p.setBits(multi.infoHashHex, Bitfield.full(4).toBytes());
    expect(p.isDone(multi.infoHashHex, skipNone, meta)).toBe(true);
  });

  it('keeps the count of paused entries as they change, magnets awaiting their metadata included', () => {
    const p = new FleetPicture();
    const magnet: RegistryEntry = { ...e, torrentFile: new Uint8Array(0), magnet: `magnet:?xt=urn:btih:${hex}`, desired: 'paused' };
    p.setEntry(hex, magnet);
    expect(p.pausedCount).toBe(1);
    p.setEntry(hex, { ...e, desired: 'paused' });
    expect(p.pausedCount).toBe(1);
    p.setEntry(hex, e);
    expect(p.pausedCount).toBe(0);
    p.setEntry(hex, { ...e, desired: 'paused' });
    p.setEntry(entryFor(3).infoHashHex, { ...entryFor(3), desired: 'paused' });
    expect(p.pausedCount).toBe(2);
    p.setEntry(hex, undefined);
    expect(p.pausedCount).toBe(1);
    // An entry that cannot be parsed is not kept, and counts as nothing.
    expect(() => p.setEntry('cd'.repeat(20), { ...e, infoHashHex: 'cd'.repeat(20), torrentFile: new Uint8Array([1, 2]), desired: 'paused' })).toThrow();
    expect(p.pausedCount).toBe(1);
  });
});

describe('QueueGate', () => {
  const entries = [0, 1, 2, 3].map((n) => entryFor(10 + n));
  const picture = (): FleetPicture => {
    const p = new FleetPicture();
    for (const x of entries) p.setEntry(x.infoHashHex, x);
    return p;
  };
  const hexes = entries.map((x) => x.infoHashHex);

  it('with queueing off, looks at the marked torrents only', () => {
    const p = picture();
    const q = new QueueGate();
    const off = defaultFleetConfig().queue;
    expect(q.update(p, off, work([], { all: true }), 0).sort()).toEqual([...hexes].sort());
    p.setEntry(hexes[1]!, { ...entries[1]!, desired: 'paused' });
    // Unmarked, the pause is not looked at yet.
    expect(q.update(p, off, work([hexes[0]!]), 0)).toEqual([]);
    expect(q.update(p, off, work([hexes[1]!]), 0)).toEqual([hexes[1]]);
    expect(q.has(hexes[1]!)).toBe(false);
  });

  it('with queueing on, gives the answer of activeTorrents, and works it out again only when a place in the queue may have moved', () => {
    const p = picture();
    const q = new QueueGate();
    const on = { ...defaultFleetConfig().queue, enabled: true, maxActiveDownloads: 2, ignoreSlow: false };
    const expected = activeTorrents(entries.map((x) => ({ infoHashHex: x.infoHashHex, settings: x.settings, complete: false, slow: false })), on);
    const changed = q.update(p, on, work([], { all: true }), 0);
    expect(changed.sort()).toEqual([...expected].sort());
    // A piece more for the first download: still a download, nothing moves.
    const one = new Bitfield(4);
    one.set(0);
    p.setBits([...expected][0]!, one.toBytes());
    expect(q.update(p, on, work([[...expected][0]!]), 0)).toEqual([]);
    // It completes: a seed now, and the next download in line starts.
    p.setBits([...expected][0]!, Bitfield.full(4).toBytes());
    const next = q.update(p, on, work([[...expected][0]!]), 0);
    expect(next).toHaveLength(1);
    expect(q.has(next[0]!)).toBe(true);
  });

  it('gives the same answer as activeTorrents worked out from scratch, through 300 random changes each marked as the runner marks them', () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const all = Array.from({ length: 40 }, (_, i) => entryFor(100 + i));
    const p = new FleetPicture();
    for (const x of all.slice(0, 30)) p.setEntry(x.infoHashHex, x);
    const q = new QueueGate();
    const cfg = { ...defaultFleetConfig().queue, enabled: true, maxActiveDownloads: 3, maxActiveSeeds: 2, maxActiveTorrents: 4, ignoreSlow: false };
    q.update(p, cfg, work([], { all: true }), 0);
    const fresh = (): string[] => {
      const running = [...p.entries()].filter(([, r]) => r.entry.desired === 'running');
      return [...activeTorrents(running.map(([hex, r]) => ({ infoHashHex: hex, settings: r.entry.settings, complete: p.isDone(hex, r.entry, r.meta), slow: false })), cfg)].sort();
    };
    for (let step = 0; step < 300; step++) {
      const x = all[random(all.length)]!;
      const hex = x.infoHashHex;
      const now = p.get(hex)?.entry;
      switch (random(6)) {
        case 0:
          p.setEntry(hex, now ? undefined : x);
          break;
        case 1:
          if (now) p.setEntry(hex, { ...now, desired: now.desired === 'running' ? 'paused' : 'running' });
          break;
        case 2:
          if (now) p.setEntry(hex, { ...now, settings: { ...now.settings, queueKey: random(100) - 50 } });
          break;
        case 3:
          if (now) p.setEntry(hex, { ...now, settings: { ...now.settings, forceStart: !now.settings.forceStart } });
          break;
        case 4:
          p.setBits(hex, random(2) === 0 ? Bitfield.full(4).toBytes() : undefined);
          break;
        default: {
          // A piece more or less that changes nothing about being done.
          const bits = new Bitfield(4);
          bits.set(random(4));
          p.setBits(hex, bits.toBytes());
        }
      }
      const before = new Set(all.map((y) => y.infoHashHex).filter((h) => q.has(h)));
      const changed = q.update(p, cfg, work([hex]), 0);
      const after = all.map((y) => y.infoHashHex).filter((h) => q.has(h));
      expect(after.sort()).toEqual(fresh());
      // What changed is handed back, and only that.
      expect(changed.sort()).toEqual(all.map((y) => y.infoHashHex).filter((h) => before.has(h) !== q.has(h)).sort());
    }
  });

  it('says when a torrent turned slow or stopped being, and only then', () => {
    const q = new QueueGate();
    const cfg = { ...defaultFleetConfig().queue, enabled: true, slowSeconds: 0, slowDownloadRate: 10, slowUploadRate: 10 };
    const fig = (rate: number) => [{ infoHashHex: hexes[0]!, downloadRate: rate, uploadRate: 0 }];
    expect(q.observe(fig(100), cfg, 1000)).toBe(false);
    expect(q.observe(fig(100), cfg, 2000)).toBe(false);
    expect(q.observe(fig(0), cfg, 3000)).toBe(true);
    expect(q.observe(fig(0), cfg, 4000)).toBe(false);
    expect(q.observe(fig(100), cfg, 5000)).toBe(true);
    expect(q.observe(fig(0), cfg, 6000)).toBe(true);
    // Its figures gone (paused, removed, its worker gone): it leaves the count of slow ones.
    expect(q.observe([], cfg, 7000, [hexes[0]!])).toBe(true);
    expect(q.observe([], cfg, 8000, [hexes[0]!])).toBe(false);
  });

  it('turns 10,000 torrents whose figures never change slow by time alone, judging none at an idle tick; new thresholds judge them all once', () => {
    const q = new QueueGate();
    const cfg = { ...defaultFleetConfig().queue, enabled: true, slowSeconds: 60, slowDownloadRate: 10, slowUploadRate: 10 };
    const idle = Array.from({ length: 10_000 }, (_, i) => ({ infoHashHex: i.toString(16).padStart(40, '0'), downloadRate: 0, uploadRate: 0 }));
    // Below the thresholds, but not for a minute yet.
    expect(q.observe(idle, cfg, 0)).toBe(false);
    const judged = vi.spyOn(SlowWatch.prototype, 'observe');
    try {
      for (let t = 1; t < 60; t++) expect(q.observe([], cfg, t * 1000)).toBe(false);
      expect(judged).not.toHaveBeenCalled();
      expect(q.observe([], cfg, 60_000)).toBe(true);
      expect(q.observe([], cfg, 61_000)).toBe(false);
      expect(judged).not.toHaveBeenCalled();
      // No torrent is below a threshold of 0: none is slow any more.
      expect(q.observe([], { ...cfg, slowUploadRate: 0 }, 62_000)).toBe(true);
      expect(judged).toHaveBeenCalledTimes(10_000);
      expect(q.observe([], { ...cfg, slowUploadRate: 0 }, 63_000)).toBe(false);
      expect(judged).toHaveBeenCalledTimes(10_000);
      // Back to the thresholds, with two minutes to wait: below them again since 64 s, slow at 184 s.
      const longer = { ...cfg, slowSeconds: 120 };
      expect(q.observe([], longer, 64_000)).toBe(false);
      expect(q.observe([], longer, 183_000)).toBe(false);
      expect(q.observe([], longer, 184_000)).toBe(true);
    } finally {
      judged.mockRestore();
    }
  });
});

describe('RendezvousCache', () => {
  const hashes = Array.from({ length: 300 }, (_, i) => createHash('sha1').update(String(i)).digest('hex'));

  it('answers as the functions do, ranking each torrent once per list of workers', () => {
    const c = new RendezvousCache();
    let workers = ['a', 'b', 'c', 'd'];
    for (let round = 0; round < 3; round++) {
      for (const hex of hashes) {
        expect(c.owner(workers, hex)).toBe(rendezvousOwner(workers, hex));
        for (const w of workers) expect(c.amongReplicas(workers, hex, w, 2)).toBe(amongReplicas(workers, hex, w, 2));
      }
    }
    expect(c.ranked).toBe(hashes.length);
    // Another list (a worker left): ranked again, and answers for the new list.
    workers = ['a', 'c', 'd'];
    for (const hex of hashes) expect(c.owner(workers, hex)).toBe(rendezvousOwner(workers, hex));
    expect(c.ranked).toBe(2 * hashes.length);
    // One worker: nothing to rank.
    expect(c.owner(['solo'], hashes[0]!)).toBe('solo');
    expect(c.ranked).toBe(2 * hashes.length);
  });
});

describe('LiveWorkers', () => {
  it('says whether the list changed, and keeps the same list while it does not', async () => {
    const cleanups: (() => Promise<void> | void)[] = [];
    const store = await LocalFleetStore.open(await stateDir(cleanups));
    const live = new LiveWorkers(store, () => ({ workerId: 'w1', peerIdHex: '00'.repeat(20), port: 1 }), silentLogger);
    expect(await live.refresh()).toBe(false);
    const list = live.list;
    expect(await live.refresh()).toBe(false);
    expect(live.list).toBe(list);
    await store.putWorker({ workerId: 'w0', peerIdHex: '00'.repeat(20), port: 1, time: 0 });
    expect(await live.refresh()).toBe(true);
    expect(live.list).toEqual(['w0', 'w1']);
    await store.removeWorker('w0');
    expect(await live.refresh()).toBe(true);
    expect(live.list).toEqual(['w1']);
    for (const c of cleanups) await c();
  });
});

describe('eachLimited', () => {
  it('runs every item, never more than the limit at once', async () => {
    let open = 0;
    let most = 0;
    const done: number[] = [];
    await eachLimited(
      Array.from({ length: 100 }, (_, i) => i),
      8,
      async (i) => {
        most = Math.max(most, ++open);
        await sleep(1);
        open--;
        done.push(i);
      },
    );
    expect(done.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(most).toBe(8);
  });
});
