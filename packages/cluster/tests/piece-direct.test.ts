/**
 * The direct data path against a real nats-server: the offer and the
 * answer over NATS, the bytes over TCP to the writer NATS chose; a writer
 * without it, or one that cannot be reached, gets the piece inline; a
 * writer that dies in the middle, and NATS restarting, lose nothing.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  formatPieceDataAddress,
  LeanNatsConnection,
  listenForPieceData,
  NatsPieceSink,
  PieceDataLinks,
  servePieceWrites,
  type PieceDataListener,
  type PieceSink,
  type PieceWriteServer,
} from '../src/index.js';
import { CheckingSink } from './support/checking-sink.js';
import { startNatsServer, type RunningNats } from '../../../test/support/nats.js';
import { cleanupAfter, cleanupAll, cleanupMark, sleep } from '../../../test/support/processes.js';
import { needTool, tools } from '../../../test/support/tools.js';

const nats = needTool(tools.natsServer);
const HASH = 'cd'.repeat(20);

/** A copy in one buffer of its own, as a download hands a piece over. */
const own = (b: Buffer): Uint8Array[] => [Uint8Array.from(b)];

describe.skipIf(!nats.available)('the direct data path', () => {
  let server: RunningNats;
  const buses: LeanNatsConnection[] = [];
  const servers: PieceWriteServer[] = [];
  const listeners: PieceDataListener[] = [];
  const links: PieceDataLinks[] = [];
  let mark = 0;

  async function bus(): Promise<LeanNatsConnection> {
    const c = new LeanNatsConnection({ servers: [server.url], reconnectTimeWait: 100 });
    buses.push(c);
    await c.connected();
    return c;
  }

  /** A writer with the direct path; `direct` counts the pieces whose bytes came over it. */
  async function directWriter(writerId: string, sink: PieceSink, opts: { address?: string } = {}) {
    const counts = { direct: 0, refused: [] as string[] };
    const ref: { s?: PieceWriteServer } = {};
    const listener = await listenForPieceData({
      host: '127.0.0.1',
      port: 0,
      expect: (id) => ref.s?.expectDirect(id),
      onPiece: (id, data) => {
        counts.direct++;
        ref.s?.takeDirect(id, data);
      },
      onRefused: (_reason, code) => counts.refused.push(code),
    });
    listeners.push(listener);
    const s = servePieceWrites({ bus: await bus(), writerId, sink, directAddress: opts.address ?? formatPieceDataAddress('127.0.0.1', listener.port) });
    ref.s = s;
    servers.push(s);
    return { server: s, listener, counts };
  }

  function worker(extra: Partial<ConstructorParameters<typeof NatsPieceSink>[0]> & { bus: LeanNatsConnection }): NatsPieceSink {
    const l = new PieceDataLinks();
    links.push(l);
    return new NatsPieceSink({ workerId: 'pw1', direct: l, ...extra });
  }

  beforeEach(async () => {
    mark = cleanupMark();
    server = await startNatsServer({ maxPayload: 1024 * 1024 });
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop(0);
    for (const l of listeners.splice(0)) await l.close();
    for (const l of links.splice(0)) l.close();
    for (const c of buses.splice(0)) await c.close();
    await cleanupAfter(mark);
  });
  afterAll(cleanupAll);

  it('sends the bytes over TCP to the writer that took the offer, 16 MiB pieces through a 1 MiB max_payload, byte for byte', async () => {
    const pieces = new Map([0, 1, 2, 3].map((i) => [i, randomBytes(i === 3 ? 3000 : 16 * 1024 * 1024)]));
    const sink = new CheckingSink(pieces);
    const w = await directWriter('w1', sink);
    const fallbacks: string[] = [];
    const sinkW = worker({ bus: await bus(), onDirectFallback: (_a, why) => fallbacks.push(why) });
    const outcomes = await Promise.all([...pieces].map(([index, p]) => sinkW.writePiece({ infoHash: HASH, index, blocks: own(p) })));
    expect(outcomes.map((o) => o.status)).toEqual(['written', 'written', 'written', 'written']);
    expect([...sink.written.keys()].sort()).toEqual([0, 1, 2, 3]);
    expect(w.counts.direct).toBe(4);
    expect(fallbacks).toEqual([]);
  });

  it('sends inline to a writer without the direct path, and to one it cannot reach', async () => {
    const pieces = new Map([0, 1, 2].map((i) => [i, randomBytes(2 * 1024 * 1024 + 7)]));
    // A writer that does not offer the direct path (SEEDBOX_PIECE_DATA=nats).
    const plain = new CheckingSink(pieces);
    servers.push(servePieceWrites({ bus: await bus(), writerId: 'plain', sink: plain }));
    const fallbacks: string[] = [];
    const w1 = worker({ bus: await bus(), onDirectFallback: (_a, why) => fallbacks.push(why) });
    expect(await w1.writePiece({ infoHash: HASH, index: 0, blocks: own(pieces.get(0)!) })).toMatchObject({ status: 'written' });
    expect(fallbacks).toEqual([]);
    await servers.pop()!.stop(0);

    // A writer that gives an address nobody listens on (a NetworkPolicy in the way, say).
    const closed = await closedPort();
    const unreachable = new CheckingSink(pieces);
    const u = await directWriter('unreachable', unreachable, { address: `127.0.0.1:${closed}` });
    const w2 = worker({ bus: await bus(), onDirectFallback: (_a, why) => fallbacks.push(why) });
    const outcomes = await Promise.all([1, 2].map((index) => w2.writePiece({ infoHash: HASH, index, blocks: own(pieces.get(index)!) })));
    expect(outcomes.map((o) => o.status)).toEqual(['written', 'written']);
    expect(u.counts.direct).toBe(0);
    expect(fallbacks).toHaveLength(2);
    expect([...unreachable.written.keys()].sort()).toEqual([1, 2]);
  });

  it('sends a piece again, to another writer, when its writer dies in the middle', async () => {
    const piece = randomBytes(8 * 1024 * 1024);
    const pieces = new Map([[0, piece]]);
    const doomed = new CheckingSink(pieces);
    let release!: () => void;
    doomed.hold = new Promise((r) => (release = r));
    const d = await directWriter('doomed', doomed);
    const retries: string[] = [];
    const sinkW = worker({ bus: await bus(), replyTimeoutMs: 1000, retryBaseMs: 50, onRetry: (_p, why) => retries.push(why) });
    const result = sinkW.writePiece({ infoHash: HASH, index: 0, blocks: own(piece) });
    while (doomed.calls === 0) await sleep(10);
    const survivor = new CheckingSink(pieces);
    await directWriter('survivor', survivor);
    // As SIGKILL would: its NATS connection and its listener go at once.
    await d.listener.close();
    await buses[0]!.close();
    expect(await result).toMatchObject({ status: 'written' });
    expect(survivor.written.get(0)).toBe(1);
    expect(retries.length).toBeGreaterThan(0);
    release();
  });

  it('finishes pieces across a NATS restart, and keeps at most maxInFlight out', async () => {
    const pieces = new Map(Array.from({ length: 30 }, (_, i) => [i, randomBytes(2 * 1024 * 1024)] as const));
    const sink = new CheckingSink(pieces);
    await directWriter('w1', sink);
    let peak = 0;
    const sinkW = worker({ bus: await bus(), maxInFlight: 4, replyTimeoutMs: 2000, retryBaseMs: 50, onInFlight: (n) => (peak = Math.max(peak, n)) });
    const all = Promise.all([...pieces].map(([index, p]) => sinkW.writePiece({ infoHash: HASH, index, blocks: own(p) })));
    while (sink.written.size < 3) await sleep(5);
    await server.restart(300);
    const outcomes = await all;
    expect(outcomes.every((o) => o.status === 'written'), JSON.stringify(outcomes)).toBe(true);
    expect(sink.written.size).toBe(30);
    expect(peak).toBe(4);
  }, 60_000);

  it('refuses bytes for a write id it never offered, and keeps serving', async () => {
    const pieces = new Map([[0, randomBytes(100_000)]]);
    const w = await directWriter('w1', new CheckingSink(pieces));
    const stranger = new PieceDataLinks();
    links.push(stranger);
    await stranger.send(formatPieceDataAddress('127.0.0.1', w.listener.port), 'made-up.1', own(pieces.get(0)!), 100_000).catch(() => {});
    while (w.counts.refused.length === 0) await sleep(10);
    expect(w.counts.refused).toEqual(['unknown-write-id']);
    const sinkW = worker({ bus: await bus() });
    expect(await sinkW.writePiece({ infoHash: HASH, index: 0, blocks: own(pieces.get(0)!) })).toMatchObject({ status: 'written' });
    expect(w.counts.direct).toBe(1);
  });
});

/** A port that was free a moment ago: nothing listens there. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
