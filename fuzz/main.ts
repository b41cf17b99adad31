import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { crashOf, DEFAULT_MEMORY_LIMIT_BYTES, DEFAULT_TIME_LIMIT_MS, makeCase, mergeResults, runCase, runRange, type Crash, type RangeResult } from './engine.js';
import { findTargets, TARGETS } from './targets/index.js';

/**
 * `npm run fuzz`: every target for a million cases (or --cases N), each
 * range of cases in a worker thread. The workers are what make the
 * memory and hang bounds hard: a worker runs with a capped heap (a case
 * that blows it kills the worker, not the run), and publishes the index of
 * the case it is on, so a watchdog can end a worker stuck in one case.
 * Either way the case is reported, a new worker takes over after it, and
 * the cases since the worker's last progress report are run again (they
 * are deterministic), so the counts stay exact.
 *
 *   npm run fuzz                                   # every target, 1,000,000 cases each, a random seed
 *   npm run fuzz -- --target wire,pex --cases 1e5 --seed 42
 *   npm run fuzz -- --target wire --seed 42 --case 73311   # one case again: its bytes, outcome and stack
 *   npm run fuzz -- --list
 */

interface Unit {
  target: string;
  seed: number;
  start: number;
  count: number;
  timeLimitMs: number;
  memoryLimitBytes: number;
}

type FromWorker = { type: 'progress'; partial: RangeResult } | { type: 'done'; result: RangeResult };

const WORKER_HEAP_MB = 768;
const PROGRESS_EVERY = 8192;

// ---- worker ----

function workerMain(): void {
  const shared = new Int32Array(workerData.shared as SharedArrayBuffer);
  parentPort!.on('message', (unit: Unit) => {
    void (async () => {
      Atomics.store(shared, 0, -1);
      const [target] = findTargets([unit.target]);
      const result = await runRange(target!, {
        ...unit,
        onCase: (i) => Atomics.store(shared, 0, i),
        onProgress: (partial) => parentPort!.postMessage({ type: 'progress', partial } satisfies FromWorker),
        progressEvery: PROGRESS_EVERY,
      });
      parentPort!.postMessage({ type: 'done', result } satisfies FromWorker);
    })();
  });
}

// ---- the pool ----

interface Slot {
  worker: Worker;
  shared: Int32Array;
  unit: Unit | undefined;
  partial: RangeResult | undefined;
  lastIndex: number;
  lastChange: number;
}

interface PoolOptions {
  jobs: number;
  hangMs: number;
  onUnitDone(result: RangeResult): void;
  /** What a unit in flight has done so far. */
  onProgress?(unit: Unit, partial: RangeResult): void;
}

