// The distributed mode as processes, for the benchmarks: a nats-server
// (JetStream) and the three services (disk-writer, tracker-client,
// peer-worker), each a `node services/NAME/dist/main.js` on ports of its
// own. Shared by bench/distributed_leech.mjs (one torrent, then stop) and
// the many-torrents scenario (which also restarts the peer-worker on the
// same state), and the `/proc` readings both take of the processes.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

/**
 * A process's CPU seconds (user + system) and memory, from /proc: peak
 * (VmHWM) and current (VmRSS) resident set; and from /proc/PID/io the
 * bytes it has read (rchar: every read(2), files and sockets, page cache
 * or not), its write calls (syscw, sockets too) and the bytes it caused
 * to be written to disk (write_bytes).
 */
export function procUsage(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const user = Number(fields[11]) / 100; // utime, stime (fields 14 and 15)
  const sys = Number(fields[12]) / 100;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  let io = '';
  try {
    io = readFileSync(`/proc/${pid}/io`, 'utf8');
  } catch {
    /* /proc/PID/io needs the same user or root */
  }
  const ioField = (key) => Number(new RegExp(`^${key}: (\\d+)`, 'm').exec(io)?.[1] ?? NaN);
  return {
    cpu: user + sys,
    user,
    sys,
    rssMiB: kib('VmHWM') / 1024,
    rssNowMiB: kib('VmRSS') / 1024,
    readBytes: ioField('rchar'),
    writeCalls: ioField('syscw'),
    diskWriteBytes: ioField('write_bytes'),
  };
}

/**
 * Spawns a process and resolves once its output matches `ready`. With
 * `logFile` everything it prints goes there (from the start); otherwise its
 * output is dropped once it is ready. Rejects if it exits first, or after
 * `timeoutMs`. `onSpawn` sees the child at once, so that a caller's cleanup
 * can stop a process that never got ready.
 */
export function startProcess(name, cmd, args, { env = {}, ready, logFile, timeoutMs = 120_000, onSpawn } = {}) {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.(child);
    const file = logFile ? createWriteStream(logFile) : undefined;
    if (file) {
      child.stdout.pipe(file);
      child.stderr.pipe(file);
    }
    // Only a tail is kept for matching and for the error: a service logging
    // for each of 10,000 torrents must not grow this process's memory.
    let tail = '';
    const timer = setTimeout(() => rej(new Error(`${name} did not get ready in ${timeoutMs / 1000} s:\n${tail.slice(-2000)}`)), timeoutMs);
    const onData = (d) => {
      tail = (tail + d).slice(-8192);
      if (!ready.test(tail)) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      if (!file) {
        child.stdout.resume();
        child.stderr.resume();
      }
      res(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      rej(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${tail.slice(-2000)}`));
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended and how long that took. */
export function stopProcess(child, graceMs = 10_000) {
  const t0 = performance.now();
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res({ code: child.exitCode, signal: child.signalCode, seconds: 0 });
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      res({ code, signal, seconds: (performance.now() - t0) / 1000 });
    });
    child.kill('SIGTERM');
  });
}

export const SERVICES = ['disk-writer', 'tracker-client', 'peer-worker'];

/**
 * A fleet of one of each service around one nats-server, its JetStream
 * store and shared volume under `work`. `direct`: pieces over the direct
 * data path (SEEDBOX_PIECE_DATA=direct) instead of inline through NATS.
 * nats-server runs with max_payload 8MB, as the Helm chart's does
 * (BENCH_NATS_MAX_PAYLOAD to change it). `logDir`: each process's output
 * goes to NAME.log there (NAME-2.log for a second start, and so on).
 */
export class Fleet {
  constructor({ work, direct = false, nodeArgs = [], logDir, env = {} }) {
    this.work = work;
    this.volume = join(work, 'volume');
    this.direct = direct;
    this.nodeArgs = nodeArgs;
    this.logDir = logDir;
    this.extraEnv = env;
    /** name -> { child, env, grpcPort, metricsPort, starts } */
    this.procs = new Map();
    this.stopped = false;
  }

  async start() {
    mkdirSync(this.volume, { recursive: true });
    const natsPort = await freePort();
    const natsConf = join(this.work, 'nats.conf');
    writeFileSync(natsConf, `max_payload: ${process.env.BENCH_NATS_MAX_PAYLOAD ?? '8MB'}\n`);
    await this.#spawn('nats-server', 'nats-server', ['-c', natsConf, '-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', join(this.work, 'js')], {}, /Server is ready/);
    this.base = {
      SEEDBOX_NATS_URL: `nats://127.0.0.1:${natsPort}`,
      SEEDBOX_DATA_DIR: this.volume,
      SEEDBOX_METRICS_HOST: '127.0.0.1',
      SEEDBOX_GRPC_HOST: '127.0.0.1',
      SEEDBOX_WEB_PORT: '0',
      // "ready" is logged at info; at warn a service says nothing to wait for.
      SEEDBOX_LOG_LEVEL: 'info',
      SEEDBOX_PIECE_DATA: this.direct ? 'direct' : 'nats',
      ...this.extraEnv,
    };
    for (const name of SERVICES) await this.startService(name);
    return this;
  }

  /** Starts (or starts again, with the same ports and settings) one service. */
  async startService(name) {
    const known = this.procs.get(name);
    let env = known?.env;
    if (!env) {
      env = { ...this.base, SEEDBOX_INSTANCE_ID: name, SEEDBOX_METRICS_PORT: String(await freePort()), SEEDBOX_GRPC_PORT: String(await freePort()) };
      if (name === 'peer-worker') env.SEEDBOX_LISTEN_PORT = String(await freePort());
      if (name === 'disk-writer' && this.direct) Object.assign(env, { SEEDBOX_PIECE_DATA_HOST: '127.0.0.1', SEEDBOX_PIECE_DATA_PORT: String(await freePort()) });
    }
    await this.#spawn(name, 'node', [...this.nodeArgs, join(root, 'services', name, 'dist/main.js')], env, /"msg":"ready"/);
    return this.procs.get(name);
  }

  async #spawn(name, cmd, args, env, ready) {
    if (this.stopped) throw new Error('stopping');
    const entry = this.procs.get(name) ?? { env, grpcPort: Number(env.SEEDBOX_GRPC_PORT), metricsPort: Number(env.SEEDBOX_METRICS_PORT), starts: 0 };
    entry.starts++;
    this.procs.set(name, entry);
    const logFile = this.logDir ? join(this.logDir, `${name}${entry.starts > 1 ? `-${entry.starts}` : ''}.log`) : undefined;
    entry.logFile = logFile;
    entry.startedAt = performance.now();
    entry.child = await startProcess(name, cmd, args, { env, ready, logFile, onSpawn: (c) => (entry.child = c) });
  }

  child(name) {
    return this.procs.get(name)?.child;
  }

  /** name -> pid of every process running now. */
  pids() {
    return Object.fromEntries([...this.procs].filter(([, e]) => e.child?.exitCode === null).map(([n, e]) => [n, e.child.pid]));
  }

  stopService(name) {
    const c = this.child(name);
    return c ? stopProcess(c) : Promise.resolve({ code: null, signal: null, seconds: 0 });
  }

  /** The services first, then nats-server: they talk to it on their way out. */
  async stopAll() {
    this.stopped = true;
    await Promise.all(SERVICES.map((n) => this.stopService(n)));
    await this.stopService('nats-server');
  }
}
