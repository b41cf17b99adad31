/**
 * The piece path's lean NATS connection: its wire parser on any split of a
 * stream and on garbage, and the connection against a real nats-server
 * (large payloads in buffers of their own, queue groups, requests both ways
 * with nats.js, no responders, a server restart, a user and password).
 */
import { randomBytes } from 'node:crypto';
import { connect, headers, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LeanNatsConnection, LeanNatsError, type LeanMsg } from '../src/lean-nats/lean-nats-connection.js';
import { NatsWireError, ServerOpParser, type ServerOp } from '../src/lean-nats/nats-wire.js';
import { makeTestPki } from '../../../test/support/certs.js';
import { startNatsServer, type RunningNats } from '../../../test/support/nats.js';
import { cleanupAfter, cleanupAll, cleanupMark, makeTempDir, sleep } from '../../../test/support/processes.js';
import { needTool, tools } from '../../../test/support/tools.js';

const nats = needTool(tools.natsServer);
const openssl = needTool(tools.openssl);

function streamOf(payload: Buffer): Buffer {
  const hdr = Buffer.from('NATS/1.0\r\nSeedbox-Piece: 7\r\nX: a b\r\n\r\n');
  return Buffer.concat([
    Buffer.from('INFO {"server_id":"x","max_payload":8388608}\r\nPING\r\n+OK\r\n'),
    Buffer.from(`MSG a.b 1 ${payload.length}\r\n`),
    payload,
    Buffer.from(`\r\nHMSG c.d 2 _INBOX.x.1 ${hdr.length} ${hdr.length + 3}\r\n`),
    hdr,
    Buffer.from('xyz\r\nPONG\r\n-ERR \'Authorization Violation\'\r\n'),
  ]);
}

describe('the NATS wire parser', () => {
  it('reads the same operations however the stream is split, and gives a large payload a buffer of its own', () => {
    const payload = randomBytes(200_000);
    const stream = streamOf(payload);
    for (let trial = 0; trial < 200; trial++) {
      const parser = new ServerOpParser();
      const ops: ServerOp[] = [];
      let at = 0;
      while (at < stream.length) {
        const n = trial === 0 ? stream.length : 1 + Math.floor(Math.random() * (trial % 3 === 0 ? 20 : 70_000));
        ops.push(...parser.feed(stream.subarray(at, at + n)));
        at += n;
      }
      expect(ops.map((o) => o.op)).toEqual(['info', 'ping', 'ok', 'msg', 'msg', 'pong', 'err']);
      const big = ops[3] as Extract<ServerOp, { op: 'msg' }>;
      expect(big.msg.subject).toBe('a.b');
      expect(big.msg.data.equals(payload)).toBe(true);
      // Transferable as it is: the ArrayBuffer holds exactly the payload.
      expect(big.msg.data.byteOffset).toBe(0);
      expect(big.msg.data.buffer.byteLength).toBe(payload.length);
      const small = ops[4] as Extract<ServerOp, { op: 'msg' }>;
      expect(small.msg).toMatchObject({ subject: 'c.d', sid: 2, reply: '_INBOX.x.1' });
      expect(small.msg.headers?.get('Seedbox-Piece')).toBe('7');
      expect(small.msg.headers?.get('X')).toBe('a b');
      expect(small.msg.data.toString()).toBe('xyz');
      expect((ops[6] as Extract<ServerOp, { op: 'err' }>).text).toBe('Authorization Violation');
    }
  });

  it('answers garbage with a NatsWireError naming the rule, never another exception', () => {
    const good = streamOf(randomBytes(3000));
    const rules = new Set<string>();
    for (let trial = 0; trial < 3000; trial++) {
      const bad = Buffer.from(good);
      for (let k = 0; k < 1 + (trial % 5); k++) bad[Math.floor(Math.random() * bad.length)] = Math.floor(Math.random() * 256);
      const parser = new ServerOpParser();
      try {
        parser.feed(trial % 2 === 0 ? bad : randomBytes(200));
      } catch (e) {
        expect(e).toBeInstanceOf(NatsWireError);
        rules.add((e as NatsWireError).rule);
      }
    }
    expect(rules.size).toBeGreaterThan(1);
    // A size past the limit is refused before anything is allocated for it.
    const p = new ServerOpParser();
    p.maxMessageBytes = 1024;
    expect(() => p.feed(Buffer.from('MSG a 1 99999999999\r\n'))).toThrow(/message-too-large|above/);
  });
});

