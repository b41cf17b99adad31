import { describe, expect, it } from 'vitest';
import { Bandwidth, effectiveLimits } from '../src/bandwidth/bandwidth.js';
import { ReadGate } from '../src/bandwidth/read-gate.js';
import { BandwidthPath, Shaper, type ShaperTimers } from '../src/bandwidth/shaper.js';
import { BandwidthLimitError, TokenBucket } from '../src/bandwidth/token-bucket.js';
import { UploadGate, type HeldBlock } from '../src/bandwidth/upload-gate.js';

/** A clock and timers that move only when told: the shaper's runs happen exactly when due. */
class FakeTime implements ShaperTimers {
  t = 0;
  private seq = 0;
  private pending = new Map<number, { at: number; fn: () => void }>();
  now = (): number => this.t;
  set(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + ms, fn });
    return id;
  }
  clear(h: unknown): void {
    this.pending.delete(h as number);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.pending) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.pending.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
  }
}

const KiB = 1024;
const MiB = 1024 * 1024;

function setup(rates: number[]) {
  const time = new FakeTime();
  const shaper = new Shaper({ timers: time });
  const buckets = rates.map((r) => new TokenBucket(r, time.now));
  return { time, shaper, buckets };
}

/** A connection that asks for `quantum` again as soon as each grant comes, and counts what it got. */
function greedy(path: BandwidthPath, quantum: number) {
  const c = { got: 0, grants: 0, stop: false };
  const ask = (): void => {
    if (c.stop) return;
    path.request(quantum, () => {
      c.got += quantum;
      c.grants++;
      // Asked again from the grant itself: it joins the back of the queue.
      ask();
    });
  };
  ask();
  return c;
}

describe('TokenBucket', () => {
  it('rate 0 or undefined is unlimited: always grants, counts nothing', () => {
    for (const b of [new TokenBucket(0), new TokenBucket(undefined), new TokenBucket()]) {
      expect(b.limited).toBe(false);
      b.charge(10 * MiB);
      expect(b.canGrant).toBe(true);
      expect(b.tokens).toBe(Infinity);
    }
  });

  it('refuses a rate that is not whole bytes per second, with a typed error', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new TokenBucket(bad)).toThrow(BandwidthLimitError);
    }
    expect(() => new Bandwidth().setLimits({ upload: -5 })).toThrow(/upload limit/);
  });

  it('refills with the clock up to its burst, and goes into debt rather than refusing bytes already moved', () => {
    const time = new FakeTime();
    const b = new TokenBucket(1 * MiB, time.now);
    expect(b.capacity).toBe(Math.ceil(0.1 * MiB));
    b.charge(b.capacity + 50 * KiB);
    expect(b.tokens).toBeCloseTo(-50 * KiB, 0);
    expect(b.canGrant).toBe(false);
    expect(b.msUntilGrant()).toBe(Math.ceil(((50 * KiB + 1) / MiB) * 1000));
    time.advance(100);
    expect(b.tokens).toBeCloseTo(0.1 * MiB - 50 * KiB, 0);
    time.advance(10_000);
    expect(b.tokens).toBe(b.capacity);
  });
});

