/**
 * The direct piece-data path on real sockets (127.0.0.1): PieceDataLinks
 * (the worker's end) against listenForPieceData (the writer's end), and
 * against raw sockets for what a real worker never does. The listener's
 * tests run twice: reading bodies straight into the pieces (onread) and
 * with 'data' events and a copy.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { encodePieceDataFrameHeader, encodePieceDataPreamble, PieceDataDecoder } from '../src/piece-data-frame.js';
import { listenForPieceData, type PieceDataListener, type PieceDataListenerOptions, type PieceDataRefusal } from '../src/piece-data-listener.js';
import { formatPieceDataAddress, parsePieceDataAddress, PieceDataLinkError, PieceDataLinks, type PieceDataLinksOptions } from '../src/piece-data-links.js';

/** Run at the end of each test, failed or not: every socket, server, listener and process a test opened. */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
});

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A piece as a torrent hands it over: 16 KiB views of its bytes, not copies. */
function blocksOf(piece: Buffer): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < piece.length; at += 16384) out.push(piece.subarray(at, at + 16384));
  return out;
}

function links(opts?: PieceDataLinksOptions): PieceDataLinks {
  const l = new PieceDataLinks(opts);
  cleanups.push(() => l.close());
  return l;
}

/** A writer for tests: registers write ids as the lead's server will, keeps what arrives. */
class Writer {
  readonly expected = new Map<string, number>();
  readonly got: { writeId: string; data: Buffer }[] = [];
  readonly refused: { reason: string; code: PieceDataRefusal }[] = [];
  readonly asked: string[] = [];
  onExpect: ((writeId: string) => void) | undefined;
  throwOnPiece = false;
  listener!: PieceDataListener;

  static async start(opts: Partial<PieceDataListenerOptions>): Promise<Writer> {
    const w = new Writer();
    w.listener = await listenForPieceData({
      host: '127.0.0.1',
      ...opts,
      expect: (id) => {
        w.asked.push(id);
        w.onExpect?.(id);
        return w.expected.get(id);
      },
      onPiece: (writeId, data) => {
        if (w.throwOnPiece) {
          w.throwOnPiece = false;
          throw new Error('a bug in the receiver');
        }
        w.got.push({ writeId, data });
      },
      onRefused: (reason, code) => w.refused.push({ reason, code }),
    });
    cleanups.push(() => w.listener.close());
    return w;
  }

  get address(): string {
    return formatPieceDataAddress(this.listener.host, this.listener.port);
  }

  async received(writeId: string): Promise<Buffer> {
    await waitFor(`piece ${writeId}`, () => this.got.some((g) => g.writeId === writeId));
    return this.got.find((g) => g.writeId === writeId)!.data;
  }
}

/** A raw connection, for what a worker never sends; `gone` settles when the other side drops it. */
async function raw(port: number): Promise<Socket & { gone: Promise<unknown> }> {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  cleanups.push(() => s.destroy());
  const closed = new Promise((r) => s.once('close', r));
  await once(s, 'connect');
  return Object.assign(s, { gone: closed });
}

