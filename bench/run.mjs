#!/usr/bin/env node
// `npm run bench`: side-by-side benchmarks of seedbox against real clients.
//
// Each scenario sets itself up: random data, a torrent, an opentracker, a
// libtorrent seed in a network namespace of its own, then runs every client
// on the same torrent from the same seed, several times, interleaved, and
// prints medians, CPU time, peak RSS and each client's time relative to ours.
//
//   npm run bench -- [--scenario NAME] [--runs N] [--size-mib N] [--json] [--clients a,b] [--cap-s N] [--baseline DIR]
//                   [--torrents N] [--idle-s N] [--timeout-s N] [--add-batch N]   (many-torrents; --add-batch 0: one AddTorrent per file, 16 in flight)
//
// Scenarios: leech-1g, seed-1g, four-leeches (one seed, four leeches at
// once), small-files (10,000 files of 1-200 KiB), slow-link (the seed's link
// shaped to 100 Mbit/s with tc tbf) and high-latency (50 ms round trip
// through bench/delay_proxy.mjs), and speed-limit (seedbox serve under a
// 20 MiB/s global limit, from one and from four libtorrent seeds, for
// --limit-s seconds of transfer, its gRPC control API timed meanwhile), and
// many-torrents (bench/many_torrents.mjs: --torrents N small torrents in
// serve and in the fleet: adds/s, time to all seeding, idle CPU and RSS,
// ls and watch latency, restart; only when asked for by --scenario, since
// at its default of 10,000 it takes a while). --size-mib overrides every scenario's
// default size; --cap-s is the time cap of the no-pipelining control over
// the high-latency link (it reports the rate reached by then).
//
// Needs root (network namespaces) and the Debian packages that .ci/run
// installs. Writes its scratch files under .bench-work/ (git-ignored).
import { execFileSync, spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, procUsage } from './fleet.mjs';
import { manyTorrentsScenario, printManyTorrents } from './many_torrents.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Every node this spawns runs with the flags the `seedbox` launcher and the
// image give it: RC4 for message stream encryption is in OpenSSL 3's legacy
// provider, and a 4 MiB young generation (see the launcher for why).
for (const flag of ['--openssl-legacy-provider', '--max-semi-space-size=4']) {
  if (!(process.env.NODE_OPTIONS ?? '').includes(flag.split('=')[0])) process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} ${flag}`.trim();
}
// The scenarios measure peers given by hand or by the scenario's tracker: no public DHT routers.
process.env.SEEDBOX_DHT_BOOTSTRAP ??= 'none';

const work = join(root, '.bench-work');
const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string' },
    runs: { type: 'string', default: '3' },
    'size-mib': { type: 'string' },
    json: { type: 'boolean' },
    clients: { type: 'string' },
    'cap-s': { type: 'string', default: '30' },
    // speed-limit: the limit (MiB/s) and how long the transfer is measured.
    'limit-mib': { type: 'string', default: '20' },
    'limit-s': { type: 'string', default: '30' },
    // many-torrents: how many, how long they are left idle, and how long
    // "all seeding" is waited for (then it reports how many were).
    torrents: { type: 'string', default: '10000' },
    'idle-s': { type: 'string', default: '60' },
    'add-batch': { type: 'string', default: '100' },
    'timeout-s': { type: 'string', default: '900' },
    // Another checkout of seedbox, built (e.g. a `git worktree` of the commit
    // before a change): its CLI runs as the client `seedbox-baseline`, in
    // turn with ours in the same runs, for a before/after under one load.
    baseline: { type: 'string' },
  },
});
const RUNS = Number(args.runs);
const log = (...a) => (args.json ? process.stderr : process.stdout).write(`${a.join(' ')}\n`);

// ---- processes and cleanup ----

const cleanups = [];
async function cleanup() {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch {
      /* best effort: keep cleaning */
    }
  }
}
// Once stopping, nothing new starts: a run cut short by the cleanup must
// not let the next one spawn a process that no cleanup will see.
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    stopping = true;
    releaseFreedPages();
    cleanup().then(() => process.exit(130));
  });
}

/**
 * Keeps freed memory in the VM while the bench runs. A kernel that reports
 * free pages to its host (virtio free page reporting) hands a GiB back
 * seconds after a client deletes its output, and the next client to write a
 * GiB pays 1-3 s of kernel time getting it backed again (docs/BENCHMARKS.md,
 * "Who goes first"): a figure of the VM, not of the client. Where the knob
 * exists and is writable, pages must stay free 5 minutes before they are
 * reported (300000 ms, near the most the knob takes); the old value is put back when the bench ends.
 */
const PAGE_REPORTING_MIN_FREE = '/sys/module/page_reporting/parameters/min_free_ms';
let pageReportingWas;
function holdFreedPages() {
  try {
    pageReportingWas = readFileSync(PAGE_REPORTING_MIN_FREE, 'utf8').trim();
    writeFileSync(PAGE_REPORTING_MIN_FREE, '300000');
    log(`bench: free page reporting held back for the run (${PAGE_REPORTING_MIN_FREE} ${pageReportingWas} -> 300000, put back at the end)`);
  } catch {
    pageReportingWas = undefined; // no such knob here: nothing to hold
  }
}
function releaseFreedPages() {
  if (pageReportingWas === undefined) return;
  try {
    writeFileSync(PAGE_REPORTING_MIN_FREE, pageReportingWas);
  } catch {
    /* best effort */
  }
  pageReportingWas = undefined;
}
function checkStopping() {
  if (stopping) throw new Error('stopping');
}

/**
 * A scenario's scratch folder. The seed's data stays there for the next run
 * (it takes a while to make); the leeches' output folders go at cleanup,
 * after the processes that write them.
 */
function scenarioDir(name) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  cleanups.push(() => {
    for (const f of readdirSync(dir)) if (f.startsWith('out-')) rmSync(join(dir, f), { recursive: true, force: true });
  });
  return dir;
}

/**
 * Done with a run's output: deleted now, or with `keep` set aside, to be
 * deleted with the scenario's scratch folder at cleanup. ext4 without a
 * journal (this machine's disk) does not hand out an inode freed less than
 * 60 s ago: each file created scans past every one of them, under its
 * folder's lock. Deleting the 10,000 files of small-files between runs made
 * the next client's creates cost seconds of kernel time (perf: ext4_create
 * -> recently_deleted), which client depending on the order. Only many
 * files on that disk are kept: a GiB kept per run fills memory with its
 * pages instead, and the reclaim lands on later runs.
 */
let retired = 0;
function retire(out, { keep = false } = {}) {
  if (!keep) rmSync(out, { recursive: true, force: true });
  else if (existsSync(out)) renameSync(out, `${out}-retired-${++retired}`);
}

/**
 * A fresh ext4 with a journal (mkfs's default, and every distribution's)
 * for the leeches' output, in a sparse image on a loop device with direct
 * I/O (no second copy in the page cache), made for the scenario and
 * removed at cleanup. This machine's own disk is ext4 without a journal,
 * where a file's creation scans past every inode freed in the last minute
 * (see retire): 10,000 creates took 0.8-4.6 s of kernel time depending on
 * what ran before, and libtorrent's small-files runs 3.4-6.3 s. Needs root,
 * losetup and mkfs.ext4; otherwise the scenario's own folder, said so.
 */
function journaledScratch(dir, name, bytes) {
  const mnt = join(dir, 'scratch');
  const img = join(dir, 'scratch.img');
  try {
    if (process.getuid?.() !== 0) throw new Error('not root');
    mkdirSync(mnt, { recursive: true });
    rmSync(img, { force: true });
    sh('truncate', ['-s', String(bytes), img]);
    sh('mkfs.ext4', ['-q', '-F', img]);
    const loop = sh('losetup', ['--direct-io=on', '-f', '--show', img]).trim();
    try {
      sh('mount', [loop, mnt]);
    } catch (e) {
      sh('losetup', ['-d', loop]);
      throw e;
    }
    cleanups.push(() => {
      sh('umount', [mnt]);
      sh('losetup', ['-d', loop]);
      rmSync(img, { force: true });
    });
    log(`[${name}] leeches write to a fresh ext4 with a journal (${loop}, ${(bytes / 1024 ** 3).toFixed(1)} GiB image)`);
    return { dir: mnt, fresh: true };
  } catch (e) {
    log(`[${name}] no fresh ext4 for the output (${String(e.message ?? e).split('\n')[0]}): writing to ${dir}`);
    return { dir, fresh: false };
  }
}

function sh(cmd, cmdArgs, opts = {}) {
  return execFileSync(cmd, cmdArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/** Starts a long-running process; it is killed by pid at cleanup. */
function daemon(cmd, cmdArgs, { netns, logFile, ready, timeoutMs = 30_000 } = {}) {
  checkStopping();
  const full = netns ? ['ip', ['netns', 'exec', netns, cmd, ...cmdArgs]] : [cmd, cmdArgs];
  const child = spawn(full[0], full[1], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = logFile ? createWriteStream(logFile) : undefined;
  let text = '';
  const onData = (d) => {
    text += d;
    out?.write(d);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  cleanups.push(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
  const waitReady = ready
    ? new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`${cmd} did not get ready: ${text.slice(-500)}`)), timeoutMs);
        const check = () => {
          const m = ready.exec(text);
          if (m) {
            clearTimeout(t);
            res(m);
          }
        };
        child.stdout.on('data', check);
        child.stderr.on('data', check);
        child.on('exit', (code) => rej(new Error(`${cmd} exited ${code}: ${text.slice(-500)}`)));
      })
    : Promise.resolve(null);
  return { child, waitReady, text: () => text };
}

/** Child pids of a process (from /proc). */
function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Runs one client to completion under GNU time: wall time, CPU time (user +
 * system) and peak RSS of the client process. With capMs the client gets a
 * SIGTERM after that long (GNU time still reports its usage) and the result
 * says `capped`; a client killed by timeoutMs is a failure.
 */
function timed(cmd, cmdArgs, { timeoutMs = 600_000, capMs, env } = {}) {
  return new Promise((res, rej) => {
    checkStopping();
    const t0 = performance.now();
    const startEpoch = Date.now();
    const child = spawn('/usr/bin/time', ['-v', cmd, ...cmdArgs], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    let capped = false;
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const capTimer = capMs
      ? setTimeout(() => {
          capped = true;
          for (const pid of childrenOf(child.pid)) process.kill(pid, 'SIGTERM');
        }, capMs)
      : undefined;
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) {
        for (const pid of childrenOf(child.pid)) process.kill(pid, 'SIGKILL');
        child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(capTimer);
      const wall = (performance.now() - t0) / 1000;
      const num = (re) => Number(re.exec(err)?.[1] ?? NaN);
      const user = num(/User time \(seconds\): ([\d.]+)/);
      const sys = num(/System time \(seconds\): ([\d.]+)/);
      const cpu = user + sys;
      const rssMiB = num(/Maximum resident set size \(kbytes\): (\d+)/) / 1024;
      if (code !== 0 && !capped) return rej(new Error(`${cmd} exited ${code ?? signal} after ${wall.toFixed(1)} s: ${(out + err).slice(-800)}`));
      res({ wall, cpu, user, sys, rssMiB, out, capped, startEpoch });
    });
  });
}

// ---- network namespaces ----

/** A namespace with a veth pair: host side 10.213.N.1, namespace side 10.213.N.2. */
function netns(subnet) {
  checkStopping();
  const name = `sbxb${subnet}`;
  const host = `sbxh${subnet}`;
  const peer = `sbxp${subnet}`;
  // Leftovers of an interrupted run.
  for (const stale of [['netns', 'del', name], ['link', 'del', host]]) {
    try {
      sh('ip', stale);
    } catch {
      /* not there */
    }
  }
  sh('ip', ['netns', 'add', name]);
  cleanups.push(() => {
    try {
      for (const pid of sh('ip', ['netns', 'pids', name]).split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone */
    }
    try {
      sh('ip', ['link', 'del', host]);
    } catch {
      /* gone with the namespace */
    }
    sh('ip', ['netns', 'del', name]);
  });
  sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
  sh('ip', ['link', 'set', peer, 'netns', name]);
  sh('ip', ['addr', 'add', `10.213.${subnet}.1/24`, 'dev', host]);
  sh('ip', ['link', 'set', host, 'up']);
  sh('ip', ['netns', 'exec', name, 'ip', 'addr', 'add', `10.213.${subnet}.2/24`, 'dev', peer]);
  sh('ip', ['netns', 'exec', name, 'ip', 'link', 'set', peer, 'up']);
  sh('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  return { name, hostIf: host, nsIf: peer, hostIp: `10.213.${subnet}.1`, nsIp: `10.213.${subnet}.2` };
}

/**
 * Shapes what leaves the namespace (the seed's upload) with a token bucket:
 * `rate` (tc syntax, e.g. 100mbit), `burst` bytes and at most `latency` of
 * queue. Removed at cleanup (and with the namespace anyway).
 */
function shapeEgress(ns, { rate, burst, latency }) {
  const tc = (...a) => sh('ip', ['netns', 'exec', ns.name, 'tc', ...a]);
  tc('qdisc', 'add', 'dev', ns.nsIf, 'root', 'tbf', 'rate', rate, 'burst', burst, 'latency', latency);
  cleanups.push(() => tc('qdisc', 'del', 'dev', ns.nsIf, 'root'));
  return tc('-s', 'qdisc', 'show', 'dev', ns.nsIf).split('\n')[0];
}

// ---- data ----

/** Deterministic pseudo-random bytes (AES-CTR over zeros), fast enough for GiBs. */
async function writeRandomFile(path, size, seed) {
  mkdirSync(dirname(path), { recursive: true });
  if (existsSync(path) && existsSync(`${path}.size`) && readFileSync(`${path}.size`, 'utf8') === String(size)) return;
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const out = createWriteStream(path);
  const chunk = Buffer.alloc(4 * 1024 * 1024);
  for (let left = size; left > 0; left -= chunk.length) {
    const piece = cipher.update(left >= chunk.length ? chunk : chunk.subarray(0, left));
    if (!out.write(piece)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r) => out.end(r));
  writeFileSync(`${path}.size`, String(size));
}

/**
 * Reads a file, or every file under a folder, once: the seed's data is then
 * in the page cache before the first run. Otherwise whichever client runs
 * first pays alone for the seed reading it from disk (kept from an earlier
 * bench, its pages long gone): our client, first in run 1, took 5.3-7.4 s
 * where its other runs took 3.8-4.6 s, and so did libtorrent when it went
 * first.
 */
function warmPageCache(path) {
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path)) warmPageCache(join(path, name));
    return;
  }
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    while (readSync(fd, buf, 0, buf.length, null) > 0);
  } finally {
    closeSync(fd);
  }
}

/** A deterministic PRNG (mulberry32), for file sizes. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A folder of many small files of random sizes (minBytes..maxBytes), 100 to
 * a subfolder, `count` of them or, with totalBytes, as many as it takes to
 * reach that. Reused when already there with the same parameters.
 * Returns the relative paths and sizes.
 */
function writeRandomTree(dirPath, { count, totalBytes, minBytes, maxBytes, seed }) {
  const params = JSON.stringify({ count, totalBytes, minBytes, maxBytes, seed });
  const marker = `${dirPath}.params`;
  const listFile = `${dirPath}.list.json`;
  if (existsSync(marker) && readFileSync(marker, 'utf8') === params && existsSync(listFile)) return JSON.parse(readFileSync(listFile, 'utf8'));
  rmSync(dirPath, { recursive: true, force: true });
  const rand = prng(createHash('sha256').update(seed).digest().readUInt32LE(0));
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const files = [];
  let total = 0;
  for (let i = 0; totalBytes ? total < totalBytes : i < count; i++) {
    const size = minBytes + Math.floor(rand() * (maxBytes - minBytes + 1));
    const rel = join(`d${String(Math.floor(i / 100)).padStart(3, '0')}`, `f${String(i).padStart(5, '0')}.bin`);
    if (i % 100 === 0) mkdirSync(join(dirPath, dirname(rel)), { recursive: true });
    writeFileSync(join(dirPath, rel), cipher.update(Buffer.alloc(size)));
    files.push({ path: rel, size });
    total += size;
  }
  writeFileSync(listFile, JSON.stringify(files));
  writeFileSync(marker, params);
  return files;
}

/** Every listed file under `a` is byte-identical to the one under `b`. */
function sameTree(a, b, files) {
  for (const f of files) {
    const x = join(a, f.path);
    if (!existsSync(x)) return false;
    if (!readFileSync(x).equals(readFileSync(join(b, f.path)))) return false;
  }
  return true;
}

/** A torrent of `content`; without a tracker URL, one that lists no tracker. */
function makeTorrent(content, torrentPath, pieceLog2, tracker) {
  rmSync(torrentPath, { force: true });
  sh('mktorrent', ['-l', String(pieceLog2), ...(tracker ? ['-a', tracker] : []), '-o', torrentPath, content]);
  return torrentPath;
}

function infoHashOf(torrentPath) {
  const r = sh('node', [join(root, 'packages/cli/bin/seedbox.js'), 'inspect', '--json', torrentPath]);
  return JSON.parse(r).infoHash;
}

/**
 * The clients of run `run` (from 1), each run starting one further along.
 * Who goes first is not neutral here: the VM returns freed memory to its
 * host within seconds (virtio free page reporting, see docs/BENCHMARKS.md),
 * and a client writing a GiB into memory the host must back again pays
 * 1-3 s of kernel time that one reusing the pages its predecessor just
 * freed does not. Taking turns spreads that over every client.
 */
function inTurn(list, run) {
  const k = (run - 1) % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

// ---- clients (leeches) ----

const seedbox = join(root, 'packages/cli/bin/seedbox.js');
// Extra node flags for our client only (leech or seed), e.g. BENCH_NODE_ARGS=--cpu-prof to profile it.
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
// Each leech: (torrent, out dir, seed HOST:PORT, { timeoutMs, capMs }) -> { wall, cpu, rssMiB[, bytes, capped] }.
const LEECHES = {
  seedbox: (t, out, seed, o) => ourLeech(t, out, seed, [], o),
  'seedbox-nopipe': (t, out, seed, o) => ourLeech(t, out, seed, ['--no-pipelining'], o),
  // Limits far above any rate reached: every read and block goes through the
  // buckets and the shaper without ever waiting, the mechanism's whole cost
  // (unlimited, the default, skips it).
  'seedbox-shaped': (t, out, seed, o) => ourLeech(t, out, seed, ['--download-limit', '64GiB', '--upload-limit', '64GiB'], o),
  'seedbox-baseline': (t, out, seed, o) => {
    if (!args.baseline) throw new Error('the seedbox-baseline client needs --baseline DIR (a built checkout)');
    return ourLeech(t, out, seed, [], o, join(resolve(args.baseline), 'packages/cli/bin/seedbox.js'));
  },
  // The distributed mode: nats-server and the three services as processes,
  // the torrent added over gRPC, the seed found through the tracker. Its
  // time runs from the add to the last piece verified (a fleet is running
  // before torrents are added); its CPU is everything's, nats-server's too.
  'seedbox-distributed': (t, out, _seed, o) => distributedLeech(t, out, [], o),
  // The same with the pieces' bytes on the direct data path (SEEDBOX_PIECE_DATA=direct).
  'seedbox-direct': (t, out, _seed, o) => distributedLeech(t, out, ['--direct'], o),
  webtorrent: (t, out, seed, o) => timed('node', [join(root, 'bench/webtorrent_leech.mjs'), t, out, seed], o),
  libtorrent: (t, out, seed, o) => timed('/usr/bin/python3', [join(root, 'bench/lt_peer.py'), t, out, '--listen', '127.0.0.1:0', '--peer', seed], o),
  // aria2 learns peers only from a tracker.
  aria2: (t, out, _seed, o) =>
    timed('aria2c', [
      '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
      '--seed-time=0', '--check-integrity=false', '--file-allocation=none', '--console-log-level=warn',
      '--summary-interval=0', '--listen-port=6890-6899', '-d', out, t,
    ], o),
  transmission: transmissionLeech,
};

/** The fleet as processes (bench/distributed_leech.mjs): its time, and each process's CPU and peak RSS. */
async function distributedLeech(t, out, extra, o) {
  const r = await timed('node', [join(root, 'bench/distributed_leech.mjs'), t, out, ...extra], o);
  const line = r.out.split('\n').find((l) => l.startsWith('{"seconds"'));
  if (!line) throw new Error(`distributed_leech printed no time: ${r.out.slice(-500)}`);
  const { seconds, procs } = JSON.parse(line);
  // The CPU of the fleet's processes from the add to the end (a fleet is
  // running before torrents are added), not GNU time's total, which has
  // every service's start-up and this driver's polling in it.
  const cpu = Object.values(procs).reduce((sum, u) => sum + u.cpu, 0);
  // The engine's memory: the peer-worker's and the disk-writer's peaks, added.
  const rssMiB = procs['peer-worker'].rssMiB + procs['disk-writer'].rssMiB;
  return { ...r, wall: seconds, cpu, rssMiB, procs };
}

/**
 * Our client, with its resume data kept in the output folder (not in the
 * user's state dir). Capped by time (o.capMs), it reports the payload bytes
 * of its last progress line and the time of that line instead.
 */
async function ourLeech(t, out, seed, extra, o = {}, cli = seedbox) {
  const r = await timed('node', [...nodeArgs, cli, 'download', t, '--out', out, '--peer', seed, '--json', '--resume-dir', join(out, '.seedbox-resume'), ...extra], o);
  if (!r.capped) return r;
  let last;
  for (const line of r.out.split('\n')) {
    try {
      const j = JSON.parse(line);
      if (typeof j.downloaded === 'number' && typeof j.time === 'number') last = j;
    } catch {
      /* not a JSON line */
    }
  }
  if (last?.complete) return { ...r, capped: false };
  if (!last) throw new Error('capped before any progress line');
  return { ...r, wall: (last.time - r.startEpoch) / 1000, bytes: last.downloaded };
}

/** Transmission 3.00 as a leech: a daemon with its own config, driven over RPC, stopped when done. */
async function transmissionLeech(t, out, _seed, { timeoutMs = 600_000 } = {}) {
  const cfg = join(out, '.tr-config');
  mkdirSync(cfg, { recursive: true });
  const rpc = await freePort();
  writeFileSync(
    join(cfg, 'settings.json'),
    JSON.stringify({
      'dht-enabled': false, 'lpd-enabled': false, 'pex-enabled': false, 'utp-enabled': false,
      'port-forwarding-enabled': false, 'rpc-port': rpc, 'rpc-bind-address': '127.0.0.1',
      'rpc-authentication-required': false, 'rpc-whitelist-enabled': false, 'download-dir': out,
      'incomplete-dir-enabled': false, 'speed-limit-down-enabled': false, 'speed-limit-up-enabled': false,
      'ratio-limit-enabled': false, 'peer-port': await freePort(), 'message-level': 1,
    }),
  );
  const t0 = performance.now();
  // Run the daemon itself (not under GNU time, which would not pass our
  // SIGTERM on) and read its CPU time and peak RSS from /proc before stopping it.
  checkStopping();
  const d = spawn('transmission-daemon', ['-f', '-g', cfg], { stdio: 'ignore' });
  cleanups.push(() => d.exitCode === null && d.signalCode === null && d.kill('SIGKILL'));
  let usage = { cpu: NaN, rssMiB: NaN };
  try {
    const remote = (...a) => sh('transmission-remote', [`127.0.0.1:${rpc}`, ...a]);
    for (let i = 0; ; i++) {
      try {
        remote('-a', t);
        break;
      } catch (e) {
        if (i > 100) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    for (;;) {
      const info = remote('-t', '1', '-i');
      if (/Percent Done: 100%/.test(info)) break;
      if (performance.now() - t0 > timeoutMs) throw new Error(`transmission did not finish in ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    usage = procUsage(d.pid);
  } finally {
    d.kill('SIGTERM');
    await new Promise((r) => d.on('exit', r));
  }
  return { wall: (performance.now() - t0) / 1000, ...usage };
}

