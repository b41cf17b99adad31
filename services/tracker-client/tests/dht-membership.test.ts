import type { PeerAddress } from '@seedbox/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { DhtSwarmsLike } from '../src/dht-membership.js';
import type { PeerFeed } from '../src/peer-feed.js';
import { TrackerClient } from '../src/tracker-client.js';
import { FakeTransport } from './support/fake-transport.js';

/**
 * Which torrents the TrackerClient puts on the DHT, for which ports: every
 * public torrent a worker serves, for each worker's port; never a private
 * one; none while the fleet's switch is off. DhtSwarms itself (lookups,
 * rounds) is tested in dht-swarms.test.ts.
 */

const hashA = new Uint8Array(20).fill(0xaa);
const hexA = 'aa'.repeat(20);
const hashP = new Uint8Array(20).fill(0xcc);
const hexP = 'cc'.repeat(20);
const id = (n: number): Uint8Array => new Uint8Array(20).fill(n);
const stats = { uploaded: 0, downloaded: 0, left: 0 };

class FakeSwarms implements DhtSwarmsLike {
  readonly joined = new Map<string, { ports: number[]; onPeers: (p: PeerAddress[]) => void }>();
  readonly events: string[] = [];
  join(infoHash: Uint8Array, ports: readonly number[], onPeers: (p: PeerAddress[]) => void): void {
    const hex = Buffer.from(infoHash).toString('hex');
    this.joined.set(hex, { ports: [...ports], onPeers });
    this.events.push(`join ${hex.slice(0, 2)} ${ports.join(',')}`);
  }
  setPorts(infoHash: Uint8Array, ports: readonly number[]): void {
    const hex = Buffer.from(infoHash).toString('hex');
    this.joined.get(hex)!.ports = [...ports];
    this.events.push(`ports ${hex.slice(0, 2)} ${ports.join(',')}`);
  }
  leave(infoHash: Uint8Array): void {
    const hex = Buffer.from(infoHash).toString('hex');
    this.joined.delete(hex);
    this.events.push(`leave ${hex.slice(0, 2)}`);
  }
}

const clients: TrackerClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
});

function setup() {
  const swarms = new FakeSwarms();
  const found: { hex: string; peers: PeerAddress[]; source: string }[] = [];
  const feed: PeerFeed = { peersFound: (hex, peers, source) => found.push({ hex, peers, source }) };
  const client = new TrackerClient({ peerFeed: feed, transport: new FakeTransport(), dht: swarms, localAddresses: () => ['127.0.0.1'], timing: { stopTimeoutMs: 100 } });
  clients.push(client);
  return { swarms, found, client };
}

describe('the DHT in the TrackerClient', () => {
  it('looks up a public torrent for the ports of the workers that serve it, as they come and go', async () => {
    const { swarms, client } = setup();
    client.addTorrent({ infoHash: hashA, announce: [] });
    expect(swarms.events).toEqual([]); // no worker serves it yet
    client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents: { [hexA]: stats } });
    client.heartbeat({ workerId: 'w2', peerId: id(2), port: 6002, torrents: { [hexA]: stats } });
    client.heartbeat({ workerId: 'w2', peerId: id(2), port: 6002, torrents: { [hexA]: stats } }); // nothing changed
    await client.removeWorker('w1');
    client.heartbeat({ workerId: 'w2', peerId: id(2), port: 6002, torrents: {} });
    expect(swarms.events).toEqual([`join aa 6001`, `ports aa 6001,6002`, `ports aa 6002`, `leave aa`]);
  });

  it('hears from partial heartbeats of joins and leaves only, not of figures that moved', () => {
    const { swarms, client } = setup();
    client.addTorrent({ infoHash: hashA, announce: [] });
    client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, seq: 1, torrents: {} });
    client.heartbeat({ workerId: 'w2', peerId: id(2), port: 6002, seq: 1, torrents: { [hexA]: stats } });
    client.heartbeatChanges({ workerId: 'w1', peerId: id(1), port: 6001, seq: 2, torrents: { [hexA]: stats } });
    client.heartbeatChanges({ workerId: 'w1', peerId: id(1), port: 6001, seq: 3, torrents: { [hexA]: { ...stats, uploaded: 5 } } });
    client.heartbeatChanges({ workerId: 'w2', peerId: id(2), port: 6002, seq: 2, torrents: {}, gone: [hexA] });
    client.heartbeatChanges({ workerId: 'w1', peerId: id(1), port: 6001, seq: 4, torrents: {}, gone: [hexA] });
    expect(swarms.events).toEqual([`join aa 6002`, `ports aa 6001,6002`, `ports aa 6001`, `leave aa`]);
  });

  it('never puts a private torrent on the DHT (BEP 27)', () => {
    const { swarms, client } = setup();
    client.addTorrent({ infoHash: hashP, announce: [['http://t.test/announce']], private: true });
    client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents: { [hexP]: stats } });
    expect(swarms.joined.has(hexP)).toBe(false);
    expect(swarms.events).toEqual([]);
  });

  it('leaves every torrent while the switch is off, and joins them again when it is on', () => {
    const { swarms, client } = setup();
    client.addTorrent({ infoHash: hashA, announce: [] });
    client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents: { [hexA]: stats } });
    client.setDhtEnabled(false);
    client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents: { [hexA]: stats } });
    expect(swarms.joined.size).toBe(0);
    client.setDhtEnabled(true);
    expect(swarms.events).toEqual([`join aa 6001`, `leave aa`, `join aa 6001`]);
  });

  it('passes the peers the DHT finds on, as from "dht", without our own workers', () => {
    const { swarms, client, found } = setup();
    client.addTorrent({ infoHash: hashA, announce: [] });
    client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents: { [hexA]: stats } });
    swarms.joined.get(hexA)!.onPeers([
      { host: '10.9.0.1', port: 5000 },
      { host: '127.0.0.1', port: 6001 }, // ourselves, as the DHT lists us
    ]);
    expect(found).toEqual([{ hex: hexA, peers: [{ host: '10.9.0.1', port: 5000 }], source: 'dht' }]);
  });

  it('a removed torrent leaves the DHT', async () => {
    const { swarms, client } = setup();
    client.addTorrent({ infoHash: hashA, announce: [] });
    client.heartbeat({ workerId: 'w1', peerId: id(1), port: 6001, torrents: { [hexA]: stats } });
    await client.removeTorrent(hexA);
    expect(swarms.joined.size).toBe(0);
  });
});
