#!/usr/bin/env node
// `npm run bench`: side-by-side benchmarks of seedbox against real clients.
//
// Each scenario sets itself up: random data, a torrent, an opentracker, a
// libtorrent seed in a network namespace of its own, then runs every client
// on the same torrent from the same seed, several times, interleaved, and
// prints medians, CPU time, peak RSS and each client's time relative to ours.
//
//   npm run bench -- [--scenario NAME] [--runs N] [--size-mib N] [--json] [--clients a,b]
//
// Needs root (network namespaces) and the Debian packages that .ci/run
// installs. Writes its scratch files under .bench-work/ (git-ignored).
import { execFileSync, spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const work = join(root, '.bench-work');
const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string' },
    runs: { type: 'string', default: '3' },
    'size-mib': { type: 'string' },
    json: { type: 'boolean' },
    clients: { type: 'string' },
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
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => cleanup().then(() => process.exit(130)));
}

function sh(cmd, cmdArgs, opts = {}) {
  return execFileSync(cmd, cmdArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/** Starts a long-running process; it is killed by pid at cleanup. */
function daemon(cmd, cmdArgs, { netns, logFile, ready } = {}) {
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
        const t = setTimeout(() => rej(new Error(`${cmd} did not get ready: ${text.slice(-500)}`)), 30_000);
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

/**
 * Runs one client to completion under GNU time: wall time, CPU time (user +
 * system) and peak RSS of the client process.
 */
function timed(cmd, cmdArgs, { timeoutMs = 600_000, env } = {}) {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-v', cmd, ...cmdArgs], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const wall = (performance.now() - t0) / 1000;
      const num = (re) => Number(re.exec(err)?.[1] ?? NaN);
      const cpu = num(/User time \(seconds\): ([\d.]+)/) + num(/System time \(seconds\): ([\d.]+)/);
      const rssMiB = num(/Maximum resident set size \(kbytes\): (\d+)/) / 1024;
      if (code !== 0) return rej(new Error(`${cmd} exited ${code}: ${(out + err).slice(-800)}`));
      res({ wall, cpu, rssMiB, out });
    });
  });
}

async function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

// ---- network namespaces ----

/** A namespace with a veth pair: host side 10.213.N.1, namespace side 10.213.N.2. */
function netns(subnet) {
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
  return { name, hostIp: `10.213.${subnet}.1`, nsIp: `10.213.${subnet}.2` };
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

function makeTorrent(content, torrentPath, pieceLog2, tracker) {
  rmSync(torrentPath, { force: true });
  sh('mktorrent', ['-l', String(pieceLog2), '-a', tracker, '-o', torrentPath, content]);
  return torrentPath;
}

function infoHashOf(torrentPath) {
  const r = sh('node', [join(root, 'packages/cli/bin/seedbox.js'), 'inspect', '--json', torrentPath]);
  return JSON.parse(r).infoHash;
}

// ---- clients (leeches) ----

const seedbox = join(root, 'packages/cli/bin/seedbox.js');
// Extra node flags for our client only, e.g. BENCH_NODE_ARGS=--cpu-prof to profile it.
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
const LEECHES = {
  seedbox: (t, out, seed) => timed('node', [...nodeArgs, seedbox, 'download', t, '--out', out, '--peer', seed, '--json']),
  'seedbox-nopipe': (t, out, seed) =>
    timed('node', [...nodeArgs, seedbox, 'download', t, '--out', out, '--peer', seed, '--json', '--no-pipelining']),
  webtorrent: (t, out, seed) => timed('node', [join(root, 'bench/webtorrent_leech.mjs'), t, out, seed]),
  libtorrent: (t, out, seed) => timed('/usr/bin/python3', [join(root, 'bench/lt_peer.py'), t, out, '--listen', '127.0.0.1:0', '--peer', seed]),
  // aria2 learns peers only from a tracker.
  aria2: (t, out) =>
    timed('aria2c', [
      '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
      '--seed-time=0', '--check-integrity=false', '--file-allocation=none', '--console-log-level=warn',
      '--summary-interval=0', '--listen-port=6890-6899', '-d', out, t,
    ]),
  transmission: transmissionLeech,
};

/** Transmission 3.00 as a leech: a daemon with its own config, driven over RPC, stopped when done. */
async function transmissionLeech(t, out) {
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
  const d = spawn('transmission-daemon', ['-f', '-g', cfg], { stdio: 'ignore' });
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
      if (performance.now() - t0 > 600_000) throw new Error('transmission did not finish in 10 minutes');
      await new Promise((r) => setTimeout(r, 100));
    }
    usage = procUsage(d.pid);
  } finally {
    d.kill('SIGTERM');
    await new Promise((r) => d.on('exit', r));
  }
  return { wall: (performance.now() - t0) / 1000, ...usage };
}