// ---- scenarios ----

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function sameBytes(a, b) {
  const h = (p) => createHash('sha1').update(readFileSync(p)).digest('hex');
  return h(a) === h(b);
}

/**
 * Our seed (`seedbox seed` of `dir`/seed, listening on `host`), and with
 * --baseline DIR the same from that build, as `seedbox-baseline`: each
 * (port) => daemon, its output kept in `dir`/<name>-seed.log.
 */
function ourSeeds(torrent, dir, host, extra = []) {
  const seed = (cli, name) => (port) =>
    daemon('node', [...nodeArgs, cli, 'seed', torrent, '--data', join(dir, 'seed'), '--listen', `${host}:${port}`, '--json', '--resume-dir', join(dir, `resume-${name}`), ...extra], {
      ready: /"event":"seeding"/,
      logFile: join(dir, `${name}-seed.log`),
    });
  return {
    seedbox: seed(seedbox, 'seedbox'),
    ...(args.baseline ? { 'seedbox-baseline': seed(join(resolve(args.baseline), 'packages/cli/bin/seedbox.js'), 'baseline') } : {}),
  };
}

/**
 * Leech from one libtorrent seed in a namespace, every client in turn.
 *
 * - files: many small files ({ count, minKiB, maxKiB }, or as many as
 *   sizeMiB takes when that was given) instead of one file of sizeMiB;
 * - tracker: false for a torrent that lists no tracker (clients get the
 *   seed's address only, so that none of them can go around a shaped link
 *   or the proxy); aria2 needs one;
 * - shape: tc tbf on the seed's side of the veth ({ rate, burst, latency,
 *   bytesPerSecond }); the table then gives each client's share of it;
 * - delayMs: leeches reach the seed through bench/delay_proxy.mjs, which
 *   delays each direction by that much;
 * - caps: { client: seconds }: stop that client after so long and report
 *   the rate it reached (only our client reports its progress).
 */
