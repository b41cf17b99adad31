import { describe, expect, it, vi } from 'vitest';
import { EmbeddedTrackers } from '../src/embedded.js';
import type { WorkerHeartbeatChanges } from '../src/tracker-client.js';
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

  it('with 10,000 idle members, a beat hands the client no torrent, then only the one that moved or left; a full heartbeat goes once', async () => {
    const trackers = new EmbeddedTrackers({ peerId: new Uint8Array(20).fill(4), port: 6881, transport: new FakeTransport(), localAddresses: () => [], pollMs: 20, onWarning: () => {} });
    const client = trackers.client;
    const fulls = vi.spyOn(client, 'heartbeat');
    const changes: { listed: string[]; gone: string[] }[] = [];
    const apply = client.heartbeatChanges.bind(client);
    // Recorded as handed over: the caller empties its set of gone torrents afterwards.
    vi.spyOn(client, 'heartbeatChanges').mockImplementation((ch: WorkerHeartbeatChanges) => {
      changes.push({ listed: [...(ch.torrents instanceof Map ? ch.torrents.keys() : Object.keys(ch.torrents))], gone: [...(ch.gone ?? [])] });
      return apply(ch);
    });
    const idle = () => ({ uploaded: 0, downloaded: 0, left: 0, complete: true });
    const busy = { uploaded: 0, downloaded: 0, left: 0, complete: true };
    const hexes: string[] = [];
    const swarms = Array.from({ length: 10_001 }, (_, i) => {
      const infoHash = Buffer.alloc(20);
      infoHash.writeUInt32BE(i + 1);
      hexes.push(infoHash.toString('hex'));
      // No trackers: what is counted is what the client is handed, not announces.
      return trackers.join({ infoHash, infoHashHex: hexes[i]!, announce: [] }, { totals: i === 10_000 ? () => ({ ...busy }) : idle, peersFound: () => {} });
    });
    await waitFor(() => client.announcerCount === 10_001, 5000, 'every member handed over');
    const at = changes.length;
    await waitFor(() => changes.length >= at + 5, 5000, 'idle beats');
    expect(changes.slice(at).every((c) => c.listed.length === 0 && c.gone.length === 0)).toBe(true);

    busy.uploaded = 16_384;
    await waitFor(() => changes.some((c) => c.listed.length > 0), 5000, 'the moved member handed over');
    expect(changes.filter((c) => c.listed.length > 0).map((c) => c.listed)).toEqual([[hexes[10_000]]]);

    await swarms[3]!.leave();
    await waitFor(() => changes.some((c) => c.gone.length > 0), 5000, 'the member that left handed over');
    expect(changes.filter((c) => c.gone.length > 0).map((c) => c.gone)).toEqual([[hexes[3]]]);
    expect(client.announcerCount).toBe(10_000);
    // The first beat established the worker; none since needed the whole list.
    expect(fulls).toHaveBeenCalledTimes(1);
    await trackers.stop();
  });
  it('reads a quiet member once, not at every beat, and again when its quiet stamp changes or it wakes', async () => {
    const trackers = new EmbeddedTrackers({ peerId: new Uint8Array(20).fill(4), port: 6881, transport: new FakeTransport(), localAddresses: () => [], pollMs: 20, onWarning: () => {} });
    const beats = vi.spyOn(trackers.client, 'heartbeatChanges');
    let reads = 0;
    // 1,000 dormant torrents, each with the stamp of its last snapshot.
    const stamps = Array.from({ length: 1000 }, () => ({}) as object | undefined);
    const totals = { uploaded: 0, downloaded: 0, left: 0, complete: true };
    Array.from({ length: 1000 }, (_, i) => {
      const infoHash = Buffer.alloc(20);
      infoHash.writeUInt32BE(i + 1);
      return trackers.join({ infoHash, infoHashHex: infoHash.toString('hex'), announce: [] }, { totals: () => (reads++, { ...totals }), peersFound: () => {}, quiet: () => stamps[i] });
    });
    await waitFor(() => trackers.client.announcerCount === 1000, 5000, 'every member handed over');
    await waitFor(() => beats.mock.calls.length >= 2, 5000, 'a beat of changes');
    reads = 0;
    const at = beats.mock.calls.length;
    await waitFor(() => beats.mock.calls.length >= at + 5, 5000, 'idle beats');
    expect(reads).toBe(0);

    // One wakes and falls quiet again with a new stamp; another is awake (no stamp): each is read again.
    stamps[7] = {};
    stamps[8] = undefined;
    const now = beats.mock.calls.length;
    await waitFor(() => beats.mock.calls.length >= now + 3, 5000, 'more beats');
    expect(reads).toBeGreaterThanOrEqual(1 + 2);
    expect(reads).toBeLessThanOrEqual(1 + (beats.mock.calls.length - now + 1));
    await trackers.stop();
  });

  it('a leave does not wait for the beat a join scheduled 200 ms ahead: it brings it forward to the next turn', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'setInterval', 'clearInterval'] });
    try {
      const url = 'http://tracker.test/announce';
      const transport = new FakeTransport().on(url, () => reply({ peers: [] }));
      const trackers = new EmbeddedTrackers({ peerId: new Uint8Array(20).fill(4), port: 6881, transport, localAddresses: () => [], pollMs: 60_000 });
      const beats = vi.spyOn(trackers.client, 'heartbeat');
      const infoHash = new Uint8Array(20).fill(9);
      const swarm = trackers.join({ infoHash, infoHashHex: Buffer.from(infoHash).toString('hex'), announce: [[url]] }, { totals: () => ({ uploaded: 0, downloaded: 0, left: 5, complete: false }), peersFound: () => {} });
      let left = false;
      void swarm.leave().then(() => (left = true));
      await vi.advanceTimersByTimeAsync(1);
      expect(left).toBe(true);
      // One beat for both: the join's, brought forward.
      expect(beats).toHaveBeenCalledTimes(1);
      await trackers.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
