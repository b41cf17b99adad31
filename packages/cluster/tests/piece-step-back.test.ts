/**
 * A disk-writer whose disk fails, against a real nats-server: it answers
 * the piece io-error and steps back from the queue group for a while, the
 * worker sends the piece again and another writer takes it; only when
 * every attempt fails is io-error the answer. A hash mismatch is still
 * answered at once.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PieceSink, PieceWrite, PieceWriteOutcome } from '../src/index.js';
import { NatsPieceSink, servePieceWrites, type PieceWriteServer } from '../src/index.js';
import { LeanNatsConnection } from '../src/lean-nats/lean-nats-connection.js';
import { startNatsServer, type RunningNats } from '../../../test/support/nats.js';
import { cleanupAfter, cleanupAll, cleanupMark, sleep } from '../../../test/support/processes.js';
import { needTool, tools } from '../../../test/support/tools.js';

const nats = needTool(tools.natsServer);
const HASH = 'cd'.repeat(20);
const FULL: PieceWriteOutcome = { status: 'io-error', error: 'no space left on device writing /data/x.bin (ENOSPC)', code: 'ENOSPC' };

/** Writes pieces whose SHA-1 matches; `failing` answers every piece as a full disk would. */
class Sink implements PieceSink {
  readonly written: number[] = [];
  calls = 0;
  constructor(
    private readonly expected: Map<number, Buffer>,
    public failing = false,
  ) {}
  async writePiece(w: PieceWrite): Promise<PieceWriteOutcome> {
    this.calls++;
    if (this.failing) return FULL;
    const h = createHash('sha1');
    for (const b of w.blocks) h.update(b);
    if (!h.digest().equals(createHash('sha1').update(this.expected.get(w.index)!).digest())) return { status: 'hash-mismatch' };
    this.written.push(w.index);
    return { status: 'written', micros: 1 };
  }
}

describe.skipIf(!nats.available)('a disk-writer whose disk fails steps back', () => {
  let server: RunningNats;
  const conns: LeanNatsConnection[] = [];
  const servers: PieceWriteServer[] = [];
  let mark = 0;

  /** The piece path's own lean connection, as the services make it. */
  async function conn(): Promise<LeanNatsConnection> {
    const c = new LeanNatsConnection({ servers: [server.url], reconnectTimeWait: 100 });
    conns.push(c);
    await c.connected();
    return c;
  }

  beforeEach(async () => {
    mark = cleanupMark();
    server = await startNatsServer();
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop(0);
    for (const c of conns.splice(0)) await c.close();
    await cleanupAfter(mark);
  });
  afterAll(cleanupAll);

  it('answers io-error, leaves the queue group, and the piece goes to the other writer; it rejoins later', async () => {
    // Several chunks per piece (a 200 KiB max_payload would do; the default 1 MiB with 2 MiB pieces does too) and small ones.
    const pieces = new Map(Array.from({ length: 24 }, (_, i) => [i, randomBytes(i % 2 === 0 ? 2 * 1024 * 1024 : 50_000)] as const));
    const bad = new Sink(pieces, true);
    const good = new Sink(pieces);
    const events: string[] = [];
    const badServer = servePieceWrites({
      bus: await conn(),
      writerId: 'bad',
      sink: bad,
      stepBackMs: 1500,
      onStepBack: ({ reason, seconds }) => events.push(`out ${seconds}s: ${reason}`),
      onRejoin: () => events.push('back'),
    });
    servers.push(badServer, servePieceWrites({ bus: await conn(), writerId: 'good', sink: good }));
    const retries: string[] = [];
    const worker = new NatsPieceSink({ bus: await conn(), workerId: 'pw1', maxInFlight: 4, retryBaseMs: 20, onRetry: (_p, why) => retries.push(why) });
    const write = (index: number): Promise<PieceWriteOutcome> => worker.writePiece({ infoHash: HASH, index, blocks: [Uint8Array.from(pieces.get(index)!)] });

    const outcomes = await Promise.all([...pieces.keys()].map(write));
    expect(outcomes.every((o) => o.status === 'written'), JSON.stringify(outcomes)).toBe(true);
    expect([...good.written].sort((a, b) => a - b)).toEqual([...pieces.keys()]);
    // The queue group sent it some offers before it stepped back: those were answered io-error and sent again.
    expect(bad.calls).toBeGreaterThan(0);
    expect(events[0]).toBe(`out 1.5s: ${FULL.error}`);
    expect(badServer.steppedBack).toBe(true);
    expect(retries.some((r) => r === `writer bad could not write it: ${FULL.error}`)).toBe(true);

    // While it is out, it takes nothing.
    const before = bad.calls;
    expect((await Promise.all([0, 1, 2, 3].map(write))).every((o) => o.status === 'written')).toBe(true);
    expect(bad.calls).toBe(before);

    // Back in the group after the step back, with its disk mended: it writes again.
    while (!events.includes('back')) await sleep(50);
    expect(badServer.steppedBack).toBe(false);
    bad.failing = false;
    await Promise.all(Array.from({ length: 40 }, (_, i) => write(i % 24)));
    expect(bad.written.length).toBeGreaterThan(0);
  }, 30_000);

  it('answers io-error only when every attempt failed, on every writer', async () => {
    const pieces = new Map([[0, randomBytes(10_000)]]);
    const a = new Sink(pieces, true);
    const b = new Sink(pieces, true);
    servers.push(servePieceWrites({ bus: await conn(), writerId: 'a', sink: a, stepBackMs: 200 }), servePieceWrites({ bus: await conn(), writerId: 'b', sink: b, stepBackMs: 200 }));
    const worker = new NatsPieceSink({ bus: await conn(), workerId: 'pw1', retryBaseMs: 20, ioErrorRetries: 3 });
    expect(await worker.writePiece({ infoHash: HASH, index: 0, blocks: [Uint8Array.from(pieces.get(0)!)] })).toEqual({ status: 'io-error', error: FULL.error });
    // The first answer and three more sends, spread over both writers as they stepped back in turn.
    expect(a.calls + b.calls).toBe(4);
    expect(a.calls).toBeGreaterThan(0);
    expect(b.calls).toBeGreaterThan(0);
  }, 30_000);

  it('does not step back for a hash mismatch, which is still answered at once', async () => {
    const pieces = new Map([[0, randomBytes(10_000)]]);
    const sink = new Sink(pieces);
    const steps: string[] = [];
    const s = servePieceWrites({ bus: await conn(), writerId: 'w', sink, onStepBack: ({ reason }) => steps.push(reason) });
    servers.push(s);
    const worker = new NatsPieceSink({ bus: await conn(), workerId: 'pw1' });
    const corrupt = Buffer.from(pieces.get(0)!);
    corrupt[7] = corrupt[7]! ^ 1;
    expect(await worker.writePiece({ infoHash: HASH, index: 0, blocks: [corrupt] })).toEqual({ status: 'hash-mismatch' });
    expect(sink.calls).toBe(1);
    expect(steps).toEqual([]);
    expect(s.steppedBack).toBe(false);
  });
});
