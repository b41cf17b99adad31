/**
 * Child processes, temp dirs and cleanup for interop tests.
 *
 * Every process started with `spawnProcess` and every resource registered
 * with `onCleanup` (temp dirs, network namespaces) goes into one registry.
 * `cleanupAll()` (call it from `afterAll` or `afterEach`) undoes them in
 * reverse order, so a process is stopped before the namespace it runs in is
 * deleted and before its temp dir is removed. Processes are stopped by pid:
 * SIGTERM to the process group the child leads, then SIGKILL after a grace
 * period. If the test worker exits without running the hooks (or is
 * killed with SIGTERM/SIGINT/SIGHUP), what is left is SIGKILLed and the
 * synchronous fallbacks run. Only SIGKILL of the worker leaves debris: the
 * python and node peers and aria2 then exit by themselves; a Transmission
 * daemon stays in its namespace, which the next run's clash error names.
 *
 * A process's stdout and stderr go to a log file (usually in the test's temp
 * dir) and to memory, so a process that dies early is reported with the tail
 * of its log instead of a bare timeout.
 *
 * Set SEEDBOX_KEEP_TMP=1 to keep temp dirs (and the logs in them) for a look
 * after the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

// ---------------------------------------------------------------- registry

interface CleanupEntry {
  seq: number;
  label: string;
  run: () => Promise<void> | void;
  /** Best-effort synchronous version, run from the process `exit` handler. */
  runSync?: () => void;
}

interface Registry {
  entries: CleanupEntry[];
  seq: number;
}

// vitest may evaluate this module once per test file in the same worker:
// keep one registry and one exit handler per worker process.
const REGISTRY_KEY = Symbol.for('seedbox.test.support.registry');
const registry: Registry = ((globalThis as Record<symbol, unknown>)[REGISTRY_KEY] as Registry | undefined) ??
  (() => {
    const r: Registry = { entries: [], seq: 0 };
    (globalThis as Record<symbol, unknown>)[REGISTRY_KEY] = r;
    const runAllSync = () => {
      for (const entry of r.entries.splice(0).reverse()) {
        try {
          entry.runSync?.();
        } catch {
          // exiting anyway: nothing better to do
        }
      }
    };
    process.on('exit', runAllSync);
    // A worker killed by a signal skips 'exit': clean up, then die of the
    // same signal as if we had not been listening.
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      const onSignal = () => {
        runAllSync();
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      };
      process.on(sig, onSignal);
    }
    return r;
  })();

/** A handle to take a cleanup off the list once it was done by hand. */
export interface CleanupHandle {
  /** Runs the cleanup now (once) and removes it from the registry. */
  run(): Promise<void>;
  /** Removes it from the registry without running it. */
  forget(): void;
}

/** Registers something to undo in `cleanupAll()` (last in, first out). */
export function onCleanup(label: string, run: () => Promise<void> | void, runSync?: () => void): CleanupHandle {
  // Runs at most once, whether from the handle or from cleanupAll.
  let done: Promise<void> | undefined;
  const once = () => (done ??= Promise.resolve().then(run));
  const entry: CleanupEntry = { seq: ++registry.seq, label, run: once, runSync };
  registry.entries.push(entry);
  const forget = () => {
    const i = registry.entries.indexOf(entry);
    if (i >= 0) registry.entries.splice(i, 1);
  };
  return {
    run() {
      forget();
      return once();
    },
    forget,
  };
}

/**
 * Undoes everything registered, newest first. Runs every entry even when
 * some fail, then throws one error naming all the failures.
 */
export function cleanupAll(): Promise<void> {
  return cleanupAfter(0);
}

/**
 * A point in the registry: `cleanupAfter(mark)` undoes only what was
 * registered after it. For per-test cleanup under per-file fixtures:
 *
 *   let mark = 0;
 *   beforeEach(() => { mark = cleanupMark(); });
 *   afterEach(() => cleanupAfter(mark));
 *   afterAll(cleanupAll);
 */
export function cleanupMark(): number {
  return registry.seq;
}

/** Undoes, newest first, everything registered after `mark`; see `cleanupAll`. */
export async function cleanupAfter(mark: number): Promise<void> {
  const failures: string[] = [];
  for (;;) {
    const entry = registry.entries.at(-1);
    if (!entry || entry.seq <= mark) break;
    registry.entries.pop();
    try {
      await entry.run();
    } catch (err) {
      failures.push(`${entry.label}: ${(err as Error).message}`);
    }
  }
  if (failures.length > 0) throw new Error(`cleanup failed:\n  ${failures.join('\n  ')}`);
}

