/**
 * Real BitTorrent clients as peers around the client under test: libtorrent
 * (seed and leech), Transmission, aria2 and WebTorrent seeds. Each start
 * function resolves once the peer accepts connections for the torrent, and
 * answers a `RunningPeer` whose address a leech can be pointed at. All of
 * them are registered for `cleanupAll()`; `stop()` stops one early.
 *
 * None of them uses DHT, LSD, UPnP/NAT-PMP or uTP: the only ways to find a
 * peer are the address the test gives it and, for libtorrent (whose ut_pex
 * plugin is on by default), peer exchange with the peers it is connected to.
 * A test with one peer per swarm sees exactly the connections it made. Seeds serve the data already in `dataRoot` (from
 * `makeTorrent`) without hashing it first, except Transmission, which always
 * verifies what it adds.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { infoHashOf } from './data.js';
import type { Netns } from './netns.js';
import { freePort, makeTempDir, spawnProcess, StopWaiting, waitFor, type ManagedProcess, type SpawnOptions } from './processes.js';
import { SYSTEM_PYTHON } from './tools.js';

const execFileAsync = promisify(execFile);
const SUPPORT = import.meta.dirname;

export interface PeerAddress {
  host: string;
  port: number;
}

export interface RunningPeer extends PeerAddress {
  /** Which client, for messages: "libtorrent seed", "transmission seed"... */
  name: string;
  /** Path of the log file with the client's stdout and stderr. */
  log: string;
  process: ManagedProcess;
  /** SIGTERM, then SIGKILL after a grace period. Idempotent. */
  stop(): Promise<void>;
}

export interface LibtorrentLeech extends RunningPeer {
  /** Resolves when every piece is in; rejects on timeout or if libtorrent exits, with its log tail. */
  waitDone(timeoutMs: number): Promise<void>;
  /** A magnet leech: resolves when it has the info dictionary from its peers. */
  waitMetadata(timeoutMs: number): Promise<void>;
}

interface CommonOptions {
  /** Where logs and client state go; a fresh temp dir by default. */
  workDir?: string;
  /** Run the client inside this namespace; it is then reached at `netns.nsIp`. */
  netns?: Netns;
  /** TCP port to listen on; a free one by default. */
  port?: number;
  /** How long to wait for it to be ready. */
  startTimeoutMs?: number;
  /** Run libtorrent's DHT node (UDP, on the listen port), bootstrapped from these nodes (libtorrent only). */
  dht?: { bootstrap: readonly PeerAddress[] };
}

function dhtArgs(o: CommonOptions): string[] {
  return o.dht ? ['--dht', ...o.dht.bootstrap.flatMap((b) => ['--dht-bootstrap', `${b.host}:${b.port}`])] : [];
}

function launcher(netns: Netns | undefined): (cmd: string, args: string[], opts: SpawnOptions) => ManagedProcess {
  return netns ? netns.spawn : spawnProcess;
}

function peer(name: string, host: string, port: number, proc: ManagedProcess): RunningPeer {
  return { name, host, port, log: proc.logFile, process: proc, stop: () => proc.stop() };
}

/** True when a TCP connection to host:port is accepted. */
export function tcpReachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

// ---------------------------------------------------------------- libtorrent

export type LibtorrentEncryption = 'enabled' | 'disabled' | 'forced';

export interface LibtorrentSeedOptions extends CommonOptions {
  /** One torrent, or several seeded by one session (all under dataRoot). */
  torrentPath: string | readonly string[];
  dataRoot: string;
  /** Address to listen on: 127.0.0.1 by default, `netns.nsIp` in a namespace. */
  listenHost?: string;
  /** libtorrent's in/out encryption policy; 'enabled' (its default) by default. */
  encryption?: LibtorrentEncryption;
  /** Upload limit in bytes/s, to make a slow seed. */
  uploadLimit?: number;
  /**
   * Return only once a tracker has answered its first announce. A client that
   * announces before the seed does gets no seed, and waits a whole interval
   * for the next announce (libtorrent seeds don't dial the leeches they learn of).
   */
  awaitAnnounce?: boolean;
}

