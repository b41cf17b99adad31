import { getHeapStatistics } from 'node:v8';
import { mutate, SHARED_TOKENS, tokenBytes, type MutateContext } from './mutate.js';
import { caseRng } from './rng.js';
import { errorLabel, type FuzzTarget } from './target.js';

/**
 * Makes cases and runs them: the loop the worker threads (main.ts) and
 * the short run inside `npm test` (test/fuzz.test.ts) share.
 *
 * A case is a pure function of (seed, target, index): cases 0..n-1 are the
 * n seeds as they are; after that, 5 % random bytes, 10 % made by the
 * target's generator (a third of those mutated further) and 85 % a seed
 * mutated: with 1-8 stacked byte mutations (mutate.ts), or, for 40 % of
 * them when the target has one, a change that keeps the format's syntax
 * (structured.ts).
 *
 * A crash is one of:
 * - exception: the decoder threw something that is not its typed error;
 * - slow: the case took longer than the time bound (50 ms per 64 KiB of
 *   input, at least 50 ms), in five runs out of five;
 * - memory: the heap (JS objects and ArrayBuffers) grew by more than the
 *   memory bound during the case, in both runs;
 * - hang / out-of-memory: found by main.ts, which watches the workers.
 */

export const DEFAULT_TIME_LIMIT_MS = 50;
export const DEFAULT_MEMORY_LIMIT_BYTES = 32 * 1024 * 1024;
const DEFAULT_MAX_INPUT = 64 * 1024;
/** How many distinct outcome labels a range keeps apart; the rest are counted as "other". */
const MAX_LABELS = 64;

export type CrashKind = 'exception' | 'slow' | 'memory' | 'hang' | 'out-of-memory';

export interface Crash {
  target: string;
  seed: number;
  index: number;
  kind: CrashKind;
  /** What makes two crashes the same bug: kind, error class, message shape, where it was thrown. */
  signature: string;
  message: string;
  stack?: string;
  inputLength: number;
  /** The input, when it is at most 4 KiB; a longer one is rebuilt with --case. */
  inputBase64?: string;
  ms?: number;
  grownBytes?: number;
}

export interface RangeResult {
  target: string;
  seed: number;
  start: number;
  /** Cases run. */
  count: number;
  /** Outcome label (the decoder's answer, or its error's code) → cases. */
  outcomes: Record<string, number>;
  crashes: Crash[];
  elapsedMs: number;
  slowestMs: number;
  slowestIndex: number;
  maxGrownBytes: number;
}

export interface RangeOptions {
  seed: number;
  start: number;
  count: number;
  timeLimitMs?: number;
  memoryLimitBytes?: number;
  /** Called before each case with its index (the worker publishes it for the hang watchdog). */
  onCase?: (index: number) => void;
  /** Called every `progressEvery` cases with the result so far. */
  onProgress?: (partial: RangeResult) => void;
  progressEvery?: number;
}

interface Prepared {
  target: FuzzTarget;
  seeds: Uint8Array[];
  ctx: MutateContext;
}

const prepared = new WeakMap<FuzzTarget, Prepared>();

function prepare(target: FuzzTarget): Prepared {
  let p = prepared.get(target);
  if (!p) {
    const seeds = target.seeds();
    if (seeds.length === 0) throw new Error(`fuzz target ${target.name} has no seeds`);
    const maxLength = target.maxInputBytes ?? DEFAULT_MAX_INPUT;
    p = { target, seeds, ctx: { seeds, tokens: tokenBytes([...SHARED_TOKENS, ...(target.tokens ?? [])]), maxLength } };
    prepared.set(target, p);
  }
  return p;
}

