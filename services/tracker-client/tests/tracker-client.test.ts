import { TrackerError } from '@seedbox/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { TrackerWarning } from '../src/announcer.js';
import type { PeerFeed } from '../src/peer-feed.js';
import { TrackerClient, type TrackerClientOptions } from '../src/tracker-client.js';
import { FakeTransport, reply, waitFor } from './support/fake-transport.js';

const URL_A = 'http://a.test/announce';
const hashA = new Uint8Array(20).fill(0xaa);
const hexA = 'aa'.repeat(20);
const hashB = new Uint8Array(20).fill(0xbb);
const hexB = 'bb'.repeat(20);
const id = (n: number): Uint8Array => new Uint8Array(20).fill(n);

const clients: TrackerClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
});

function setup(over: Partial<TrackerClientOptions> = {}) {
  const transport = new FakeTransport();
  const found: { hex: string; peers: { host: string; port: number }[]; source: string }[] = [];
  const feed: PeerFeed = { peersFound: (hex, peers, source) => found.push({ hex, peers, source }) };
  const warnings: TrackerWarning[] = [];
  const client = new TrackerClient({
    peerFeed: feed,
    transport,
    onWarning: (w) => warnings.push(w),
    localAddresses: () => ['127.0.0.1', '::1'],
    timing: { stopTimeoutMs: 500 },
    ...over,
  });
  clients.push(client);
  return { transport, found, warnings, client };
}

