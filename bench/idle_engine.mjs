// What idle torrents cost one engine, in process, without peers, trackers
// or disks: N small complete torrents seeding, nothing connected. Prints
// CPU per second (process.cpuUsage, % of one core) and the heap over an
// idle window, for the engine alone and with what each tick feeds in
// `seedbox serve` (the totals, the per-torrent metrics, the stats board).
//
//   npm run build && node bench/idle_engine.mjs [--torrents N] [--seconds S] [--settle-s S] [--consumers | --serve] [--profile FILE]
//
// --consumers: each tick also goes to a TotalsKeeper (flushed every 30
// ticks into a LocalFleetStore), LocalStatsBoard and recordTick, as in serve.
// --serve: the torrents are registered in a LocalFleetStore and run by a
// FleetRunner with serve's onTick: the whole of serve's tick but the trackers.
// --profile FILE: a CPU profile of the idle window only (for Chrome's DevTools).
// --totals-flush: instead, the time and files one TotalsKeeper flush of
// every torrent's seeding time into serve's LocalFleetStore takes.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import bencode from 'bencode';
import { Bitfield, parseMetainfo } from '@seedbox/protocol';
import { defaultTorrentSettings, LocalFleetStore } from '@seedbox/cluster';
import { createPeerWorkerMetrics, silentLogger } from '@seedbox/runtime';
import { Engine, FleetRunner, LocalStatsBoard, recordTick } from '@seedbox/peer-worker';
import { encodeEntry } from '../packages/cluster/dist/registry-entry.js';
import { TotalsKeeper } from '../services/peer-worker/dist/fleet/totals-keeper.js';
import { Registry } from 'prom-client';

const { values } = parseArgs({
  options: {
    torrents: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '20' },
    // V8 shrinks the heap the adds grew (two full GCs) some 10-15 s after they stop: not an idle torrent's cost.
    'settle-s': { type: 'string', default: '20' },
    consumers: { type: 'boolean', default: false },
    serve: { type: 'boolean', default: false },
    profile: { type: 'string' },
    'totals-flush': { type: 'boolean', default: false },
  },
});
const N = Number(values.torrents);
const SECONDS = Number(values.seconds);

function torrentFile(i) {
  const size = 16384 + (i % 3) * 16384;
  const pieces = Buffer.alloc(20 * Math.ceil(size / 16384));
  createHash('sha1').update(String(i)).digest().copy(pieces);
  const info = { length: size, name: `t${i}.bin`, 'piece length': 16384, pieces, private: 1 };
  return bencode.encode({ announce: 'http://127.0.0.1:1/announce', info });
}
if (values['totals-flush']) {
  const dir = mkdtempSync(join(tmpdir(), 'idle-engine-'));
  mkdirSync(join(dir, 'torrents'));
  const hexes = Array.from({ length: N }, (_, i) => i.toString(16).padStart(40, '0'));
  for (const [i, hex] of hexes.entries()) {
    writeFileSync(join(dir, 'torrents', `${hex}.json`), encodeEntry({ infoHashHex: hex, torrentFile: new Uint8Array([1]), desired: 'running', addedAt: i, rechecks: 0, settings: defaultTorrentSettings(i) }));
  }
  const store = await LocalFleetStore.open(dir);
  const k = new TotalsKeeper(store, silentLogger);
  await k.start();
  let time = Date.now();
  for (let tick = 0; tick < 2; tick++, time += 1000) for (const hex of hexes) k.record({ infoHash: hex, state: 'seeding', uploaded: 0, downloaded: 0, complete: false }, time, true);
  // After stop() a flush hands over everything: what the flush of time alone every 5 minutes costs.
  k.stop();
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  await k.flush();
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ torrents: N, flushMs: Math.round(performance.now() - w0), cpuMs: Math.round((c.user + c.system) / 1000), fileWrites: store.fileWrites }));
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

const fullData = (meta) => ({ check: async () => ({ have: Bitfield.full(meta.pieceCount), fastPath: true, hashed: 0 }), read: async (_i, _b, l) => new Uint8Array(l) });

