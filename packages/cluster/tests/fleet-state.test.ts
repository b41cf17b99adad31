/** The fleet's key-value state against a real nats-server with JetStream. */
import { connect, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FleetState, type RegistryEntry } from '../src/index.js';
import { startNatsServer, type RunningNats } from '../../../test/support/nats.js';
import { cleanupAfter, cleanupAll, cleanupMark, sleep } from '../../../test/support/processes.js';
import { needTool, tools } from '../../../test/support/tools.js';

const nats = needTool(tools.natsServer);
const A = 'aa'.repeat(20);
const B = 'bb'.repeat(20);
const entry = (hex: string, addedAt = 1): RegistryEntry => ({ infoHashHex: hex, torrentFile: new Uint8Array([1, 2, 3]), desired: 'running', addedAt });

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

  it('keeps a registry: add once, list, pause, remove, and tells watchers', async () => {
    const state = await FleetState.open(nc);
    const seen: [string, string | undefined][] = [];
    const stop = await state.watchTorrents((hex, e) => seen.push([hex, e?.desired]));
    expect(await state.addTorrent(entry(A, 2))).toBe(true);
    expect(await state.addTorrent({ ...entry(A, 2), desired: 'paused' })).toBe(false);
    expect(await state.addTorrent(entry(B, 1))).toBe(true);
    expect((await state.listTorrents()).map((e) => e.infoHashHex)).toEqual([B, A]);
    expect(await state.setDesired(A, 'paused')).toBe(true);
    expect((await state.getTorrent(A))!.desired).toBe('paused');
    expect(await state.removeTorrent(B)).toBe(true);
    expect(await state.removeTorrent(B)).toBe(false);
    expect(await state.setDesired(B, 'running')).toBe(false);
    // Opening again (another service) finds the same buckets.
    const other = await FleetState.open(nc);
    expect((await other.listTorrents()).map((e) => e.infoHashHex)).toEqual([A]);
    for (let i = 0; i < 50 && seen.length < 4; i++) await sleep(20);
    expect(seen).toEqual([
      [A, 'running'],
      [B, 'running'],
      [A, 'paused'],
      [B, undefined],
    ]);
    stop();
  });

  it('merges bitfields from writers racing each other', async () => {
    const state = await FleetState.open(nc);
    await Promise.all(Array.from({ length: 10 }, (_, i) => state.mergeBitfield(A, 100, [i * 10, i * 10 + 1])));
    const bf = await state.getBitfield(A, 100);
    expect(bf.count).toBe(20);
    expect(bf.has(91)).toBe(true);
    // A stored bitfield of the wrong size is not trusted.
    expect((await state.getBitfield(A, 5000)).count).toBe(0);
  });

  it('forgets workers that stop sending heartbeats', async () => {
    const state = await FleetState.open(nc, { workerTtlMs: 1000 });
    await state.putWorker({ workerId: 'w1', peerIdHex: '00'.repeat(20), port: 6881, time: Date.now() });
    expect((await state.listWorkers()).map((w) => w.workerId)).toEqual(['w1']);
    await sleep(1600);
    expect(await state.listWorkers()).toEqual([]);
  });
});