async function leechScenario(name, { sizeMiB, pieceLog2, clients, subnet = 250, files, tracker = true, shape, delayMs, caps = {}, timeoutMs = 600_000, freshFs = false }) {
  const dir = scenarioDir(name);
  let content;
  let verify;
  if (files) {
    content = join(dir, 'seed', 'files');
    const spec = { minBytes: files.minKiB * 1024, maxBytes: files.maxKiB * 1024, seed: name };
    const sized = args['size-mib'] !== undefined;
    log(`[${name}] preparing ${sized ? `${sizeMiB} MiB of` : files.count} files of ${files.minKiB}-${files.maxKiB} KiB`);
    const list = writeRandomTree(content, sized ? { ...spec, totalBytes: sizeMiB * 1024 * 1024 } : { ...spec, count: files.count });
    sizeMiB = list.reduce((a, f) => a + f.size, 0) / 1024 / 1024;
    log(`[${name}] ${list.length} files, ${sizeMiB.toFixed(0)} MiB`);
    verify = (out) => sameTree(join(out, 'files'), content, list);
  } else {
    content = join(dir, 'seed', 'data.bin');
    log(`[${name}] preparing ${sizeMiB} MiB of data`);
    await writeRandomFile(content, sizeMiB * 1024 * 1024, name);
    verify = (out) => sameBytes(join(out, 'data.bin'), content);
  }
  warmPageCache(content);
  const ns = netns(subnet);
  const trackerPort = 6969;
  const torrent = makeTorrent(content, join(dir, 'data.torrent'), pieceLog2, tracker ? `http://${ns.hostIp}:${trackerPort}/announce` : undefined);
  if (tracker) {
    const hash = infoHashOf(torrent);
    writeFileSync(join(dir, 'whitelist'), `${hash}\n`);
    daemon('opentracker', ['-i', ns.hostIp, '-p', String(trackerPort), '-P', String(trackerPort), '-w', join(dir, 'whitelist')]);
  }
  const seedPort = 6881;
  const seed = daemon('/usr/bin/python3', [join(root, 'bench/lt_peer.py'), torrent, join(dir, 'seed'), '--seed', '--listen', `${ns.nsIp}:${seedPort}`], {
    netns: ns.name,
    logFile: join(dir, 'seed.log'),
    ready: /LISTENING (\d+)/,
  });
  await seed.waitReady;
  let seedAddr = `${ns.nsIp}:${seedPort}`;
  if (shape) log(`[${name}] seed link: ${shapeEgress(ns, shape)}`);
  if (delayMs !== undefined) {
    const proxy = daemon('node', [join(root, 'bench/delay_proxy.mjs'), '--listen', '127.0.0.1:0', '--target', seedAddr, '--delay-ms', String(delayMs)], {
      ready: /PROXY (\d+)/,
    });
    seedAddr = `127.0.0.1:${(await proxy.waitReady)[1]}`;
    log(`[${name}] leeches reach the seed through a proxy adding ${delayMs} ms each way, at ${seedAddr}`);
  }
  // Let the seed announce so that tracker-only clients find it.
  if (tracker) await new Promise((r) => setTimeout(r, 2000));
  const scratch = freshFs ? journaledScratch(dir, name, Math.max(2 * 1024 ** 3, Math.ceil(sizeMiB * 2.5) * 1024 ** 2)) : { dir, fresh: false };
  const results = Object.fromEntries(clients.map((c) => [c, []]));
  /** One leech run of `client`, logged under `label`: its result, or its error. */
  const leech = async (client, label) => {
    const out = join(scratch.dir, `out-${client}`);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    // Start every run with no writeback of the last one under way: on 2
    // cores the kernel flushing a GiB competes with whoever runs next.
    sh('sync');
    let result;
    try {
      const capMs = caps[client] ? caps[client] * 1000 : undefined;
      const r = await LEECHES[client](torrent, out, seedAddr, { timeoutMs, capMs });
      const ok = r.bytes !== undefined ? true : verify(out);
      result = { ...r, ok };
      const rate = (r.bytes ?? sizeMiB * 1024 * 1024) / 1024 / 1024 / r.wall;
      log(
        `[${name}] ${label} ${client.padEnd(15)} ${r.wall.toFixed(2)} s  ${rate.toFixed(1)} MiB/s  cpu ${r.cpu.toFixed(2)} s${r.sys !== undefined ? ` (sys ${r.sys.toFixed(2)})` : ''}  rss ${r.rssMiB.toFixed(0)} MiB` +
          `${r.bytes !== undefined ? `  (stopped at ${caps[client]} s with ${(r.bytes / 1024 / 1024).toFixed(1)} MiB)` : ''}${ok ? '' : '  BYTES DIFFER'}`,
      );
    } catch (e) {
      result = { error: String(e.message ?? e).split('\n')[0] };
      log(`[${name}] ${label} ${client.padEnd(15)} failed: ${result.error}`);
    }
    retire(out, { keep: files !== undefined && !scratch.fresh });
    return result;
  };
  // A run first that counts for nothing: the first leech of a scenario pays
  // 1-2 s of kernel time that the runs after it do not, whichever client it
  // is (leech-1g: libtorrent first took 6.26 s, then 4.76 s; ours first
  // 6.14 s, then 4.36-4.89 s). Uncounted, it fell on the client first in
  // run 1 (inTurn), every time.
  await leech(clients[0], 'warm-up');
  for (let run = 1; run <= RUNS; run++) {
    for (const client of inTurn(clients, run)) results[client].push(await leech(client, `run ${run}`));
  }
  await cleanup();
  const s = summarize(name, sizeMiB, results);
  if (shape) {
    // tbf counts whole Ethernet frames: at MTU 1500 a frame of 1514 bytes
    // carries 1448 of TCP payload (with timestamps), the most any client can get.
    const MiBps = shape.bytesPerSecond / 1024 / 1024;
    s.link = { rate: shape.rate, burst: shape.burst, latency: shape.latency, MiBps, tcpPayloadCeilingMiBps: (MiBps * 1448) / 1514 };
    for (const r of Object.values(s.rows)) if (r.medianMiBps) r.linkShare = r.medianMiBps / s.link.MiBps;
  }
  if (delayMs !== undefined) s.roundTripMs = 2 * delayMs;
  return s;
}