async function rawServer(onConnection: (s: Socket) => void): Promise<{ server: Server; port: number; address: string }> {
  const sockets: Socket[] = [];
  const server = createServer({ pauseOnConnect: true }, (s) => {
    sockets.push(s);
    onConnection(s);
  });
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  cleanups.push(() => sockets.forEach((s) => s.destroy()));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return { server, port, address: `127.0.0.1:${port}` };
}

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe.each([
  { mode: 'onread', readIntoPieces: true },
  { mode: 'data events', readIntoPieces: false },
])('piece data over TCP, the listener reading with $mode', ({ readIntoPieces }) => {
  const writer = (opts: Partial<PieceDataListenerOptions> = {}) => Writer.start({ readIntoPieces, ...opts });

  it('carries pieces of 1 B, 16 KiB, 16 KiB + 1, 1 MiB and 16 MiB byte for byte over one reused connection', async () => {
    const w = await writer();
    const l = links();
    for (const [i, size] of [1, 16384, 16385, 1 << 20, 16 << 20].entries()) {
      const piece = randomBytes(size);
      const id = `pw-0.${i}`;
      w.expected.set(id, size);
      await l.send(w.address, id, blocksOf(piece), size);
      const got = await w.received(id);
      expect(got.equals(piece), `${size} bytes`).toBe(true);
      // Its own memory, not a pool slice nor a view of a socket buffer.
      expect(got.buffer.byteLength, `${size} bytes`).toBe(size);
    }
    // Empty views among the blocks (a caller's edge case) write nothing.
    w.expected.set('pw-0.gaps', 3);
    await l.send(w.address, 'pw-0.gaps', [Buffer.alloc(0), Buffer.from('ab'), Buffer.alloc(0), Buffer.from('c'), Buffer.alloc(0)], 3);
    expect((await w.received('pw-0.gaps')).toString()).toBe('abc');
    expect(l.connections).toBe(1);
    expect(w.listener.connections).toBe(1);
    expect(w.refused).toEqual([]);
  });

  it('keeps concurrent sends on one link whole and in order', async () => {
    const w = await writer();
    const l = links();
    const pieces = Array.from({ length: 40 }, (_, i) => randomBytes(i % 8 === 0 ? 700_000 : 1 + ((i * 7919) % 50_000)));
    pieces.forEach((p, i) => w.expected.set(`pw-0.${i}`, p.length));
    await Promise.all(pieces.map((p, i) => l.send(w.address, `pw-0.${i}`, blocksOf(p), p.length)));
    await waitFor('every piece', () => w.got.length === pieces.length);
    expect(w.got.map((g) => g.writeId)).toEqual(pieces.map((_, i) => `pw-0.${i}`));
    w.got.forEach((g, i) => expect(g.data.equals(pieces[i]!), g.writeId).toBe(true));
    expect(w.listener.connections).toBe(1);
  });

  it('takes two workers at once, each on its own connection', async () => {
    const w = await writer();
    const workers = [links(), links()];
    const sent = new Map<string, Buffer>();
    await Promise.all(
      workers.flatMap((l, k) =>
        Array.from({ length: 10 }, (_, i) => {
          const id = `pw-${k}.${i}`;
          const p = randomBytes(100_000 + i);
          sent.set(id, p);
          w.expected.set(id, p.length);
          return l.send(w.address, id, blocksOf(p), p.length);
        }),
      ),
    );
    await waitFor('every piece', () => w.got.length === sent.size);
    for (const g of w.got) expect(g.data.equals(sent.get(g.writeId)!), g.writeId).toBe(true);
    expect(w.listener.connections).toBe(2);
  });

  it('refuses an unknown write id or another length on that connection only; the other worker goes on, the refused one reconnects', async () => {
    const w = await writer();
    const disconnects: string[] = [];
    const a = links({ onDisconnect: (_, reason) => disconnects.push(reason) });
    const b = links();
    for (const [l, id] of [[a, 'pw-a.1'], [b, 'pw-b.1']] as const) {
      w.expected.set(id, 3);
      await l.send(w.address, id, [Buffer.from('abc')], 3);
    }
    await waitFor('two connections', () => w.listener.connections === 2);
    // Small enough to be taken by the kernel before the refusal: the send itself may resolve.
    await a.send(w.address, 'nobody.1', [Buffer.from('x')], 1).catch(() => {});
    await waitFor('the refusal', () => w.refused.length === 1);
    expect(w.refused[0]!.code).toBe('unknown-write-id');
    expect(w.refused[0]!.reason).toContain('nobody.1');
    await waitFor('worker a to see its connection closed', () => a.connections === 0);
    expect(disconnects.length).toBe(1);
    expect(w.listener.connections).toBe(1);
    w.expected.set('pw-b.2', 4);
    await b.send(w.address, 'pw-b.2', [Buffer.from('more')], 4);
    expect((await w.received('pw-b.2')).toString()).toBe('more');
    // Another length than the offer's: refused before a byte of it is kept; both
    // sends pending on that connection fail with it.
    w.expected.set('pw-a.2', 100);
    const big = Buffer.alloc(32 << 20, 1);
    const wrong = a.send(w.address, 'pw-a.2', blocksOf(big), big.length);
    const behind = a.send(w.address, 'pw-a.3', [Buffer.from('z')], 1);
    await expect(wrong).rejects.toMatchObject({ name: 'PieceDataLinkError', reason: 'broken' });
    await expect(behind).rejects.toBeInstanceOf(PieceDataLinkError);
    expect(w.refused[1]!.code).toBe('length-mismatch');
    expect(w.refused[1]!.reason).toContain(`${big.length} bytes sent, 100 expected`);
    expect(w.got.map((g) => g.writeId)).toEqual(['pw-a.1', 'pw-b.1', 'pw-b.2']);
    // A new connection for the next piece.
    w.expected.set('pw-a.4', 2);
    await a.send(w.address, 'pw-a.4', [Buffer.from('ok')], 2);
    expect((await w.received('pw-a.4')).toString()).toBe('ok');
    expect(b.connections).toBe(1);
  });

  it('refuses strangers and broken frames at once, and allocates nothing for a frame over the maximum', async () => {
    const w = await writer({ maxPieceLength: 1 << 20 });
    w.expected.set('big', 2 << 20);
    const cases: [Buffer, PieceDataRefusal][] = [
      [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'bad-magic'],
      [randomBytes(64).fill(0x00, 0, 1), 'bad-magic'],
      [Buffer.from([0x53, 0x42, 0x50, 0x44, 9]), 'bad-version'],
      [Buffer.concat([encodePieceDataPreamble(), Buffer.from([0])]), 'empty-write-id'],
      [Buffer.concat([encodePieceDataPreamble(), Buffer.from([2, 0x61, 0x00])]), 'non-printable-write-id'],
      [Buffer.concat([encodePieceDataPreamble(), Buffer.from([1, 0x61, 0, 0, 0, 0])]), 'empty-piece'],
      [Buffer.concat([encodePieceDataPreamble(), encodePieceDataFrameHeader('big', 2 << 20)]), 'piece-too-long'],
    ];
    for (const [i, [bytes, code]] of cases.entries()) {
      const s = await raw(w.listener.port);
      s.write(bytes);
      await s.gone;
      expect(w.refused[i]?.code, bytes.subarray(0, 8).toString('hex')).toBe(code);
    }
    expect(w.asked).toEqual([]);
    await waitFor('no connection left', () => w.listener.connections === 0);
  });

  it('fails the sends pending when the writer goes away mid-piece, and reconnects to a new writer on the same port', async () => {
    const w = await writer();
    const l = links();
    const big = Buffer.alloc(64 << 20, 2);
    w.expected.set('big', big.length);
    w.onExpect = (id) => {
      if (id === 'big') setImmediate(() => void w.listener.close());
    };
    const first = l.send(w.address, 'big', blocksOf(big), big.length);
    const second = l.send(w.address, 'after', [Buffer.from('z')], 1);
    await expect(first).rejects.toMatchObject({ name: 'PieceDataLinkError', reason: 'broken' });
    await expect(second).rejects.toMatchObject({ reason: 'broken' });
    expect(w.got).toEqual([]);
    expect(l.connections).toBe(0);
    const again = await writer({ port: w.listener.port });
    again.expected.set('again', 5);
    await l.send(again.address, 'again', [Buffer.from('hello')], 5);
    expect((await again.received('again')).toString()).toBe('hello');
  });

  it('drops a connection stalled mid-frame, keeps a slow one, closes an idle one quietly', async () => {
    const w = await writer({ stallTimeoutMs: 200, idleTimeoutMs: 400 });
    w.expected.set('slow', 12);
    w.expected.set('stuck', 1000);
    // Nothing after connecting: the preamble is owed.
    const silent = await raw(w.listener.port);
    // Half a body, then nothing.
    const stuck = await raw(w.listener.port);
    stuck.write(Buffer.concat([encodePieceDataPreamble(), encodePieceDataFrameHeader('stuck', 1000), Buffer.alloc(500)]));
    // A byte every 50 ms: slow, never stalled.
    const slow = await raw(w.listener.port);
    slow.write(Buffer.concat([encodePieceDataPreamble(), encodePieceDataFrameHeader('slow', 12)]));
    for (let i = 0; i < 12; i++) {
      await sleep(50);
      slow.write(Buffer.from([i]));
    }
    expect((await w.received('slow')).equals(Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]))).toBe(true);
    await Promise.all([silent.gone, stuck.gone]);
    expect(w.refused.map((r) => r.code)).toEqual(['stalled', 'stalled']);
    expect(w.refused.find((r) => r.reason.includes('stuck'))).toBeDefined();
    // Between frames, the idle timeout: closed without a refusal.
    const lastByte = Date.now();
    await slow.gone;
    expect(Date.now() - lastByte).toBeGreaterThan(200);
    expect(w.refused.length).toBe(2);
    await waitFor('no connection left', () => w.listener.connections === 0);
  });

  it('survives a receiver whose onPiece throws: counted, and the connection goes on', async () => {
    const w = await writer();
    const l = links();
    w.throwOnPiece = true;
    w.expected.set('one', 1);
    w.expected.set('two', 1);
    await l.send(w.address, 'one', [Buffer.from('1')], 1);
    await l.send(w.address, 'two', [Buffer.from('2')], 1);
    await w.received('two');
    expect(w.refused.map((r) => r.code)).toEqual(['receiver-error']);
    expect(w.listener.connections).toBe(1);
  });

  it('closes: the listener drops its connections, the links reject pending and later sends', async () => {
    const w = await writer();
    const l = links();
    w.expected.set('a', 1);
    await l.send(w.address, 'a', [Buffer.from('a')], 1);
    await w.listener.close();
    expect(w.listener.connections).toBe(0);
    await waitFor('the link to notice', () => l.connections === 0);
    await expect(l.send(w.address, 'b', [Buffer.from('b')], 1)).rejects.toMatchObject({ reason: 'refused' });
  });
});