describe('TrackerClient', () => {
  it('announces each torrent once per worker, with that worker’s peer id, address, port and figures', async () => {
    const { transport, client } = setup();
    transport.on(URL_A, () => reply());
    client.addTorrent({ infoHash: hashA, announce: [[URL_A]] });
    client.heartbeat({ workerId: 'w1', peerId: id(1), host: '10.1.0.1', port: 6001, torrents: { [hexA]: { uploaded: 1, downloaded: 2, left: 3 } } });
    client.heartbeat({ workerId: 'w2', peerId: id(2), port: 6002, torrents: new Map([[hexA, { uploaded: 4, downloaded: 5, left: 0 }]]) });
    await waitFor(() => transport.calls.length === 2, 2000, 'two started announces');
    const byPort = new Map(transport.calls.map((c) => [c.params.port, c.params]));
    expect(byPort.get(6001)).toMatchObject({ event: 'started', ip: '10.1.0.1', uploaded: 1, downloaded: 2, left: 3, peerId: id(1) });
    expect(byPort.get(6002)).toMatchObject({ event: 'started', uploaded: 4, downloaded: 5, left: 0, peerId: id(2) });
    expect(byPort.get(6002)!.ip).toBeUndefined(); // no host: the tracker uses our source address
    expect(byPort.get(6001)!.key).not.toBe(byPort.get(6002)!.key);
    expect(client.list().map((e) => e.workerId).sort()).toEqual(['w1', 'w2']);
  });

  it('passes on peers once, without our own workers', async () => {
    const { transport, client, found } = setup();
    transport.on(URL_A, () =>
      reply({
        externalIp: '203.0.113.9',
        peers: [
          { host: '10.1.0.1', port: 6001 }, // w1, by its announced host
          { host: '127.0.0.1', port: 6002 }, // w2, listed under our source address
          { host: '10.7.7.7', port: 1, peerId: id(3) }, // w3, by peer id
          { host: '10.9.9.9', port: 51413 }, // a real peer
          { host: '127.0.0.1', port: 6003 }, // a real peer on our host, other port
        ],
      }),
    );
    client.addTorrent({ infoHash: hashA, announce: [[URL_A]] });
    client.heartbeat({ workerId: 'w1', peerId: id(1), host: '10.1.0.1', port: 6001, torrents: { [hexA]: { uploaded: 0, downloaded: 0, left: 0 } } });
    client.heartbeat({ workerId: 'w2', peerId: id(2), port: 6002, torrents: { [hexA]: { uploaded: 0, downloaded: 0, left: 0 } } });
    client.heartbeat({ workerId: 'w3', peerId: id(3), host: '10.3.0.3', port: 6004, torrents: {} });
    await waitFor(() => transport.calls.length === 2, 2000, 'announces');
    await new Promise((r) => setTimeout(r, 20));
    // Both workers' announces found the same swarm; it went out once.
    expect(found).toEqual([{ hex: hexA, source: URL_A, peers: [{ host: '10.9.9.9', port: 51413 }, { host: '127.0.0.1', port: 6003 }] }]);
    expect(client.peerCounts).toMatchObject({ forwarded: 2, own: 6, duplicate: 2 });
  });

  it('sends the peers again to a worker that restarts a torrent (paused and resumed)', async () => {
    const { transport, client, found } = setup();
    transport.on(URL_A, () => reply({ peers: [{ host: '10.9.9.9', port: 51413 }] }));
    client.addTorrent({ infoHash: hashA, announce: [[URL_A]] });
    const beat = (torrents: Record<string, { uploaded: number; downloaded: number; left: number }>) =>
      client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents });
    beat({ [hexA]: { uploaded: 0, downloaded: 0, left: 10 } });
    await waitFor(() => found.length === 1, 2000, 'the first peers');
    beat({}); // paused: the worker dropped the torrent, and its peers with it
    await waitFor(() => transport.calls.some((c) => c.params.event === 'stopped'), 2000, 'stopped');
    beat({ [hexA]: { uploaded: 0, downloaded: 0, left: 10 } });
    await waitFor(() => found.length === 2, 2000, 'the same peers again');
    expect(found[1]!.peers).toEqual([{ host: '10.9.9.9', port: 51413 }]);
  });

  it('learns our external address (BEP 24) and drops workers listed under it', async () => {
    const { transport, client, found } = setup({ localAddresses: () => [] });
    transport.on(URL_A, (_p, n) => reply(n === 1 ? { externalIp: '203.0.113.9' } : { peers: [{ host: '203.0.113.9', port: 6002 }, { host: '10.9.9.9', port: 1 }] }));
    client.addTorrent({ infoHash: hashA, announce: [[URL_A]] });
    client.addTorrent({ infoHash: hashB, announce: [[URL_A]] });
    client.heartbeat({ workerId: 'w2', peerId: id(2), port: 6002, torrents: { [hexA]: { uploaded: 0, downloaded: 0, left: 0 } } });
    await waitFor(() => transport.calls.length === 1);
    client.heartbeat({ workerId: 'w2', peerId: id(2), port: 6002, torrents: { [hexA]: { uploaded: 0, downloaded: 0, left: 0 }, [hexB]: { uploaded: 0, downloaded: 0, left: 0 } } });
    await waitFor(() => found.length === 1);
    expect(found[0]).toEqual({ hex: hexB, source: URL_A, peers: [{ host: '10.9.9.9', port: 1 }] });
  });

  it('sends completed when a worker finishes, not for a worker that started complete', async () => {
    const { transport, client } = setup();
    transport.on(URL_A, () => reply());
    client.addTorrent({ infoHash: hashA, announce: [[URL_A]] });
    const beat = (workerId: string, port: number, left: number) =>
      client.heartbeat({ workerId, peerId: id(port % 250), port, torrents: { [hexA]: { uploaded: 0, downloaded: 100 - left, left } } });
    beat('leech', 6001, 100);
    beat('seed', 6002, 0);
    await waitFor(() => transport.calls.length === 2);
    beat('leech', 6001, 0);
    beat('seed', 6002, 0);
    beat('leech', 6001, 0);
    await waitFor(() => transport.calls.length === 3);
    await new Promise((r) => setTimeout(r, 20));
    expect(transport.calls.map((c) => [c.params.port, c.params.event])).toEqual([
      [6001, 'started'],
      [6002, 'started'],
      [6001, 'completed'],
    ]);
    expect(transport.calls[2]!.params).toMatchObject({ left: 0, downloaded: 100 });
  });

  it('starts announcing a torrent a worker already reported once the torrent is added', async () => {
    const { transport, client } = setup();
    transport.on(URL_A, () => reply());
    client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents: { [hexA]: { uploaded: 0, downloaded: 0, left: 5 } } });
    await new Promise((r) => setTimeout(r, 20));
    expect(transport.calls).toHaveLength(0);
    client.addTorrent({ infoHash: hashA, announce: [[URL_A]] });
    await waitFor(() => transport.calls.length === 1);
  });

  it('sends stopped when a worker drops a torrent, leaves, or comes back as a different peer', async () => {
    const { transport, client } = setup();
    transport.on(URL_A, () => reply());
    client.addTorrent({ infoHash: hashA, announce: [[URL_A]] });
    client.addTorrent({ infoHash: hashB, announce: [[URL_A]] });
    const s = { uploaded: 0, downloaded: 0, left: 0 };
    client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents: { [hexA]: s, [hexB]: s } });
    await waitFor(() => transport.calls.length === 2);
    client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents: { [hexA]: s } }); // dropped B
    await waitFor(() => transport.calls.length === 3);
    expect(transport.calls[2]!.params).toMatchObject({ event: 'stopped', infoHash: hashB });

    client.heartbeat({ workerId: 'w1', peerId: id(9), port: 7001, torrents: { [hexA]: s } }); // restarted, new identity
    await waitFor(() => transport.calls.length === 5);
    const last = transport.calls.slice(3).map((c) => [c.params.port, c.params.event]);
    expect(last).toEqual(expect.arrayContaining([[6001, 'stopped'], [7001, 'started']]));

    await client.removeWorker('w1');
    expect(transport.calls[5]!.params).toMatchObject({ event: 'stopped', port: 7001 });
    expect(client.list()).toEqual([]);
  });

  it('stop() sends stopped for every torrent and worker and leaves an injected transport open', async () => {
    const { transport, client } = setup();
    transport.on(URL_A, () => reply());
    client.addTorrent({ infoHash: hashA, announce: [[URL_A]] });
    client.addTorrent({ infoHash: hashB, announce: [[URL_A]] });
    const s = { uploaded: 0, downloaded: 0, left: 0 };
    client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents: { [hexA]: s, [hexB]: s } });
    client.heartbeat({ workerId: 'w2', peerId: id(2), port: 6002, torrents: { [hexA]: s } });
    await waitFor(() => transport.calls.length === 3);
    await client.stop();
    const stopped = transport.calls.filter((c) => c.params.event === 'stopped');
    expect(stopped.map((c) => `${Buffer.from(c.params.infoHash).toString('hex').slice(0, 2)}:${c.params.port}`).sort()).toEqual(['aa:6001', 'aa:6002', 'bb:6001']);
    expect(transport.closed).toBe(false);
    expect(() => client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents: {} })).toThrow(/stopped/);
  });

  it('refuses a heartbeat it cannot announce, with a typed error, and changes nothing', () => {
    const { client } = setup();
    const bad = [
      { workerId: 'w', peerId: new Uint8Array(19), port: 1, torrents: {} },
      { workerId: 'w', peerId: id(1), port: 0, torrents: {} },
      { workerId: 'w', peerId: id(1), port: 1, host: 'no such host!', torrents: {} },
      { workerId: '', peerId: id(1), port: 1, torrents: {} },
    ];
    for (const hb of bad) {
      expect(() => client.heartbeat(hb)).toThrow(TrackerError);
    }
    expect(client.list()).toEqual([]);
  });

  it('warns about tracker URLs it cannot use', () => {
    const { client, warnings } = setup();
    client.addTorrent({ infoHash: hashA, announce: [['wss://tracker.example/announce', URL_A]] });
    expect(warnings.map((w) => [w.kind, w.url])).toEqual([['unusable-url', 'wss://tracker.example/announce']]);
  });

  it('stopped after a worker leaves reports its last figures, not zeros', async () => {
    const { transport, client } = setup();
    transport.on(URL_A, () => reply());
    client.addTorrent({ infoHash: hashA, announce: [[URL_A]] });
    client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents: { [hexA]: { uploaded: 11, downloaded: 22, left: 33 } } });
    await waitFor(() => transport.calls.length === 1);
    client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents: { [hexA]: { uploaded: 44, downloaded: 55, left: 0 } } });
    await client.removeWorker('w1');
    const stopped = transport.calls.find((c) => c.params.event === 'stopped')!;
    expect(stopped.params).toMatchObject({ uploaded: 44, downloaded: 55, left: 0 });
  });

  it('takes a worker whose heartbeats stopped for dead, with a warning', async () => {
    let now = 0;
    const { transport, client, warnings } = setup({ workerTimeoutMs: 1000, now: () => now });
    transport.on(URL_A, () => reply());
    client.addTorrent({ infoHash: hashA, announce: [[URL_A]] });
    client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents: { [hexA]: { uploaded: 0, downloaded: 0, left: 0 } } });
    client.heartbeat({ workerId: 'w2', peerId: id(2), port: 6002, torrents: { [hexA]: { uploaded: 0, downloaded: 0, left: 0 } } });
    await waitFor(() => transport.calls.length === 2);
    now = 900;
    client.heartbeat({ workerId: 'w2', peerId: id(2), port: 6002, torrents: { [hexA]: { uploaded: 0, downloaded: 0, left: 0 } } });
    now = 1500;
    client.expireWorkers();
    await waitFor(() => transport.calls.length === 3);
    expect(transport.calls[2]!.params).toMatchObject({ event: 'stopped', port: 6001 });
    expect(warnings.map((w) => [w.kind, w.workerId])).toEqual([['worker-expired', 'w1']]);
    expect(client.list().map((e) => e.workerId)).toEqual(['w2']);
  });
});