/** What is still registered (for leak checks in tests). */
export function pendingCleanups(): string[] {
  return registry.entries.map((e) => e.label);
}

// ---------------------------------------------------------------- temp dirs

/** A fresh temp dir, removed by `cleanupAll()` unless SEEDBOX_KEEP_TMP=1. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `sbx-${prefix}-`));
  if (process.env.SEEDBOX_KEEP_TMP !== '1') {
    const remove = () => rmSync(dir, { recursive: true, force: true });
    onCleanup(`remove ${dir}`, remove, remove);
  } else {
    console.warn(`SEEDBOX_KEEP_TMP=1: keeping ${dir}`);
  }
  return dir;
}

// ---------------------------------------------------------------- processes

export interface SpawnOptions {
  /** Short label for messages; defaults to the command's basename. */
  name?: string;
  /** Where stdout and stderr go (appended, both streams interleaved). */
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Thrown when a process we wait on exits first. Its message has the log tail. */
export class ProcessExitedError extends Error {
  override name = 'ProcessExitedError';
  constructor(
    readonly process: string,
    readonly exit: ExitInfo,
    readonly logFile: string,
    readonly waitingFor: string,
    tail: string,
  ) {
    super(
      `${process} exited (${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`}) before ${waitingFor}; ` +
        `last lines of ${logFile}:\n${indent(tail)}`,
    );
  }
}

const MAX_KEPT_OUTPUT = 1 << 20;

/** A child process in the registry, with its output kept for messages. */
export class ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;

  private output = '';
  private readonly lineWaiters = new Set<(line: string) => void>();
  private readonly partial = { stdout: '', stderr: '' };
  private readonly log: WriteStream;
  private readonly cleanup: CleanupHandle;

  constructor(
    readonly child: ChildProcess,
    name: string,
    logFile: string,
    readonly commandLine: string,
  ) {
    if (child.pid === undefined) {
      // spawn reports ENOENT and the like through an 'error' event later.
      child.once('error', () => {});
      throw new Error(`could not start ${commandLine} (is ${basename(commandLine.split(' ')[0] ?? '')} installed?)`);
    }
    this.name = name;
    this.pid = child.pid;
    this.logFile = logFile;
    this.log = createWriteStream(logFile, { flags: 'a' });
    this.log.on('error', () => {
      // The temp dir may be gone at the end of a run; the memory copy stays.
    });
    this.log.write(`$ ${commandLine}\n`);
    child.stdout?.on('data', (chunk: Buffer) => this.onData('stdout', chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.onData('stderr', chunk));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      child.once('error', (err) => {
        this.append(`[spawn error] ${err.message}\n`);
        this.exitInfo ??= { code: null, signal: null };
        resolve(this.exitInfo);
      });
    });
    void this.exited.then(() => {
      this.flushPartial();
      this.log.end();
    });
    this.cleanup = onCleanup(
      `stop ${name} (pid ${this.pid})`,
      () => this.stopNow(),
      () => this.signal('SIGKILL'),
    );
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Everything the process printed so far (the last 1 MiB). */
  text(): string {
    return this.output;
  }

  /** The last `lines` lines of output. */
  tail(lines = 40): string {
    const all = this.output.trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  }

  /** An error that says the process died while we waited for `what`. */
  exitedError(what: string): ProcessExitedError {
    return new ProcessExitedError(`${this.name} (pid ${this.pid})`, this.exitInfo!, this.logFile, what, this.tail());
  }

  /**
   * Resolves with the first output line (seen before or after the call) that
   * matches. Rejects when the process exits first or on timeout, with the log
   * tail either way.
   */
  waitForLine(pattern: RegExp, timeoutMs: number, what = `a line matching ${pattern}`): Promise<RegExpMatchArray> {
    for (const line of this.output.split('\n')) {
      const m = line.match(pattern);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.lineWaiters.delete(onLine);
      };
      const onLine = (line: string) => {
        const m = line.match(pattern);
        if (m) {
          done();
          resolve(m);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what} from ${this.name} (pid ${this.pid}); ` +
              `last lines of ${this.logFile}:\n${indent(this.tail())}`,
          ),
        );
      }, timeoutMs);
      this.lineWaiters.add(onLine);
      void this.exited.then(() => {
        if (!this.lineWaiters.has(onLine)) return;
        done();
        reject(this.exitedError(what));
      });
    });
  }

  /**
   * SIGTERM, then SIGKILL after `graceMs`. Safe to call more than once and
   * after the process has exited.
   */
  stop(graceMs = 3000): Promise<void> {
    this.grace = graceMs;
    return this.cleanup.run();
  }

  private grace = 3000;

  private async stopNow(): Promise<void> {
    if (!this.running) return;
    this.signal('SIGTERM');
    const killed = await Promise.race([this.exited.then(() => true), sleep(this.grace).then(() => false)]);
    if (!killed) {
      this.signal('SIGKILL');
      await Promise.race([this.exited, sleep(5000)]);
    }
  }

  /**
   * Signals the process group the child leads (it was spawned detached), so
   * a shell wrapper's children go too. Only while the leader is not reaped:
   * after that its pid may belong to someone else.
   */
  private signal(sig: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(-this.pid, sig);
    } catch {
      try {
        process.kill(this.pid, sig);
      } catch {
        // already gone
      }
    }
  }

  private onData(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    const s = chunk.toString('utf8');
    this.log.write(s);
    this.append(s);
    const lines = (this.partial[stream] + s).split('\n');
    this.partial[stream] = lines.pop()!;
    for (const line of lines) this.emitLine(line);
  }

  private flushPartial(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream]) this.emitLine(this.partial[stream]);
      this.partial[stream] = '';
    }
  }

  private emitLine(line: string): void {
    for (const waiter of [...this.lineWaiters]) waiter(line);
  }

  private append(s: string): void {
    this.output += s;
    if (this.output.length > MAX_KEPT_OUTPUT) this.output = this.output.slice(-MAX_KEPT_OUTPUT / 2);
  }
}