/** The input of case `index`. */
export function makeCase(target: FuzzTarget, seed: number, index: number): Uint8Array {
  const { seeds, ctx } = prepare(target);
  if (index < seeds.length) return Uint8Array.from(seeds[index]!);
  const rng = caseRng(seed, target.name, index);
  const r = rng.below(100);
  let data: Uint8Array;
  if (r < 5) data = rng.bytes(rng.size(rng.chance(0.9) ? 10 : 15));
  else if (r < 15) {
    data = target.generate ? target.generate(rng) : rng.bytes(rng.size(10));
    if (rng.chance(0.33)) data = mutate(data, rng, ctx);
  } else {
    const seedBytes = rng.pick(seeds);
    const structured = target.structured && rng.chance(0.4) ? target.structured(seedBytes, rng) : undefined;
    // A structural change is followed by byte mutations a third of the time.
    data = structured === undefined ? mutate(seedBytes, rng, ctx) : rng.chance(0.33) ? mutate(structured, rng, ctx) : structured;
  }
  if (data.length > ctx.maxLength) data = data.subarray(0, ctx.maxLength);
  // A private copy, so no decoder can reach a seed or another case's bytes.
  return Uint8Array.from(data);
}

function heapBytes(): number {
  const s = getHeapStatistics();
  return s.used_heap_size + s.external_memory;
}

function isPromise(v: unknown): v is Promise<unknown> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

interface Measured {
  label: string | undefined;
  threw: boolean;
  error: unknown;
  ms: number;
  grown: number;
}

async function measure(target: FuzzTarget, input: Uint8Array): Promise<Measured> {
  const m0 = heapBytes();
  const t0 = performance.now();
  let label: string | undefined;
  let threw = false;
  let error: unknown;
  try {
    const r = target.run(input);
    // Only asynchronous decoders pay for an await.
    label = (isPromise(r) ? await r : r) ?? undefined;
  } catch (err) {
    threw = true;
    error = err;
  }
  return { label, threw, error, ms: performance.now() - t0, grown: heapBytes() - m0 };
}

/** The first stack frame in our own code (src/, fuzz/, test/), which is what tells two crashes apart. */
function throwSite(stack: string | undefined): string {
  for (const line of (stack ?? '').split('\n').slice(1)) {
    if (line.includes('node_modules')) continue;
    const m = /((?:packages|services|fuzz|test)\/[^\s)]+)/.exec(line);
    if (m) return m[1]!.replace(/:\d+$/, '');
  }
  return '?';
}

export function describeThrown(err: unknown): { name: string; message: string; stack?: string } {
  if (err instanceof Error) return { name: err.name, message: err.message, ...(err.stack !== undefined && { stack: err.stack }) };
  let text: string;
  try {
    text = typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
  } catch {
    text = String(err);
  }
  return { name: typeof err, message: text };
}

export function crashOf(target: FuzzTarget, seed: number, index: number, input: Uint8Array | undefined, kind: CrashKind, detail: { error?: unknown; message?: string; ms?: number; grown?: number }): Crash {
  const thrown = detail.error === undefined ? undefined : describeThrown(detail.error);
  const message = detail.message ?? (thrown ? `${thrown.name}: ${thrown.message}` : kind);
  const shape = thrown ? `${thrown.name}: ${thrown.message.replace(/\d+/g, 'N').slice(0, 120)} @ ${throwSite(thrown.stack)}` : kind;
  const crash: Crash = { target: target.name, seed, index, kind, signature: `${kind}: ${shape}`, message, inputLength: input?.length ?? -1 };
  if (thrown?.stack !== undefined) crash.stack = thrown.stack;
  if (input && input.length <= 4096) crash.inputBase64 = Buffer.from(input).toString('base64');
  if (detail.ms !== undefined) crash.ms = Math.round(detail.ms * 10) / 10;
  if (detail.grown !== undefined) crash.grownBytes = detail.grown;
  return crash;
}

