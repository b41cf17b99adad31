/**
 * Reading a whole bucket at once (kvSnapshot), against a real nats-server:
 * the registry list of every control API call and the membership read of
 * every worker go through it.
 */
import { connect, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kvSnapshot } from '../src/kv-snapshot.js';
import { startNatsServer } from '../../../test/support/nats.js';
import { cleanupAfter, cleanupAll, cleanupMark } from '../../../test/support/processes.js';
import { needTool, tools } from '../../../test/support/tools.js';

const nats = needTool(tools.natsServer);
describe.skipIf(!nats.available)('kvSnapshot', () => {
  let nc: NatsConnection | undefined;
  let mark = 0;
  beforeEach(async () => {
    mark = cleanupMark();
    nc = await connect({ servers: (await startNatsServer()).url });
  });
  afterEach(async () => {
    await nc?.close();
    await cleanupAfter(mark);
  });
  afterAll(cleanupAll);

  it('an empty bucket is an empty list, at once', async () => {
    const kv = await nc!.jetstream().views.kv('snap_empty', { history: 1 });
    expect(await kvSnapshot(kv, 2000)).toEqual([]);
  });

  it('gives the last value of every key, without deleted or purged keys, whatever comes last', async () => {
    const kv = await nc!.jetstream().views.kv('snap_mixed', { history: 1 });
    const values = new Map<string, string>();
    for (let i = 0; i < 3000; i++) {
      await kv.put(`k${i}`, `v${i}`);
      values.set(`k${i}`, `v${i}`);
    }
    for (let i = 0; i < 3000; i += 7) {
      await kv.put(`k${i}`, `again${i}`);
      values.set(`k${i}`, `again${i}`);
    }
    for (let i = 0; i < 3000; i += 11) {
      await kv.delete(`k${i}`);
      values.delete(`k${i}`);
    }
    await kv.purge('k1');
    values.delete('k1');
    // The stream ends on a delete: the snapshot must still know it is complete.
    await kv.delete('k2');
    values.delete('k2');
    const got = await kvSnapshot(kv, 2000);
    expect(new Map(got.map((e) => [e.key, new TextDecoder().decode(e.value)]))).toEqual(values);
  });
});