/** CPU seconds (user + system) and peak RSS of a running process, from /proc. */
function procUsage(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpu: ticks / 100, rssMiB: hwm ? Number(hwm[1]) / 1024 : NaN };
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

/** Leech one file from one libtorrent seed in a namespace, every client in turn. */
async function leechScenario(name, { sizeMiB, pieceLog2, clients }) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const data = join(dir, 'seed', 'data.bin');
  log(`[${name}] preparing ${sizeMiB} MiB of data`);
  await writeRandomFile(data, sizeMiB * 1024 * 1024, name);
  const ns = netns(250);
  const trackerPort = 6969;
  const torrent = makeTorrent(data, join(dir, 'data.torrent'), pieceLog2, `http://${ns.hostIp}:${trackerPort}/announce`);
  const hash = infoHashOf(torrent);
  writeFileSync(join(dir, 'whitelist'), `${hash}\n`);
  const tracker = daemon('opentracker', ['-i', ns.hostIp, '-p', String(trackerPort), '-P', String(trackerPort), '-w', join(dir, 'whitelist')]);
  void tracker;
  const seedPort = 6881;
  const seed = daemon('/usr/bin/python3', [join(root, 'bench/lt_peer.py'), torrent, join(dir, 'seed'), '--seed', '--listen', `${ns.nsIp}:${seedPort}`], {
    netns: ns.name,
    logFile: join(dir, 'seed.log'),
    ready: /LISTENING (\d+)/,
  });
  await seed.waitReady;
  // Let the seed announce so that tracker-only clients find it.
  await new Promise((r) => setTimeout(r, 2000));
  const seedAddr = `${ns.nsIp}:${seedPort}`;
  const results = Object.fromEntries(clients.map((c) => [c, []]));
  for (let run = 1; run <= RUNS; run++) {
    for (const client of clients) {
      const out = join(dir, `out-${client}`);
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out, { recursive: true });
      // Start every run with no writeback of the last one under way: on 2
      // cores the kernel flushing a GiB competes with whoever runs next.
      sh('sync');
      try {
        const r = await LEECHES[client](torrent, out, seedAddr);
        const ok = sameBytes(join(out, 'data.bin'), data);
        results[client].push({ ...r, ok });
        log(`[${name}] run ${run} ${client.padEnd(15)} ${r.wall.toFixed(2)} s  cpu ${r.cpu.toFixed(2)} s  rss ${r.rssMiB.toFixed(0)} MiB${ok ? '' : '  BYTES DIFFER'}`);
      } catch (e) {
        results[client].push({ error: String(e.message ?? e).split('\n')[0] });
        log(`[${name}] run ${run} ${client.padEnd(15)} failed: ${String(e.message ?? e).split('\n')[0]}`);
      }
      rmSync(out, { recursive: true, force: true });
    }
  }
  await cleanup();
  return summarize(name, sizeMiB, results);
}

/**
 * Seed one file to a libtorrent leech in a namespace: ours against a
 * libtorrent seed, same data, same leech, interleaved.
 */
