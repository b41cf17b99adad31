// The many-torrents scenario of `npm run bench`: what each idle torrent
// costs. People who seed for private trackers keep thousands of torrents,
// nearly all idle; this measures, for `seedbox serve` and for the fleet as
// processes, with N small torrents (--torrents, default 10,000):
//
// - adds per second through the gRPC control API (16 in flight);
// - the time until all N are seeding (downloaded from one libtorrent session
//   seeding them all, found through the scenario's opentracker);
// - then, idle for --idle-s: CPU of each of our processes as % of one core,
//   RSS now and at peak, and tracker announces per minute;
// - the latency of ListTorrents (gRPC, median of 5), of `seedbox ls --json`
//   as a CLI process, and of WatchTorrents' first message;
// - a restart (serve; the fleet's peer-worker) on the same state: the time
//   until all N are seeding again, and whether it hashed anything.
//
// run.mjs hands in its harness (`h`): log, netns, daemon, cleanups,
// checkStopping, isStopping, scenarioDir, nodeArgs, seedbox (the CLI's path).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ListTorrentsResponse } from '@seedbox/proto';
import { addAll, controlClient, firstWatchMessage, follow } from './control_watch.mjs';
import { Fleet, freePort, procUsage, startProcess, stopProcess } from './fleet.mjs';
import { torrentSet } from './torrent_set.mjs';

const root = resolve(import.meta.dirname, '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const round = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? x : Number(x.toFixed(d)));
// Figures that follow a burst (the last `completed` announces, resume data
// written, connections closing) are not idle: the idle window starts this much later.
const SETTLE_MS = 5000;
/** The idle window's CPU samples (see runClient). */
const IDLE_SAMPLE_MS = 10_000;


/** Announces opentracker has answered over HTTP (its stats page; needs -A for our address). */
async function trackerAnnounces(url) {
  const text = await (await globalThis.fetch(`${url}/stats?mode=everything`)).text();
  const m = /<tcp>\s*<accept>\d+<\/accept>\s*<announce>(\d+)<\/announce>/.exec(text);
  if (!m) throw new Error(`opentracker's stats have no tcp announce count: ${text.slice(0, 300)}`);
  return Number(m[1]);
}

/** seedbox_tracker_announces_total (every result) from a /metrics page; undefined when it has none. */
async function metricAnnounces(port) {
  const text = await (await globalThis.fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const lines = text.split('\n').filter((l) => l.startsWith('seedbox_tracker_announces_total'));
  return lines.length ? lines.reduce((a, l) => a + Number(l.split(' ').at(-1)), 0) : undefined;
}

/** What the start's log says about checking: torrents checked, hashed pieces, fast-path ones. */
function checksInLog(file) {
  let checked = 0;
  let hashedPieces = 0;
  let torrentsHashed = 0;
  let fastPath = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes('"msg":"checked"')) continue;
    const j = JSON.parse(line);
    checked++;
    hashedPieces += j.hashed ?? 0;
    if (j.hashed > 0) torrentsHashed++;
    if (j.fastPath) fastPath++;
  }
  return { checked, hashedPieces, torrentsHashed, fastPath };
}