/**
 * One seed, ours or libtorrent's, serving `leeches` libtorrent leeches at
 * once, each in a network namespace of its own (so that they cannot reach
 * one another: the seed does all the uploading). The time is until the last
 * leech is done; CPU and peak RSS are the seed's, over the serving only.
 */
async function swarmSeedScenario(name, { sizeMiB, pieceLog2, leeches, subnet }) {
  const dir = scenarioDir(name);
  const data = join(dir, 'seed', 'data.bin');
  log(`[${name}] preparing ${sizeMiB} MiB of data`);
  await writeRandomFile(data, sizeMiB * 1024 * 1024, name);
  warmPageCache(data);
  const torrent = makeTorrent(data, join(dir, 'data.torrent'), pieceLog2, undefined);
  // The seed listens on every address of the host (our CLI takes one
  // --listen address, and libtorrent, bound to one interface's address,
  // will not serve a peer that came in over another); each leech dials its
  // own veth's host side. No namespace has a route to another's.
  const nss = Array.from({ length: leeches }, (_, i) => netns(subnet + i));
  const seedIp = '0.0.0.0';
  const seeds = {
    ...ourSeeds(torrent, dir, seedIp, ['--no-trackers']),
    libtorrent: (port) =>
      daemon('/usr/bin/python3', [join(root, 'bench/lt_peer.py'), torrent, join(dir, 'seed'), '--seed', '--listen', `${seedIp}:${port}`], {
        ready: /LISTENING/,
      }),
  };
  const results = Object.fromEntries(Object.keys(seeds).map((c) => [c, []]));
  for (let run = 1; run <= RUNS; run++) {
    for (const [client, start] of inTurn(Object.entries(seeds), run)) {
      const port = await freePort();
      const d = start(port);
      await d.waitReady;
      const outs = nss.map((_, i) => join(dir, `out-${client}-${i}`));
      for (const out of outs) {
        rmSync(out, { recursive: true, force: true });
        mkdirSync(out, { recursive: true });
      }
      sh('sync');
      // Serving only: not the start-up (our seed checks its data first).
      writeFileSync(`/proc/${d.child.pid}/clear_refs`, '5'); // resets the peak RSS
      const before = procUsage(d.child.pid);
      try {
        const t0 = performance.now();
        const each = await Promise.all(
          nss.map((ns, i) =>
            timed('ip', ['netns', 'exec', ns.name, '/usr/bin/python3', join(root, 'bench/lt_peer.py'), torrent, outs[i], '--peer', `${ns.hostIp}:${port}`], {
              timeoutMs: 300_000,
            }).then((r) => ({
              ...r,
              doneAt: (performance.now() - t0) / 1000,
            })),
          ),
        );
        const wall = (performance.now() - t0) / 1000;
        const after = procUsage(d.child.pid);
        const ok = outs.every((out) => sameBytes(join(out, 'data.bin'), data));
        const leechSeconds = each.map((r) => Number(r.doneAt.toFixed(3)));
        results[client].push({ wall, cpu: after.cpu - before.cpu, rssMiB: after.rssMiB, leechSeconds, ok });
        log(
          `[${name}] run ${run} ${client.padEnd(15)} all done in ${wall.toFixed(2)} s (each: ${leechSeconds.map((x) => x.toFixed(2)).join(', ')})  seed cpu ${(after.cpu - before.cpu).toFixed(2)} s  rss ${after.rssMiB.toFixed(0)} MiB${ok ? '' : '  BYTES DIFFER'}`,
        );
      } catch (e) {
        results[client].push({ error: String(e.message ?? e).split('\n')[0] });
        log(`[${name}] run ${run} ${client.padEnd(15)} failed: ${String(e.message ?? e).split('\n')[0]}`);
      }
      d.child.kill('SIGTERM');
      if (d.child.exitCode === null) await new Promise((r) => d.child.once('exit', r));
      for (const out of outs) rmSync(out, { recursive: true, force: true });
    }
  }
  await cleanup();
  const s = summarize(name, sizeMiB, results, { servedMiB: sizeMiB * leeches });
  s.leeches = leeches;
  s.note = `time until all ${leeches} leeches are done; MiB/s is the seed's total upload; cpu and rss are the seed's, while serving`;
  for (const [client, runs] of Object.entries(results)) {
    const good = runs.filter((r) => r.ok);
    if (good.length) s.rows[client].medianLeechSeconds = median(good.flatMap((r) => r.leechSeconds));
  }
  return s;
}