/**
 * Starts a process in its own process group, registered for cleanup, with
 * its output captured to `opts.logFile`.
 */
export function spawnProcess(cmd: string, args: string[], opts: SpawnOptions): ManagedProcess {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const commandLine = [cmd, ...args].map(shellQuote).join(' ');
  return new ManagedProcess(child, opts.name ?? basename(cmd), opts.logFile, commandLine);
}

// ---------------------------------------------------------------- waiting

export interface WaitOptions {
  intervalMs?: number;
  /** Fail at once (with its log tail) if one of these exits while waiting. */
  watch?: ManagedProcess[];
}

/** Thrown by a `waitFor` predicate to give up at once instead of retrying. */
export class StopWaiting extends Error {
  override name = 'StopWaiting';
}

/**
 * Polls `predicate` until it answers something truthy, and resolves with
 * that. A predicate that throws counts as "not yet" (its last error goes in
 * the timeout message), except a `StopWaiting`, which fails the wait at once.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  timeoutMs: number,
  what: string,
  opts: WaitOptions = {},
): Promise<NonNullable<T>> {
  const interval = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    for (const p of opts.watch ?? []) {
      if (!p.running) throw p.exitedError(what);
    }
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      if (err instanceof StopWaiting) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
  const last = lastError ? ` (last error: ${(lastError as Error).message ?? String(lastError)})` : '';
  const tails = (opts.watch ?? []).map((p) => `\nlast lines of ${p.name} (${p.logFile}):\n${indent(p.tail(20))}`).join('');
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last}${tails}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------- ports

const handedOut = new Set<number>();

/**
 * A TCP port that was free on `host` a moment ago. Never hands out the same
 * port twice in one worker, so two peers started back to back don't collide.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.unref();
      server.once('error', reject);
      server.listen(0, host, () => {
        const addr = server.address();
        server.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no address'))));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`could not find a free port on ${host}`);
}

// ---------------------------------------------------------------- helpers

export function indent(text: string, prefix = '  | '): string {
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

// ---------------------------------------------------------------- one-shot commands

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they came. */
  output: string;
  /** The stdout lines that are JSON objects (the CLI's --json lines). */
  jsonLines: Record<string, unknown>[];
}

/**
 * Runs a command to completion and answers what it printed. Killed with
 * SIGKILL (by its own pid) at the timeout; the result then has code null.
 */
export function runToExit(cmd: string, args: string[], timeoutMs = 60_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      output += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      output += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const jsonLines = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as Record<string, unknown>];
          } catch {
            return [];
          }
        });
      resolve({ code, stdout, stderr, output, jsonLines });
    });
  });
}
