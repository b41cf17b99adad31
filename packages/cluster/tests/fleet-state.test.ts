/** The fleet's key-value state against a real nats-server with JetStream. */
import { connect, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FleetState } from '../src/index.js';
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
});
