import { afterEach, describe, expect, it } from 'vitest';
import type { PeerAddress } from '@seedbox/protocol';
import { DhtSwarms, type GetPeersOptions, type PeerLookup } from '../src/index.js';
import { idToHex, randomNodeId } from '../src/dht/node-id.js';

// DhtSwarms' scheduling over a fake node whose lookups the test releases
// by hand; the real-network round trip is in dht-network.test.ts.

interface Call {
  hex: string;
  ports: readonly number[];
  signal: AbortSignal;
  finish: (peers: PeerAddress[]) => void;
  fail: (e: Error) => void;
}

class FakeNode implements PeerLookup {
  readonly calls: Call[] = [];
  running = 0;
  maxRunning = 0;

  getPeers(infoHash: Uint8Array, o: GetPeersOptions = {}): Promise<PeerAddress[]> {
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    return new Promise<PeerAddress[]>((resolve, reject) => {
      const done = () => this.running--;
      const call: Call = {
        hex: idToHex(infoHash),
        ports: o.announcePorts ?? [],
        signal: o.signal!,
        finish: (p) => (done(), resolve(p)),
        fail: (e) => (done(), reject(e)),
      };
      o.signal?.addEventListener('abort', () => call.fail(new Error('aborted')), { once: true });
      this.calls.push(call);
    });
  }

  pending(): Call[] {
    return this.calls.filter((c) => !c.signal.aborted);
  }
}

const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));

describe('DhtSwarms', () => {
  const all: DhtSwarms[] = [];
  afterEach(async () => {
    await Promise.all(all.splice(0).map((s) => s.stop()));
  });

  it('runs at most maxConcurrent lookups, the rest in order of joining', async () => {
    const node = new FakeNode();
    const swarms = new DhtSwarms(node, { maxConcurrent: 4 });
    all.push(swarms);
    const hashes = Array.from({ length: 10 }, () => randomNodeId());
    for (const h of hashes) swarms.join(h, [6881], () => {});
    await tick();
    expect(node.calls.length).toBe(4);
    expect(swarms.stats()).toEqual({ joined: 10, queued: 6, running: 4 });
    for (let i = 0; i < 10; i++) {
      node.calls[i]!.finish([]);
      await tick();
    }
    expect(node.calls.map((c) => c.hex)).toEqual(hashes.map(idToHex));
    expect(node.maxRunning).toBe(4);
  });

  it('announces each distinct valid port, delivers peers, and goes again after the interval', async () => {
    const node = new FakeNode();
    const swarms = new DhtSwarms(node, { intervalMs: 50, jitter: 0 });
    all.push(swarms);
    const got: PeerAddress[][] = [];
    swarms.join(randomNodeId(), [7001, 7002, 7001, 0, 70000], (p) => got.push(p));
    await tick();
    expect(node.calls[0]!.ports).toEqual([7001, 7002]);
    node.calls[0]!.finish([{ host: '10.0.0.1', port: 1 }]);
    await tick();
    expect(got).toEqual([[{ host: '10.0.0.1', port: 1 }]]);
    expect(node.calls.length).toBe(1);
    await tick(80);
    expect(node.calls.length).toBe(2);
  });

  it('retries a failed round after retryMs', async () => {
    const node = new FakeNode();
    const swarms = new DhtSwarms(node, { intervalMs: 60_000, retryMs: 30 });
    all.push(swarms);
    swarms.join(randomNodeId(), [1], () => {});
    await tick();
    node.calls[0]!.fail(new Error('not running'));
    await tick(60);
    expect(node.calls.length).toBe(2);
  });

  it('leave() aborts the running lookup; setPorts() with a new port starts a round at once', async () => {
    const node = new FakeNode();
    const swarms = new DhtSwarms(node, { intervalMs: 60_000 });
    all.push(swarms);
    const a = randomNodeId();
    const b = randomNodeId();
    swarms.join(a, [1], () => {});
    swarms.join(b, [1], () => {});
    await tick();
    swarms.leave(a);
    expect(node.calls[0]!.signal.aborted).toBe(true);
    node.calls[1]!.finish([]);
    await tick();
    swarms.setPorts(b, [1]); // nothing new: no round
    await tick();
    expect(node.calls.length).toBe(2);
    swarms.setPorts(b, [1, 2]);
    await tick();
    expect(node.calls.length).toBe(3);
    expect(node.calls[2]!.ports).toEqual([1, 2]);
    expect(swarms.size).toBe(1);
  });

  it('stop() aborts everything and waits for it', async () => {
    const node = new FakeNode();
    const swarms = new DhtSwarms(node);
    for (let i = 0; i < 6; i++) swarms.join(randomNodeId(), [1], () => {});
    await tick();
    await swarms.stop();
    expect(node.running).toBe(0);
    expect(swarms.size).toBe(0);
    swarms.join(randomNodeId(), [1], () => {});
    expect(swarms.size).toBe(0);
  });
});