async function seedScenario(name, { sizeMiB, pieceLog2 }) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const data = join(dir, 'seed', 'data.bin');
  log(`[${name}] preparing ${sizeMiB} MiB of data`);
  await writeRandomFile(data, sizeMiB * 1024 * 1024, name);
  const ns = netns(249);
  const torrent = makeTorrent(data, join(dir, 'data.torrent'), pieceLog2, `http://${ns.hostIp}:1/announce`);
  const seeds = {
    seedbox: async (port) =>
      daemon('node', [seedbox, 'seed', torrent, '--data', join(dir, 'seed'), '--listen', `${ns.hostIp}:${port}`, '--json', '--resume-dir', join(dir, 'resume')], {
        ready: /"event":"seeding"/,
      }),
    libtorrent: async (port) =>
      daemon('/usr/bin/python3', [join(root, 'bench/lt_peer.py'), torrent, join(dir, 'seed'), '--seed', '--listen', `${ns.hostIp}:${port}`], {
        ready: /LISTENING/,
      }),
  };
  const results = Object.fromEntries(Object.keys(seeds).map((c) => [c, []]));
  let port = 7100;
  for (let run = 1; run <= RUNS; run++) {
    for (const [client, start] of Object.entries(seeds)) {
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

function summarize(name, sizeMiB, results) {
  const rows = {};
  for (const [client, runs] of Object.entries(results)) {
    const good = runs.filter((r) => r.wall !== undefined && r.ok);
    rows[client] = good.length
      ? {
          runs: good.length,
          failures: runs.length - good.length,
          medianSeconds: median(good.map((r) => r.wall)),
          medianMiBps: sizeMiB / median(good.map((r) => r.wall)),
          medianCpuSeconds: median(good.map((r) => r.cpu)),
          peakRssMiB: Math.max(...good.map((r) => r.rssMiB)),
          allSeconds: good.map((r) => Number(r.wall.toFixed(3))),
        }
      : { runs: 0, failures: runs.length };
  }
  const ours = rows.seedbox?.medianSeconds;
  for (const r of Object.values(rows)) if (ours && r.medianSeconds) r.timeVsSeedbox = r.medianSeconds / ours;
  return { scenario: name, sizeMiB, rows };
}

function printTable(s) {
  log(`\n${s.scenario} (${s.sizeMiB} MiB), medians of ${RUNS} runs`);
  log(`${'client'.padEnd(16)}${'time s'.padStart(8)}${'MiB/s'.padStart(9)}${'cpu s'.padStart(8)}${'rss MiB'.padStart(9)}${'x ours'.padStart(8)}`);
  for (const [client, r] of Object.entries(s.rows)) {
    if (!r.runs) {
      log(`${client.padEnd(16)}  failed (${r.failures})`);
      continue;
    }
    log(
      `${client.padEnd(16)}${r.medianSeconds.toFixed(2).padStart(8)}${r.medianMiBps.toFixed(0).padStart(9)}${r.medianCpuSeconds
        .toFixed(2)
        .padStart(8)}${r.peakRssMiB.toFixed(0).padStart(9)}${(r.timeVsSeedbox ?? NaN).toFixed(2).padStart(8)}`,
    );
  }
}

const SCENARIOS = {
  'seed-1g': () => seedScenario('seed-1g', { sizeMiB: Number(args['size-mib'] ?? 1024), pieceLog2: 20 }),
  'leech-1g': () =>
    leechScenario('leech-1g', {
      sizeMiB: Number(args['size-mib'] ?? 1024),
      pieceLog2: 20,
      clients: (args.clients ?? 'seedbox,webtorrent,libtorrent,aria2,transmission').split(','),
    }),
};

async function main() {
  if (process.getuid?.() !== 0) throw new Error('the benchmarks need root for network namespaces');
  mkdirSync(work, { recursive: true });
  const names = args.scenario ? [args.scenario] : Object.keys(SCENARIOS);
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
  .finally(cleanup);