/**
 * Seed one file to a libtorrent leech in a namespace: ours against a
 * libtorrent seed, same data, same leech, interleaved.
 */
async function seedScenario(name, { sizeMiB, pieceLog2 }) {
  const dir = scenarioDir(name);
  const data = join(dir, 'seed', 'data.bin');
  log(`[${name}] preparing ${sizeMiB} MiB of data`);
  await writeRandomFile(data, sizeMiB * 1024 * 1024, name);
  warmPageCache(data);
  const ns = netns(249);
  const torrent = makeTorrent(data, join(dir, 'data.torrent'), pieceLog2, `http://${ns.hostIp}:1/announce`);
  const seeds = {
    ...ourSeeds(torrent, dir, ns.hostIp),
    libtorrent: async (port) =>
      daemon('/usr/bin/python3', [join(root, 'bench/lt_peer.py'), torrent, join(dir, 'seed'), '--seed', '--listen', `${ns.hostIp}:${port}`], {
        ready: /LISTENING/,
      }),
  };
  const results = Object.fromEntries(Object.keys(seeds).map((c) => [c, []]));
  let port = 7100;
  for (let run = 1; run <= RUNS; run++) {
    for (const [client, start] of inTurn(Object.entries(seeds), run)) {
      const p = port++;
      const d = await start(p);
      await d.waitReady;
      const out = join(dir, `out-${client}`);
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out, { recursive: true });
      sh('sync');
      try {
        // The leech runs in the namespace; its wall time is the seed's figure.
        const r = await timed('ip', ['netns', 'exec', ns.name, '/usr/bin/python3', join(root, 'bench/lt_peer.py'), torrent, out, '--peer', `${ns.hostIp}:${p}`]);
        const ok = sameBytes(join(out, 'data.bin'), data);
        results[client].push({ ...r, ok });
        log(`[${name}] run ${run} ${client.padEnd(15)} ${r.wall.toFixed(2)} s${ok ? '' : '  BYTES DIFFER'}`);
      } catch (e) {
        results[client].push({ error: String(e.message ?? e).split('\n')[0] });
        log(`[${name}] run ${run} ${client.padEnd(15)} failed: ${String(e.message ?? e).split('\n')[0]}`);
      }
      d.child.kill('SIGTERM');
      await new Promise((r) => d.child.once('exit', r));
      rmSync(out, { recursive: true, force: true });
    }
  }
  await cleanup();
  return summarize(name, sizeMiB, results);
}