describe.skipIf(!nats.available)('the lean NATS connection against nats-server', () => {
  let server: RunningNats;
  const leans: LeanNatsConnection[] = [];
  const ncs: NatsConnection[] = [];
  let mark = 0;

  async function lean(extra: Partial<ConstructorParameters<typeof LeanNatsConnection>[0]> = {}): Promise<LeanNatsConnection> {
    const c = new LeanNatsConnection({ servers: [server.url], reconnectTimeWait: 100, ...extra });
    leans.push(c);
    await c.connected();
    return c;
  }

  beforeEach(async () => {
    mark = cleanupMark();
    server = await startNatsServer({ maxPayload: 8 * 1024 * 1024 });
  });
  afterEach(async () => {
    for (const c of leans.splice(0)) await c.close();
    for (const nc of ncs.splice(0)) await nc.close().catch(() => {});
    await cleanupAfter(mark);
  });
  afterAll(cleanupAll);

  it('carries 1 MiB and 7 MiB payloads byte for byte, each in a buffer of its own, to one member of a queue group', async () => {
    const a = await lean();
    const b = await lean();
    const pub = await lean();
    const got: { who: string; msg: LeanMsg }[] = [];
    a.subscribe('pieces', { queue: 'writers' }, (msg) => got.push({ who: 'a', msg }));
    b.subscribe('pieces', { queue: 'writers' }, (msg) => got.push({ who: 'b', msg }));
    await a.flush();
    await b.flush();
    const sent = [randomBytes(1024 * 1024), randomBytes(7 * 1024 * 1024), randomBytes(10)];
    for (const [i, p] of sent.entries()) pub.publish('pieces', p, { headers: { 'Seedbox-Piece': String(i) } });
    await pub.flush();
    await waitFor(() => got.length === 3);
    await sleep(100);
    expect(got).toHaveLength(3);
    for (const { msg } of got) {
      const i = Number(msg.header('Seedbox-Piece'));
      expect(msg.data.equals(sent[i]!)).toBe(true);
      if (msg.data.length > 16 * 1024) expect(msg.data.buffer.byteLength).toBe(msg.data.length);
    }
    expect(pub.maxPayload).toBe(8 * 1024 * 1024);
  });

  it('requests and answers both ways with nats.js, and says when no one listens', async () => {
    const nc = await connect({ servers: server.url });
    ncs.push(nc);
    const c = await lean();
    nc.subscribe('echo.js', { callback: (_e, m) => m.respond(m.data, { headers: m.headers }) });
    await nc.flush();
    const h = { 'Seedbox-Write-Id': 'w.1' };
    const answer = await c.request('echo.js', Buffer.from('hello'), { headers: h, timeout: 2000 });
    expect(answer.data.toString()).toBe('hello');
    expect(answer.header('Seedbox-Write-Id')).toBe('w.1');

    c.subscribe('echo.lean', {}, (m) => m.respond(Buffer.concat([m.data, Buffer.from('!')]), { 'Seedbox-Continue': 'x' }));
    await c.flush();
    const r = await nc.request('echo.lean', new TextEncoder().encode('hi'), { timeout: 2000, headers: headers() });
    expect(new TextDecoder().decode(r.data)).toBe('hi!');
    expect(r.headers?.get('Seedbox-Continue')).toBe('x');

    await expect(c.request('nobody.here', Buffer.alloc(0), { timeout: 2000 })).rejects.toMatchObject({ code: 'no-responders' });
    c.subscribe('silent', {}, () => {});
    await c.flush();
    await expect(c.request('silent', Buffer.alloc(0), { timeout: 200 })).rejects.toBeInstanceOf(LeanNatsError);
  });

  it('comes back after nats-server restarts and subscribes again; a request under way fails at once', async () => {
    const states: string[] = [];
    const c = await lean({ onState: (s) => states.push(s) });
    const got: string[] = [];
    c.subscribe('after', {}, (m) => got.push(m.data.toString()));
    c.subscribe('slow', {}, () => {});
    await c.flush();
    const pending = c.request('slow', Buffer.alloc(0), { timeout: 30_000 });
    const restarted = server.restart(300);
    await expect(pending).rejects.toMatchObject({ code: 'disconnected' });
    await restarted;
    await waitFor(() => c.state === 'connected', 10_000);
    expect(states).toContain('reconnecting');
    const other = await lean();
    other.publish('after', Buffer.from('again'));
    await other.flush();
    await waitFor(() => got.length === 1);
    expect(got).toEqual(['again']);
  });

  it.skipIf(!openssl.available)('speaks TLS with a client certificate, large payloads included; without the certificate it is refused and says so', async () => {
    await server.stop();
    const pki = makeTestPki(makeTempDir('lean-pki'));
    server = await startNatsServer({ maxPayload: 8 * 1024 * 1024, tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca, verify: true } });
    const tls = { caFile: pki.ca, certFile: pki.client.cert, keyFile: pki.client.key };
    const a = await lean({ tls });
    const b = await lean({ tls });
    const got: Buffer[] = [];
    a.subscribe('tls.pieces', {}, (m) => got.push(m.data));
    await a.flush();
    const sent = [randomBytes(3 * 1024 * 1024 + 1), randomBytes(100)];
    for (const p of sent) b.publish('tls.pieces', p);
    await b.flush();
    await waitFor(() => got.length === 2);
    expect(got[0]!.equals(sent[0]!)).toBe(true);
    expect(got[1]!.equals(sent[1]!)).toBe(true);
    // Without a certificate the server refuses, and the connection keeps trying, saying why.
    const problems: string[] = [];
    const noCert = new LeanNatsConnection({ servers: [server.url], tls: { caFile: pki.ca }, reconnectTimeWait: 100, onProblem: (d) => problems.push(d) });
    leans.push(noCert);
    await waitFor(() => problems.length > 0);
    expect(noCert.state).toBe('connecting');
  });

  it('signs in with a user and password, and a wrong password never connects and says why', async () => {
    await server.stop();
    server = await startNatsServer({ auth: { user: 'pieces', password: 'right-password-1' } });
    const c = await lean({ user: 'pieces', pass: 'right-password-1' });
    expect(c.state).toBe('connected');
    const details: string[] = [];
    const wrong = new LeanNatsConnection({ servers: [server.url], user: 'pieces', pass: 'wrong', reconnectTimeWait: 100, onProblem: (d) => details.push(d) });
    leans.push(wrong);
    await sleep(800);
    expect(wrong.state).toBe('connecting');
    expect(details.some((d) => /authorization/i.test(d))).toBe(true);
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(20);
  }
}
