import { describe, expect, it } from 'vitest';
import { startEmbeddedTracker } from '../src/embedded.js';
import { FakeTransport, reply, waitFor } from './support/fake-transport.js';

describe('startEmbeddedTracker', () => {
  it('announces from the worker’s polled figures: started, completed when they say so, stopped on stop()', async () => {
    const url = 'http://tracker.test/announce';
    const transport = new FakeTransport().on(url, () => reply({ peers: [{ host: '10.213.4.4', port: 6881 }, { host: '127.0.0.1', port: 6881 }] }));
    const figures = { uploaded: 0, downloaded: 0, left: 1000 };
    const found: { host: string; port: number }[] = [];
    const embedded = startEmbeddedTracker({
      metainfo: { infoHash: new Uint8Array(20).fill(3), announce: [[url]] },
      peerId: new Uint8Array(20).fill(4),
      port: 6881,
      stats: () => ({ ...figures }),
      peerFeed: { peersFound: (_hex, peers) => found.push(...peers) },
      transport,
      localAddresses: () => ['127.0.0.1'],
      pollMs: 10,
    });
    await waitFor(() => transport.calls.length === 1);
    expect(transport.calls[0]!.params).toMatchObject({ event: 'started', left: 1000, port: 6881 });
    expect(found).toEqual([{ host: '10.213.4.4', port: 6881 }]); // ourselves (127.0.0.1:6881) filtered
    Object.assign(figures, { downloaded: 1000, left: 0, uploaded: 10 });
    await waitFor(() => transport.calls.length === 2);
    expect(transport.calls[1]!.params).toMatchObject({ event: 'completed', left: 0, downloaded: 1000, uploaded: 10 });
    await embedded.stop();
    expect(transport.calls[2]!.params).toMatchObject({ event: 'stopped', left: 0 });
    await embedded.stop(); // idempotent
    expect(transport.calls).toHaveLength(3);
  });
});