/**
 * `seedbox serve` under the fleet's global download limit (set with
 * `seedbox config --download-limit`, as an operator would), downloading
 * from one libtorrent seed and from four (each in a namespace of its own,
 * all seeding the same data, found through an opentracker), for `seconds`
 * of transfer: the achieved rate (from the control API's figures, first
 * bytes to the end of the window) against the limit. Meanwhile the bench
 * calls the control API (gRPC ListTorrents) every 200 ms and times each
 * answer: the limit must not hold back the control plane.
 */
async function speedLimitScenario(name, { sizeMiB, pieceLog2, limitMiB, seconds, subnet }) {
  const dir = scenarioDir(name);
  const data = join(dir, 'seed', 'data.bin');
  log(`[${name}] preparing ${sizeMiB} MiB of data`);
  await writeRandomFile(data, sizeMiB * 1024 * 1024, name);
  const nss = Array.from({ length: 4 }, (_, i) => netns(subnet + i));
  const trackerPort = 6969;
  const torrent = makeTorrent(data, join(dir, 'data.torrent'), pieceLog2, `http://${nss[0].hostIp}:${trackerPort}/announce`);
  const infoHash = infoHashOf(torrent);
  writeFileSync(join(dir, 'whitelist'), `${infoHash}\n`);
  daemon('opentracker', ['-i', nss[0].hostIp, '-p', String(trackerPort), '-P', String(trackerPort), '-w', join(dir, 'whitelist')]);
  const startSeed = async (ns) => {
    const d = daemon('/usr/bin/python3', [join(root, 'bench/lt_peer.py'), torrent, join(dir, 'seed'), '--seed', '--listen', `${ns.nsIp}:6881`], { netns: ns.name, ready: /LISTENING/ });
    await d.waitReady;
  };
  const limit = limitMiB * 1024 * 1024;
  const results = {};
  let running = 0;
  for (const count of [1, 4]) {
    while (running < count) await startSeed(nss[running++]);
    // The seeds announce before serve asks the tracker for them.
    await new Promise((r) => setTimeout(r, 2000));
    const key = `${count} seed${count > 1 ? 's' : ''}`;
    results[key] = [];
    for (let run = 1; run <= RUNS; run++) {
      const out = join(dir, `out-${count}`);
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out, { recursive: true });
      sh('sync');
      const r = await limitedServe(torrent, out, `${limitMiB}MiB`, seconds);
      const rateMiB = r.rate / 1024 / 1024;
      const row = { ...r, rateMiBps: Number(rateMiB.toFixed(3)), ofLimit: Number((r.rate / limit).toFixed(4)) };
      results[key].push(row);
      log(
        `[${name}] ${key} run ${run}: ${rateMiB.toFixed(2)} MiB/s over ${r.seconds.toFixed(1)} s = ${(row.ofLimit * 100).toFixed(1)}% of ${limitMiB} MiB/s;` +
          ` gRPC ListTorrents p50 ${r.probe.p50} ms, p99 ${r.probe.p99} ms, max ${r.probe.max} ms (${r.probe.count} calls); event-loop delay ${JSON.stringify(r.loopDelay)}; cpu ${r.cpu.toFixed(2)} s`,
      );
      rmSync(out, { recursive: true, force: true });
    }
  }
  await cleanup();
  return { scenario: name, sizeMiB, limitMiBps: limitMiB, seconds, speedLimit: results };
}

