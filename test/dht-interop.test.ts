/**
 * The DHT (BEP 5) against libtorrent, with no tracker anywhere: a dozen
 * libtorrent sessions with their DHT on, in a network namespace (each on
 * an address of its own), bootstrapped off each other. seedbox, on the host
 * side of the veth, joins through them; it finds a libtorrent seed from a
 * bare magnet link (no `tr`, no `x.pe`), and a libtorrent leech finds a
 * seedbox seed the same way. A private torrent (BEP 27) never reaches the
 * DHT: no node hears an announce or a lookup for it.
 *
 * Subnets: this file uses 10.213.24.0/24.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compareTrees, makeTorrent } from './support/data.js';
import { createNetns, type Netns } from './support/netns.js';
import { startLibtorrentDhtNode, startLibtorrentLeech, startLibtorrentSeed, type PeerAddress, type RunningPeer } from './support/peers.js';
import { cleanupAfter, cleanupAll, cleanupMark, freePort, makeTempDir, runToExit, sleep, spawnProcess } from './support/processes.js';
import { needTools, tools } from './support/tools.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'packages/cli/bin/seedbox.js');
const lt = needTools(tools.libtorrent, tools.mktorrent, tools.netns);

/** Every libtorrent session here listens (TCP and DHT) on this port, each on its own address. */
const LT_PORT = 6881;
const NODES = 10;

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

let ns: Netns;
const nodes: RunningPeer[] = [];
let work: string;
let bootstrap: PeerAddress[];

beforeAll(async () => {
  if (!lt.available) return;
  work = makeTempDir('dht-interop');
  // 12 addresses: ten DHT nodes, then a seed and a leech.
  ns = await createNetns({ subnet: '10.213.24', extraAddresses: 11 });
  // Each node joins through the ones before it (up to three), so the swarm is one.
  for (let i = 0; i < NODES; i++) {
    const known = nodes.slice(-3).map((n) => ({ host: n.host, port: n.port }));
    nodes.push(await startLibtorrentDhtNode({ netns: ns, listenHost: ns.nsIps[i]!, port: LT_PORT, dht: { bootstrap: known } }));
  }
  bootstrap = nodes.slice(0, 3).map((n) => ({ host: n.host, port: n.port }));
  // Let the routing tables fill: each node pings those it hears of.
  await sleep(3000);
}, 120_000);

const bootstrapArg = (): string => bootstrap.map((b) => `${b.host}:${b.port}`).join(',');

function dhtLines(infoHash: string): string[] {
  return nodes.flatMap((n) => readFileSync(n.log, 'utf8').split('\n')).filter((l) => l.includes('dht_') && l.includes(infoHash));
}

describe.skipIf(!lt.available)('the DHT with libtorrent, no tracker anywhere', () => {
  it('finds a libtorrent seed from a bare magnet link', async () => {
    const t = await makeTorrent({ dir: join(work, 'from-lt'), name: 'dht-from-lt.bin', pieceLength: 64 * 1024, files: { size: 1_500_000 } });
    await startLibtorrentSeed({ netns: ns, listenHost: ns.nsIps[NODES]!, port: LT_PORT, torrentPath: t.torrentPath, dataRoot: t.dataRoot, dht: { bootstrap } });
    const out = makeTempDir('dht-out');
    const d = await runToExit(
      process.execPath,
      [cli, 'download', `magnet:?xt=urn:btih:${t.infoHash}`, '--out', out, '--json', '--listen', `${ns.hostIp}:${await freePort()}`,
        '--dht-bootstrap', bootstrapArg(), '--resume-dir', makeTempDir('resume'), '--metadata-timeout', '60'],
      90_000,
    );
    expect(d.stderr, d.stderr).toBe('');
    expect(d.code).toBe(0);
    expect(await compareTrees(t.contentPath, join(out, t.name))).toBeNull();
  }, 120_000);

  it('is found by a libtorrent leech from a bare magnet link', async () => {
    const t = await makeTorrent({ dir: join(work, 'to-lt'), name: 'dht-to-lt.bin', pieceLength: 64 * 1024, files: { size: 1_200_000 } });
    const port = await freePort();
    const seed = spawnProcess(
      process.execPath,
      [cli, 'seed', t.torrentPath, '--data', t.dataRoot, '--listen', `${ns.hostIp}:${port}`, '--json', '--dht-bootstrap', bootstrapArg(), '--resume-dir', makeTempDir('resume')],
      { name: 'seedbox seed', logFile: join(makeTempDir('dht-seed'), 'seed.log') },
    );
    await seed.waitForLine(/"event":"seeding"/, 30_000, 'seedbox to seed');
    const save = makeTempDir('dht-lt-leech');
    const leech = await startLibtorrentLeech({
      netns: ns,
      listenHost: ns.nsIps[NODES + 1]!,
      port: LT_PORT,
      magnet: `magnet:?xt=urn:btih:${t.infoHash}`,
      saveDir: save,
      peers: [],
      dht: { bootstrap },
    });
    await leech.waitDone(90_000);
    expect(await compareTrees(t.contentPath, join(save, t.name))).toBeNull();
    // The libtorrent nodes heard our announce for it.
    expect(dhtLines(t.infoHash).some((l) => l.includes('incoming dht announce') && l.includes(`${ns.hostIp}:${port}`))).toBe(true);
  }, 150_000);

  it('never takes a private torrent to the DHT', async () => {
    const t = await makeTorrent({ dir: join(work, 'private'), name: 'dht-private.bin', pieceLength: 64 * 1024, files: { size: 300_000 }, private: true });
    const seed = spawnProcess(
      process.execPath,
      [cli, 'seed', t.torrentPath, '--data', t.dataRoot, '--listen', `${ns.hostIp}:${await freePort()}`, '--json', '--dht-bootstrap', bootstrapArg(), '--resume-dir', makeTempDir('resume')],
      { name: 'seedbox seed (private)', logFile: join(makeTempDir('dht-private'), 'seed.log') },
    );
    await seed.waitForLine(/"event":"seeding"/, 30_000, 'seedbox to seed');
    // Long enough for a public torrent's first lookup and announce (the test above sees one within seconds).
    await sleep(8000);
    expect(dhtLines(t.infoHash)).toEqual([]);
  }, 60_000);
});
