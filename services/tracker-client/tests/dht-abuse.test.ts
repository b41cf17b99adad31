import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeKrpc, encodeBencode, encodeKrpc, type KrpcMessage } from '@seedbox/protocol';
import { DhtBindError, DhtLifecycleError, DhtNode, type DhtNodeOptions } from '../src/index.js';
import { randomNodeId } from '../src/dht/node-id.js';

// A DHT node faced with what strangers on the Internet send: floods,
// garbage, and misuse of its own API. Loopback only; the "other hosts"
// are other 127.0.0.0/8 addresses.

const quiet = { debug: () => {}, info: () => {}, warn: () => {} };

/**
 * A raw UDP client on its own loopback address, collecting every decoded
 * answer. Queries the node sends us (it pings an unknown querier, to see
 * whether it belongs in its table) are counted apart.
 */
class RawClient {
  readonly replies: KrpcMessage[] = [];
  queriesReceived = 0;
  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (buf) => {
      try {
        const m = decodeKrpc(buf);
        if (m.kind === 'query') this.queriesReceived++;
        else this.replies.push(m);
      } catch {
        // a reply we cannot read would fail the assertions below anyway
      }
    });
  }

  static async open(host: string): Promise<RawClient> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    return new RawClient(socket);
  }

  send(to: number, data: Uint8Array): void {
    this.socket.send(data, to, '127.0.0.1');
  }

  ping(to: number, t: number): void {
    this.send(to, encodeKrpc({ kind: 'query', t: Uint8Array.of(t >> 8, t & 255), query: { method: 'ping', id: randomNodeId() } }));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

const settle = (ms = 200) => new Promise((r) => setTimeout(r, ms));

describe('a DHT node under abuse', () => {
  const nodes: DhtNode[] = [];
  const clients: RawClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
  });

  async function startNode(over: Partial<DhtNodeOptions> = {}): Promise<DhtNode> {
    const node = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [], queryTimeoutMs: 500, log: quiet, ...over });
    nodes.push(node);
    await node.start();
    return node;
  }

  async function client(host: string): Promise<RawClient> {
    const c = await RawClient.open(host);
    clients.push(c);
    return c;
  }

  it('drops and counts a flood from one address, and still answers another', async () => {
    const node = await startNode({ rateLimit: { perAddress: { perSecond: 1, burst: 5 } } });
    const flooder = await client('127.0.0.31');
    for (let t = 0; t < 50; t++) flooder.ping(node.port, t);
    await settle();
    // The burst (5), and perhaps one more token refilled while the flood was sent.
    expect(flooder.replies.length).toBeGreaterThanOrEqual(5);
    expect(flooder.replies.length).toBeLessThanOrEqual(6);
    expect(node.stats().answersDropped).toBe(50 - flooder.replies.length);
    expect(node.stats().queriesIn).toBe(50);

    const other = await client('127.0.0.32');
    other.ping(node.port, 1);
    await settle();
    expect(other.replies).toHaveLength(1);
    expect(other.replies[0]!.kind).toBe('response');
  });

  it('stops answering everyone once the global budget is spent', async () => {
    const node = await startNode({ rateLimit: { perAddress: { perSecond: 1_000, burst: 1_000 }, global: { perSecond: 1, burst: 10 } } });
    const a = await client('127.0.0.33');
    for (let t = 0; t < 30; t++) a.ping(node.port, t);
    await settle();
    expect(a.replies.length).toBeLessThanOrEqual(11);
    const b = await client('127.0.0.34');
    b.ping(node.port, 1);
    await settle();
    expect(b.replies).toHaveLength(0);
    expect(node.stats().answersDropped).toBeGreaterThanOrEqual(20);
  });

  it('counts malformed datagrams, answers broken queries as BEP 5 says, and keeps serving', async () => {
    const node = await startNode();
    const c = await client('127.0.0.35');
    const garbage: Uint8Array[] = [
      new Uint8Array(0),
      Buffer.from('de'),
      Buffer.from('not bencode at all'),
      encodeBencode([1, 2, 3]),
      encodeBencode(new Map([['y', 'q']])), // no t
      encodeBencode(new Map<string, unknown>([['t', 'aa'], ['y', 'r'], ['r', 'x']]) as never),
      Buffer.alloc(60_000, 0x64), // 'ddd…'
    ];
    // Answerable: a query with an unknown method (204) and one with a bad id (203).
    c.send(node.port, encodeBencode(new Map<string, unknown>([['t', 'u1'], ['y', 'q'], ['q', 'vote'], ['a', new Map([['id', 'x'.repeat(20)]])]]) as never));
    c.send(node.port, encodeBencode(new Map<string, unknown>([['t', 'u2'], ['y', 'q'], ['q', 'ping'], ['a', new Map([['id', 'short']])]]) as never));
    // A response to nothing we asked.
    c.send(node.port, encodeKrpc({ kind: 'response', t: Uint8Array.of(9, 9), response: { id: randomNodeId() } }));
    // Paced, so that loopback's receive buffer does not drop what we mean to count.
    for (const g of garbage) {
      c.send(node.port, g);
      await settle(5);
    }
    for (let i = 0; i < 300; i++) {
      c.send(node.port, randomBytes(1 + (i % 200)));
      if (i % 20 === 0) await settle(5);
    }
    await settle(300);
    const errors = c.replies.filter((m): m is Extract<KrpcMessage, { kind: 'error' }> => m.kind === 'error');
    const byT = new Map(errors.map((e) => [Buffer.from(e.t).toString(), e.code]));
    expect(byT.get('u1')).toBe(204);
    expect(byT.get('u2')).toBe(203);
    const stats = node.stats();
    // Random bytes are sometimes valid bencode; none of them is valid KRPC.
    expect(stats.malformed).toBe(garbage.length + 2 + 300);
    expect(stats.strays).toBe(1);
    expect(node.state).toBe('running');

    c.ping(node.port, 77);
    await settle();
    expect(c.replies.some((m) => m.kind === 'response' && m.t[1] === 77)).toBe(true);
  });

  it('refuses an announce without a valid token', async () => {
    const node = await startNode();
    const c = await client('127.0.0.36');
    const infoHash = randomNodeId();
    c.send(node.port, encodeKrpc({ kind: 'query', t: Uint8Array.of(0, 1), query: { method: 'announce_peer', id: randomNodeId(), infoHash, port: 6881, token: Uint8Array.of(1, 2, 3, 4), impliedPort: false } }));
    await settle();
    expect(c.replies[0]).toMatchObject({ kind: 'error', code: 203 });
    expect(node.stats().storedPeers).toBe(0);

    // With the token it gave us, and implied_port: stored under our UDP source port.
    c.send(node.port, encodeKrpc({ kind: 'query', t: Uint8Array.of(0, 2), query: { method: 'get_peers', id: randomNodeId(), infoHash } }));
    await settle();
    const answer = c.replies[1]!;
    if (answer.kind !== 'response' || !answer.response.token) throw new Error('get_peers gave no token');
    c.send(node.port, encodeKrpc({ kind: 'query', t: Uint8Array.of(0, 3), query: { method: 'announce_peer', id: randomNodeId(), infoHash, port: 0, token: answer.response.token, impliedPort: true } }));
    await settle();
    expect(c.replies[2]).toMatchObject({ kind: 'response' });
    expect(node.stats().storedPeers).toBe(1);
    // Another address cannot use that token.
    const thief = await client('127.0.0.37');
    thief.send(node.port, encodeKrpc({ kind: 'query', t: Uint8Array.of(0, 4), query: { method: 'announce_peer', id: randomNodeId(), infoHash, port: 6881, token: answer.response.token, impliedPort: false } }));
    await settle();
    expect(thief.replies[0]).toMatchObject({ kind: 'error', code: 203 });
    expect(node.stats().storedPeers).toBe(1);
  });

  it('rejects a port in use with a DhtBindError, and ends stopped', async () => {
    const first = await startNode();
    const second = new DhtNode({ host: '127.0.0.1', port: first.port, bootstrap: [], log: quiet });
    nodes.push(second);
    const err = await second.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DhtBindError);
    expect((err as Error).message).toContain('already in use');
    expect(second.state).toBe('stopped');
  });

  it('enforces its lifecycle', async () => {
    const node = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [], log: quiet });
    nodes.push(node);
    await expect(node.getPeers(randomNodeId())).rejects.toBeInstanceOf(DhtLifecycleError);
    await node.start();
    await expect(node.start()).rejects.toBeInstanceOf(DhtLifecycleError);
    await node.stop();
    await node.stop();
    expect(node.state).toBe('stopped');
    await expect(node.getPeers(randomNodeId())).rejects.toBeInstanceOf(DhtLifecycleError);
  });

  it('starts when a bootstrap name does not resolve, with a warning', async () => {
    const warnings: string[] = [];
    const node = await startNode({
      bootstrap: [{ host: 'router.example.invalid', port: 6881 }],
      resolve: () => Promise.reject(new Error('ENOTFOUND')),
      log: { ...quiet, warn: (m) => warnings.push(m) },
    });
    expect(node.state).toBe('running');
    expect(warnings).toContain('dht bootstrap router name does not resolve');
  });

  it('stop() during start() ends the node cleanly', async () => {
    // A bootstrap address nobody answers: start() waits on its timeout.
    const silent = await client('127.0.0.38');
    const node = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [{ host: '127.0.0.38', port: 9 }], queryTimeoutMs: 5_000, log: quiet });
    nodes.push(node);
    void silent;
    const started = node.start();
    await settle(50);
    const t0 = Date.now();
    await node.stop();
    await started;
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(node.state).toBe('stopped');
  });
});