describe('Shaper', () => {
  it('holds one connection to the rate within 1% over 30 s (20 MiB/s, 16 KiB quanta)', () => {
    const { time, shaper, buckets } = setup([20 * MiB]);
    const c = greedy(new BandwidthPath(shaper, buckets), 16 * KiB);
    time.advance(30_000);
    const expected = 20 * MiB * 30 + buckets[0]!.capacity;
    expect(Math.abs(c.got - expected) / expected).toBeLessThan(0.01);
  });

  it('stays accurate when bytes arrive in reads far larger than a grant (debt is paid back)', () => {
    const { time, shaper, buckets } = setup([4 * MiB]);
    const path = new BandwidthPath(shaper, buckets);
    let read = 0;
    // Each grant of 16 KiB is followed by a 256 KiB read, as a paused socket's kernel buffer delivers it.
    const loop = (): void => {
      path.request(16 * KiB, () => {
        path.charge(256 * KiB - 16 * KiB);
        read += 256 * KiB;
        loop();
      });
    };
    loop();
    time.advance(20_000);
    // At most one read over the rate (the last, in debt) plus the burst.
    expect(read).toBeLessThanOrEqual(4 * MiB * 20 + buckets[0]!.capacity + 256 * KiB);
    expect(read).toBeGreaterThan(4 * MiB * 20 * 0.99);
  });

  it('shares fairly between connections on one bucket: none starves, each gets its turn', () => {
    const { time, shaper, buckets } = setup([3 * MiB]);
    const path = new BandwidthPath(shaper, buckets);
    const cs = [greedy(path, 16 * KiB), greedy(path, 16 * KiB), greedy(path, 16 * KiB)];
    time.advance(10_000);
    const total = cs.reduce((a, c) => a + c.got, 0);
    for (const c of cs) expect(Math.abs(c.got / total - 1 / 3)).toBeLessThan(0.01);
  });

  it('a connection asking for more later waits its turn behind those already waiting', () => {
    const { time, shaper, buckets } = setup([1 * MiB]);
    const path = new BandwidthPath(shaper, buckets);
    const order: string[] = [];
    path.charge(buckets[0]!.capacity); // empty
    path.request(16 * KiB, () => order.push('a'));
    path.request(16 * KiB, () => order.push('b'));
    time.advance(15);
    // The first refill made the bucket grantable; a newcomer now runs the queue first.
    path.request(16 * KiB, () => order.push('c'));
    time.advance(1000);
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('a hierarchy: a torrent held by its own limit does not hold up another torrent under the same engine limit', () => {
    const { time, shaper, buckets } = setup([1 * MiB, 0, 4 * MiB]);
    const [torrentA, torrentB, engine] = buckets as [TokenBucket, TokenBucket, TokenBucket];
    const a = greedy(new BandwidthPath(shaper, [torrentA, engine]), 16 * KiB);
    const b = greedy(new BandwidthPath(shaper, [torrentB, engine]), 16 * KiB);
    time.advance(10_000);
    expect(a.got / 10).toBeGreaterThan(0.97 * MiB);
    expect(a.got / 10).toBeLessThan(1.03 * MiB);
    // B takes what A cannot: the engine's 4 MiB/s in all.
    expect((a.got + b.got) / 10).toBeGreaterThan(0.98 * 4 * MiB);
    expect((a.got + b.got) / 10).toBeLessThan(1.02 * 4 * MiB);
  });

  it('a rate changed at run time takes effect at once; a limit lifted frees the waiters on the next turn', () => {
    const time = new FakeTime();
    const bw = new Bandwidth({ download: 1 * MiB }, { now: time.now, shaper: { timers: time } });
    const path = bw.torrent().paths.download;
    const c = greedy(path, 16 * KiB);
    time.advance(5000);
    const atOne = c.got;
    bw.setLimits({ download: 4 * MiB });
    time.advance(5000);
    const atFour = c.got - atOne;
    expect(atOne / 5).toBeLessThan(1.05 * MiB);
    expect(atFour / 5).toBeGreaterThan(0.97 * 4 * MiB);
    expect(atFour / 5).toBeLessThan(1.03 * 4 * MiB);
    // Lowered again: no stored burst of the higher rate carries over beyond the new, smaller burst.
    bw.setLimits({ download: 256 * KiB });
    const before = c.got;
    time.advance(4000);
    expect((c.got - before) / 4).toBeLessThan(1.1 * 256 * KiB);
    // Lifted: the waiter goes at once, and from then on without waiting at all.
    c.stop = true;
    time.advance(1000);
    expect(bw.takeWanting().download).toBe(true);
    let granted = false;
    path.charge(10 * MiB);
    path.request(16 * KiB, () => (granted = true));
    expect(granted).toBe(false);
    bw.setLimits({});
    time.advance(0);
    expect(granted).toBe(true);
    expect(shaper(bw).waiting).toBe(0);
    // It waited (wanting), and once lifted nothing waits any more.
    expect(bw.takeWanting().download).toBe(true);
    path.request(16 * KiB, () => {});
    expect(bw.takeWanting().download).toBe(false);
  });

  it('effectiveLimits picks the pair in force', () => {
    const config = { limits: { download: 20 * MiB, upload: 5 * MiB }, alternative: { download: 1 * MiB } };
    expect(effectiveLimits(config)).toEqual({ download: 20 * MiB, upload: 5 * MiB });
    expect(effectiveLimits({ ...config, alternativeOn: true })).toEqual({ download: 1 * MiB, upload: 0 });
    expect(effectiveLimits({})).toEqual({ download: 0, upload: 0 });
  });
});

function shaper(bw: Bandwidth): Shaper {
  return bw.downloads;
}

describe('ReadGate', () => {
  it('pauses the socket once the credit is spent, resumes it on the grant, and costs nothing unlimited', () => {
    const time = new FakeTime();
    const bw = new Bandwidth({}, { now: time.now, shaper: { timers: time } });
    const events: string[] = [];
    const socket = { pause: () => events.push('pause'), resume: () => events.push('resume') };
    const gate = new ReadGate(bw.torrent().paths.download, socket);
    for (let i = 0; i < 100; i++) gate.received(64 * KiB);
    expect(events).toEqual([]);
    bw.setLimits({ download: 1 * MiB });
    // The burst (100 KiB) covers the first reads; then the socket stops.
    for (let i = 0; i < 4 && !gate.holding; i++) gate.received(64 * KiB);
    expect(gate.holding).toBe(true);
    expect(events).toEqual(['pause']);
    time.advance(1000);
    expect(events).toEqual(['pause', 'resume']);
    gate.received(64 * KiB);
    gate.close();
    time.advance(1000);
    expect(events.filter((e) => e === 'resume')).toHaveLength(1);
  });
});

describe('UploadGate', () => {
  it('holds blocks until granted, in order, drops cancelled ones and clears on a choke, letting go of what it dropped', () => {
    const time = new FakeTime();
    const bw = new Bandwidth({ upload: 64 * KiB }, { now: time.now, shaper: { timers: time } });
    const sent: number[] = [];
    const letGo: number[] = [];
    let rooms = 0;
    const gate = new UploadGate(bw.torrent().paths.upload, (b) => sent.push(b.index), () => rooms++);
    const block = (index: number): HeldBlock => ({ index, begin: 0, data: new Uint8Array(16 * KiB), done: () => letGo.push(index) });
    for (let i = 0; i < 8; i++) gate.offer(block(i));
    // The burst (16 KiB + 13) lets the first block straight through.
    expect(sent).toEqual([0]);
    expect(gate.drop(3, 0)).toBe(true);
    time.advance(1000);
    // 64 KiB/s: about four blocks a second.
    expect(sent).toEqual([0, 1, 2, 4, 5]);
    expect(rooms).toBe(4);
    expect(gate.clear().map((b) => b.index)).toEqual([6, 7]);
    time.advance(1000);
    expect(sent).toEqual([0, 1, 2, 4, 5]);
    // Dropped blocks are let go by the gate; those sent, by the socket once written (not here).
    expect(letGo).toEqual([3, 6, 7]);
  });
});
