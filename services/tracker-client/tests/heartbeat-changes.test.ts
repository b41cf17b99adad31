import { afterEach, describe, expect, it, vi } from 'vitest';
import { Announcer } from '../src/announcer.js';
import { TrackerClient, type TrackerClientOptions, type WorkerTorrentStats } from '../src/tracker-client.js';
import { FakeTransport, reply, waitFor } from './support/fake-transport.js';

/**
 * Partial heartbeats (TrackerClient.heartbeatChanges): between full ones a
 * worker says only which torrents joined, changed or left. With 10,000
 * idle torrents a full heartbeat a second walked every torrent and every
 * announcer (a quarter of serve's idle CPU, and most of the fleet
 * tracker-client's); a partial one costs what it lists.
 */

const URL_A = 'http://a.test/announce';
const hashOf = (n: number): Uint8Array => {
  const h = new Uint8Array(20);
  new DataView(h.buffer).setUint32(0, n + 1);
  return h;
};
const hexOf = (n: number): string => Buffer.from(hashOf(n)).toString('hex');
const w1 = { workerId: 'w1', peerId: new Uint8Array(20).fill(1), port: 6001 };
const leech = (left: number): WorkerTorrentStats => ({ uploaded: 0, downloaded: 100 - left, left });

const clients: TrackerClient[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(clients.splice(0).map((c) => c.stop()));
});

function setup(over: Partial<TrackerClientOptions> = {}) {
  const transport = new FakeTransport().on(URL_A, () => reply());
  const client = new TrackerClient({ peerFeed: { peersFound: () => {} }, transport, localAddresses: () => [], timing: { stopTimeoutMs: 500 }, scrape: false, onWarning: () => {}, ...over });
  clients.push(client);
  return { transport, client };
}

/** Counts the per-torrent work a heartbeat does: torrents synced, announcers made. */
function countWork(client: TrackerClient): { synced: () => number; started: () => number } {
  const syncOne = vi.spyOn(client as unknown as { syncOne: (...a: unknown[]) => void }, 'syncOne');
  const start = vi.spyOn(Announcer.prototype, 'start');
  return { synced: () => syncOne.mock.calls.length, started: () => start.mock.calls.length };
}

