import { describe, expect, it } from 'vitest';
import type { NatsConnection } from 'nats';
import { WORKER_HEARTBEAT } from '@seedbox/cluster';
import { WorkerHeartbeat } from '@seedbox/proto';
import { silentLogger } from '@seedbox/runtime';
import { JOIN_BEAT_MS, NatsPeerDiscovery } from '../src/fleet/nats-peer-discovery.js';

/**
 * A heartbeat lists every torrent the worker runs. Sent once per join, a
 * restart or a batch add of 10,000 torrents sent 10,000 heartbeats of up
 * to 10,000 torrents each (10 MB/s that the tracker-client could not keep
 * up with): joins and leaves within JOIN_BEAT_MS share one.
 */
describe('NatsPeerDiscovery heartbeats', () => {
  it('a burst of 1,000 joins, then of 1,000 leaves, sends one heartbeat each, listing what is joined then', async () => {
    const beats: number[] = [];
    const nc = {
      publish: (subject: string, data: Uint8Array) => {
        if (subject === WORKER_HEARTBEAT) beats.push(WorkerHeartbeat.decode(data).torrents.length);
      },
      subscribe: () => ({ unsubscribe: () => {} }),
    } as unknown as NatsConnection;
    const d = new NatsPeerDiscovery({ nc, workerId: 'w1', peerId: new Uint8Array(20), announce: { port: 6881 }, log: silentLogger });
    // Joins as checks end: each in a turn of its own.
    const handles: ReturnType<NatsPeerDiscovery['join']>[] = [];
    for (let i = 0; i < 1000; i++) {
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
      handles.push(join(i));
    }
    function join(i: number): ReturnType<NatsPeerDiscovery['join']> {
      const infoHash = Buffer.alloc(20);
      infoHash.writeUInt32BE(i + 1);
      return d.join({ infoHash, infoHashHex: infoHash.toString('hex'), announce: [['http://t.test/announce']], private: false }, { totals: () => ({ uploaded: 0, downloaded: 0, left: 1, complete: false }), peersFound: () => {} });
    }
    await new Promise((r) => setTimeout(r, JOIN_BEAT_MS + 50));
    expect(beats).toEqual([1000]);
    await Promise.all(handles.slice(0, 600).map((h) => h.leave()));
    await new Promise((r) => setTimeout(r, JOIN_BEAT_MS + 50));
    expect(beats).toEqual([1000, 400]);
    // The tick's heartbeat goes at once, and takes a pending one with it.
    handles[600]!.leave();
    d.heartbeat();
    await new Promise((r) => setTimeout(r, JOIN_BEAT_MS + 50));
    expect(beats).toEqual([1000, 400, 399]);
    d.close();
    expect(beats.at(-1)).toBe(0);
  });
});