/** A libtorrent 2.0 seed in seed_mode (no up-front hash check). */
export async function startLibtorrentSeed(opts: LibtorrentSeedOptions): Promise<RunningPeer> {
  const host = opts.listenHost ?? opts.netns?.nsIp ?? '127.0.0.1';
  const port = opts.port ?? (await freePort());
  const workDir = opts.workDir ?? makeTempDir('lt-seed');
  const args = [join(SUPPORT, 'lt_peer.py'), 'seed', ...[opts.torrentPath].flat().flatMap((t) => ['--torrent', t]), '--save', opts.dataRoot];
  args.push('--listen', `${host}:${port}`, '--encryption', opts.encryption ?? 'enabled');
  if (opts.uploadLimit) args.push('--upload-limit', String(opts.uploadLimit));
  args.push(...dhtArgs(opts));
  const proc = launcher(opts.netns)(SYSTEM_PYTHON, args, { name: 'libtorrent seed', logFile: join(workDir, `lt-seed-${port}.log`) });
  await proc.waitForLine(/^LISTENING \d+/, opts.startTimeoutMs ?? 30_000, 'libtorrent seed to listen');
  if (opts.awaitAnnounce) await proc.waitForLine(/tracker_reply_alert/, opts.startTimeoutMs ?? 30_000, 'libtorrent seed to announce');
  return peer('libtorrent seed', host, port, proc);
}

export interface LibtorrentLeechOptions extends CommonOptions {
  /** The .torrent; or give `magnet` instead, and the leech fetches the metadata from `peers` (BEP 9). */
  torrentPath?: string;
  magnet?: string;
  /** save_path: the download lands in `saveDir/<name>`. */
  saveDir: string;
  peers: PeerAddress[];
  /** 0.0.0.0 by default, so it can reach peers on any interface. */
  listenHost?: string;
  encryption?: LibtorrentEncryption;
  /** A `PEERS host:port=client,...` line once a second: the connected peers (libtorrent's get_peer_info). */
  printPeers?: boolean;
}

/**
 * A libtorrent 2.0 leech that connects to `peers` (and reconnects while it
 * has none). It keeps running, seeding, after it is done.
 */
export async function startLibtorrentLeech(opts: LibtorrentLeechOptions): Promise<LibtorrentLeech> {
  const host = opts.listenHost ?? '0.0.0.0';
  const port = opts.port ?? (await freePort());
  const workDir = opts.workDir ?? makeTempDir('lt-leech');
  mkdirSync(opts.saveDir, { recursive: true });
  if ((opts.torrentPath === undefined) === (opts.magnet === undefined)) throw new Error('startLibtorrentLeech takes one of torrentPath and magnet');
  const source = opts.magnet !== undefined ? ['--magnet', opts.magnet] : ['--torrent', opts.torrentPath!];
  const args = [join(SUPPORT, 'lt_peer.py'), 'leech', ...source, '--save', opts.saveDir];
  args.push('--listen', `${host}:${port}`, '--encryption', opts.encryption ?? 'enabled');
  for (const p of opts.peers) args.push('--peer', `${p.host}:${p.port}`);
  if (opts.printPeers) args.push('--print-peers');
  args.push(...dhtArgs(opts));
  const proc = launcher(opts.netns)(SYSTEM_PYTHON, args, { name: 'libtorrent leech', logFile: join(workDir, `lt-leech-${port}.log`) });
  await proc.waitForLine(/^LISTENING \d+/, opts.startTimeoutMs ?? 30_000, 'libtorrent leech to start');
  const reachableAt = host === '0.0.0.0' ? (opts.netns?.nsIp ?? '127.0.0.1') : host;
  return {
    ...peer('libtorrent leech', reachableAt, port, proc),
    async waitDone(timeoutMs) {
      await proc.waitForLine(/^DONE\b/, timeoutMs, 'the libtorrent leech to finish the download');
    },
    async waitMetadata(timeoutMs) {
      await proc.waitForLine(/^METADATA\b/, timeoutMs, 'the libtorrent leech to fetch the metadata');
    },
  };
}