const engine = new Engine({ sink: { writePiece: async () => ({ status: 'written', micros: 0 }) }, listen: { host: '127.0.0.1', port: 0 }, encryption: 'disable' });
await engine.start();
let stateDir;
let keeper;
let runner;
const checked = [];
const onChecked = (t) => checked.push(new Promise((r) => t.once('checked', r)));
if (values.serve) {
  // The registry as serve keeps it, written straight (no fsync) for a quick start.
  stateDir = mkdtempSync(join(tmpdir(), 'idle-engine-'));
  mkdirSync(join(stateDir, 'torrents'));
  for (let i = 0; i < N; i++) {
    const bytes = torrentFile(i);
    const hex = parseMetainfo(bytes).infoHashHex;
    writeFileSync(join(stateDir, 'torrents', `${hex}.json`), encodeEntry({ infoHashHex: hex, torrentFile: bytes, desired: 'running', addedAt: i, rechecks: 0, settings: defaultTorrentSettings(i) }));
  }
  const store = await LocalFleetStore.open(stateDir);
  const metrics = createPeerWorkerMetrics(new Registry());
  const board = new LocalStatsBoard();
  runner = new FleetRunner({
    state: store,
    engine,
    workerId: 'serve',
    announce: { port: engine.listenPort },
    log: silentLogger,
    stats: board,
    data: (meta) => fullData(meta),
    moveData: async () => {},
    removeTorrent: async () => {},
    onTick: (t) => {
      board.record(t);
      recordTick(metrics, t, runner.pausedCount);
    },
  });
  await runner.start();
  while (engine.torrents.length < N) await new Promise((r) => setTimeout(r, 100));
  for (const t of engine.torrents) if (t.state === 'checking') onChecked(t);
} else {
  for (let i = 0; i < N; i++) {
    const meta = parseMetainfo(torrentFile(i));
    onChecked(engine.add(meta, { data: fullData(meta) }));
  }
}
await Promise.all(checked);

if (values.consumers) {
  // What serve's FleetRunner and onTick do with every tick (the runner's own sync is not here).
  stateDir = mkdtempSync(join(tmpdir(), 'idle-engine-'));
  const store = await LocalFleetStore.open(stateDir);
  keeper = new TotalsKeeper(store, silentLogger);
  await keeper.start();
  const metrics = createPeerWorkerMetrics(new Registry());
  const board = new LocalStatsBoard();
  let ticks = 0;
  engine.on('tick', (t) => {
    for (const s of t.torrents) keeper.record(s, t.time, true);
    if (++ticks % 30 === 0) void keeper.flush();
    board.record(t);
    recordTick(metrics, t, 0);
  });
}

let ticks = 0;
engine.on('tick', () => ticks++);
// Let the adds' garbage go and the first ticks pass.
await new Promise((r) => setTimeout(r, Number(values['settle-s']) * 1000));
globalThis.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const session = values.profile ? new Session() : undefined;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const ticks0 = ticks;
await new Promise((r) => setTimeout(r, SECONDS * 1000));
const cpu = process.cpuUsage(cpu0);
const wall = performance.now() - t0;
const mem = process.memoryUsage();
if (session) writeFileSync(values.profile, JSON.stringify((await session.post('Profiler.stop')).profile));
console.log(
  JSON.stringify({
    torrents: N,
    consumers: values.consumers,
    serve: values.serve,
    seconds: Number((wall / 1000).toFixed(1)),
    ticks: ticks - ticks0,
    cpuPercent: Number((((cpu.user + cpu.system) / 1000 / wall) * 100).toFixed(2)),
    cpuMsPerTick: Number(((cpu.user + cpu.system) / 1000 / Math.max(1, ticks - ticks0)).toFixed(2)),
    heapMiB: Number((mem.heapUsed / 2 ** 20).toFixed(1)),
    heapGrowthMiB: Number(((mem.heapUsed - heapBefore) / 2 ** 20).toFixed(1)),
    rssMiB: Number((mem.rss / 2 ** 20).toFixed(1)),
  }),
);
keeper?.stop();
if (runner) await runner.stop();
else await engine.stop();
if (stateDir) rmSync(stateDir, { recursive: true, force: true });
