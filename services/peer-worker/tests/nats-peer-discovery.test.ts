import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { connect, Events, type NatsConnection } from 'nats';
import { WORKER_HEARTBEAT, WORKER_HEARTBEAT_CHANGES } from '@seedbox/cluster';
import { WorkerHeartbeat } from '@seedbox/proto';
import { silentLogger } from '@seedbox/runtime';
import { FULL_HEARTBEAT_MS, JOIN_BEAT_MS, NatsPeerDiscovery } from '../src/fleet/nats-peer-discovery.js';
import type { SwarmMember, TransferTotals } from '../src/peer-discovery.js';
import { startNatsServer } from '../../../test/support/nats.js';
import { cleanupAfter, cleanupAll, cleanupMark, onCleanup, waitFor } from '../../../test/support/processes.js';
import { needTool, tools } from '../../../test/support/tools.js';

const hexOf = (i: number): string => {
  const infoHash = Buffer.alloc(20);
  infoHash.writeUInt32BE(i + 1);
  return infoHash.toString('hex');
};

function joinTo(d: NatsPeerDiscovery, i: number, totals: () => TransferTotals = () => ({ uploaded: 0, downloaded: 0, left: 1, complete: false })): ReturnType<NatsPeerDiscovery['join']> {
  const hex = hexOf(i);
  const member: SwarmMember = { totals, peersFound: () => {} };
  return d.join({ infoHash: Buffer.from(hex, 'hex'), infoHashHex: hex, announce: [['http://t.test/announce']], private: false }, member);
}

/**
 * A full heartbeat lists every torrent the worker runs. Sent once per join,
 * a restart or a batch add of 10,000 torrents sent 10,000 heartbeats of up
 * to 10,000 torrents each (10 MB/s that the tracker-client could not keep
 * up with): joins and leaves within JOIN_BEAT_MS share one, and after the
 * first, heartbeats carry only what changed.
 */
describe('NatsPeerDiscovery heartbeats', () => {
  it('a burst of 1,000 joins, then of 1,000 leaves, sends one heartbeat each: the joins in the first (a full one), the leaves as gone', async () => {
    const beats: { subject: string; listed: number; gone: number }[] = [];
    const nc = {
      publish: (subject: string, data: Uint8Array) => {
        const hb = WorkerHeartbeat.decode(data);
        beats.push({ subject, listed: hb.torrents.length, gone: hb.gone.length });
      },
      subscribe: () => ({ unsubscribe: () => {} }),
    } as unknown as NatsConnection;
    const d = new NatsPeerDiscovery({ nc, workerId: 'w1', peerId: new Uint8Array(20), announce: { port: 6881 }, log: silentLogger });
    // Joins as checks end: each in a turn of its own.
    const handles: ReturnType<NatsPeerDiscovery['join']>[] = [];
    for (let i = 0; i < 1000; i++) {
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
      handles.push(joinTo(d, i));
    }
    await new Promise((r) => setTimeout(r, JOIN_BEAT_MS + 50));
    expect(beats).toEqual([{ subject: WORKER_HEARTBEAT, listed: 1000, gone: 0 }]);
    await Promise.all(handles.slice(0, 600).map((h) => h.leave()));
    await new Promise((r) => setTimeout(r, JOIN_BEAT_MS + 50));
    expect(beats.at(-1)).toEqual({ subject: WORKER_HEARTBEAT_CHANGES, listed: 0, gone: 600 });
    // The tick's heartbeat goes at once, and takes a pending one with it.
    void handles[600]!.leave();
    d.heartbeat();
    await new Promise((r) => setTimeout(r, JOIN_BEAT_MS + 50));
    expect(beats).toHaveLength(3);
    expect(beats.at(-1)).toEqual({ subject: WORKER_HEARTBEAT_CHANGES, listed: 0, gone: 1 });
    d.close();
    // The last one is full and lists nothing: every announce of ours stops, for any tracker-client.
    expect(beats.at(-1)).toEqual({ subject: WORKER_HEARTBEAT, listed: 0, gone: 0 });
  });
});

const nats = needTool(tools.natsServer);

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

