/**
 * The whole stack as containers (testcontainers), from images built on this
 * machine: `seedbox:dev` (scripts/build-images.sh) and nats-server,
 * opentracker and Transmission images made from the host's binaries
 * (scripts/make-tool-images.sh). Both are (re)built when the test file is
 * collected; unchanged, that takes a few seconds.
 *
 * On one Docker network (a user-defined bridge; Docker picks its subnet):
 *
 *   nats            nats-server with JetStream, max_payload 8MB like the chart
 *   opentracker     whitelisting the test torrent
 *   dw1, dw2        disk-writers, /data read-write
 *   pw1, pw2        peer-workers, /data read-only, BitTorrent on 6881,
 *                   gRPC control (50051, with a token, as the chart sets
 *                   one) and metrics (9464) mapped to the host
 *   fleet-gateway   the fleet's public address (see below), with the
 *                   tracker-client in its network namespace
 *   transmission    a Transmission 3.00 seed, then a fresh leech
 *
 * /data is one host temp dir bind-mounted into all four services, owned by
 * uid 10001 (the image's user): the "shared volume".
 *
 * Why a gateway: opentracker (Debian's build, and upstream's default) gives
 * out the address an announce comes from and ignores the `ip=` parameter,
 * and the tracker-client announces for every worker. So the one address a
 * tracker hands out for the fleet is the one the tracker-client's
 * announces come from. That is the chart's default peer access (nodePort,
 * deploy/helm/seedbox/README.md): one address and port in front of the
 * whole fleet, an incoming peer landing on any worker, which works because
 * every worker seeds every complete torrent from the shared volume. The
 * gateway container plays the node: its 6881 is relayed to pw1:6881 and
 * pw2:6881 in turn (kube-proxy's part), the tracker-client runs in its
 * network namespace (so announces leave from its address, as after the
 * node's SNAT), and both workers announce `SEEDBOX_ANNOUNCE_HOST` = its IP,
 * `SEEDBOX_ANNOUNCE_PORT` 6881. (Two ports, one per worker, would not get
 * a Transmission leech two peers: it keeps one peer per IP address.)
 *
 * The test adds a torrent through the gRPC API of pw1 from the test
 * process, waits until the fleet has it from the Transmission seed (found
 * through opentracker), and compares the files on the host side of /data
 * byte for byte. Then it stops the seed, and a fresh Transmission leech,
 * which finds peers only through opentracker, downloads it from the fleet;
 * its files are compared too.
 *
 * Every container and the network are removed by id through the cleanup
 * registry, also when a test fails. Container logs: SEEDBOX_KEEP_TMP=1 keeps
 * the temp dir with one log file per container.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { Wait, type StartedNetwork } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GetTorrentResponse, SeedboxControlClient, Torrent } from '@seedbox/proto';
import { containerTails, RegisteredContainer, startNetwork, type RunningContainer } from './support/containers.js';
import { compareTrees, makeTorrent, type TestTorrent } from './support/data.js';
import { call, controlClient, scrape } from './support/fleet.js';
import { cleanupAll, makeTempDir, onCleanup, StopWaiting, waitFor } from './support/processes.js';
import { needTool, needTools, tools, WHOLE_STACK_IMAGES as IMAGES } from './support/tools.js';

const base = needTools(tools.docker, tools.mktorrent);
// Only with a daemon to build them on; this is where the images are built.
const need = base.available ? needTool(tools.wholeStackImages) : base;

afterAll(cleanupAll);

const execFileAsync = promisify(execFile);

const SEEDBOX_UID = 10001;
/** The control API answers beyond a container's loopback only with a token (SEEDBOX_TOKEN), as in the chart. */
const TOKEN = randomBytes(24).toString('hex');
const TRACKER_PORT = 6969;
/** The fleet's BitTorrent port on the gateway, and the workers behind it. */
const FLEET_PORT = 6881;
const WORKERS = ['pw1', 'pw2'] as const;

/**
 * The gateway's relay, run by the node in the seedbox image: each
 * connection to PORT goes to the next of TARGETS (host:port, resolved at
 * each connection through Docker's DNS, so it can start before them).
 */
