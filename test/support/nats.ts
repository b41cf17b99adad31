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
  /** Clients only over TLS with this certificate; with `verify`, only those with a certificate `ca` signed. */
  tls?: { cert: string; key: string; ca: string; verify?: boolean };
  /** Clients must give this user and password. */
  auth?: { user: string; password: string };
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
  if (opts.auth) args.push('--user', opts.auth.user, '--pass', opts.auth.password);
  // max_payload and TLS with client certificates have no flags: they go in a config file.
  const conf: string[] = [];
  if (opts.maxPayload !== undefined) conf.push(`max_payload: ${opts.maxPayload}`);
  if (opts.tls) {
    const t = opts.tls;
    conf.push(`tls {\n  cert_file: ${JSON.stringify(t.cert)}\n  key_file: ${JSON.stringify(t.key)}\n  ca_file: ${JSON.stringify(t.ca)}\n  verify: ${t.verify ?? false}\n}`);
  }
  if (conf.length > 0) {
    const file = join(workDir, 'nats.conf');
    writeFileSync(file, `${conf.join('\n')}\n`);
    args.push('-c', file);
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