describe.skipIf(!nats.available)('NatsPeerDiscovery heartbeats over a real nats-server', () => {
  async function connected(url: string): Promise<NatsConnection> {
    const nc = await connect({ servers: url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    onCleanup('close NATS', () => nc.close());
    return nc;
  }

  /** Both kinds as a reader gets them; the old subject's reader is a tracker-client that predates partial heartbeats. */
  function listen(nc: NatsConnection): { full: WorkerHeartbeat[]; changes: { hb: WorkerHeartbeat; bytes: number }[] } {
    const seen = { full: [] as WorkerHeartbeat[], changes: [] as { hb: WorkerHeartbeat; bytes: number }[] };
    nc.subscribe(WORKER_HEARTBEAT, { callback: (_e, msg) => seen.full.push(WorkerHeartbeat.decode(msg.data)) });
    nc.subscribe(WORKER_HEARTBEAT_CHANGES, { callback: (_e, msg) => seen.changes.push({ hb: WorkerHeartbeat.decode(msg.data), bytes: msg.data.length }) });
    return seen;
  }

  it('idle ticks send small partial heartbeats naming only what changed, a full one goes every FULL_HEARTBEAT_MS, and the old subject carries only full ones', async () => {
    const server = await startNatsServer();
    const worker = await connected(server.url);
    const reader = await connected(server.url);
    const seen = listen(reader);
    await reader.flush();
    // Only Date is faked: the period is read from the clock, NATS runs on real timers.
    vi.useFakeTimers({ toFake: ['Date'] });
    onCleanup('real clock', () => void vi.useRealTimers());
    const d = new NatsPeerDiscovery({ nc: worker, workerId: 'w1', peerId: new Uint8Array(20).fill(1), announce: { port: 6881 }, log: silentLogger });
    const busy = { uploaded: 0, downloaded: 0, left: 0, complete: true };
    const handles = Array.from({ length: 2000 }, (_, i) => joinTo(d, i));
    joinTo(d, 2000, () => ({ ...busy }));

    const ticks = FULL_HEARTBEAT_MS / 1000;
    d.heartbeat(); // the first is full
    for (let t = 1; t <= ticks; t++) {
      vi.advanceTimersByTime(1000);
      if (t === 3 || t === 6) busy.uploaded += 16_384;
      if (t === 5) void handles[7]!.leave();
      d.heartbeat();
    }
    vi.useRealTimers();
    await worker.flush();
    await waitFor(() => seen.full.length === 2 && seen.changes.length === ticks - 1, 5000, 'the heartbeats');

    // Full ones: every torrent, at start and once a period, with no `gone` (a full list needs none).
    expect(seen.full.map((hb) => [hb.seq, hb.torrents.length, hb.gone.length])).toEqual([
      [1, 2001, 0],
      [ticks + 1, 2000, 0],
    ]);
    // Partial ones: one a tick in between, in sequence, each listing only the busy torrent when it moved, or the one that left.
    expect(seen.changes.map(({ hb }) => hb.seq)).toEqual(Array.from({ length: ticks - 1 }, (_, i) => i + 2));
    const named = seen.changes.map(({ hb }) => [...hb.torrents.map((t) => t.infoHash), ...hb.gone.map((g) => `-${g}`)]);
    expect(named).toEqual(Array.from({ length: ticks - 1 }, (_, i) => (i + 1 === 3 || i + 1 === 6 ? [hexOf(2000)] : i + 1 === 5 ? [`-${hexOf(7)}`] : [])));
    expect(seen.changes[2]!.hb.torrents[0]).toMatchObject({ uploaded: 16_384, complete: true });
    for (const { hb, bytes } of seen.changes) {
      expect(hb).toMatchObject({ workerId: 'w1', listenPort: 6881 });
      expect(bytes).toBeLessThan(200);
    }
    d.close();
  });

  it('sends a full heartbeat first after a reconnect (what went while away may be lost)', async () => {
    const server = await startNatsServer();
    const worker = await connected(server.url);
    const d = new NatsPeerDiscovery({ nc: worker, workerId: 'w1', peerId: new Uint8Array(20).fill(1), announce: { port: 6881 }, log: silentLogger });
    for (let i = 0; i < 10; i++) joinTo(d, i);
    d.heartbeat();
    d.heartbeat();
    let reconnected = false;
    void (async () => {
      for await (const s of worker.status()) if (s.type === Events.Reconnect) reconnected = true;
    })();
    await server.restart(200);
    await waitFor(() => reconnected, 15_000, 'the worker to reconnect');
    const reader = await connected(server.url);
    const seen = listen(reader);
    await reader.flush();
    d.heartbeat();
    d.heartbeat();
    await worker.flush();
    await waitFor(() => seen.full.length + seen.changes.length === 2, 5000, 'the heartbeats');
    expect(seen.full.map((hb) => [hb.seq, hb.torrents.length])).toEqual([[3, 10]]);
    expect(seen.changes.map(({ hb }) => [hb.seq, hb.torrents.length])).toEqual([[4, 0]]);
    d.close();
  });
  it('reads a quiet member once (a dormant torrent), not at every tick, and again once its stamp changes', () => {
    // Only what is read counts here: a connection that takes subscriptions and drops what is published.
    const nc = { subscribe: () => ({ unsubscribe: () => {} }), publish: () => {} } as unknown as NatsConnection;
    const d = new NatsPeerDiscovery({ nc, workerId: 'w1', peerId: new Uint8Array(20).fill(1), announce: { port: 6881 }, log: silentLogger });
    let reads = 0;
    const stamps = Array.from({ length: 1000 }, () => ({}) as object | undefined);
    for (let i = 0; i < 1000; i++) {
      const hex = hexOf(i);
      const member: SwarmMember = { totals: () => (reads++, { uploaded: 0, downloaded: 0, left: 0, complete: true }), peersFound: () => {}, quiet: () => stamps[i] };
      d.join({ infoHash: Buffer.from(hex, 'hex'), infoHashHex: hex, announce: [], private: false }, member);
    }
    d.heartbeat(); // full: every one read
    expect(reads).toBe(1000);
    reads = 0;
    for (let t = 0; t < 5; t++) d.heartbeat();
    expect(reads).toBe(0);
    stamps[3] = {};
    stamps[4] = undefined;
    d.heartbeat();
    expect(reads).toBe(2);
    d.heartbeat();
    // The awake one (no stamp) is read at every tick; the one quiet again is not.
    expect(reads).toBe(3);
    d.close();
  });
});
