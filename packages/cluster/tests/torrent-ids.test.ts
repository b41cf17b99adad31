/**
 * Torrent ids under contention, against a real nats-server: every add asks
 * FleetState.nextTorrentId, a compare-and-set on one key, so a burst of
 * adds (a watch folder filled at once, a script adding a season) races on
 * it. Each caller must come away with its own id.
 */
import { connect, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FleetState } from '../src/index.js';
import { startNatsServer } from '../../../test/support/nats.js';
import { cleanupAfter, cleanupAll, cleanupMark } from '../../../test/support/processes.js';
import { needTool, tools } from '../../../test/support/tools.js';

const nats = needTool(tools.natsServer);
describe.skipIf(!nats.available)('FleetState.nextTorrentId', () => {
  const conns: NatsConnection[] = [];
  let url = '';
  let mark = 0;
  beforeEach(async () => {
    mark = cleanupMark();
    url = (await startNatsServer()).url;
  });
  afterEach(async () => {
    for (const nc of conns.splice(0)) await nc.close();
    await cleanupAfter(mark);
  });
  afterAll(cleanupAll);

  it('gives 50 concurrent callers, over five connections (five replicas of the API), 50 distinct ids in a row', async () => {
    for (let i = 0; i < 5; i++) conns.push(await connect({ servers: url }));
    const states = await Promise.all(conns.map((nc) => FleetState.open(nc)));
    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => states[i % states.length]!.nextTorrentId()));
    expect(new Set(ids).size).toBe(50);
    expect([...ids].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // The counter stands where the last one left it.
    expect(await states[0]!.nextTorrentId()).toBe(51);
  });

  it('opens for twenty replicas started at once on a fresh NATS: the losers of each bucket\'s create bind to it', async () => {
    for (let i = 0; i < 20; i++) conns.push(await connect({ servers: url }));
    const states = await Promise.all(conns.map((nc) => FleetState.open(nc)));
    const ids = await Promise.all(states.map((s) => s.nextTorrentId()));
    expect(new Set(ids).size).toBe(20);
  });
});