/**
 * Starts `seedbox serve` on `out`, limits it, adds the torrent, and times a
 * gRPC ListTorrents every 200 ms for `seconds` after the first bytes; then
 * stops it. serve carries bench/probe.mjs for its event loop's delay.
 */
async function limitedServe(torrent, out, limitArg, seconds) {
  checkStopping();
  const grpc = await import('@grpc/grpc-js');
  const { SeedboxControlClient } = await import('@seedbox/proto');
  const grpcPort = await freePort();
  const server = `127.0.0.1:${grpcPort}`;
  const args = ['--import', join(root, 'bench/probe.mjs'), ...nodeArgs, seedbox, 'serve', '--data', out, '--grpc-port', String(grpcPort),
    '--metrics-port', '0', '--web-port', '0', '--listen-port', '0'];
  const child = spawn('node', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
  let text = '';
  child.stdout.on('data', (d) => (text += d));
  child.stderr.on('data', (d) => (text += d));
  const exited = new Promise((r) => child.once('exit', r));
  for (let i = 0; !/"msg":"ready"/.test(text); i++) {
    if (i > 600 || child.exitCode !== null) throw new Error(`serve did not get ready: ${text.slice(-500)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  sh('node', [seedbox, 'config', '--download-limit', limitArg, '--server', server]);
  sh('node', [seedbox, 'add', torrent, '--server', server]);
  const client = new SeedboxControlClient(server, grpc.credentials.createInsecure());
  const list = () => new Promise((res, rej) => client.listTorrents({}, (e, r) => (e ? rej(e) : res(r))));
  const samples = [];
  const latencies = [];
  let until;
  try {
    for (let i = 0; until === undefined || performance.now() < until; i++) {
      const t0 = performance.now();
      const r = await list();
      const t1 = performance.now();
      const done = r.torrents[0]?.stats?.downloadedBytes ?? 0;
      if (until === undefined) {
        if (done > 0) until = t1 + seconds * 1000 + 1500;
        else if (i > 600) throw new Error(`no bytes came: ${text.slice(-500)}`);
      } else latencies.push(t1 - t0);
      if (done > 0) samples.push({ t: r.torrents[0].stats.tickTimeMs, done, left: r.torrents[0].stats.leftBytes });
      await new Promise((res) => setTimeout(res, 200));
    }
  } finally {
    client.close();
  }
  const usage = procUsage(child.pid);
  child.kill('SIGTERM');
  await exited;
  const first = samples[0];
  const last = samples.filter((x) => x.t - first.t <= seconds * 1000 + 500).at(-1);
  if (last.left === 0) throw new Error('the download completed within the measurement: give a larger --size-mib');
  const loop = /LOOPDELAY (\{.*\})/.exec(text);
  const sorted = [...latencies].sort((a, b) => a - b);
  const pct = (p) => Number(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(2));
  return {
    rate: (last.done - first.done) / ((last.t - first.t) / 1000),
    seconds: (last.t - first.t) / 1000,
    downloadedMiB: Number((last.done / 1024 / 1024).toFixed(1)),
    probe: { count: latencies.length, p50: pct(50), p99: pct(99), max: Number(sorted.at(-1).toFixed(2)) },
    loopDelay: loop ? JSON.parse(loop[1]) : null,
    cpu: usage.cpu,
  };
}

/**
 * Medians per client. A run stopped by a time cap carries `bytes`: its rate
 * is bytes over time, and its time is projected to the whole torrent at that
 * rate (marked `capped`). `servedMiB` is what the MiB/s column counts (the
 * torrent's size, or all that a seed served).
 */
function summarize(name, sizeMiB, results, { servedMiB = sizeMiB } = {}) {
  const MiB = 1024 * 1024;
  const rows = {};
  for (const [client, runs] of Object.entries(results)) {
    const good = runs.filter((r) => r.wall !== undefined && r.ok);
    const capped = good.some((r) => r.bytes !== undefined);
    const rate = (r) => (r.bytes !== undefined ? r.bytes / MiB : servedMiB) / r.wall;
    const medianMiBps = good.length ? median(good.map(rate)) : 0;
    rows[client] = good.length
      ? {
          runs: good.length,
          failures: runs.length - good.length,
          medianSeconds: capped ? servedMiB / medianMiBps : median(good.map((r) => r.wall)),
          medianMiBps: capped ? medianMiBps : servedMiB / median(good.map((r) => r.wall)),
          medianCpuSeconds: median(good.map((r) => r.cpu)),
          peakRssMiB: Math.max(...good.map((r) => r.rssMiB)),
          allSeconds: good.map((r) => Number(r.wall.toFixed(3))),
          ...(good[0].procs ? { procs: procMedians(good.map((r) => r.procs)) } : {}),
          ...(capped ? { capped: true, allMiB: good.map((r) => Number(((r.bytes ?? servedMiB * MiB) / MiB).toFixed(2))) } : {}),
        }
      : { runs: 0, failures: runs.length, errors: runs.map((r) => r.error).filter(Boolean) };
  }
  const ours = rows.seedbox?.medianSeconds;
  for (const r of Object.values(rows)) if (ours && r.medianSeconds) r.timeVsSeedbox = r.medianSeconds / ours;
  return { scenario: name, sizeMiB: Number(sizeMiB.toFixed(1)), rows };
}

/** Per process of a fleet run: median CPU seconds and the highest peak RSS. */
function procMedians(runs) {
  const out = {};
  for (const name of Object.keys(runs[0])) {
    const of = runs.map((p) => p[name]).filter(Boolean);
    const med = (k) => Number(median(of.map((u) => u[k] ?? NaN)).toFixed(2));
    out[name] = { cpu: med('cpu'), user: med('user'), sys: med('sys'), peakRssMiB: Math.round(Math.max(...of.map((u) => u.rssMiB))) };
  }
  return out;
}

function printTable(s) {
  if (s.scenario === 'many-torrents') return printManyTorrents(s, log);
  if (s.speedLimit) {
    log(`\n${s.scenario} (seedbox serve, config --download-limit ${s.limitMiBps}MiB, ${s.seconds} s of transfer, ${RUNS} run(s) each)`);
    log(`${'from'.padEnd(10)}${'MiB/s'.padStart(9)}${'% limit'.padStart(9)}${'gRPC p50'.padStart(11)}${'p99'.padStart(8)}${'max ms'.padStart(8)}${'loop p99'.padStart(10)}`);
    for (const [k, runs] of Object.entries(s.speedLimit)) {
      for (const r of runs) {
        log(`${k.padEnd(10)}${r.rateMiBps.toFixed(2).padStart(9)}${`${(r.ofLimit * 100).toFixed(1)}%`.padStart(9)}${String(r.probe.p50).padStart(11)}${String(r.probe.p99).padStart(8)}${String(r.probe.max).padStart(8)}${String(r.loopDelay?.p99 ?? '').padStart(10)}`);
      }
    }
    return;
  }
  const link = s.link !== undefined;
  log(`\n${s.scenario} (${s.sizeMiB} MiB${s.leeches ? ` to each of ${s.leeches} leeches` : ''}${link ? `, link ${s.link.rate}` : ''}${s.roundTripMs ? `, ${s.roundTripMs} ms round trip` : ''}), medians of ${RUNS} runs`);
  if (s.note) log(`(${s.note})`);
  log(`${'client'.padEnd(16)}${'time s'.padStart(9)}${'MiB/s'.padStart(9)}${link ? '  % link' : ''}${'cpu s'.padStart(8)}${'rss MiB'.padStart(9)}${'x ours'.padStart(8)}`);
  for (const [client, r] of Object.entries(s.rows)) {
    if (!r.runs) {
      log(`${client.padEnd(16)}  failed (${r.failures}): ${r.errors?.[0] ?? ''}`);
      continue;
    }
    log(
      `${client.padEnd(16)}${`${r.capped ? '~' : ''}${r.medianSeconds.toFixed(2)}`.padStart(9)}${r.medianMiBps.toFixed(r.medianMiBps < 10 ? 2 : r.medianMiBps < 100 ? 1 : 0).padStart(9)}${
        link ? `${(r.linkShare * 100).toFixed(0)}%`.padStart(8) : ''
      }${r.medianCpuSeconds.toFixed(2).padStart(8)}${r.peakRssMiB.toFixed(0).padStart(9)}${(r.timeVsSeedbox ?? NaN).toFixed(2).padStart(8)}`,
    );
  }
  if (Object.values(s.rows).some((r) => r.capped)) log('(~: stopped at the time cap; time projected from the rate reached by then)');
  for (const [client, r] of Object.entries(s.rows)) {
    if (!r.procs) continue;
    const parts = Object.entries(r.procs).map(([n, u]) => `${n} ${u.cpu.toFixed(2)} s (user ${u.user}, sys ${u.sys}) ${u.peakRssMiB} MiB`);
    log(`${client}: per process from the add (cpu s, peak rss): ${parts.join(', ')}`);
  }
}

const size = (dflt) => Number(args['size-mib'] ?? dflt);
const SCENARIOS = {
  'seed-1g': () => seedScenario('seed-1g', { sizeMiB: size(1024), pieceLog2: 20 }),
  'leech-1g': () =>
    leechScenario('leech-1g', {
      sizeMiB: size(1024),
      pieceLog2: 20,
      clients: (args.clients ?? 'seedbox,seedbox-distributed,seedbox-direct,webtorrent,libtorrent,aria2,transmission').split(','),
    }),
  'four-leeches': () => swarmSeedScenario('four-leeches', { sizeMiB: size(512), pieceLog2: 20, leeches: 4, subnet: 241 }),
  // 10,000 files of 1-200 KiB (about 980 MiB), 256 KiB pieces: most pieces
  // span several files. --size-mib makes as many files as that takes.
  'small-files': () =>
    leechScenario('small-files', {
      sizeMiB: size(0),
      pieceLog2: 18,
      files: { count: 10_000, minKiB: 1, maxKiB: 200 },
      subnet: 248,
      freshFs: true,
      timeoutMs: 300_000,
      clients: (args.clients ?? 'seedbox,webtorrent,libtorrent,aria2,transmission').split(','),
    }),
  // 100 Mbit/s out of the seed's namespace: a 64 KiB bucket (the largest
  // burst at line rate) and at most 20 ms of queue.
  'slow-link': () =>
    leechScenario('slow-link', {
      sizeMiB: size(256),
      pieceLog2: 20,
      subnet: 247,
      tracker: false,
      shape: { rate: '100mbit', burst: '64kb', latency: '20ms', bytesPerSecond: 100e6 / 8 },
      clients: (args.clients ?? 'seedbox,seedbox-nopipe,libtorrent').split(','),
    }),
  // 25 ms each way through bench/delay_proxy.mjs. One request at a time over
  // 50 ms moves ~16 KiB per round trip (~0.3 MiB/s): the control is stopped
  // at --cap-s and reported by its rate.
  'high-latency': () =>
    leechScenario('high-latency', {
      sizeMiB: size(256),
      pieceLog2: 20,
      subnet: 246,
      tracker: false,
      delayMs: 25,
      caps: { 'seedbox-nopipe': Number(args['cap-s']) },
      clients: (args.clients ?? 'seedbox,seedbox-nopipe,libtorrent,webtorrent').split(','),
    }),
  // 30 s at 20 MiB/s is 600 MiB: the torrent is larger, so the transfer never ends within the measurement.
  'speed-limit': () =>
    speedLimitScenario('speed-limit', { sizeMiB: size(1024), pieceLog2: 20, limitMiB: Number(args['limit-mib']), seconds: Number(args['limit-s']), subnet: 230 }),
  'many-torrents': async () => {
    const harness = { log, netns, daemon, cleanups, checkStopping, isStopping: () => stopping, scenarioDir, nodeArgs, seedbox };
    const s = await manyTorrentsScenario(harness, {
      count: Number(args.torrents),
      idleS: Number(args['idle-s']),
      timeoutS: Number(args['timeout-s']),
      addBatch: Number(args['add-batch']),
      subnet: 236,
      clients: (args.clients ?? 'seedbox,seedbox-distributed').split(','),
    });
    await cleanup();
    return s;
  },
};
// Run only when named: at 10,000 torrents it alone takes longer than the rest.
const OPT_IN = new Set(['many-torrents']);

async function main() {
  if (process.getuid?.() !== 0) throw new Error('the benchmarks need root for network namespaces');
  mkdirSync(work, { recursive: true });
  holdFreedPages();
  const names = args.scenario ? [args.scenario] : Object.keys(SCENARIOS).filter((n) => !OPT_IN.has(n));
  const all = [];
  for (const n of names) {
    const run = SCENARIOS[n];
    if (!run) throw new Error(`no scenario '${n}'; have: ${Object.keys(SCENARIOS).join(', ')}`);
    const s = await run();
    all.push(s);
    if (!args.json) printTable(s);
  }
  if (args.json) process.stdout.write(`${JSON.stringify({ date: new Date().toISOString(), runs: RUNS, scenarios: all }, null, 2)}\n`);
}

main()
  .catch((e) => {
    console.error(`bench: ${e.message ?? e}`);
    process.exitCode = 1;
  })
  .finally(() => {
    releaseFreedPages();
    return cleanup();
  });
