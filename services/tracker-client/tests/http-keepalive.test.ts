import type { AnnounceParams } from '@seedbox/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpTrackerClient } from '../src/http-tracker.js';
import { TrackerClient } from '../src/tracker-client.js';
import { waitFor } from './support/fake-transport.js';
import { goodHttpReply, startHttpStub, type HttpStub } from './support/stub-trackers.js';

/**
 * One keep-alive pool per HTTP tracker: announces reuse connections
 * (counted by the tracker's own 'connection' events), no more than the
 * per-tracker limit of them, idle ones close soon, and closing the client
 * closes them all. Real HTTP servers on 127.0.0.1.
 */

const params = (n: number): AnnounceParams => ({
  infoHash: new Uint8Array(20).fill(n),
  peerId: new Uint8Array(20).fill(2),
  port: 6881,
  uploaded: 0,
  downloaded: 0,
  left: 0,
  event: 'none',
});

const stubs: HttpStub[] = [];
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
  await Promise.all(stubs.splice(0).map((s) => s.close()));
});
const stub = async (handler: Parameters<typeof startHttpStub>[0]): Promise<HttpStub> => {
  const s = await startHttpStub(handler);
  stubs.push(s);
  return s;
};
const client = (...args: ConstructorParameters<typeof HttpTrackerClient>): HttpTrackerClient => {
  const c = new HttpTrackerClient(...args);
  closers.push(() => c.close());
  return c;
};

describe('HTTP keep-alive, one pool per tracker', () => {
  it('sends 20 announces to one tracker over one connection', async () => {
    const s = await stub((_req, res) => res.end(goodHttpReply([])));
    const c = client();
    for (let i = 0; i < 20; i++) await c.announce(s.url('/announce?passkey=k'), params(i));
    expect(s.requests).toHaveLength(20);
    expect(s.connections).toBe(1);
  });

  it('opens no more connections than the per-tracker limit, however many announces are asked for at once', async () => {
    const s = await stub((_req, res) => setTimeout(() => res.end(goodHttpReply([])), 30));
    const c = client({}, { maxSockets: 4 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => c.announce(s.url(), params(i))));
    expect(s.requests).toHaveLength(12);
    expect(s.connections).toBeLessThanOrEqual(4);
    expect(s.maxInFlight).toBeLessThanOrEqual(4);
    // Another tracker has a pool of its own.
    const other = await stub((_req, res) => res.end(goodHttpReply([])));
    await c.announce(other.url(), params(1));
    expect(other.connections).toBe(1);
  });

  it('closes an idle connection after the free-socket timeout, and opens a new one when needed', async () => {
    const s = await stub((_req, res) => res.end(goodHttpReply([])));
    const c = client({}, { freeSocketTimeoutMs: 100 });
    await c.announce(s.url(), params(1));
    expect(s.open).toBe(1);
    await waitFor(() => s.open === 0, 2000, 'the idle connection to close');
    await c.announce(s.url(), params(2));
    expect(s.connections).toBe(2);
  });

  it('close() closes every pooled connection at once', async () => {
    const s = await stub((_req, res) => res.end(goodHttpReply([])));
    const c = client({}, { freeSocketTimeoutMs: 60_000 });
    await Promise.all([1, 2, 3].map((n) => c.announce(s.url(), params(n))));
    expect(s.open).toBeGreaterThan(0);
    c.close();
    await waitFor(() => s.open === 0, 1000, 'the pooled connections to close');
  });

  it('sends again on a new connection when the server drops a reused one before answering', async () => {
    // Each connection answers its first request and hangs up on its second:
    // keep-alive's race (the server closing an idle connection as we send on it), made certain.
    const served = new WeakMap<object, number>();
    const s = await stub((req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      if (n === 1) res.end(goodHttpReply([]));
      else req.socket.destroy();
    });
    const c = client({}, { freeSocketTimeoutMs: 60_000 });
    await c.announce(s.url(), params(1));
    await expect(c.announce(s.url(), params(2))).resolves.toMatchObject({ interval: 1800 });
    expect(s.requests).toHaveLength(3);
    expect(s.connections).toBe(2);
  });

  it('TrackerClient: its announces share the pool, and stop() closes it', async () => {
    const s = await stub((_req, res) => res.end(goodHttpReply([])));
    const tc = new TrackerClient({ peerFeed: { peersFound: () => {} }, onWarning: () => {}, localAddresses: () => [], timing: { stopTimeoutMs: 1000 }, network: { httpAgents: { freeSocketTimeoutMs: 60_000 } } });
    closers.push(() => tc.stop());
    const torrents: Record<string, { uploaded: number; downloaded: number; left: number }> = {};
    for (let i = 1; i <= 10; i++) {
      tc.addTorrent({ infoHash: new Uint8Array(20).fill(i), announce: [[s.url()]] });
      torrents[Buffer.alloc(20, i).toString('hex')] = { uploaded: 0, downloaded: 0, left: 0 };
    }
    tc.heartbeat({ workerId: 'w', peerId: new Uint8Array(20).fill(9), port: 6001, torrents });
    // Answered, not only received: a `started` still in flight at stop() gets no `stopped`.
    await waitFor(() => Object.keys(torrents).every((hex) => tc.trackerStatus(hex).length === 1), 5000, 'ten answers');
    expect(s.connections).toBeLessThanOrEqual(4);
    await tc.stop();
    expect(s.requests.filter((r) => r.includes('event=stopped'))).toHaveLength(10);
    await waitFor(() => s.open === 0, 1000, 'the pool to close');
  });
});