export interface LibtorrentDhtNodeOptions extends CommonOptions {
  /** The address it binds (one of `netns.nsIps`). */
  listenHost: string;
  dht: { bootstrap: readonly PeerAddress[] };
}

/** A libtorrent session with no torrent: a DHT node (UDP on `port`) for a test swarm. */
export async function startLibtorrentDhtNode(opts: LibtorrentDhtNodeOptions): Promise<RunningPeer> {
  const port = opts.port ?? (await freePort());
  const workDir = opts.workDir ?? makeTempDir('lt-dht');
  const args = [join(SUPPORT, 'lt_peer.py'), 'node', '--save', workDir, '--listen', `${opts.listenHost}:${port}`, ...dhtArgs(opts)];
  const proc = launcher(opts.netns)(SYSTEM_PYTHON, args, { name: 'libtorrent DHT node', logFile: join(workDir, `lt-dht-${port}.log`) });
  await proc.waitForLine(/^LISTENING \d+/, opts.startTimeoutMs ?? 30_000, 'libtorrent DHT node to listen');
  return peer('libtorrent DHT node', opts.listenHost, port, proc);
}

// ---------------------------------------------------------------- Transmission

export interface TransmissionSeedOptions extends CommonOptions {
  torrentPath: string;
  dataRoot: string;
  /** Required: Transmission refuses peers on 127.0.0.0/8, so it runs in a namespace. */
  netns: Netns;
  rpcPort?: number;
  /** Wait until the data is verified complete (a seed). False for a leech: just add the torrent. */
  expectComplete?: boolean;
  /** Transmission's `encryption`: 0 prefer plaintext (the default here), 1 prefer encryption, 2 require it. */
  encryption?: 0 | 1 | 2;
}

export interface TransmissionSeed extends RunningPeer {
  /** `host:port` of the RPC, for `transmission-remote`. */
  rpc: string;
  /** Runs `transmission-remote <rpc> ...args` and answers its stdout. */
  remote(...args: string[]): Promise<string>;
}

/**
 * Transmission 3.00's daemon inside `netns`, seeding `torrentPath` from
 * `dataRoot` after verifying it (Transmission always hashes added data).
 */