/** Runs the units on `jobs` workers; answers when every case of every unit has been run or reported. */
function runPool(units: Unit[], o: PoolOptions): Promise<void> {
  const queue = [...units];
  const slots: Slot[] = [];
  return new Promise((resolve, reject) => {
    let finished = false;
    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      clearInterval(watchdog);
      for (const s of slots) void s.worker.terminate();
      if (err) reject(err);
      else resolve();
    };

    const spawn = (): Slot => {
      const shared = new Int32Array(new SharedArrayBuffer(4));
      const worker = new Worker(new URL(import.meta.url), {
        workerData: { shared: shared.buffer },
        resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
        // Crash stacks name the TypeScript sources, through the bundle's inline source map.
        // (Process-wide flags such as --openssl-legacy-provider are not allowed here, and apply to workers anyway.)
        execArgv: ['--enable-source-maps'],
      });
      const slot: Slot = { worker, shared, unit: undefined, partial: undefined, lastIndex: -2, lastChange: Date.now() };
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'progress') {
          slot.partial = m.partial;
          if (slot.unit) o.onProgress?.(slot.unit, m.partial);
        }
        else {
          slot.unit = undefined;
          slot.partial = undefined;
          o.onUnitDone(m.result);
          next(slot);
        }
      });
      worker.on('error', (err) => died(slot, (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'out-of-memory' : 'exception', err));
      worker.on('exit', (code) => {
        if (!finished && slot.unit) died(slot, 'exception', new Error(`the worker exited with code ${code} during the case`));
      });
      return slot;
    };

    const next = (slot: Slot) => {
      const unit = queue.shift();
      if (!unit) {
        if (slots.every((s) => !s.unit)) finish();
        return;
      }
      slot.unit = unit;
      slot.partial = undefined;
      slot.lastIndex = -2;
      slot.lastChange = Date.now();
      slot.worker.postMessage(unit);
    };

    /** A worker died in a case, or was ended for hanging in one: that case is a crash, the rest of its unit goes back in the queue. */
    const died = (slot: Slot, kind: Crash['kind'], err?: unknown) => {
      const unit = slot.unit;
      if (!unit || finished) return;
      slot.unit = undefined;
      const index = Atomics.load(slot.shared, 0);
      if (index < 0) {
        finish(new Error(`fuzz target ${unit.target} failed before its first case: ${(err as Error)?.stack ?? String(err)}`));
        return;
      }
      const [target] = findTargets([unit.target]);
      let input: Uint8Array | undefined;
      try {
        input = makeCase(target!, unit.seed, index);
      } catch {
        input = undefined;
      }
      const message = kind === 'hang' ? `no answer after ${o.hangMs} ms: the worker was ended` : kind === 'out-of-memory' ? `the worker ran out of its ${WORKER_HEAP_MB} MiB heap` : undefined;
      const crash = crashOf(target!, unit.seed, index, input, kind, { ...(message !== undefined && { message }), ...(kind === 'exception' && { error: err }) });
      const done = slot.partial ?? { target: unit.target, seed: unit.seed, start: unit.start, count: 0, outcomes: {}, crashes: [], elapsedMs: 0, slowestMs: 0, slowestIndex: -1, maxGrownBytes: 0 };
      o.onUnitDone({ ...done, count: done.count + 1, outcomes: { ...done.outcomes, crash: (done.outcomes['crash'] ?? 0) + 1 }, crashes: [...done.crashes, crash] });
      // The cases after the last progress report and before the crash are run again; then the rest of the unit.
      const resumeAt = unit.start + done.count;
      const end = unit.start + unit.count;
      if (index > resumeAt) queue.unshift({ ...unit, start: resumeAt, count: index - resumeAt });
      if (end > index + 1) queue.push({ ...unit, start: index + 1, count: end - index - 1 });
      void slot.worker.terminate();
      const fresh = spawn();
      slots[slots.indexOf(slot)] = fresh;
      next(fresh);
    };

    const watchdog = setInterval(() => {
      const now = Date.now();
      for (const s of slots) {
        if (!s.unit) continue;
        const index = Atomics.load(s.shared, 0);
        if (index !== s.lastIndex) {
          s.lastIndex = index;
          s.lastChange = now;
        } else if (index >= 0 && now - s.lastChange > o.hangMs) died(s, 'hang');
      }
    }, 250);

    for (let i = 0; i < o.jobs; i++) slots.push(spawn());
    for (const s of slots) next(s);
  });
}

// ---- the command ----