describe('TrackerClient.heartbeatChanges', () => {
  it('starts the announcers of the torrents joined, stops those gone with their last figures, sends `completed` when one turns complete, and leaves the others alone', async () => {
    const { transport, client } = setup();
    for (const n of [0, 1, 2, 3]) client.addTorrent({ infoHash: hashOf(n), announce: [[URL_A]] });
    client.heartbeat({ ...w1, seq: 1, torrents: { [hexOf(0)]: leech(50), [hexOf(1)]: leech(50), [hexOf(2)]: leech(10) } });
    await waitFor(() => transport.calls.length === 3, 2000, 'the started announces');
    const ofTorrent = (n: number): string[] => transport.calls.filter((c) => Buffer.from(c.params.infoHash).toString('hex') === hexOf(n)).map((c) => `${c.params.event}:${c.params.left}`);

    const verdict = client.heartbeatChanges({ ...w1, seq: 2, torrents: { [hexOf(0)]: leech(0), [hexOf(3)]: leech(100) }, gone: [hexOf(2)] });
    expect(verdict).toBe('applied');
    await waitFor(() => transport.calls.length === 6, 2000, 'the announces of the changes');
    expect(ofTorrent(0)).toEqual(['started:50', 'completed:0']);
    expect(ofTorrent(3)).toEqual(['started:100']);
    expect(ofTorrent(2)).toEqual(['started:10', 'stopped:10']);
    expect(ofTorrent(1)).toEqual(['started:50']); // not listed: untouched
    expect(client.list().map((a) => a.infoHashHex).sort()).toEqual([hexOf(0), hexOf(1), hexOf(3)]);

    // A torrent whose figures only moved: no announce of its own, the next one carries them.
    client.heartbeatChanges({ ...w1, seq: 3, torrents: { [hexOf(1)]: leech(40) } });
    await new Promise((r) => setTimeout(r, 50));
    expect(transport.calls).toHaveLength(6);
    expect(client.list()).toHaveLength(3);
  });

  it('with 10,000 torrents running, a partial heartbeat of one torrent syncs that one only and starts nothing else', () => {
    const { client } = setup();
    const all = new Map<string, WorkerTorrentStats>();
    for (let n = 0; n < 10_000; n++) {
      // No trackers: the announcers exist (that is the work counted) but ask no one.
      client.addTorrent({ infoHash: hashOf(n), announce: [] });
      all.set(hexOf(n), leech(100));
    }
    client.heartbeat({ ...w1, seq: 1, torrents: all });
    expect(client.announcerCount).toBe(10_000);
    const work = countWork(client);

    expect(client.heartbeatChanges({ ...w1, seq: 2, torrents: new Map() })).toBe('applied');
    expect([work.synced(), work.started()]).toEqual([0, 0]);
    expect(client.heartbeatChanges({ ...w1, seq: 3, torrents: { [hexOf(17)]: leech(20) } })).toBe('applied');
    expect([work.synced(), work.started()]).toEqual([1, 0]);
    client.addTorrent({ infoHash: hashOf(10_000), announce: [] });
    expect(client.heartbeatChanges({ ...w1, seq: 4, torrents: { [hexOf(10_000)]: leech(100) }, gone: [hexOf(5)] })).toBe('applied');
    expect([work.synced(), work.started()]).toEqual([2, 1]);
    expect(client.announcerCount).toBe(10_000);
    // The full heartbeat still walks everything: that is what it is for.
    client.heartbeat({ ...w1, seq: 5, torrents: all });
    expect(work.synced()).toBe(2 + 10_000);
  });

  it('ignores partial heartbeats after a missed one until the next full heartbeat, skips stale ones, and takes none from a worker it does not know as this identity', async () => {
    const { transport, client } = setup();
    for (const n of [0, 1, 2]) client.addTorrent({ infoHash: hashOf(n), announce: [[URL_A]] });
    expect(client.heartbeatChanges({ ...w1, seq: 1, torrents: { [hexOf(0)]: leech(1) } })).toBe('out-of-step'); // not established
    client.heartbeat({ ...w1, seq: 10, torrents: { [hexOf(0)]: leech(1) } });
    expect(client.heartbeatChanges({ ...w1, seq: 10, torrents: {} })).toBe('stale');
    // seq 11 was lost: 12 would join torrent 1 on top of a state that may be wrong.
    expect(client.heartbeatChanges({ ...w1, seq: 12, torrents: { [hexOf(1)]: leech(1) } })).toBe('out-of-step');
    expect(client.heartbeatChanges({ ...w1, seq: 13, torrents: { [hexOf(2)]: leech(1) } })).toBe('out-of-step');
    await new Promise((r) => setTimeout(r, 50));
    expect(client.list().map((a) => a.infoHashHex)).toEqual([hexOf(0)]);
    // The full heartbeat is the truth again, and partial ones follow it.
    client.heartbeat({ ...w1, seq: 14, torrents: { [hexOf(0)]: leech(1), [hexOf(1)]: leech(1), [hexOf(2)]: leech(1) } });
    expect(client.heartbeatChanges({ ...w1, seq: 15, torrents: {}, gone: [hexOf(0)] })).toBe('applied');
    await waitFor(() => transport.eventsTo(URL_A).includes('stopped'), 2000, 'the stopped announce');
    expect(client.list().map((a) => a.infoHashHex).sort()).toEqual([hexOf(1), hexOf(2)]);
    // The same worker id under another port (it restarted): only its full heartbeat says so.
    expect(client.heartbeatChanges({ ...w1, port: 7001, seq: 16, torrents: {}, gone: [hexOf(1)] })).toBe('out-of-step');
    expect(client.list()).toHaveLength(2);
  });

  it('counts a partial heartbeat as a sign of life: the worker is not expired while they come', async () => {
    let now = 0;
    const { client } = setup({ workerTimeoutMs: 1000, now: () => now });
    client.addTorrent({ infoHash: hashOf(0), announce: [] });
    client.heartbeat({ ...w1, seq: 1, torrents: { [hexOf(0)]: leech(1) } });
    for (let seq = 2; seq < 10; seq++) {
      now += 600;
      client.heartbeatChanges({ ...w1, seq, torrents: {} });
      client.expireWorkers();
    }
    expect(client.list()).toHaveLength(1);
    now += 1001;
    client.expireWorkers();
    expect(client.list()).toHaveLength(0);
  });
});