export async function startTransmissionSeed(opts: TransmissionSeedOptions): Promise<TransmissionSeed> {
  const { netns } = opts;
  const port = opts.port ?? (await freePort());
  const rpcPort = opts.rpcPort ?? (await freePort());
  const workDir = opts.workDir ?? makeTempDir('transmission');
  const configDir = join(workDir, `transmission-${port}`);
  mkdirSync(configDir, { recursive: true });
  writeFileSync(
    join(configDir, 'settings.json'),
    JSON.stringify(
      {
        'dht-enabled': false,
        'lpd-enabled': false,
        'pex-enabled': false,
        'utp-enabled': false,
        'port-forwarding-enabled': false,
        'peer-port': port,
        'peer-port-random-on-start': false,
        'bind-address-ipv4': '0.0.0.0',
        'bind-address-ipv6': '::',
        // 0 = prefer plaintext (still accepts encrypted) unless a test asks for more.
        encryption: opts.encryption ?? 0,
        'rpc-enabled': true,
        'rpc-bind-address': netns.nsIp,
        'rpc-port': rpcPort,
        'rpc-authentication-required': false,
        'rpc-whitelist-enabled': false,
        'rpc-host-whitelist-enabled': false,
        'download-dir': opts.dataRoot,
        'incomplete-dir-enabled': false,
        'watch-dir-enabled': false,
        'start-added-torrents': true,
        'speed-limit-down-enabled': false,
        'speed-limit-up-enabled': false,
        'alt-speed-enabled': false,
        'alt-speed-time-enabled': false,
        'ratio-limit-enabled': false,
        'idle-seeding-limit-enabled': false,
        'queue-stalled-enabled': false,
        'download-queue-enabled': false,
        'seed-queue-enabled': false,
        'blocklist-enabled': false,
        'script-torrent-done-enabled': false,
        'peer-limit-global': 200,
        'peer-limit-per-torrent': 100,
        'cache-size-mb': 4,
        'message-level': 2,
        'rename-partial-files': false,
        preallocation: 0,
      },
      null,
      2,
    ),
  );
  const proc = netns.spawn('transmission-daemon', ['--foreground', '--config-dir', configDir, '--log-info'], {
    name: 'transmission-daemon',
    logFile: join(workDir, `transmission-${port}.log`),
  });
  const rpc = `${netns.nsIp}:${rpcPort}`;
  const remote = async (...args: string[]) => {
    try {
      const { stdout } = await execFileAsync('transmission-remote', [rpc, ...args], { timeout: 10_000 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`transmission-remote ${rpc} ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
    }
  };
  const timeout = opts.startTimeoutMs ?? 30_000;
  const started = Date.now();
  const left = () => Math.max(1000, timeout - (Date.now() - started));
  await waitFor(() => remote('--list').then(() => true), left(), `transmission RPC on ${rpc}`, { watch: [proc], intervalMs: 200 });
  const added = await remote('--add', opts.torrentPath, '--download-dir', opts.dataRoot);
  if (!/success/i.test(added)) throw new Error(`transmission did not take ${opts.torrentPath}: ${added.trim()}`);
  const hash = await infoHashOf(opts.torrentPath);
  if (opts.expectComplete === false) return { ...peer('transmission leech', netns.nsIp, port, proc), rpc, remote };
  let lastInfo = '';
  let incompleteChecks = 0;
  await waitFor(
    async () => {
      lastInfo = await remote('-t', hash, '--info');
      const error = /^\s*Error:.*$/m.exec(lastInfo);
      if (error) throw new Error(`transmission reports ${error[0].trim()}`);
      const done = /Percent Done: 100%/.test(lastInfo);
      if (done && /State: (Seeding|Idle)/.test(lastInfo)) return true;
      // Verified (no longer "Will Verify"/"Verifying") but incomplete: the data is
      // wrong or elsewhere. Seen twice in a row, so a state in passing doesn't count.
      incompleteChecks = !done && /State: (Downloading|Idle|Stopped)/.test(lastInfo) ? incompleteChecks + 1 : 0;
      if (incompleteChecks >= 2) {
        const percent = /Percent Done: (\S+)/.exec(lastInfo)?.[1] ?? '?';
        throw new StopWaiting(
          `transmission verified ${opts.torrentPath} against ${opts.dataRoot} and has only ${percent}: ` +
            `wrong dataRoot, or the data does not match the torrent`,
        );
      }
      return false;
    },
    left(),
    'transmission to verify the data and seed',
    { watch: [proc], intervalMs: 200 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nlast transmission-remote -t ${hash} --info:\n${lastInfo}`);
  });
  return { ...peer('transmission seed', netns.nsIp, port, proc), rpc, remote };
}

/**
 * Transmission 3.00 as a leech in `netns`: the daemon with the torrent
 * added to download into `dataRoot`. It finds peers only through the
 * torrent's trackers. `waitDone` polls until it has every piece.
 */
export async function startTransmissionLeech(
  opts: Omit<TransmissionSeedOptions, 'expectComplete'>,
): Promise<TransmissionSeed & { waitDone(timeoutMs: number): Promise<void> }> {
  const t = await startTransmissionSeed({ ...opts, expectComplete: false });
  const hash = await infoHashOf(opts.torrentPath);
  return {
    ...t,
    name: 'transmission leech',
    waitDone: (timeoutMs) =>
      waitFor(async () => /Percent Done: 100%/.test(await t.remote('-t', hash, '--info')), timeoutMs, 'transmission to finish', {
        watch: [t.process],
        intervalMs: 200,
      }).then(() => undefined),
  };
}

// ---------------------------------------------------------------- aria2

export interface Aria2SeedOptions extends CommonOptions {
  torrentPath: string;
  dataRoot: string;
  /** Upload limit in bytes/s, to make a slow seed. */
  uploadLimit?: number;
}

/** The flags that make aria2 1.36 seed existing data, forever, to whoever connects. */
export function aria2SeedArgs(torrentPath: string, dataRoot: string, port: number, uploadLimit = 0): string[] {
  return [
    '--enable-dht=false',
    '--enable-dht6=false',
    '--bt-enable-lpd=false',
    '--enable-peer-exchange=false',
    // Ratio 0.0 and no --seed-time: seed regardless of ratio, until stopped.
    '--seed-ratio=0.0',
    // Take the files as complete without hashing them, and don't check them.
    '--bt-seed-unverified=true',
    '--check-integrity=false',
    '--file-allocation=none',
    `--listen-port=${port}`,
    `--dir=${dataRoot}`,
    '--bt-max-peers=0',
    '--max-overall-upload-limit=0',
    `--max-upload-limit=${uploadLimit}`,
    // Don't let a tracker in the torrent slow the start down.
    '--bt-tracker-connect-timeout=1',
    '--bt-tracker-timeout=1',
    // Quit if the test process dies without cleaning up.
    `--stop-with-process=${process.pid}`,
    '--console-log-level=notice',
    '--summary-interval=1',
    '--enable-color=false',
    '--show-console-readout=false',
    torrentPath,
  ];
}

/** aria2c seeding `dataRoot` unverified on a chosen TCP port (all interfaces). */
export async function startAria2Seed(opts: Aria2SeedOptions): Promise<RunningPeer> {
  const port = opts.port ?? (await freePort());
  const host = opts.netns?.nsIp ?? '127.0.0.1';
  const workDir = opts.workDir ?? makeTempDir('aria2');
  const proc = launcher(opts.netns)('aria2c', aria2SeedArgs(opts.torrentPath, opts.dataRoot, port, opts.uploadLimit), {
    name: 'aria2c',
    logFile: join(workDir, `aria2-${port}.log`),
    cwd: workDir,
  });
  const timeout = opts.startTimeoutMs ?? 30_000;
  await proc.waitForLine(/listening on TCP port/, timeout, 'aria2 to listen');
  await waitFor(() => tcpReachable(host, port), timeout, `aria2 accepting on ${host}:${port}`, { watch: [proc] });
  return peer('aria2 seed', host, port, proc);
}

// ---------------------------------------------------------------- WebTorrent

export interface WebTorrentSeedOptions extends CommonOptions {
  torrentPath: string;
  dataRoot: string;
  /** Upload limit in bytes/s, to make a slow seed. */
  uploadLimit?: number;
}

/** WebTorrent 1.9.7 (Node, TCP only) seeding `dataRoot` with skipVerify. */
export async function startWebTorrentSeed(opts: WebTorrentSeedOptions): Promise<RunningPeer> {
  const port = opts.port ?? (await freePort());
  const host = opts.netns?.nsIp ?? '127.0.0.1';
  const workDir = opts.workDir ?? makeTempDir('webtorrent');
  const script = join(SUPPORT, 'webtorrent_seed.mjs');
  const proc = launcher(opts.netns)(process.execPath, [script, opts.torrentPath, opts.dataRoot, String(port), ...(opts.uploadLimit ? [String(opts.uploadLimit)] : [])], {
    name: 'webtorrent seed',
    logFile: join(workDir, `webtorrent-${port}.log`),
    cwd: workDir,
  });
  await proc.waitForLine(/^LISTENING \d+/, opts.startTimeoutMs ?? 30_000, 'webtorrent to listen');
  return peer('webtorrent seed', host, port, proc);
}
