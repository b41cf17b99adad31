/**
 * Docker containers for tests, through testcontainers, held to the same
 * rules as processes (processes.ts): every container and network is in the
 * cleanup registry from the moment Docker creates it (so a test that fails,
 * or a worker that dies, still removes it, by its own id), and its output
 * goes to a log file and to memory, so a wait that fails says what the
 * container printed.
 *
 * testcontainers' reaper (Ryuk) is an image from a registry these machines
 * cannot reach: `TESTCONTAINERS_RYUK_DISABLED=true` is required, and this
 * registry does its job. `TESTCONTAINERS_HOST_OVERRIDE=localhost` saves it
 * from pulling an image to find the host. Both default to that here.
 *
 * Images without a shell (all of ours) need a wait strategy that runs
 * nothing inside: `Wait.forLogMessage` or `Wait.forHttp`, not the default
 * port check.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { promisify } from 'node:util';
import { GenericContainer, Network, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { indent, onCleanup, StopWaiting, type CleanupHandle } from './processes.js';

process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';

const execFileAsync = promisify(execFile);
const MAX_KEPT_OUTPUT = 1 << 20;

/** `docker rm -f` of a container or `docker network rm`; "no such ..." counts as done. */
async function dockerRemove(kind: 'container' | 'network', id: string): Promise<void> {
  const args = kind === 'container' ? ['rm', '-f', '-v', id] : ['network', 'rm', id];
  try {
    await execFileAsync('docker', args, { timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    if (!/no such|not found/i.test(e.stderr ?? '')) throw new Error(`docker ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
  }
}

function dockerRemoveSync(kind: 'container' | 'network', id: string): void {
  spawnSync('docker', kind === 'container' ? ['rm', '-f', '-v', id] : ['network', 'rm', id], { stdio: 'ignore', timeout: 30_000 });
}

/** A user-defined bridge network, removed by the cleanup registry. */
export async function startNetwork(): Promise<StartedNetwork> {
  const network = await new Network().start();
  const id = network.getId();
  onCleanup(
    `remove network ${network.getName()}`,
    () => dockerRemove('network', id),
    () => dockerRemoveSync('network', id),
  );
  return network;
}

/**
 * A GenericContainer that registers itself for cleanup as soon as Docker has
 * created it (before it starts, before its wait strategy passes) and keeps
 * its output. Configure it with the usual `with*` calls, then `run()`.
 */
export class RegisteredContainer extends GenericContainer {
  private output = '';
  private ended = false;
  private cleanup: CleanupHandle | undefined;
  private id = '';

  constructor(
    image: string,
    /** Short name for messages: "peer-worker pw1". */
    readonly label: string,
    readonly logFile: string,
  ) {
    super(image);
    const log = createWriteStream(logFile, { flags: 'a' });
    log.on('error', () => {
      // The temp dir may be gone at the end of a run; the memory copy stays.
    });
    this.withLogConsumer((stream) => {
      stream.on('data', (chunk: Buffer | string) => {
        const s = chunk.toString();
        log.write(s);
        this.output += s;
        if (this.output.length > MAX_KEPT_OUTPUT) this.output = this.output.slice(-MAX_KEPT_OUTPUT / 2);
      });
      // The log stream follows the container and ends when it stops.
      stream.on('end', () => {
        this.ended = true;
        log.end();
      });
      stream.on('error', () => {
        this.ended = true;
      });
    });
  }

  protected override async containerCreated(containerId: string): Promise<void> {
    this.id = containerId;
    this.cleanup = onCleanup(
      `remove container ${this.label} (${containerId.slice(0, 12)})`,
      () => dockerRemove('container', containerId),
      () => dockerRemoveSync('container', containerId),
    );
  }

  /** Starts it; a failure says what the container printed. */
  async run(): Promise<RunningContainer> {
    try {
      return new RunningContainer(await this.start(), this);
    } catch (err) {
      throw new Error(`${this.label} did not start: ${(err as Error).message}\nlast lines of ${this.logFile}:\n${indent(this.tail())}`, {
        cause: err,
      });
    }
  }

  /** True once its log stream ended: the container stopped. */
  get stopped(): boolean {
    return this.ended;
  }

  /** Removes the container (through its cleanup entry, so only once). */
  async remove(): Promise<void> {
    if (this.cleanup) await this.cleanup.run();
    else if (this.id) await dockerRemove('container', this.id);
  }

  text(): string {
    return this.output;
  }

  tail(lines = 30): string {
    return this.output.trimEnd().split('\n').slice(-lines).join('\n');
  }
}

/** A started container: its addresses, `exec`, its output, and `stop()`. */
export class RunningContainer {
  constructor(
    readonly started: StartedTestContainer,
    private readonly spec: RegisteredContainer,
  ) {}

  get label(): string {
    return this.spec.label;
  }

  get id(): string {
    return this.started.getId();
  }

  /** False once its output stream ended: the container stopped. */
  get running(): boolean {
    return !this.spec.stopped;
  }

  /** Its address on `network`. */
  ip(network: StartedNetwork): string {
    return this.started.getIpAddress(network.getName());
  }

  /** The host port Docker mapped to the exposed container `port`. */
  port(port: number): number {
    return this.started.getMappedPort(port);
  }

  text(): string {
    return this.spec.text();
  }

  tail(lines = 30): string {
    return this.spec.tail(lines);
  }

  /** Runs a command inside (no shell: argv as given); answers its output, throws unless it exits 0. */
  async exec(argv: string[]): Promise<string> {
    const r = await this.started.exec(argv);
    if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} in ${this.label} exited ${r.exitCode}: ${r.output.trim()}`);
    return r.stdout;
  }

  /** A StopWaiting (ends a `waitFor` at once) if the container has stopped. */
  assertRunning(what: string): void {
    if (!this.running) {
      throw new StopWaiting(`${this.label} stopped while waiting for ${what}; last lines of ${this.spec.logFile}:\n${indent(this.tail())}`);
    }
  }

  /** Removes the container now (SIGKILL; the services' graceful exit is tested elsewhere). Idempotent. */
  stop(): Promise<void> {
    return this.spec.remove();
  }

  /**
   * `docker stop` (SIGTERM, then SIGKILL after `graceSeconds`), for a clean
   * exit, e.g. so a client sends its `stopped` announces; then removed.
   */
  async stopGracefully(graceSeconds = 10): Promise<void> {
    try {
      await execFileAsync('docker', ['stop', '-t', String(graceSeconds), this.id], { timeout: (graceSeconds + 20) * 1000 });
    } finally {
      await this.stop();
    }
  }
}

/** Tails of the given containers' logs, for a failure message. */
export function containerTails(containers: RunningContainer[], lines = 15): string {
  return containers.map((c) => `\nlast lines of ${c.label}:\n${indent(c.tail(lines))}`).join('');
}
