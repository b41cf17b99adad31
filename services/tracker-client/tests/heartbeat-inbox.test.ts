import { connect, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WORKER_HEARTBEAT, WORKER_HEARTBEAT_CHANGES } from '@seedbox/cluster';
import { WorkerHeartbeat } from '@seedbox/proto';
import { clientBeat, HeartbeatInbox, MAX_QUEUED_CHANGES, watchWorkerHeartbeats, type BeatKind } from '../src/heartbeat-inbox.js';
import { TrackerClient } from '../src/tracker-client.js';
import { FakeTransport, reply } from './support/fake-transport.js';
import { startNatsServer } from '../../../test/support/nats.js';
import { cleanupAfter, cleanupAll, cleanupMark, onCleanup, waitFor } from '../../../test/support/processes.js';
import { needTool, tools } from '../../../test/support/tools.js';

/**
 * The tracker-client service's side of worker heartbeats: a full one
 * replaces the full and partial ones held before it, partial ones are
 * kept in order (bounded), and a TrackerClient fed from NATS that missed a
 * partial one is back in step at the next full one.
 */

const URL_A = 'http://a.test/announce';
const hex = (n: number): string => n.toString(16).padStart(2, '0').repeat(20);

function beat(workerId: string, seq: number, listed: number[], gone: number[] = []): Uint8Array {
  return WorkerHeartbeat.encode({
    workerId,
    peerId: Buffer.alloc(20, 1),
    announceHost: '',
    listenPort: 6001,
    timeMs: 1,
    seq,
    gone: gone.map(hex),
    torrents: listed.map((n) => ({ infoHash: hex(n), uploaded: 0, downloaded: 0, left: 1, complete: false, trackers: [] })),
  }).finish();
}

/** A real TrackerClient behind the inbox, fed as the service feeds it. */
function trackerClient(): { client: TrackerClient; handle: (kind: BeatKind, data: Uint8Array) => void; announced: () => string[] } {
  const client = new TrackerClient({ peerFeed: { peersFound: () => {} }, transport: new FakeTransport().on(URL_A, () => reply()), localAddresses: () => [], scrape: false, timing: { stopTimeoutMs: 200 } });
  onCleanup('stop the tracker-client', () => client.stop());
  for (const n of [1, 2, 3, 4]) client.addTorrent({ infoHash: Buffer.from(hex(n), 'hex'), announce: [[URL_A]] });
  const handle = (kind: BeatKind, data: Uint8Array): void => {
    const b = clientBeat(WorkerHeartbeat.decode(data));
    if (kind === 'full') client.heartbeat(b);
    else client.heartbeatChanges(b);
  };
  return { client, handle, announced: () => client.list().map((a) => a.infoHashHex).sort() };
}

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

describe('HeartbeatInbox', () => {
  it('while busy keeps a worker’s latest full heartbeat and every partial one after it, in order', () => {
    const handed: string[] = [];
    const inbox = new HeartbeatInbox((kind, data) => {
      const hb = WorkerHeartbeat.decode(data);
      handed.push(`${hb.workerId} ${kind} ${hb.seq}`);
    });
    inbox.put('full', beat('w1', 1, [1]));
    inbox.put('changes', beat('w1', 2, [2]));
    inbox.put('changes', beat('w2', 7, []));
    inbox.put('full', beat('w1', 3, [1, 2]));
    inbox.put('changes', beat('w1', 4, [3]));
    inbox.put('changes', beat('w1', 5, [], [1]));
    inbox.drain();
    expect(handed).toEqual(['w1 full 3', 'w1 changes 4', 'w1 changes 5', 'w2 changes 7']);
  });

  it('applies partial heartbeats that queued while busy, all of them, and holds MAX_QUEUED_CHANGES at most', () => {
    const { handle, announced } = trackerClient();
    const inbox = new HeartbeatInbox(handle);
    inbox.put('full', beat('w1', 1, [1]));
    inbox.put('changes', beat('w1', 2, [2]));
    inbox.put('changes', beat('w1', 3, [3], [1]));
    inbox.drain();
    expect(announced()).toEqual([hex(2), hex(3)]);

    let handed = 0;
    const counting = new HeartbeatInbox(() => handed++);
    for (let seq = 1; seq <= 2 * MAX_QUEUED_CHANGES; seq++) counting.put('changes', beat('w1', seq, []));
    counting.drain();
    expect(handed).toBe(MAX_QUEUED_CHANGES);
  });
});

const nats = needTool(tools.natsServer);

describe.skipIf(!nats.available)('worker heartbeats over a real nats-server', () => {
  async function connected(url: string): Promise<NatsConnection> {
    const nc = await connect({ servers: url });
    onCleanup('close NATS', () => nc.close());
    return nc;
  }

  it('a tracker-client that missed a partial heartbeat ignores the ones after it, and is back in step at the next full one', async () => {
    const server = await startNatsServer();
    const worker = await connected(server.url);
    const tc = await connected(server.url);
    const { client, handle, announced } = trackerClient();
    const handled: number[] = [];
    const sub = watchWorkerHeartbeats(
      tc,
      new HeartbeatInbox((kind, data) => {
        handle(kind, data);
        handled.push(WorkerHeartbeat.decode(data).seq);
      }),
    );
    onCleanup('unsubscribe', () => sub.unsubscribe());
    await tc.flush();
    // One at a time, each handled before the next: a tracker-client keeping up.
    const send = async (subject: string, data: Uint8Array): Promise<void> => {
      const before = handled.length;
      worker.publish(subject, data);
      await worker.flush();
      await waitFor(() => handled.length > before, 5000, 'the heartbeat handled');
    };

    await send(WORKER_HEARTBEAT, beat('w1', 1, [1]));
    await send(WORKER_HEARTBEAT_CHANGES, beat('w1', 2, [2]));
    expect(announced()).toEqual([hex(1), hex(2)]);
    // seq 3 (joining 3) is lost; 4 and 5 come.
    await send(WORKER_HEARTBEAT_CHANGES, beat('w1', 4, [4]));
    await send(WORKER_HEARTBEAT_CHANGES, beat('w1', 5, [], [1]));
    expect(announced()).toEqual([hex(1), hex(2)]);
    // The next full heartbeat says what the worker runs; partial ones apply again after it.
    await send(WORKER_HEARTBEAT, beat('w1', 6, [2, 3, 4]));
    expect(announced()).toEqual([hex(2), hex(3), hex(4)]);
    await send(WORKER_HEARTBEAT_CHANGES, beat('w1', 7, [1], [4]));
    expect(announced()).toEqual([hex(1), hex(2), hex(3)]);
    expect(client.announcerCount).toBe(3);
  });
});