/** Runs one case, confirming a slow or memory-hungry one by running it again; answers its label, or the crash. */
export async function runCase(target: FuzzTarget, seed: number, index: number, limits: { timeLimitMs: number; memoryLimitBytes: number }, input = makeCase(target, seed, index)): Promise<{ label: string; ms: number; grown: number; crash?: Crash }> {
  const m = await measure(target, input);
  if (m.threw && !target.isTypedError(m.error)) return { label: 'crash', ms: m.ms, grown: m.grown, crash: crashOf(target, seed, index, input, 'exception', { error: m.error, ms: m.ms }) };
  // The bound is per 64 KiB of input: a decoder may take time linear in what it is given.
  const timeLimit = (target.timeLimitMs ?? limits.timeLimitMs) * Math.max(1, input.length / 65536);
  if (m.ms > timeLimit) {
    // A pause for garbage collection or another process can make any one
    // run slow: the case is run again, up to four times, spaced out, and
    // counts as slow only if every run was.
    let fastest = m.ms;
    for (let retry = 0; retry < 4 && fastest > timeLimit; retry++) {
      await new Promise((r) => setTimeout(r, 50 * retry));
      fastest = Math.min(fastest, (await measure(target, input)).ms);
    }
    if (fastest > timeLimit) {
      const message = `took ${fastest.toFixed(1)} ms at best in five runs, over the ${timeLimit.toFixed(0)} ms bound for ${input.length} bytes`;
      return { label: 'crash', ms: fastest, grown: m.grown, crash: crashOf(target, seed, index, input, 'slow', { message, ms: fastest }) };
    }
  }
  if (m.grown > limits.memoryLimitBytes) {
    const again = await measure(target, input);
    if (again.grown > limits.memoryLimitBytes) {
      const mib = (again.grown / 1048576).toFixed(1);
      return { label: 'crash', ms: m.ms, grown: again.grown, crash: crashOf(target, seed, index, input, 'memory', { message: `grew the heap by ${mib} MiB, over the ${limits.memoryLimitBytes / 1048576} MiB bound`, grown: again.grown }) };
    }
  }
  const label = m.threw ? errorLabel(m.error) : (m.label ?? 'value');
  return { label, ms: m.ms, grown: m.grown };
}

/** Runs cases start..start+count-1 of a target. */
export async function runRange(target: FuzzTarget, o: RangeOptions): Promise<RangeResult> {
  const limits = { timeLimitMs: o.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS, memoryLimitBytes: o.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT_BYTES };
  const result: RangeResult = { target: target.name, seed: o.seed, start: o.start, count: 0, outcomes: {}, crashes: [], elapsedMs: 0, slowestMs: 0, slowestIndex: -1, maxGrownBytes: 0 };
  const outcomes = new Map<string, number>();
  const every = o.progressEvery ?? 16384;
  const t0 = performance.now();
  prepare(target);
  const snapshot = (): RangeResult => ({ ...result, outcomes: Object.fromEntries(outcomes), crashes: [...result.crashes], elapsedMs: performance.now() - t0 });
  for (let i = o.start; i < o.start + o.count; i++) {
    o.onCase?.(i);
    const r = await runCase(target, o.seed, i, limits);
    if (r.crash) result.crashes.push(r.crash);
    const label = outcomes.has(r.label) || outcomes.size < MAX_LABELS ? r.label : 'other';
    outcomes.set(label, (outcomes.get(label) ?? 0) + 1);
    if (r.ms > result.slowestMs) {
      result.slowestMs = r.ms;
      result.slowestIndex = i;
    }
    if (r.grown > result.maxGrownBytes) result.maxGrownBytes = r.grown;
    result.count++;
    if (o.onProgress && result.count % every === 0) o.onProgress(snapshot());
  }
  return snapshot();
}

/** Adds `b` into `a` (two ranges of the same target and seed). */
export function mergeResults(a: RangeResult, b: RangeResult): RangeResult {
  const outcomes = { ...a.outcomes };
  for (const [k, v] of Object.entries(b.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
  const slower = b.slowestMs > a.slowestMs;
  return {
    target: a.target,
    seed: a.seed,
    start: Math.min(a.start, b.start),
    count: a.count + b.count,
    outcomes,
    crashes: [...a.crashes, ...b.crashes],
    elapsedMs: a.elapsedMs + b.elapsedMs,
    slowestMs: slower ? b.slowestMs : a.slowestMs,
    slowestIndex: slower ? b.slowestIndex : a.slowestIndex,
    maxGrownBytes: Math.max(a.maxGrownBytes, b.maxGrownBytes),
  };
}
