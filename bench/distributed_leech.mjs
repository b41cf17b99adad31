// Our engine in the distributed mode, as a leech for the benchmarks: a
// nats-server (JetStream), one disk-writer, one tracker-client and one
// peer-worker as separate processes, the torrent added through the gRPC
// API, the peers found through the torrent's tracker (as in a cluster).
//
//   node bench/distributed_leech.mjs TORRENT OUTDIR [--direct]
//
// --direct: the pieces' bytes go over the direct data path
// (SEEDBOX_PIECE_DATA=direct) instead of inline through NATS.
// nats-server runs with max_payload 8MB, as the Helm chart's does
// (BENCH_NATS_MAX_PAYLOAD to change it).
//
// Prints one JSON line: {"seconds": S, "procs": {NAME: {cpu, cpuWithStartup, rssMiB}}}:
// the time from the add to the last piece verified, and each process's CPU
// seconds over the same span and its peak RSS, read from /proc (the
// services' start-up is not counted in either: a fleet is already running
// when a torrent is added; cpuWithStartup has it), so that the bus's cost
// (nats-server's) shows beside the engine's. The files are then moved from the
// fleet's volume (DATA/<infohash>/<name>) to OUTDIR/<name>, for the byte
// comparison. Every process it starts is stopped (SIGTERM, then SIGKILL)
// before it exits, so `/usr/bin/time` around it counts their CPU.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SeedboxControlClient } from '@seedbox/proto';

const root = join(import.meta.dirname, '..');
const [torrent, out, ...flags] = process.argv.slice(2);
const direct = flags.includes('--direct');
if (!torrent || !out) {
  console.error('usage: distributed_leech.mjs TORRENT OUTDIR');
  process.exit(2);
}

// Extra node flags for the services, e.g. BENCH_NODE_ARGS=--cpu-prof to profile them (as in run.mjs).
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
const work = mkdtempSync(join(tmpdir(), 'sbx-dist-'));
const volume = join(work, 'volume');
mkdirSync(volume);
const procs = [];
const names = new Map();

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function start(name, cmd, args, env, ready) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(child);
    names.set(child, name);
    let text = '';
    const onData = (d) => {
      text += d;
      if (ready.test(text)) {
        child.stdout.off('data', onData);
        child.stderr.off('data', onData);
        // BENCH_LOG_DIR keeps each process's output (with BENCH_NODE_ARGS=--trace-gc, say); otherwise it is dropped.
        if (process.env.BENCH_LOG_DIR) {
          const file = createWriteStream(join(process.env.BENCH_LOG_DIR, `${name}.log`));
          child.stdout.pipe(file);
          child.stderr.pipe(file);
        } else {
          child.stdout.resume();
          child.stderr.resume();
        }
        resolve(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${name} exited (${code}) before it was ready:\n${text.slice(-2000)}`)));
  });
}

/** CPU seconds (user + system) and peak RSS of a running process, from /proc. */
function procUsage(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const user = Number(fields[11]) / 100; // utime, stime (fields 14 and 15)
  const sys = Number(fields[12]) / 100;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpu: user + sys, user, sys, rssMiB: hwm ? Number(hwm[1]) / 1024 : NaN };
}

/** The services first, then nats-server (procs[0]): they talk to it on their way out. */
async function stopAll() {
  const stop = (list) =>
    Promise.all(
      list.map(
        (p) =>
          new Promise((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.kill('SIGTERM');
            const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
            p.on('exit', () => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
  await stop(procs.slice(1));
  await stop(procs.slice(0, 1));
}

try {
  const natsPort = await freePort();
  const natsConf = join(work, 'nats.conf');
  writeFileSync(natsConf, `max_payload: ${process.env.BENCH_NATS_MAX_PAYLOAD ?? '8MB'}\n`);
  await start('nats-server', 'nats-server', ['-c', natsConf, '-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', join(work, 'js')], {}, /Server is ready/);
  const base = {
    SEEDBOX_NATS_URL: `nats://127.0.0.1:${natsPort}`,
    SEEDBOX_DATA_DIR: volume,
    SEEDBOX_METRICS_HOST: '127.0.0.1',
    SEEDBOX_GRPC_HOST: '127.0.0.1',
    SEEDBOX_LOG_LEVEL: 'warn',
    SEEDBOX_PIECE_DATA: direct ? 'direct' : 'nats',
  };
  const svc = async (name, extra = {}) => {
    const env = { ...base, SEEDBOX_METRICS_PORT: String(await freePort()), SEEDBOX_GRPC_PORT: String(await freePort()), SEEDBOX_WEB_PORT: '0', SEEDBOX_INSTANCE_ID: name, ...extra };
    // "ready" is logged at info; at warn the process says nothing, so wait for its gRPC port instead.
    const child = await start(name, 'node', [...nodeArgs, join(root, 'services', name, 'dist/main.js')], { ...env, SEEDBOX_LOG_LEVEL: 'info' }, /"msg":"ready"/);
    return { child, grpc: Number(env.SEEDBOX_GRPC_PORT) };
  };
  await svc('disk-writer', direct ? { SEEDBOX_PIECE_DATA_HOST: '127.0.0.1', SEEDBOX_PIECE_DATA_PORT: String(await freePort()) } : {});
  await svc('tracker-client');
  const pw = await svc('peer-worker', { SEEDBOX_LISTEN_PORT: String(await freePort()) });

  // The add and the polling go over gRPC from this process: spawning the
  // CLI ten times a second would cost more CPU than it measures.
  const client = new SeedboxControlClient(`127.0.0.1:${pw.grpc}`, grpc.credentials.createInsecure());
  const rpc = (method, req) => new Promise((resolve, reject) => client[method](req, (e, r) => (e ? reject(e) : resolve(r))));
  // Each process's CPU at the add, so that the figures count the download, not the services' start-up.
  const atAdd = new Map(procs.map((p) => [p, procUsage(p.pid)]));
  const t0 = performance.now();
  const { torrent: added } = await rpc('addTorrent', { torrentFile: readFileSync(torrent), paused: false });
  const hex = added.infoHash;
  const name = added.name;
  for (;;) {
    const s = (await rpc('getTorrent', { infoHash: hex })).torrent?.stats;
    if (s && s.pieceCount > 0 && s.leftBytes === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  client.close();
  const seconds = (performance.now() - t0) / 1000;
  const usage = {};
  for (const p of procs) {
    const u = procUsage(p.pid);
    const a = atAdd.get(p);
    const d = (k) => Number((u[k] - a[k]).toFixed(2));
    usage[names.get(p)] = { cpu: d('cpu'), user: d('user'), sys: d('sys'), cpuWithStartup: u.cpu, rssMiB: u.rssMiB };
  }
  await stopAll();
  renameSync(join(volume, hex, name), join(out, name));
  console.log(JSON.stringify({ seconds, procs: usage }));
} catch (e) {
  console.error(String(e?.stack ?? e));
  process.exitCode = 1;
} finally {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
}
