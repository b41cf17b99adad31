import { createRequire } from 'node:module';
import type { AnnounceParams } from '@seedbox/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrackerClient } from '../src/tracker-client.js';
import { NetworkTrackerTransport } from '../src/transport.js';
import { waitFor } from './support/fake-transport.js';

/**
 * Against webtorrent's `bittorrent-tracker` server (npm, in-process, HTTP and
 * UDP), a second independent tracker implementation next to opentracker.
 * The same test body runs over both protocols, as that project's own tests do.
 */

interface TrackerServer {
  http: { address(): { port: number } } | null;
  udp4: { address(): { port: number } } | null;
  on(event: 'error' | 'warning', listener: (err: Error) => void): void;
  once(event: 'listening', listener: () => void): void;
  listen(...args: ListenArgs): void;
  close(cb: () => void): void;
}
type ServerCtor = new (opts: { http: boolean; udp: boolean; ws: boolean; stats: boolean; interval: number }) => TrackerServer;
type ListenArgs = [port: { http: number; udp: number }, hostname: { http: string; udp: string; udp6: string }] | [port: number, hostname: string];

let Server: ServerCtor | undefined;
let loadError: unknown;
try {
  Server = (createRequire(import.meta.url)('bittorrent-tracker') as { Server: ServerCtor }).Server;
} catch (e) {
  loadError = e;
  console.warn(`skipping the bittorrent-tracker tests: the package does not load (${String(e)}); npm i -D bittorrent-tracker@9 --ignore-scripts`);
}

const hash = (b: number): Uint8Array => new Uint8Array(20).fill(b);
const peerId = (c: string): Uint8Array => Buffer.from(`-SB0100-${c.repeat(12)}`, 'latin1');

describe.skipIf(Server === undefined)('against the bittorrent-tracker server', () => {
  let server: TrackerServer;
  const serverErrors: string[] = [];
  let httpUrl = '';
  let udpUrl = '';
  const transport = new NetworkTrackerTransport({ http: { timeoutMs: 3000 }, udp: { retransmitBaseMs: 500, maxRetransmits: 2 } });

  beforeAll(async () => {
    expect(loadError).toBeUndefined();
    server = new Server!({ http: true, udp: true, ws: false, stats: false, interval: 60_000 });
    server.on('error', (e) => serverErrors.push(`error: ${e.message}`));
    server.on('warning', (e) => serverErrors.push(`warning: ${e.message}`));
    await new Promise<void>((resolve) => {
      server.once('listening', resolve);
      // udp6 on ::1: the server always opens an IPv6 socket too, and binding
      // it to 127.0.0.1 fails.
      server.listen({ http: 0, udp: 0 }, { http: '127.0.0.1', udp: '127.0.0.1', udp6: '::1' });
    });
    httpUrl = `http://127.0.0.1:${server.http!.address().port}/announce`;
    udpUrl = `udp://127.0.0.1:${server.udp4!.address().port}`;
  });
  afterAll(async () => {
    await transport.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const announceAs = (url: string, torrent: number, who: { id: string; port: number }, event: AnnounceParams['event']) =>
    transport.announce(url, { infoHash: hash(torrent), peerId: peerId(who.id), port: who.port, uploaded: 0, downloaded: 0, left: 100, event, numWant: 50, key: 1 });

  for (const [proto, torrent] of [
    ['http', 0x51],
    ['udp', 0x52],
  ] as const) {
    it(`${proto}: a second worker receives the first as a peer; stopped removes it`, async () => {
      const url = proto === 'http' ? httpUrl : udpUrl;
      const a = { id: 'a', port: 42001 };
      const b = { id: 'b', port: 42002 };
      const first = await announceAs(url, torrent, a, 'started');
      expect(first.interval).toBe(60);
      const seen = await announceAs(url, torrent, b, 'started');
      expect(seen.peers).toContainEqual({ host: '127.0.0.1', port: a.port });
      expect(seen).toMatchObject({ complete: 0, incomplete: 2 });
      await announceAs(url, torrent, a, 'stopped');
      const after = await announceAs(url, torrent, b, 'none');
      expect(after.peers).not.toContainEqual({ host: '127.0.0.1', port: a.port });
      expect(serverErrors).toEqual([]);
    });
  }

  it('the fleet over both protocols: workers see the outside peer, never each other', async () => {
    const torrent = 0x53;
    const outside = { id: 'x', port: 42999 };
    await announceAs(udpUrl, torrent, outside, 'started');
    const found: { host: string; port: number }[] = [];
    const announced: string[] = [];
    const client = new TrackerClient({
      peerFeed: { peersFound: (_hex, peers) => found.push(...peers) },
      network: { udp: { retransmitBaseMs: 500, maxRetransmits: 2 } },
      onAnnounce: (s) => announced.push(`${s.workerId}:${s.event}:${s.url.slice(0, 4)}`),
      onWarning: (w) => {
        throw new Error(`unexpected warning: ${w.message}`);
      },
    });
    try {
      // Both URLs in one tier: each worker's announcer may pick either.
      client.addTorrent({ infoHash: hash(torrent), announce: [[httpUrl, udpUrl]] });
      for (const [workerId, port] of [
        ['w1', 42101],
        ['w2', 42102],
      ] as const) {
        client.heartbeat({ workerId, peerId: peerId(workerId.slice(1)), port, torrents: { [Buffer.from(hash(torrent)).toString('hex')]: { uploaded: 0, downloaded: 0, left: 50 } } });
      }
      await waitFor(() => announced.length === 2, 5000, 'both workers announced');
      const swarm = await announceAs(udpUrl, torrent, outside, 'none');
      expect(swarm.peers).toEqual(expect.arrayContaining([{ host: '127.0.0.1', port: 42101 }, { host: '127.0.0.1', port: 42102 }]));
      expect(found).toEqual([{ host: '127.0.0.1', port: outside.port }]);
    } finally {
      await client.stop();
    }
    const gone = await announceAs(udpUrl, torrent, outside, 'none');
    expect(gone.peers.filter((p) => p.port !== outside.port)).toEqual([]); // (it may list the asker itself)
    expect(serverErrors).toEqual([]);
  });

  it('http over IPv6: peers come back in peers6 (BEP 7)', async () => {
    const v6 = new Server!({ http: true, udp: false, ws: false, stats: false, interval: 60_000 });
    v6.on('error', (e) => serverErrors.push(`error: ${e.message}`));
    await new Promise<void>((resolve) => {
      v6.once('listening', resolve);
      v6.listen(0, '::1');
    });
    try {
      const url = `http://[::1]:${v6.http!.address().port}/announce`;
      await announceAs(url, 0x54, { id: 'a', port: 42201 }, 'started');
      const seen = await announceAs(url, 0x54, { id: 'b', port: 42202 }, 'started');
      expect(seen.peers).toContainEqual({ host: '::1', port: 42201 });
    } finally {
      await new Promise<void>((r) => v6.close(() => r()));
    }
    expect(serverErrors).toEqual([]);
  });
});
