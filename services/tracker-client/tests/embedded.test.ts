import { describe, expect, it } from 'vitest';
import { EmbeddedTrackers } from '../src/embedded.js';
import { FakeTransport, reply, waitFor } from './support/fake-transport.js';

describe('EmbeddedTrackers', () => {
  it('announces from a joined torrent’s polled figures: started, completed when they say so, stopped on leave()', async () => {
    const url = 'http://tracker.test/announce';
    const transport = new FakeTransport().on(url, () => reply({ peers: [{ host: '10.213.4.4', port: 6881 }, { host: '127.0.0.1', port: 6881 }] }));
    const figures = { uploaded: 0, downloaded: 0, left: 1000, complete: false };
    const found: { host: string; port: number }[] = [];
    const trackers = new EmbeddedTrackers({ peerId: new Uint8Array(20).fill(4), port: 6881, transport, localAddresses: () => ['127.0.0.1'], pollMs: 10 });
    const infoHash = new Uint8Array(20).fill(3);
    expect(trackers.canFind({ announce: [[url]] })).toBe(true);
    expect(trackers.canFind({ announce: [['wss://tracker.test']] })).toBe(false);
    const swarm = trackers.join(
      { infoHash, infoHashHex: Buffer.from(infoHash).toString('hex'), announce: [[url]] },
      { totals: () => ({ ...figures }), peersFound: (peers) => found.push(...peers) },
    );
    await waitFor(() => transport.calls.length === 1);
    expect(transport.calls[0]!.params).toMatchObject({ event: 'started', left: 1000, port: 6881 });
    expect(found).toEqual([{ host: '10.213.4.4', port: 6881 }]); // ourselves (127.0.0.1:6881) filtered
    Object.assign(figures, { downloaded: 1000, left: 0, uploaded: 10, complete: true });
    await waitFor(() => transport.calls.length === 2);
    expect(transport.calls[1]!.params).toMatchObject({ event: 'completed', left: 0, downloaded: 1000, uploaded: 10 });
    await swarm.leave();
    expect(transport.calls[2]!.params).toMatchObject({ event: 'stopped', left: 0 });
    await swarm.leave(); // idempotent
    await trackers.stop();
    expect(transport.calls).toHaveLength(3);
  });

  it('announces every joined torrent, and stop() says stopped for those still joined', async () => {
    const url = 'http://tracker.test/announce';
    const transport = new FakeTransport().on(url, () => reply({ peers: [] }));
    const trackers = new EmbeddedTrackers({ peerId: new Uint8Array(20).fill(4), port: 6881, transport, localAddresses: () => [], pollMs: 10 });
    for (const fill of [1, 2]) {
      const infoHash = new Uint8Array(20).fill(fill);
      trackers.join({ infoHash, infoHashHex: Buffer.from(infoHash).toString('hex'), announce: [[url]] }, { totals: () => ({ uploaded: 0, downloaded: 0, left: 5, complete: false }), peersFound: () => {} });
    }
    await waitFor(() => transport.calls.length === 2);
    await trackers.stop();
    expect(transport.calls.map((c) => c.params.event)).toEqual(['started', 'started', 'stopped', 'stopped']);
  });

  it('a burst of joins, then of leaves, reads each member\'s figures a few times, not once per join (O(N²) at 2,000)', async () => {
    const url = 'http://tracker.test/announce';
    const transport = new FakeTransport().on(url, () => reply({ peers: [] }));
    // A slow poll: only joins and leaves beat here.
    const trackers = new EmbeddedTrackers({ peerId: new Uint8Array(20).fill(4), port: 6881, transport, localAddresses: () => [], pollMs: 60_000 });
    let reads = 0;
    const swarms = Array.from({ length: 2000 }, (_, i) => {
      const infoHash = Buffer.alloc(20);
      infoHash.writeUInt32BE(i + 1);
      return trackers.join({ infoHash, infoHashHex: infoHash.toString('hex'), announce: [[url]] }, { totals: () => (reads++, { uploaded: 0, downloaded: 0, left: 5, complete: false }), peersFound: () => {} });
    });
    await waitFor(() => transport.calls.length === 2000);
    expect(reads).toBeLessThanOrEqual(2 * 2000);
    reads = 0;
    await Promise.all(swarms.map((s) => s.leave()));
    expect(reads).toBeLessThanOrEqual(2 * 2000);
    await trackers.stop();
  });
});
