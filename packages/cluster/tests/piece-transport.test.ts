/**
 * The NATS piece path against a real nats-server: pieces larger than
 * max_payload, several writers sharing the load, a writer dying in the
 * middle of a piece, NATS restarting, back-pressure, and bad offers.
 */
import { randomBytes } from 'node:crypto';
import { connect, headers, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PieceWriteResult, PieceWriteStatus } from '@seedbox/proto';
import { NatsPieceSink, PIECE_OFFER, servePieceWrites, type PieceWriteServer } from '../src/index.js';
import { LeanNatsConnection } from '../src/lean-nats/lean-nats-connection.js';
import { CheckingSink } from './support/checking-sink.js';
import { startNatsServer, type RunningNats } from '../../../test/support/nats.js';
import { cleanupAfter, cleanupAll, cleanupMark, sleep } from '../../../test/support/processes.js';
import { needTool, tools } from '../../../test/support/tools.js';

const nats = needTool(tools.natsServer);
const HASH = 'ab'.repeat(20);

/** A piece as a torrent hands it over: 16 KiB blocks. */
function blocksOf(piece: Buffer): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < piece.length; at += 16384) out.push(Uint8Array.from(piece.subarray(at, at + 16384)));
  return out;
}

describe.skipIf(!nats.available)('the NATS piece path', () => {
  let server: RunningNats;
  const conns: LeanNatsConnection[] = [];
  const jsConns: NatsConnection[] = [];
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
    server = await startNatsServer({ maxPayload: 1024 * 1024 });
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop(0);
    for (const c of conns.splice(0)) await c.close();
    for (const nc of jsConns.splice(0)) await nc.close().catch(() => {});
    await cleanupAfter(mark);
  });
  afterAll(cleanupAll);

  it('carries 16 MiB pieces through a server whose max_payload is 1 MiB, byte for byte', async () => {
    const pieces = new Map([0, 1, 2].map((i) => [i, randomBytes(16 * 1024 * 1024)]));
    const sink = new CheckingSink(pieces);
    servers.push(servePieceWrites({ bus: await conn(), writerId: 'w1', sink }));
    const worker = new NatsPieceSink({ bus: await conn(), workerId: 'pw1' });
    const outcomes = await Promise.all([...pieces].map(([index, p]) => worker.writePiece({ infoHash: HASH, index, blocks: blocksOf(p) })));
    expect(outcomes.map((o) => o.status)).toEqual(['written', 'written', 'written']);
    expect([...sink.written.keys()].sort()).toEqual([0, 1, 2]);
    // A small piece goes in the offer itself.
    const small = new Map([[7, randomBytes(5000)]]);
    const sink2 = new CheckingSink(small);
    await servers.pop()!.stop(0);
    servers.push(servePieceWrites({ bus: await conn(), writerId: 'w2', sink: sink2 }));
    expect(await worker.writePiece({ infoHash: HASH, index: 7, blocks: [Uint8Array.from(small.get(7)!)] })).toMatchObject({ status: 'written' });
  }, 60_000);

  it('answers hash-mismatch for a corrupt piece, and does not send it again', async () => {
    const good = randomBytes(300_000);
    const sink = new CheckingSink(new Map([[0, good]]));
    servers.push(servePieceWrites({ bus: await conn(), writerId: 'w1', sink }));
    const worker = new NatsPieceSink({ bus: await conn(), workerId: 'pw1' });
    const bad = Buffer.from(good);
    bad[1234] = bad[1234]! ^ 1;
    expect(await worker.writePiece({ infoHash: HASH, index: 0, blocks: blocksOf(bad) })).toEqual({ status: 'hash-mismatch' });
    expect(sink.calls).toBe(1);
  });

  it('shares pieces between two writers in the queue group', async () => {
    const pieces = new Map(Array.from({ length: 40 }, (_, i) => [i, randomBytes(256 * 1024)] as const));
    const a = new CheckingSink(pieces);
    const b = new CheckingSink(pieces);
    servers.push(servePieceWrites({ bus: await conn(), writerId: 'a', sink: a }), servePieceWrites({ bus: await conn(), writerId: 'b', sink: b }));
    const worker = new NatsPieceSink({ bus: await conn(), workerId: 'pw1', maxInFlight: 8 });
    const outcomes = await Promise.all([...pieces].map(([index, p]) => worker.writePiece({ infoHash: HASH, index, blocks: blocksOf(p) })));
    expect(outcomes.every((o) => o.status === 'written')).toBe(true);
    expect(a.written.size + b.written.size).toBe(40);
    expect(a.written.size).toBeGreaterThan(0);
    expect(b.written.size).toBeGreaterThan(0);
  });

  it('sends a piece again, to another writer, when its writer dies in the middle', async () => {
    const piece = randomBytes(4 * 1024 * 1024);
    const pieces = new Map([[0, piece]]);
    // The first writer takes the offer and then hangs (a process frozen
    // before dying); its connection is then cut, as SIGKILL would.
    const doomed = new CheckingSink(pieces);
    let release!: () => void;
    doomed.hold = new Promise((r) => (release = r));
    const doomedConn = await conn();
    servers.push(servePieceWrites({ bus: doomedConn, writerId: 'doomed', sink: doomed }));
    const retries: string[] = [];
    const worker = new NatsPieceSink({ bus: await conn(), workerId: 'pw1', replyTimeoutMs: 1000, retryBaseMs: 50, onRetry: (_p, why) => retries.push(why) });
    const result = worker.writePiece({ infoHash: HASH, index: 0, blocks: blocksOf(piece) });
    while (doomed.calls === 0) await sleep(10);
    const survivor = new CheckingSink(pieces);
    servers.push(servePieceWrites({ bus: await conn(), writerId: 'survivor', sink: survivor }));
    await doomedConn.close();
    expect(await result).toMatchObject({ status: 'written' });
    expect(survivor.written.get(0)).toBe(1);
    expect(retries.length).toBeGreaterThan(0);
    release();
  });

  it('finishes pieces across a NATS restart', async () => {
    const pieces = new Map(Array.from({ length: 30 }, (_, i) => [i, randomBytes(2 * 1024 * 1024)] as const));
    const sink = new CheckingSink(pieces);
    servers.push(servePieceWrites({ bus: await conn(), writerId: 'w1', sink }));
    const worker = new NatsPieceSink({ bus: await conn(), workerId: 'pw1', maxInFlight: 4, replyTimeoutMs: 2000, retryBaseMs: 50 });
    const all = Promise.all([...pieces].map(([index, p]) => worker.writePiece({ infoHash: HASH, index, blocks: blocksOf(p) })));
    while (sink.written.size < 3) await sleep(5);
    await server.restart(300);
    const outcomes = await all;
    expect(outcomes.every((o) => o.status === 'written'), JSON.stringify(outcomes)).toBe(true);
    expect(sink.written.size).toBe(30);
  }, 60_000);

  it('keeps at most maxInFlight pieces out, and waits for a writer to appear', async () => {
    const pieces = new Map(Array.from({ length: 6 }, (_, i) => [i, randomBytes(100_000)] as const));
    let peak = 0;
    const worker = new NatsPieceSink({ bus: await conn(), workerId: 'pw1', maxInFlight: 2, retryBaseMs: 20, onInFlight: (n) => (peak = Math.max(peak, n)) });
    const all = Promise.all([...pieces].map(([index, p]) => worker.writePiece({ infoHash: HASH, index, blocks: blocksOf(p) })));
    // No writer yet: the pieces wait, retrying; none is lost.
    await sleep(300);
    expect(worker.piecesInFlight).toBe(2);
    const sink = new CheckingSink(pieces);
    servers.push(servePieceWrites({ bus: await conn(), writerId: 'late', sink }));
    expect((await all).every((o) => o.status === 'written')).toBe(true);
    expect(peak).toBe(2);
  });

  it('refuses malformed offers with a reason, and keeps serving', async () => {
    const pieces = new Map([[0, randomBytes(1000)]]);
    const refused: string[] = [];
    servers.push(servePieceWrites({ bus: await conn(), writerId: 'w1', sink: new CheckingSink(pieces), onRefused: (r) => refused.push(r) }));
    // Offers from outside the piece path (nats.js), as any client could send.
    const nc = await connect({ servers: server.url });
    jsConns.push(nc);
    const bad = [
      {},
      { 'Seedbox-Info-Hash': 'zz', 'Seedbox-Piece': '0', 'Seedbox-Length': '10', 'Seedbox-Write-Id': 'x', 'Seedbox-Offset': '0' },
      { 'Seedbox-Info-Hash': HASH, 'Seedbox-Piece': '-1', 'Seedbox-Length': '10', 'Seedbox-Write-Id': 'x', 'Seedbox-Offset': '0' },
      { 'Seedbox-Info-Hash': HASH, 'Seedbox-Piece': '0', 'Seedbox-Length': '99999999999', 'Seedbox-Write-Id': 'x', 'Seedbox-Offset': '0' },
      { 'Seedbox-Info-Hash': HASH, 'Seedbox-Piece': '0', 'Seedbox-Length': '2', 'Seedbox-Write-Id': 'x', 'Seedbox-Offset': '0' },
    ];
    for (const fields of bad) {
      const h = headers();
      for (const [k, v] of Object.entries(fields)) h.set(k, v);
      const reply = await nc.request(PIECE_OFFER, new Uint8Array(10), { headers: h, timeout: 2000 });
      const r = PieceWriteResult.decode(reply.data);
      expect(r.status).toBe(PieceWriteStatus.PIECE_WRITE_STATUS_IO_ERROR);
      expect(r.error).not.toBe('');
    }
    expect(refused).toHaveLength(bad.length);
    const worker = new NatsPieceSink({ bus: await conn(), workerId: 'pw1' });
    expect(await worker.writePiece({ infoHash: HASH, index: 0, blocks: [Uint8Array.from(pieces.get(0)!)] })).toMatchObject({ status: 'written' });
  });
});