function count(text: string, name: string): number {
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, got '${text}'`);
  return n;
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function duration(ms: number): string {
  const s = ms / 1000;
  return s < 120 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function hexdump(bytes: Uint8Array, max = 512): string {
  const lines: string[] = [];
  for (let i = 0; i < Math.min(bytes.length, max); i += 16) {
    const row = bytes.subarray(i, Math.min(i + 16, bytes.length));
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`  ${i.toString(16).padStart(6, '0')}  ${hex.padEnd(47)}  ${text}`);
  }
  if (bytes.length > max) lines.push(`  ... ${bytes.length - max} more bytes (--out FILE writes them all)`);
  return lines.join('\n');
}

interface Summary {
  target: string;
  covers: string;
  seeds: number;
  result: RangeResult;
  wallMs: number;
}

function topOutcomes(outcomes: Record<string, number>, n = 4): string {
  return Object.entries(outcomes)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(', ');
}

async function reproduce(targetName: string, seed: number, index: number, out: string | undefined, limits: { timeLimitMs: number; memoryLimitBytes: number }): Promise<number> {
  const [target] = findTargets([targetName]);
  const input = makeCase(target!, seed, index);
  console.log(`target ${target!.name}, seed ${seed}, case ${index}: ${input.length} bytes`);
  console.log(hexdump(input));
  if (out) {
    writeFileSync(out, input);
    console.log(`written to ${out}`);
  }
  const r = await runCase(target!, seed, index, limits, input);
  if (!r.crash) {
    console.log(`outcome: ${r.label} in ${r.ms.toFixed(2)} ms`);
    return 0;
  }
  console.log(`CRASH (${r.crash.kind}): ${r.crash.message}`);
  if (r.crash.stack) console.log(r.crash.stack);
  return 1;
}

async function cli(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      cases: { type: 'string', default: '1000000' },
      target: { type: 'string', multiple: true },
      seed: { type: 'string' },
      case: { type: 'string' },
      out: { type: 'string' },
      jobs: { type: 'string' },
      'time-limit-ms': { type: 'string', default: String(DEFAULT_TIME_LIMIT_MS) },
      'memory-limit-mb': { type: 'string', default: String(DEFAULT_MEMORY_LIMIT_BYTES / 1048576) },
      'hang-ms': { type: 'string', default: '10000' },
      json: { type: 'string' },
      list: { type: 'boolean' },
    },
  });
  if (values.list) {
    for (const t of TARGETS) console.log(`${t.name.padEnd(20)} ${String(t.seeds().length).padStart(3)} seeds  ${t.covers}`);
    return 0;
  }
  const names = values.target?.flatMap((t) => t.split(',')).filter((t) => t !== '');
  const targets = findTargets(names);
  const limits = { timeLimitMs: count(values['time-limit-ms'], 'time-limit-ms'), memoryLimitBytes: count(values['memory-limit-mb'], 'memory-limit-mb') * 1048576 };
  const seed = values.seed === undefined ? randomInt(2 ** 31) : count(values.seed, 'seed') >>> 0;
  if (values.case !== undefined) {
    if (targets.length !== 1) throw new Error('--case needs exactly one --target');
    return reproduce(targets[0]!.name, seed, count(values.case, 'case'), values.out, limits);
  }
  const cases = count(values.cases, 'cases');
  // One worker by default on a 2-core machine, leaving a core for everything else.
  const jobs = values.jobs === undefined ? Math.max(1, availableParallelism() - 1) : Math.max(1, count(values.jobs, 'jobs'));
  const hangMs = count(values['hang-ms'], 'hang-ms');
  console.log(`fuzz: ${targets.length} targets × ${fmt(cases)} cases, seed ${seed}, ${jobs} worker${jobs > 1 ? 's' : ''}, bounds ${limits.timeLimitMs} ms and ${limits.memoryLimitBytes / 1048576} MiB per case, ${hangMs} ms to a hang, ${WORKER_HEAP_MB} MiB heap per worker`);

  const chunk = Math.max(1, Math.min(250_000, Math.ceil(cases / jobs)));
  const units: Unit[] = [];
  for (const t of targets) for (let start = 0; start < cases; start += chunk) units.push({ target: t.name, seed, start, count: Math.min(chunk, cases - start), ...limits });

  const results = new Map<string, RangeResult>();
  const firstStart = new Map<string, number>();
  const summaries: Summary[] = [];
  const t0 = Date.now();
  for (const t of targets) firstStart.set(t.name, t0);
  const seen = new Set<string>();
  const announced = new Set<string>();
  const inFlight = new Map<Unit, number>();
  let lastReport = Date.now();
  await runPool(units, {
    jobs,
    hangMs,
    onProgress(unit, partial) {
      inFlight.set(unit, partial.count);
      if (Date.now() - lastReport < 30_000) return;
      lastReport = Date.now();
      const done = new Map<string, number>();
      for (const [u, n] of inFlight) done.set(u.target, (done.get(u.target) ?? 0) + n);
      for (const [name, r] of results) done.set(name, (done.get(name) ?? 0) + r.count);
      const busy = [...new Set([...inFlight.keys()].map((u) => u.target))];
      console.log(`  [${duration(Date.now() - t0)}] ${busy.map((name) => `${name} ${fmt(done.get(name) ?? 0)}/${fmt(cases)}`).join(', ')}`);
    },
    onUnitDone(r) {
      for (const u of inFlight.keys()) if (u.target === r.target && u.start === r.start) inFlight.delete(u);
      if (!seen.has(r.target)) {
        seen.add(r.target);
        firstStart.set(r.target, Date.now() - r.elapsedMs);
      }
      const sum = results.has(r.target) ? mergeResults(results.get(r.target)!, r) : r;
      results.set(r.target, sum);
      for (const c of r.crashes) {
        // Each bug once as it is found; the summary counts them all.
        if (announced.has(`${c.target} ${c.signature}`)) continue;
        announced.add(`${c.target} ${c.signature}`);
        console.log(`  CRASH ${c.target} case ${c.index} (${c.kind}): ${c.message.split('\n')[0]}`);
      }
      if (sum.count === cases) {
        const t = targets.find((x) => x.name === r.target)!;
        const wallMs = Date.now() - firstStart.get(r.target)!;
        summaries.push({ target: t.name, covers: t.covers, seeds: t.seeds().length, result: sum, wallMs });
        const rate = Math.round(sum.count / (sum.elapsedMs / 1000));
        console.log(
          `${t.name.padEnd(20)} ${fmt(sum.count).padStart(11)} cases  ${duration(sum.elapsedMs).padStart(12)}  ${fmt(rate).padStart(8)}/s  slowest ${sum.slowestMs.toFixed(1)} ms  crashes ${sum.crashes.length}  [${topOutcomes(sum.outcomes)}]`,
        );
      }
    },
  });
  const totalMs = Date.now() - t0;
  const crashes = summaries.flatMap((s) => s.result.crashes);
  const bySignature = new Map<string, Crash[]>();
  for (const c of crashes) bySignature.set(`${c.target} ${c.signature}`, [...(bySignature.get(`${c.target} ${c.signature}`) ?? []), c]);
  console.log(`\n${fmt(summaries.reduce((n, s) => n + s.result.count, 0))} cases in ${duration(totalMs)}; ${crashes.length} crash${crashes.length === 1 ? '' : 'es'}, ${bySignature.size} distinct`);
  for (const [signature, list] of bySignature) {
    const c = list[0]!;
    console.log(`\n${signature} (${list.length}×)\n  first: ${c.message.split('\n')[0]}\n  again: npm run fuzz -- --target ${c.target} --seed ${c.seed} --case ${c.index}`);
  }
  if (values.json) {
    const report = {
      seed,
      casesPerTarget: cases,
      jobs,
      limits: { timeLimitMs: limits.timeLimitMs, memoryLimitMiB: limits.memoryLimitBytes / 1048576, hangMs, workerHeapMiB: WORKER_HEAP_MB },
      node: process.version,
      cpu: cpus()[0]?.model,
      totalMs,
      targets: summaries.map((s) => ({ ...s, result: { ...s.result, crashes: s.result.crashes.map(({ stack: _s, inputBase64: _i, ...c }) => c) } })),
      crashes: [...bySignature].map(([signature, list]) => ({ signature, count: list.length, first: list[0] })),
    };
    writeFileSync(values.json, JSON.stringify(report, null, 2));
  }
  return crashes.length > 0 ? 1 : 0;
}

if (isMainThread) {
  cli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`fuzz: ${(err as Error)?.stack ?? String(err)}`);
      process.exitCode = 2;
    },
  );
} else workerMain();