/** Runs `node seedbox ARGS` once: wall ms, exit code, stdout lines, the tail of stderr. */
function cli(h, args) {
  return new Promise((res) => {
    h.checkStopping();
    const t0 = performance.now();
    const child = spawn('node', [h.seedbox, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    h.cleanups.push(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
    let lines = 0;
    let err = '';
    child.stdout.on('data', (d) => (lines += d.toString().split('\n').length - 1));
    child.stderr.on('data', (d) => (err = (err + d).slice(-500)));
    child.on('exit', (code) => res({ ms: performance.now() - t0, code, lines, error: code === 0 ? undefined : err.trim() }));
  });
}

/**
 * Our two clients, each as something to start, restart and read: `main` is
 * the process that holds the torrents (serve; the fleet's peer-worker).
 */
const CLIENTS = {
  async seedbox(h, { out, logDir }) {
    const [grpcPort, metricsPort, listenPort] = [await freePort(), await freePort(), await freePort()];
    const args = [...h.nodeArgs, h.seedbox, 'serve', '--data', join(out, 'data'), '--grpc-port', String(grpcPort), '--metrics-port', String(metricsPort), '--web-port', '0', '--listen-port', String(listenPort)];
    let child;
    let starts = 0;
    const start = async () => {
      const logFile = join(logDir, `serve${++starts > 1 ? `-${starts}` : ''}.log`);
      child = await startProcess('serve', 'node', args, {
        ready: /"msg":"ready"/,
        logFile,
        timeoutMs: 600_000,
        onSpawn: (c) => h.cleanups.push(() => stopProcess(c, 5000)),
      });
      return logFile;
    };
    await start();
    return {
      grpcPort,
      main: 'serve',
      pids: () => ({ serve: child.pid }),
      metricsPort: () => metricsPort,
      restart: async () => {
        const stopped = await stopProcess(child, 60_000);
        const t0 = performance.now();
        const logFile = await start();
        return { stopped, t0, logFile };
      },
      stop: () => stopProcess(child, 60_000),
    };
  },
  async 'seedbox-distributed'(h, { out, logDir }) {
    h.checkStopping();
    const fleet = new Fleet({ work: out, nodeArgs: h.nodeArgs, logDir });
    h.cleanups.push(() => fleet.stopAll());
    await fleet.start();
    const pw = fleet.procs.get('peer-worker');
    return {
      grpcPort: pw.grpcPort,
      main: 'peer-worker',
      pids: () => fleet.pids(),
      metricsPort: () => fleet.procs.get('tracker-client').metricsPort,
      restart: async () => {
        const stopped = await fleet.stopService('peer-worker');
        const t0 = performance.now();
        await fleet.startService('peer-worker');
        return { stopped, t0, logFile: pw.logFile };
      },
      stop: () => fleet.stopAll(),
    };
  },
};

export async function manyTorrentsScenario(h, { count, idleS, timeoutS, subnet, clients, addBatch = 100 }) {
  const name = `many-torrents-${count}`;
  const dir = h.scenarioDir(name);
  const ns = h.netns(subnet);
  const trackerPort = 6969;
  const trackerUrl = `http://${ns.hostIp}:${trackerPort}`;
  h.log(`[${name}] preparing ${count} torrents`);
  const t0 = performance.now();
  const set = torrentSet(dir, { count, tracker: `${trackerUrl}/announce` });
  h.log(`[${name}] ${set.made ? 'made' : 'reused'} ${count} torrents, ${(set.totalBytes / 1024 / 1024).toFixed(1)} MiB, in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // -A: our address may read the stats page (where the announces are counted).
  h.daemon('opentracker', ['-i', ns.hostIp, '-p', String(trackerPort), '-P', String(trackerPort), '-w', set.whitelist, '-A', ns.hostIp]);
  const seedT0 = performance.now();
  const seed = h.daemon('/usr/bin/python3', [join(root, 'bench/lt_multi_seed.py'), set.torrentDir, set.dataDir, '--listen', `${ns.nsIp}:6881`], {
    netns: ns.name,
    logFile: join(dir, 'seed.log'),
    ready: /ANNOUNCED \d+/,
    timeoutMs: 120_000 + count * 50,
  });
  await seed.waitReady;
  const seedSeconds = (performance.now() - seedT0) / 1000;
  h.log(`[${name}] libtorrent seeds all ${count} and has announced them, after ${seedSeconds.toFixed(1)} s`);
  const seedAnnounces = () => Number([...seed.text().matchAll(/ANNOUNCES (\d+)/g)].at(-1)?.[1] ?? 0);
  const ourAnnounces = async () => (await trackerAnnounces(trackerUrl)) - seedAnnounces();
  const files = set.torrents.map((t) => readFileSync(t.file));

  const results = {};
  for (const client of clients) {
    if (!CLIENTS[client]) throw new Error(`many-torrents has no client '${client}'; have: ${Object.keys(CLIENTS).join(', ')}`);
    const out = join(dir, `out-${client}`);
    const logDir = join(dir, `logs-${client}`);
    for (const d of [out, logDir]) {
      rmSync(d, { recursive: true, force: true });
      mkdirSync(d, { recursive: true });
    }
    try {
      results[client] = await runClient(h, CLIENTS[client], { tag: `[${name}] [${client}]`, out, logDir, files, count, idleS, timeoutS, addBatch, ourAnnounces, totalBytes: set.totalBytes });
    } catch (e) {
      results[client] = { error: String(e.message ?? e).split('\n').slice(0, 3).join(' ') };
      h.log(`[${name}] [${client}] failed: ${results[client].error}`);
    }
    rmSync(out, { recursive: true, force: true });
  }
  return { scenario: 'many-torrents', torrents: count, dataMiB: round(set.totalBytes / 1024 / 1024, 1), idleSeconds: idleS, seedSeconds: round(seedSeconds, 1), clients: results };
}

async function runClient(h, make, { tag, out, logDir, files, count, idleS, timeoutS, addBatch, ourAnnounces, totalBytes }) {
  const say = (s) => h.log(`${tag} ${s}`);
  const target = await make(h, { out, logDir });
  // What the process read to start with nothing (its own code, mostly): the restart's reads are set against it.
  const startupRead = procUsage(target.pids()[target.main]).readBytes;
  const r = {};
  let c = controlClient(target.grpcPort);
  try {
    // The CLI's own cost (node starting, the connection), with nothing to list.
    const empty = await cli(h, ['ls', '--json', '--server', `127.0.0.1:${target.grpcPort}`]);

    // 1. Adds, with the stream that tells when all are seeding already open.
    let watch = follow(c.client);
    // Announces from here to all seeding: a check of the counting (about one `started` and one `completed` a torrent).
    const annAtAdd = await ourAnnounces();
    const metricAtAdd = await metricAnnounces(target.metricsPort());
    const t0 = performance.now();
    r.adds = await addAll(c.rpc, files, { ...(addBatch > 0 ? { batch: addBatch, concurrency: 2 } : {}), progress: say, stopped: h.isStopping, deadline: t0 + timeoutS * 1000 });
    h.checkStopping();
    if (r.adds.capped) say(`ADDS STOPPED at --timeout-s ${timeoutS}: ${r.adds.count} of ${count} added; what follows is for those`);
    say(
      `${r.adds.count} adds in ${r.adds.seconds.toFixed(1)} s = ${r.adds.perSecond.toFixed(0)}/s (each tenth: ${r.adds.perTenth.join(', ')}/s)` +
        `${r.adds.failed ? `, ${r.adds.failed} FAILED: ${r.adds.errors.join(' | ')}` : ''}`,
    );
    // A refused add is reported above; "all" is then all that were added.
    // The wait is capped at --timeout-s after the last add.
    const want = r.adds.count - r.adds.failed;
    const done = await watch.waitSeeding(want, { since: t0, timeoutMs: (r.adds.seconds + timeoutS) * 1000, progress: say, stopped: h.isStopping });
    r.allSeeding = { seconds: round(done.seconds), seeding: done.seeding, states: watch.states(), errors: watch.errors(), streamError: watch.lastError() };
    r.allSeeding.announces = (await ourAnnounces()) - annAtAdd;
    if (metricAtAdd !== undefined) r.allSeeding.metricAnnounces = (await metricAnnounces(target.metricsPort())) - metricAtAdd;
    say(
      `${done.seconds === null ? `only ${done.seeding}/${want} seeding ${timeoutS} s after the last add: ${JSON.stringify(r.allSeeding.states)}` : `all ${want} seeding ${done.seconds.toFixed(1)} s after the first add`}` +
        `; ${r.allSeeding.announces} announces by then${metricAtAdd === undefined ? '' : ` (our metric: ${r.allSeeding.metricAnnounces})`}`,
    );
    watch.close();
    const atSeeding = Object.fromEntries(Object.entries(target.pids()).map(([n, pid]) => [n, procUsage(pid)]));

    // 2. Idle: nothing asks anything of it (the stream is closed).
    await sleep(SETTLE_MS);
    const pids = target.pids();
    const before = Object.fromEntries(Object.entries(pids).map(([n, pid]) => [n, procUsage(pid)]));
    const ann0 = await ourAnnounces();
    const metric0 = await metricAnnounces(target.metricsPort());
    const i0 = performance.now();
    say(`idle for ${idleS} s`);
    // CPU in 10-s samples too: the whole window holds one-off costs of the
    // burst's end (V8's memory reducer compacts the heap some 30 s after
    // the allocations stop: 1.7 s of CPU once for serve at 10,000), and the
    // median of the samples is what an idle minute costs in the long run.
    const samples = Object.fromEntries(Object.keys(pids).map((n) => [n, []]));
    let last = before;
    for (let left = idleS * 1000; left > 0; left -= IDLE_SAMPLE_MS) {
      const t = performance.now();
      await sleep(Math.min(IDLE_SAMPLE_MS, left));
      const now = Object.fromEntries(Object.entries(pids).map(([n, pid]) => [n, procUsage(pid)]));
      const s = (performance.now() - t) / 1000;
      for (const n of Object.keys(pids)) samples[n].push(round(((now[n].cpu - last[n].cpu) / s) * 100));
      last = now;
    }
    const idleSeconds = (performance.now() - i0) / 1000;
    const ann1 = await ourAnnounces();
    const metric1 = await metricAnnounces(target.metricsPort());
    const procs = {};
    for (const [n, pid] of Object.entries(pids)) {
      const u = procUsage(pid);
      const cpu = u.cpu - before[n].cpu;
      // user and system apart: system time is mostly the kernel's side of file writes (fsync, rename).
      const split = { userSeconds: round(u.user - before[n].user), sysSeconds: round(u.sys - before[n].sys) };
      // What an idle torrent costs the disk: write calls (files and sockets) and bytes that reached it.
      const io = { writeCallsPerSecond: round((u.writeCalls - before[n].writeCalls) / idleSeconds, 1), diskWriteMiB: round((u.diskWriteBytes - before[n].diskWriteBytes) / 1024 / 1024, 1) };
      procs[n] = { cpuSeconds: round(cpu), cpuPercent: round((cpu / idleSeconds) * 100), cpuMedianPercent: samples[n].length ? round(median(samples[n])) : undefined, cpuSamplesPercent: samples[n], ...split, ...io, rssNowMiB: round(u.rssNowMiB, 0), rssPeakMiB: round(u.rssMiB, 0), rssAtSeedingMiB: round(atSeeding[n]?.rssNowMiB, 0) };
    }
    const perMin = (n) => (n === undefined ? undefined : round((n / idleSeconds) * 60, 1));
    r.idle = {
      seconds: round(idleSeconds, 1),
      procs,
      // opentracker's count less the libtorrent seed's own announces.
      announcesPerMinute: perMin(ann1 - ann0),
      // Our own counter, where the process has one (the fleet's tracker-client).
      metricAnnouncesPerMinute: metric0 === undefined ? undefined : perMin(metric1 - metric0),
    };
    say(`idle: ${Object.entries(procs).map(([n, p]) => `${n} ${p.cpuPercent}% cpu (median of 10-s samples ${p.cpuMedianPercent}%: ${p.cpuSamplesPercent.join(', ')}), rss ${p.rssNowMiB} MiB (peak ${p.rssPeakMiB})`).join('; ')}; announces/min ${r.idle.announcesPerMinute}${metric0 === undefined ? '' : ` (our metric: ${r.idle.metricAnnouncesPerMinute})`}`);

    // 3. ls and watch.
    const lsMs = [];
    let bytes;
    for (let i = 0; i < 5; i++) {
      const a = performance.now();
      const l = await c.rpc('listTorrents');
      lsMs.push(performance.now() - a);
      bytes ??= ListTorrentsResponse.encode(l).finish().length;
    }
    const lsCli = await cli(h, ['ls', '--json', '--server', `127.0.0.1:${target.grpcPort}`]);
    const watchMs = [];
    for (let i = 0; i < 3; i++) watchMs.push(await firstWatchMessage(c.client));
    r.ls = {
      grpcMedianMs: round(median(lsMs), 1),
      grpcAllMs: lsMs.map((x) => round(x, 1)),
      responseMiB: round(bytes / 1024 / 1024),
      cliMs: round(lsCli.ms, 0),
      cliListed: lsCli.lines,
      cliError: lsCli.error,
      cliEmptyMs: round(empty.ms, 0),
    };
    r.watch = { firstMessageMedianMs: round(median(watchMs), 0), allMs: watchMs.map((x) => round(x, 0)) };
    say(`ls: gRPC ${r.ls.grpcMedianMs} ms (${r.ls.responseMiB} MiB), CLI ${r.ls.cliMs} ms${lsCli.error ? ` FAILED: ${lsCli.error}` : ` (${lsCli.lines} listed)`}, CLI on an empty list ${r.ls.cliEmptyMs} ms; watch's first message ${r.watch.firstMessageMedianMs} ms`);

    // 4. Restart on the same state.
    say(`restarting ${target.main}`);
    c.close();
    const { stopped, t0: restartT0, logFile } = await target.restart();
    const ready = (performance.now() - restartT0) / 1000;
    c = controlClient(target.grpcPort);
    watch = follow(c.client);
    const again = await watch.waitSeeding(want, { since: restartT0, timeoutMs: timeoutS * 1000, progress: say, stopped: h.isStopping });
    const mainPid = target.pids()[target.main];
    r.restart = {
      shutdownSeconds: round(stopped.seconds),
      shutdownExit: stopped.code ?? stopped.signal,
      readySeconds: round(ready),
      allSeedingSeconds: round(again.seconds),
      seeding: again.seeding,
      states: watch.states(),
      sawChecking: watch.everChecking.size,
      ...checksInLog(logFile),
      // What the new process read (files and sockets) by then, against the torrents' data and a start with no torrents.
      readMiB: round(procUsage(mainPid).readBytes / 1024 / 1024, 1),
      emptyStartReadMiB: round(startupRead / 1024 / 1024, 1),
      dataMiB: round(totalBytes / 1024 / 1024, 1),
    };
    watch.close();
    say(
      `restart: shutdown ${r.restart.shutdownSeconds} s (exit ${r.restart.shutdownExit}), ready ${r.restart.readySeconds} s, ` +
        `${again.seconds === null ? `only ${again.seeding}/${want} seeding after ${timeoutS} s` : `all seeding ${again.seconds.toFixed(1)} s`} after the start; ` +
        `${r.restart.checked} checked (${r.restart.fastPath} on the fast path), ${r.restart.torrentsHashed} hashed (${r.restart.hashedPieces} pieces), ${r.restart.sawChecking} seen checking; ` +
        `read ${r.restart.readMiB} MiB (a start with no torrents: ${r.restart.emptyStartReadMiB} MiB; data ${r.restart.dataMiB} MiB)`,
    );
  } catch (e) {
    // What was measured before the failure stays in the results.
    r.error = String(e.message ?? e).split('\n').slice(0, 3).join(' ');
    say(`failed: ${r.error}`);
  } finally {
    c.close();
    await target.stop();
  }
  return r;
}

/** The table: a row per figure, a column per client, and the issue's target at 10,000 torrents. */
export function printManyTorrents(s, log) {
  const names = Object.keys(s.clients);
  log(`\nmany-torrents (${s.torrents} torrents of 16-64 KiB, ${s.dataMiB} MiB, 16 KiB pieces; idle ${s.idleSeconds} s)`);
  const w = 22;
  log(`${'figure'.padEnd(34)}${names.map((n) => n.padStart(w)).join('')}${'target at 10,000'.padStart(20)}`);
  const main = (r) => r.idle?.procs?.serve ?? r.idle?.procs?.['peer-worker'];
  const rows = [
    ['adds/s', (r) => r.adds && `${r.adds.perSecond.toFixed(0)}${r.adds.capped ? ` (${r.adds.count} added)` : ''}${r.adds.failed ? ` (${r.adds.failed} failed)` : ''}`, '>= 100'],
    ['all seeding, s from first add', (r) => r.allSeeding?.seconds ?? `${r.allSeeding?.seeding} only`, ''],
    ['idle cpu %, main: median 10 s (all)', (r) => main(r) && `${main(r).cpuMedianPercent} (${main(r).cpuPercent})`, '<= 5'],
    ['idle cpu %, every process', (r) => r.idle && `${round(Object.values(r.idle.procs).reduce((a, p) => a + p.cpuMedianPercent, 0))} (${round(Object.values(r.idle.procs).reduce((a, p) => a + p.cpuPercent, 0))})`, ''],
    ['rss MiB now (peak), main', (r) => main(r) && `${main(r).rssNowMiB} (${main(r).rssPeakMiB})`, '<= 600'],
    ['rss MiB now (peak), disk-writer', (r) => r.idle?.procs?.['disk-writer'] && `${r.idle.procs['disk-writer'].rssNowMiB} (${r.idle.procs['disk-writer'].rssPeakMiB})`, ''],
    ['announces/min while idle', (r) => r.idle?.announcesPerMinute, ''],
    ['ls gRPC ms (median of 5)', (r) => r.ls?.grpcMedianMs, '<= 1000'],
    ['ls CLI ms (empty list)', (r) => r.ls && (r.ls.cliError ? 'failed' : `${r.ls.cliMs} (${r.ls.cliEmptyMs})`), '<= 1000'],
    ['watch first message ms', (r) => r.watch?.firstMessageMedianMs, ''],
    ['restart: all seeding s', (r) => r.restart?.allSeedingSeconds ?? `${r.restart?.seeding} only`, '<= 60'],
    ['restart: torrents hashed', (r) => r.restart?.torrentsHashed, '0'],
  ];
  for (const [label, get, target] of rows) {
    log(`${label.padEnd(34)}${names.map((n) => String(get(s.clients[n]) ?? '').padStart(w)).join('')}${target.padStart(20)}`);
  }
  for (const n of names) {
    const r = s.clients[n];
    if (r.error) log(`${n}: ${r.error}`);
    if (r.idle) {
      const each = Object.entries(r.idle.procs).map(
        ([p, u]) => `${p} ${u.cpuPercent}% (user ${u.userSeconds} s, sys ${u.sysSeconds} s) rss ${u.rssNowMiB}/${u.rssPeakMiB} MiB, ${u.writeCallsPerSecond} writes/s, ${u.diskWriteMiB} MiB to disk`,
      );
      log(`${n} idle, per process: ${each.join(', ')}`);
    }
    if (r.ls?.cliError) log(`${n} ls CLI: ${r.ls.cliError}`);
  }
}
