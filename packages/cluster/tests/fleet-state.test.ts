/** The fleet's key-value state against a real nats-server with JetStream. */
import { connect, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FleetState, gatherPeers, ReannounceError, requestReannounce, servePeerLists, serveReannounces, type PeerInfo, type TrackerStatus } from '../src/index.js';
import { registryContract } from './support/registry-contract.js';
import { startNatsServer, type RunningNats } from '../../../test/support/nats.js';
import { cleanupAfter, cleanupAll, cleanupMark, sleep } from '../../../test/support/processes.js';
import { needTool, tools } from '../../../test/support/tools.js';

const nats = needTool(tools.natsServer);
describe.skipIf(!nats.available)('FleetState', () => {
  let server: RunningNats;
  let nc: NatsConnection;
  let mark = 0;
  beforeEach(async () => {
    mark = cleanupMark();
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });
  afterEach(async () => {
    await nc.close();
    await cleanupAfter(mark);
  });
  afterAll(cleanupAll);

  it('keeps a registry and bitfields: add once, list, pause, recheck, remove, merge, replace, and tells watchers', async () => {
    await registryContract(await FleetState.open(nc), () => FleetState.open(nc));
  });

  it('forgets workers that stop sending heartbeats', async () => {
    const state = await FleetState.open(nc, { workerTtlMs: 1000 });
    await state.putWorker({ workerId: 'w1', peerIdHex: '00'.repeat(20), port: 6881, time: Date.now() });
    expect((await state.listWorkers()).map((w) => w.workerId)).toEqual(['w1']);
    await sleep(1600);
    expect(await state.listWorkers()).toEqual([]);
  });

  it('keeps tracker statuses per torrent for watchers (one that starts late included), and drops them with the torrent', async () => {
    const state = await FleetState.open(nc);
    const hex = 'ab'.repeat(20);
    const status: TrackerStatus = { url: 'http://t.test/announce', lastAnnounceStartAt: 1, lastAnnounceAt: 2, ok: false, failure: 'refused', error: 'Unregistered torrent' };
    await state.putTrackerStatus(hex, [status]);
    const seen = new Map<string, TrackerStatus[] | undefined>();
    const stop = await state.watchTrackerStatus((h, list) => seen.set(h, list));
    // Delivered before the watch answers: a replica that just started has them.
    expect(seen.get(hex)).toEqual([status]);
    expect(await state.listTrackerStatus()).toEqual(new Map([[hex, [status]]]));
    await state.putTrackerStatus(hex, []);
    for (let i = 0; i < 100 && seen.get(hex) !== undefined; i++) await sleep(20);
    expect(seen.get(hex)).toBeUndefined();
    stop();
  });

  it('gathers a torrent\'s peers from the workers that run it, not waiting past the deadline for one that is silent', async () => {
    const hex = 'cd'.repeat(20);
    const peer = (host: string): PeerInfo => ({ host, port: 6881, client: '', peerIdClient: '', incoming: false, amChoking: true, amInterested: false, peerChoking: true, peerInterested: false, optimistic: false, snubbed: false, progress: 0, relevance: 0, downloadRate: 0, uploadRate: 0, downloaded: 0, uploaded: 0 });
    const a = servePeerLists(nc, 'pw1', (h) => (h === hex ? [peer('10.0.0.1')] : undefined));
    const b = servePeerLists(nc, 'pw2', (h) => (h === hex ? [peer('10.0.0.2'), peer('10.0.0.3')] : undefined));
    await nc.flush();
    let started = Date.now();
    const all = await gatherPeers(nc, hex, 2, 5000);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(all.map((p) => `${p.workerId} ${p.host}`).sort()).toEqual(['pw1 10.0.0.1', 'pw2 10.0.0.2', 'pw2 10.0.0.3']);
    // A third worker expected but silent: what came in, after the deadline.
    started = Date.now();
    expect(await gatherPeers(nc, hex, 3, 300)).toHaveLength(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(await gatherPeers(nc, 'ef'.repeat(20), 0)).toEqual([]);
    a.unsubscribe();
    b.unsubscribe();
  });

  it('asks the tracker-client for a reannounce, and says so when none answers', async () => {
    await expect(requestReannounce(nc, 'ab'.repeat(20), 300)).rejects.toThrow(ReannounceError);
    const asked: string[] = [];
    const sub = serveReannounces(nc, (hex) => {
      asked.push(hex);
      return 2;
    });
    await nc.flush();
    expect(await requestReannounce(nc, 'ab'.repeat(20))).toBe(2);
    expect(asked).toEqual(['ab'.repeat(20)]);
    sub.unsubscribe();
  });
});