const RELAY = `
const net = require('node:net');
const targets = process.env.TARGETS.split(',');
let next = 0;
net.createServer((inbound) => {
  const target = targets[next++ % targets.length];
  const [host, port] = target.split(':');
  console.log('connection from ' + inbound.remoteAddress + ' to ' + target);
  const outbound = net.connect(Number(port), host);
  inbound.pipe(outbound);
  outbound.pipe(inbound);
  const close = () => { inbound.destroy(); outbound.destroy(); };
  for (const s of [inbound, outbound]) { s.on('error', close); s.on('close', close); }
}).listen(Number(process.env.PORT), '0.0.0.0', () => console.log('relaying ' + process.env.PORT + ' to ' + targets.join(' and ')));
`;

describe.skipIf(!need.available)('the whole stack in containers: NATS, the three services, opentracker, Transmission', () => {
  let work: string;
  let volume: string;
  let torrent: TestTorrent;
  let network: StartedNetwork;
  let opentracker: RunningContainer;
  let gateway: RunningContainer;
  let trackerClient: RunningContainer;
  let diskWriters: RunningContainer[];
  let peerWorkers: RunningContainer[];
  let seed: Transmission;
  let control: SeedboxControlClient;

  const services = () => [...peerWorkers, ...diskWriters, trackerClient];

  beforeAll(async () => {
    work = makeTempDir('whole-stack');
    volume = join(work, 'volume');
    mkdirSync(volume);
    // The services run as uid 10001; the disk-writers must write here.
    if (process.getuid?.() === 0) {
      chownSync(volume, SEEDBOX_UID, SEEDBOX_UID);
    } else {
      chmodSync(volume, 0o777);
      // What uid 10001 wrote, only uid 10001 (or root) can remove: before
      // the temp dir goes (and after the containers), empty it as 10001.
      const empty = "const fs = require('node:fs'); for (const f of fs.readdirSync('/data')) fs.rmSync('/data/' + f, { recursive: true, force: true });";
      onCleanup(`empty ${volume} as uid ${SEEDBOX_UID}`, async () => {
        await execFileAsync('docker', ['run', '--rm', '-v', `${volume}:/data`, IMAGES.seedbox, 'node', '-e', empty], { timeout: 60_000 });
      });
    }
    // A multi-file torrent, small pieces, a file in a subfolder. (No empty
    // file: Transmission 3.00 does not create zero-length files.)
    torrent = await makeTorrent({
      dir: join(work, 'torrent'),
      name: 'stack',
      pieceLength: 256 * 1024,
      tracker: `http://opentracker:${TRACKER_PORT}/announce`,
      files: [
        { path: 'a.bin', size: 16 * 1024 * 1024 },
        { path: 'sub/b.bin', size: 8 * 1024 * 1024 + 12345 },
      ],
    });

    network = await startNetwork();
    const container = (image: string, label: string) =>
      new RegisteredContainer(image, label, join(work, `${label.replace(/\W+/g, '-')}.log`)).withNetwork(network).withStartupTimeout(60_000);

    const nats = container(IMAGES.nats, 'nats')
      .withNetworkAliases('nats')
      .withCopyContentToContainer([{ content: 'max_payload: 8MB\njetstream { store_dir: "/tmp/jetstream" }\n', target: '/etc/nats/nats.conf', mode: 0o644 }])
      .withCommand(['nats-server', '-c', '/etc/nats/nats.conf'])
      .withWaitStrategy(Wait.forLogMessage(/Server is ready/));
    // opentracker prints nothing when it is up: wait for any HTTP answer.
    const tracker = container(IMAGES.opentracker, 'opentracker')
      .withNetworkAliases('opentracker')
      .withCopyContentToContainer([{ content: `${torrent.infoHash}\n`, target: '/srv/opentracker/whitelist', mode: 0o644 }])
      .withCommand(['opentracker', '-p', String(TRACKER_PORT), '-P', String(TRACKER_PORT), '-d', '/srv/opentracker', '-w', 'whitelist'])
      .withExposedPorts(TRACKER_PORT)
      .withWaitStrategy(Wait.forHttp('/scrape', TRACKER_PORT).forStatusCodeMatching(() => true));
    const gw = container(IMAGES.seedbox, 'fleet-gateway')
      .withNetworkAliases('fleet-gateway')
      .withEnvironment({ PORT: String(FLEET_PORT), TARGETS: WORKERS.map((w) => `${w}:6881`).join(',') })
      .withCommand(['node', '-e', RELAY])
      // The tracker-client's metrics, in this network namespace.
      .withExposedPorts(9464)
      .withWaitStrategy(Wait.forLogMessage(/relaying/));
    let started: RunningContainer[];
    [started, seed] = await Promise.all([Promise.all([nats, tracker, gw].map((c) => c.run())), startTransmission('seed', network, work, torrent)]);
    [, opentracker, gateway] = started as [RunningContainer, RunningContainer, RunningContainer];
    const gatewayIp = gateway.ip(network);

    const service = (kind: 'peer-worker' | 'disk-writer' | 'tracker-client', id: string, env: Record<string, string> = {}) =>
      container(IMAGES.seedbox, `${kind} ${id}`)
        .withEnvironment({ SEEDBOX_NATS_URL: 'nats://nats:4222', SEEDBOX_INSTANCE_ID: id, SEEDBOX_LOG_LEVEL: 'debug', ...env })
        .withCommand(['node', `services/${kind}/dist/main.js`])
        .withWaitStrategy(Wait.forLogMessage(/"msg":"ready"/));
    const worker = (id: string) =>
      service('peer-worker', id, {
        SEEDBOX_DATA_DIR: '/data',
        SEEDBOX_LISTEN_PORT: '6881',
        SEEDBOX_ANNOUNCE_HOST: gatewayIp,
        SEEDBOX_ANNOUNCE_PORT: String(FLEET_PORT),
        SEEDBOX_TOKEN: TOKEN,
      })
        .withNetworkAliases(id)
        .withBindMounts([{ source: volume, target: '/data', mode: 'ro' }])
        .withExposedPorts(50051, 9464);
    const writer = (id: string) =>
      service('disk-writer', id, { SEEDBOX_DATA_DIR: '/data' })
        .withBindMounts([{ source: volume, target: '/data', mode: 'rw' }])
        .withExposedPorts(9464);
    // In the gateway's network namespace: it announces from the gateway's address.
    const tc = new RegisteredContainer(IMAGES.seedbox, 'tracker-client tc1', join(work, 'tracker-client-tc1.log'))
      .withNetworkMode(`container:${gateway.id}`)
      // Its DHT node stays off the public routers: tests reach nothing beyond this machine.
      .withEnvironment({ SEEDBOX_NATS_URL: 'nats://nats:4222', SEEDBOX_INSTANCE_ID: 'tc1', SEEDBOX_LOG_LEVEL: 'debug', SEEDBOX_DHT_BOOTSTRAP: 'none' })
      .withCommand(['node', 'services/tracker-client/dist/main.js'])
      .withStartupTimeout(60_000)
      .withWaitStrategy(Wait.forLogMessage(/"msg":"ready"/));
    const all = await Promise.all([writer('dw1'), writer('dw2'), tc, ...WORKERS.map(worker)].map((c) => c.run()));
    diskWriters = all.slice(0, 2);
    trackerClient = all[2]!;
    peerWorkers = all.slice(3);

    control = controlClient(`127.0.0.1:${peerWorkers[0]!.port(50051)}`, TOKEN);
    onCleanup('close the gRPC client', () => control.close());
  }, 180_000);

  async function progress(): Promise<Torrent> {
    return (await call<{ infoHash: string }, GetTorrentResponse>(control, 'getTorrent', { infoHash: torrent.infoHash })).torrent!;
  }

  /** waitFor, failing at once if a service container stops, and with their log tails on timeout. */
  async function waitForStack<T>(predicate: () => Promise<T>, timeoutMs: number, what: string, also: RunningContainer[] = []): Promise<NonNullable<T>> {
    const watched = [...services(), ...also];
    return waitFor(
      async () => {
        for (const c of watched) c.assertRunning(what);
        return predicate();
      },
      timeoutMs,
      what,
      { intervalMs: 500 },
    ).catch((err: Error) => {
      throw err instanceof StopWaiting ? err : new Error(`${err.message}${containerTails(watched)}`, { cause: err });
    });
  }

  it('downloads a torrent added through the gRPC API from a Transmission seed, byte-identical on the shared volume', async () => {
    const added = await call<{ torrentFile: Buffer; paused: boolean }, { torrent: Torrent }>(control, 'addTorrent', {
      torrentFile: readFileSync(torrent.torrentPath),
      paused: false,
    });
    expect(added.torrent.infoHash).toBe(torrent.infoHash);
    expect(added.torrent.pieceCount).toBe(Math.ceil(torrent.totalSize / torrent.pieceLength));

    let last: Torrent | undefined;
    await waitForStack(
      async () => {
        last = await progress();
        return last.stats !== undefined && last.stats.pieceCount > 0 && last.stats.leftBytes === 0;
      },
      120_000,
      `${torrent.name} to complete`,
      [seed.container],
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nlast stats: ${JSON.stringify(last?.stats ?? null)}`, { cause: err });
    });
    expect(await compareTrees(torrent.contentPath, join(volume, torrent.infoHash, torrent.name))).toBeNull();

    // Both disk-writers took pieces from the queue group (each piece is a
    // coin toss, 97 of them), and between them wrote every byte once.
    const written = await Promise.all(diskWriters.map(async (dw) => (await scrape(dw.port(9464))).get('seedbox_disk_written_bytes_total') ?? 0));
    expect(written.every((n) => n > 0), `bytes written per disk-writer: ${written.join(', ')}`).toBe(true);
    expect(written.reduce((a, b) => a + b, 0)).toBe(torrent.totalSize);
    // The tracker-client announced through opentracker, which gave it the seed.
    const tc = await scrape(gateway.port(9464));
    expect(tc.get('seedbox_tracker_announces_total{result="ok"}')).toBeGreaterThan(0);
    expect(tc.get('seedbox_tracker_peers_found_total')).toBeGreaterThan(0);
  }, 150_000);

  it('seeds it from the fleet to a fresh Transmission leech that finds the fleet through opentracker', async () => {
    // Only the fleet has the data now.
    await seed.container.stopGracefully();
    // Every worker seeds the complete torrent from the shared volume, the
    // one that downloaded it and the one that did not.
    await waitForStack(
      async () => (await Promise.all(peerWorkers.map(async (pw) => (await scrape(pw.port(9464))).get('seedbox_torrents{state="seeding"}')))).every((n) => n === 1),
      30_000,
      'both peer-workers to seed the torrent',
    );
    const fleet = `${gateway.ip(network)}:${FLEET_PORT}`;
    let peers: string[] = [];
    await waitForStack(
      async () => (peers = await trackerPeers(opentracker.port(TRACKER_PORT), torrent.infoHash)).includes(fleet),
      30_000,
      `opentracker to give out the fleet at ${fleet}`,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nopentracker gives out: ${peers.join(', ') || 'nobody'}`, { cause: err });
    });

    const leech = await startTransmission('leech', network, work, torrent);
    await waitForStack(
      async () => /Percent Done: 100%/.test(await leech.remote('-t', torrent.infoHash, '--info')),
      150_000,
      'the Transmission leech to finish',
      [leech.container],
    ).catch(async (err: Error) => {
      const info = await leech.remote('-t', torrent.infoHash, '--info').catch((e: Error) => e.message);
      throw new Error(`${err.message}\nlast transmission-remote --info:\n${info}\nthe gateway relayed:\n${gateway.tail(10)}`, { cause: err });
    });
    expect(await compareTrees(torrent.contentPath, join(leech.downloadDir, torrent.name))).toBeNull();

    // The fleet served all of it (the leech had no one else to ask). The
    // counters move on the workers' 1-second tick.
    let uploaded: number[] = [];
    const series = `seedbox_torrent_uploaded_bytes_total{info_hash="${torrent.infoHash}"}`;
    await waitForStack(
      async () => {
        uploaded = await Promise.all(peerWorkers.map(async (pw) => (await scrape(pw.port(9464))).get(series) ?? 0));
        return uploaded.reduce((a, b) => a + b, 0) >= torrent.totalSize;
      },
      10_000,
      `the workers' upload counters to add up to ${torrent.totalSize}`,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nbytes uploaded by ${WORKERS.join(', ')}: ${uploaded.join(', ')}`, { cause: err });
    });
  }, 150_000);
});

// ---------------------------------------------------------------- Transmission

interface Transmission {
  container: RunningContainer;
  /** The host folder mounted at /downloads. */
  downloadDir: string;
  /** transmission-remote against the daemon's RPC, run inside its container. */
  remote(...args: string[]): Promise<string>;
}

/**
 * Transmission 3.00 in a container on `network`: a seed of the torrent's
 * data (verified, seeding, and announced to the tracker when this
 * resolves), or a leech into a fresh folder. It runs as the test's own uid,
 * so everything it writes in its bind mounts can be removed afterwards.
 */
async function startTransmission(
  role: 'seed' | 'leech',
  network: StartedNetwork,
  work: string,
  t: TestTorrent,
  o: { downloadLimitKBps?: number } = {},
): Promise<Transmission> {
  const dir = join(work, `transmission-${role}`);
  const config = join(dir, 'config');
  const downloadDir = role === 'seed' ? t.dataRoot : join(dir, 'downloads');
  mkdirSync(config, { recursive: true });
  mkdirSync(downloadDir, { recursive: true });
  copyFileSync(t.torrentPath, join(config, basename(t.torrentPath)));
  writeFileSync(
    join(config, 'settings.json'),
    JSON.stringify({
      // Peers only from the tracker.
      'dht-enabled': false,
      'lpd-enabled': false,
      'pex-enabled': false,
      'utp-enabled': false,
      'port-forwarding-enabled': false,
      'peer-port': 51413,
      'peer-port-random-on-start': false,
      // 0 = prefer plaintext (still accepts encrypted).
      encryption: 0,
      'rpc-enabled': true,
      'rpc-bind-address': '127.0.0.1',
      'rpc-port': 9091,
      'rpc-authentication-required': false,
      'rpc-whitelist-enabled': false,
      'rpc-host-whitelist-enabled': false,
      'download-dir': '/downloads',
      'incomplete-dir-enabled': false,
      'watch-dir-enabled': false,
      'start-added-torrents': true,
      'speed-limit-down-enabled': o.downloadLimitKBps !== undefined,
      'speed-limit-down': o.downloadLimitKBps ?? 0,
      'speed-limit-up-enabled': false,
      'alt-speed-enabled': false,
      'ratio-limit-enabled': false,
      'idle-seeding-limit-enabled': false,
      'download-queue-enabled': false,
      'seed-queue-enabled': false,
      'rename-partial-files': false,
      preallocation: 0,
      'message-level': 2,
    }),
  );
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const container = await new RegisteredContainer(IMAGES.transmission, `transmission ${role}`, join(work, `transmission-${role}.log`))
    .withNetwork(network)
    .withNetworkAliases(`transmission-${role}`)
    .withUser(`${uid}:${gid}`)
    .withBindMounts([
      { source: config, target: '/config', mode: 'rw' },
      { source: downloadDir, target: '/downloads', mode: 'rw' },
    ])
    .withCommand(['transmission-daemon', '--foreground', '--config-dir', '/config', '--log-info'])
    .withStartupTimeout(60_000)
    .withWaitStrategy(Wait.forLogMessage(/Serving RPC and Web requests/))
    .run();
  const remote = (...args: string[]) => container.exec(['transmission-remote', '127.0.0.1:9091', ...args]);
  const added = await remote('--add', `/config/${basename(t.torrentPath)}`);
  if (!/success/i.test(added)) throw new Error(`transmission ${role} did not take the torrent: ${added.trim()}`);
  if (role === 'seed') {
    let info = '';
    await waitFor(
      async () => {
        container.assertRunning('the seed to verify its data');
        info = await remote('-t', t.infoHash, '--info');
        return /Percent Done: 100%/.test(info) && /State: (Seeding|Idle)/.test(info);
      },
      60_000,
      'the Transmission seed to verify its data and seed',
      { intervalMs: 250 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nlast --info:\n${info}`);
    });
    // Announced: the fleet's first announce must find it, or the next is
    // an interval (opentracker's: half an hour) away.
    let trackers = '';
    await waitFor(
      async () => /Got a list of \d+ peers/.test((trackers = await remote('-t', t.infoHash, '--info-trackers'))),
      30_000,
      'the Transmission seed to announce',
      { intervalMs: 250 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nlast --info-trackers:\n${trackers}`);
    });
  }
  return { container, downloadDir, remote };
}

describe.skipIf(!need.available)('the image runs seedbox serve', () => {
  it('serves the control API from a container: a torrent added over data in the volume is checked and seeds; SIGTERM is a clean exit', async () => {
    const work = makeTempDir('serve-image');
    const t = await makeTorrent({ dir: join(work, 'src'), name: 'in-image.bin', pieceLength: 32 * 1024, files: { size: 3 * 1024 * 1024 + 17 } });
    // The data as another client left it, in a volume the image's user (uid 10001) may open read-write.
    // The state stays inside the container, so nothing of that user's is left in the host's temp dir.
    const volume = join(work, 'volume');
    mkdirSync(join(volume, t.infoHash), { recursive: true });
    copyFileSync(t.contentPath, join(volume, t.infoHash, t.name));
    for (const p of [volume, join(volume, t.infoHash)]) chmodSync(p, 0o755);
    chmodSync(join(volume, t.infoHash, t.name), 0o666);
    if (process.getuid?.() === 0) for (const p of [volume, join(volume, t.infoHash), join(volume, t.infoHash, t.name)]) chownSync(p, SEEDBOX_UID, SEEDBOX_UID);
    else for (const p of [volume, join(volume, t.infoHash)]) chmodSync(p, 0o777);
    const box = await new RegisteredContainer(IMAGES.seedbox, 'serve', join(work, 'serve.log'))
      .withCommand(['node', 'packages/cli/bin/seedbox.js', 'serve', '--data', '/data', '--state-dir', '/tmp/seedbox-state', '--grpc-host', '0.0.0.0'])
      // Beyond the container's loopback only with a token.
      .withEnvironment({ SEEDBOX_TOKEN: TOKEN, SEEDBOX_DHT_BOOTSTRAP: 'none' })
      .withBindMounts([{ source: volume, target: '/data', mode: 'rw' }])
      .withExposedPorts(50051)
      .withStartupTimeout(60_000)
      .withWaitStrategy(Wait.forLogMessage(/"msg":"ready"/))
      .run();
    const control = controlClient(`127.0.0.1:${box.port(50051)}`, TOKEN);
    try {
      await call(control, 'addTorrent', { torrentFile: readFileSync(t.torrentPath), paused: false });
      await waitFor(
        async () => {
          box.assertRunning('the torrent to seed');
          const r = await call<{ infoHash: string }, GetTorrentResponse>(control, 'getTorrent', { infoHash: t.infoHash });
          return r.torrent?.stats?.leftBytes === 0 && r.torrent.stats.pieceCount > 0;
        },
        30_000,
        'the torrent checked and seeding',
      );
    } finally {
      control.close();
    }
    await box.stopGracefully(15);
    expect(box.text()).toMatch(/"msg":"shutdown complete"/);
    expect(box.text()).toMatch(/"msg":"checked".*"fastPath":false/);
  }, 120_000);
});

// ---------------------------------------------------------------- opentracker

/**
 * The peers opentracker gives out for `infoHashHex`, as "ip:port": asks as a
 * throwaway leecher (port 1), then takes that leecher out again.
 */
async function trackerPeers(port: number, infoHashHex: string): Promise<string[]> {
  const infoHash = Buffer.from(infoHashHex, 'hex');
  const peerId = `-SBTEST-${randomBytes(6).toString('hex')}`;
  const query = (event?: string) =>
    `http://127.0.0.1:${port}/announce?info_hash=${percentEncode(infoHash)}&peer_id=${peerId}&port=1&uploaded=0&downloaded=0&left=1&compact=1&numwant=50` +
    (event ? `&event=${event}` : '');
  const body = Buffer.from(await (await fetch(query())).arrayBuffer());
  await fetch(query('stopped'));
  const at = body.indexOf('5:peers');
  if (at < 0) throw new Error(`opentracker answered without peers: ${body.toString('latin1')}`);
  const colon = body.indexOf(':', at + 7);
  const length = Number(body.toString('latin1', at + 7, colon));
  const compact = body.subarray(colon + 1, colon + 1 + length);
  const peers: string[] = [];
  for (let i = 0; i + 6 <= compact.length; i += 6) {
    peers.push(`${compact[i]}.${compact[i + 1]}.${compact[i + 2]}.${compact[i + 3]}:${compact.readUInt16BE(i + 4)}`);
  }
  return peers;
}

function percentEncode(bytes: Buffer): string {
  return [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}
