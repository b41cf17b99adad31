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
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SeedboxControlClient } from '@seedbox/proto';
import { Fleet, procUsage } from './fleet.mjs';

const [torrent, out, ...flags] = process.argv.slice(2);
const direct = flags.includes('--direct');
if (!torrent || !out) {
  console.error('usage: distributed_leech.mjs TORRENT OUTDIR');
  process.exit(2);
}

// Extra node flags for the services, e.g. BENCH_NODE_ARGS=--cpu-prof to profile them (as in run.mjs).
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
const work = mkdtempSync(join(tmpdir(), 'sbx-dist-'));
// BENCH_LOG_DIR keeps each process's output (with BENCH_NODE_ARGS=--trace-gc, say); otherwise it is dropped.
const fleet = new Fleet({ work, direct, nodeArgs, logDir: process.env.BENCH_LOG_DIR });

try {
  await fleet.start();
  const pw = { grpc: fleet.procs.get('peer-worker').grpcPort };

  // The add and the polling go over gRPC from this process: spawning the
  // CLI ten times a second would cost more CPU than it measures.
  const client = new SeedboxControlClient(`127.0.0.1:${pw.grpc}`, grpc.credentials.createInsecure());
  const rpc = (method, req) => new Promise((resolve, reject) => client[method](req, (e, r) => (e ? reject(e) : resolve(r))));
  // Each process's CPU at the add, so that the figures count the download, not the services' start-up.
  const atAdd = new Map(Object.entries(fleet.pids()).map(([n, pid]) => [n, { pid, ...procUsage(pid) }]));
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
  for (const [n, a] of atAdd) {
    const u = procUsage(a.pid);
    const d = (k) => Number((u[k] - a[k]).toFixed(2));
    usage[n] = { cpu: d('cpu'), user: d('user'), sys: d('sys'), cpuWithStartup: u.cpu, rssMiB: u.rssMiB };
  }
  await fleet.stopAll();
  renameSync(join(fleet.volume, hex, name), join(out, name));
  console.log(JSON.stringify({ seconds, procs: usage }));
} catch (e) {
  console.error(String(e?.stack ?? e));
  process.exitCode = 1;
} finally {
  await fleet.stopAll();
  rmSync(work, { recursive: true, force: true });
}