describe('PieceDataLinks', () => {
  it('rejects at once when nothing listens on the port', async () => {
    const port = await freePort();
    const started = Date.now();
    const err = await links().send(`127.0.0.1:${port}`, 'w.1', [Buffer.from('x')], 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PieceDataLinkError);
    expect((err as PieceDataLinkError).reason).toBe('refused');
    expect((err as PieceDataLinkError).address).toBe(`127.0.0.1:${port}`);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  // A listener whose accept queue is full drops SYNs: the connect hangs. Node
  // accepts every connection, so a Python socket that never accepts stands in.
  it.skipIf(!existsSync('/usr/bin/python3'))('gives up connecting after connectTimeoutMs', async () => {
    const py = spawn('/usr/bin/python3', ['-c', "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()"], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    cleanups.push(() => py.kill());
    const [line] = (await once(py.stdout, 'data')) as [Buffer];
    const port = Number(line.toString().trim());
    await raw(port); // fills the queue (backlog 0 holds one)
    const started = Date.now();
    const err = await links({ connectTimeoutMs: 300 }).send(`127.0.0.1:${port}`, 'w.1', [Buffer.from('x')], 1).catch((e: unknown) => e);
    expect((err as PieceDataLinkError).reason).toBe('connect-timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('waits while the writer does not read (back-pressure), holding no more than it was handed', async () => {
    let accepted: Socket | undefined;
    const { address } = await rawServer((s) => (accepted = s)); // paused: reads nothing
    const l = links();
    const piece = randomBytes(32 << 20);
    const done: string[] = [];
    const big = l.send(address, 'bp.1', blocksOf(piece), piece.length).then(() => done.push('big'));
    const small = l.send(address, 'bp.2', [Buffer.from('after')], 5).then(() => done.push('small'));
    await waitFor('the connection', () => accepted !== undefined);
    await sleep(300);
    expect(done).toEqual([]);
    const handed = 5 + (1 + 4 + 4 + piece.length) + (1 + 4 + 4 + 5);
    expect(l.bufferedBytes).toBeGreaterThan(0);
    expect(l.bufferedBytes).toBeLessThanOrEqual(handed);
    // The reader wakes up: both frames, contiguous and whole.
    const decoder = new PieceDataDecoder();
    const frames: { writeId: string; parts: Buffer[] }[] = [];
    accepted!.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (let e = decoder.next(); e; e = decoder.next()) {
        if (e.kind === 'frame') frames.push({ writeId: e.writeId, parts: [] });
        else frames.at(-1)!.parts.push(Buffer.from(e.bytes));
      }
    });
    accepted!.resume();
    await Promise.all([big, small]);
    expect(done).toEqual(['big', 'small']);
    await waitFor('both frames', () => frames.length === 2 && decoder.bodyRemaining === 0 && !decoder.midFrame);
    expect(frames.map((f) => f.writeId)).toEqual(['bp.1', 'bp.2']);
    expect(Buffer.concat(frames[0]!.parts).equals(piece)).toBe(true);
    expect(Buffer.concat(frames[1]!.parts).toString()).toBe('after');
    expect(l.bufferedBytes).toBe(0);
  });

  it('closes a connection unused for idleMs, and opens a new one for the next send', async () => {
    const w = await Writer.start({});
    const events: string[] = [];
    const l = links({ idleMs: 100, onConnect: () => events.push('connect'), onDisconnect: (_, reason) => events.push(reason) });
    w.expected.set('a', 1);
    w.expected.set('b', 1);
    await l.send(w.address, 'a', [Buffer.from('a')], 1);
    await waitFor('the idle close', () => l.connections === 0);
    await waitFor('the writer to see it', () => w.listener.connections === 0);
    await l.send(w.address, 'b', [Buffer.from('b')], 1);
    await w.received('b');
    expect(events).toEqual(['connect', 'idle', 'connect']);
    expect(w.refused).toEqual([]);
  });

  it('rejects what cannot make a frame or an address before sending anything', async () => {
    const l = links();
    const reasonOf = (p: Promise<void>) => p.then(() => 'sent', (e: PieceDataLinkError) => e.reason);
    expect(await reasonOf(l.send('127.0.0.1:1', 'w.1', [Buffer.from('abc')], 4))).toBe('bad-frame');
    expect(await reasonOf(l.send('127.0.0.1:1', 'w.é', [Buffer.from('a')], 1))).toBe('bad-frame');
    expect(await reasonOf(l.send('127.0.0.1:1', 'w.1', [], 0))).toBe('bad-frame');
    expect(await reasonOf(l.send('::1:6883', 'w.1', [Buffer.from('a')], 1))).toBe('bad-address');
    expect(await reasonOf(l.send('writer:0', 'w.1', [Buffer.from('a')], 1))).toBe('bad-address');
    expect(l.connections).toBe(0);
    l.close();
    expect(await reasonOf(l.send('127.0.0.1:1', 'w.1', [Buffer.from('a')], 1))).toBe('closed');
  });

  it('rejects the sends pending when closed', async () => {
    const { address } = await rawServer(() => {});
    const l = links();
    const pending = l.send(address, 'w.1', blocksOf(Buffer.alloc(32 << 20)), 32 << 20);
    await sleep(50);
    l.close();
    await expect(pending).rejects.toMatchObject({ reason: 'closed' });
    expect(l.connections).toBe(0);
  });

  it('writes and reads addresses, IPv6 in brackets', () => {
    expect(formatPieceDataAddress('10.1.2.3', 6883)).toBe('10.1.2.3:6883');
    expect(formatPieceDataAddress('fd00::7', 6883)).toBe('[fd00::7]:6883');
    expect(parsePieceDataAddress('[fd00::7]:6883')).toEqual({ host: 'fd00::7', port: 6883 });
    expect(parsePieceDataAddress('10.1.2.3:6883')).toEqual({ host: '10.1.2.3', port: 6883 });
    expect(parsePieceDataAddress('sbx-disk-writer-0.sbx.svc:1')).toEqual({ host: 'sbx-disk-writer-0.sbx.svc', port: 1 });
    for (const bad of ['fd00::7:6883', '[10.1.2.3]:6883', 'host', 'host:', 'host:0', 'host:65536', '[fd00::7]', ':6883', 'a b:1']) {
      expect(parsePieceDataAddress(bad), bad).toBeUndefined();
    }
  });

  it('carries a piece over IPv6 loopback where there is one', async (ctx) => {
    const probe = createServer();
    const v6 = await new Promise<boolean>((r) => probe.once('error', () => r(false)).listen(0, '::1', () => probe.close(() => r(true))));
    if (!v6) return ctx.skip();
    const w = await Writer.start({ host: '::1' });
    expect(w.address).toMatch(/^\[::1\]:\d+$/);
    w.expected.set('v6', 3);
    await links().send(w.address, 'v6', [Buffer.from('six')], 3);
    expect((await w.received('v6')).toString()).toBe('six');
  });
});
