import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DhtNode, DhtSwarms, type DhtNodeOptions } from '../src/index.js';
import { idToHex, randomNodeId } from '../src/dht/node-id.js';

// A real DHT of 20 nodes over loopback, each on its own address
// (127.0.0.1 .. 127.0.0.20) so that per-address rate limits and the
// address checks see distinct hosts, as on the Internet.

const quiet = { debug: () => {}, info: () => {}, warn: () => {} };
const NETWORK_SIZE = 20;

function nodeOptions(i: number, over: Partial<DhtNodeOptions> = {}): DhtNodeOptions {
  return { host: `127.0.0.${i + 1}`, port: 0, bootstrap: [], queryTimeoutMs: 1_000, maintenanceMs: 300, log: quiet, ...over };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a network of DHT nodes on loopback', () => {
  const network: DhtNode[] = [];
  const extra: DhtNode[] = [];
  const swarms: DhtSwarms[] = [];
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seedbox-dht-'));
    const first = new DhtNode(nodeOptions(0));
    network.push(first);
    await first.start();
    // The others bootstrap off the first (one of them by name) and off a
    // neighbour, all at once, as a fleet restarting together would.
    const rest = Array.from({ length: NETWORK_SIZE - 1 }, (_, j) => {
      const i = j + 1;
      const bootstrap = [{ host: i === 1 ? 'localhost' : '127.0.0.1', port: first.port }];
      return new DhtNode(nodeOptions(i, { bootstrap }));
    });
    network.push(...rest);
    await Promise.all(rest.map((n) => n.start()));
  });

  afterEach(async () => {
    await Promise.all(swarms.splice(0).map((s) => s.stop()));
    await Promise.all(extra.splice(0).map((n) => n.stop()));
  });

  afterAll(async () => {
    await Promise.all(network.map((n) => n.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('fills every routing table, though all nodes joined through one that knew nobody', async () => {
    for (const n of network) expect(n.state).toBe('running');
    // Everyone asked node 0 while it knew nobody; the small-table
    // maintenance rounds look again and find each other.
    await until('every table to hold k nodes', async () => (network.every((n) => n.stats().nodes >= 8) ? true : undefined));
  });

  it('finds a peer another node announced', async () => {
    const infoHash = randomNodeId();
    const announcer = network[5]!;
    expect(await announcer.getPeers(infoHash, { announcePort: 6881 })).toEqual([]);
    const stored = network.reduce((sum, n) => sum + n.stats().storedPeers, 0);
    expect(stored).toBeGreaterThanOrEqual(1);
    const peers = await network[17]!.getPeers(infoHash);
    expect(peers).toContainEqual({ host: '127.0.0.6', port: 6881 });
  });

  it('comes back after a restart with its table and id, and no bootstrap', async () => {
    const stateFile = join(dir, 'restart', 'dht.json');
    const before = new DhtNode(nodeOptions(20, { bootstrap: [{ host: '127.0.0.1', port: network[0]!.port }], stateFile }));
    extra.push(before);
    await before.start();
    const nodesBefore = before.stats().nodes;
    expect(nodesBefore).toBeGreaterThanOrEqual(8);
    await before.stop();
    const saved = JSON.parse(await readFile(stateFile, 'utf8')) as { nodeId: string; nodes: unknown[] };
    expect(saved.nodeId).toBe(idToHex(before.nodeId));
    expect(saved.nodes.length).toBe(nodesBefore);

    const after = new DhtNode(nodeOptions(20, { bootstrap: [], stateFile }));
    extra.push(after);
    await after.start();
    expect(idToHex(after.nodeId)).toBe(idToHex(before.nodeId));
    expect(after.stats().nodes).toBeGreaterThanOrEqual(8);
    // And it works: it finds what another node announces.
    const infoHash = randomNodeId();
    await network[9]!.getPeers(infoHash, { announcePort: 7777 });
    expect(await after.getPeers(infoHash)).toContainEqual({ host: '127.0.0.10', port: 7777 });
  });

  it('ignores a corrupt state file, with a warning', async () => {
    const stateFile = join(dir, 'corrupt.json');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(stateFile, '{"version":1,"nodeId":"zz');
    const warnings: string[] = [];
    const node = new DhtNode(nodeOptions(21, { stateFile, bootstrap: [{ host: '127.0.0.1', port: network[0]!.port }], log: { ...quiet, warn: (m) => warnings.push(m) } }));
    extra.push(node);
    await node.start();
    expect(warnings).toContain('dht state file ignored');
    expect(node.stats().nodes).toBeGreaterThan(0);
  });

  it('DhtSwarms announces each distinct worker port and reports peers found', async () => {
    const infoHash = randomNodeId();
    const found: string[] = [];
    const s = new DhtSwarms(network[3]!, { log: quiet });
    swarms.push(s);
    s.join(infoHash, [7001, 7002, 7001], (peers) => found.push(...peers.map((p) => `${p.host}:${p.port}`)));
    const peers = await until('both worker ports to be findable', async () => {
      const got = await network[12]!.getPeers(infoHash);
      return got.filter((p) => p.host === '127.0.0.4').length === 2 ? got : undefined;
    });
    expect(peers).toEqual(expect.arrayContaining([{ host: '127.0.0.4', port: 7001 }, { host: '127.0.0.4', port: 7002 }]));
    // Another worker announcing through node 12 shows up in node 3's next round.
    await network[12]!.getPeers(infoHash, { announcePort: 7100 });
    s.setPorts(infoHash, [7001, 7002, 7003]); // a new port: a round at once
    await until('the round after setPorts', async () => (found.includes('127.0.0.13:7100') ? true : undefined));
    s.leave(infoHash);
    expect(s.size).toBe(0);
  });
});

describe('BEP 32: nodes on IPv4 and IPv6 at once', () => {
  const nodes: DhtNode[] = [];

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });

  it('fills an IPv6 table too, and finds peers announced over both families', async () => {
    const first = new DhtNode(nodeOptions(40, { host6: '::1' }));
    nodes.push(first);
    await first.start();
    const rest = Array.from({ length: 5 }, (_, j) => new DhtNode(nodeOptions(41 + j, { host6: '::1', bootstrap: [{ host: '127.0.0.41', port: first.port }, { host: '::1', port: first.port }] })));
    nodes.push(...rest);
    await Promise.all(rest.map((n) => n.start()));
    await until('every node to know IPv6 nodes', async () => (nodes.every((n) => n.stats().nodes6 >= 3) ? true : undefined));

    const infoHash = randomNodeId();
    await nodes[2]!.getPeers(infoHash, { announcePort: 6000 });
    const peers = await nodes[5]!.getPeers(infoHash);
    expect(peers).toEqual(expect.arrayContaining([{ host: '127.0.0.43', port: 6000 }, { host: '::1', port: 6000 }]));
  });
});
