/**
 * A real nats-server for tests, with JetStream, started from the binary
 * (Debian's nats-server). It can be stopped and started again on the same
 * port and store, which is how tests restart NATS under a running fleet.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, makeTempDir, spawnProcess, type ManagedProcess } from './processes.js';

export interface NatsServerOptions {
  port?: number;
  /** Bytes; nats-server's default is 1 MiB. */
  maxPayload?: number;
  workDir?: string;
}

export interface RunningNats {
  port: number;
  url: string;
  process: ManagedProcess;
  /** Stops the server (SIGTERM, then SIGKILL) and starts it again on the same port and store. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startNatsServer(opts: NatsServerOptions = {}): Promise<RunningNats> {
  const port = opts.port ?? (await freePort());
  const workDir = opts.workDir ?? makeTempDir('nats');
  const store = join(workDir, 'jetstream');
  mkdirSync(store, { recursive: true });
  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store];
  if (opts.maxPayload !== undefined) {
    // max_payload has no flag: it goes in a config file.
    const conf = join(workDir, 'nats.conf');
    writeFileSync(conf, `max_payload: ${opts.maxPayload}\n`);
    args.push('-c', conf);
  }
  const launch = async (): Promise<ManagedProcess> => {
    const p = spawnProcess('nats-server', args, { name: 'nats-server', logFile: join(workDir, 'nats.log') });
    await p.waitForLine(/Server is ready/, 15_000, 'nats-server to be ready');
    return p;
  };
  const running: RunningNats = {
    port,
    url: `nats://127.0.0.1:${port}`,
    process: await launch(),
    async restart(downMs = 500) {
      await running.process.stop();
      await new Promise((r) => setTimeout(r, downMs));
      running.process = await launch();
    },
    stop: () => running.process.stop(),
  };
  return running;
}
