import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ListTorrentsResponse, SeedboxControlClient, Torrent } from '@seedbox/proto';
import { call, controlClient } from './fleet.js';
import { freePort, spawnProcess, type ManagedProcess } from './processes.js';

/** `seedbox serve` as a real process, and a gRPC client of it. */

const cli = join(import.meta.dirname, '..', '..', 'packages/cli/bin/seedbox.js');

export interface Serve {
  process: ManagedProcess;
  control: SeedboxControlClient;
  grpcPort: number;
  metricsPort: number;
  listenPort: number;
  /** The qBittorrent WebAPI and Transmission RPC. */
  webPort: number;
  stop(): Promise<void>;
}

/** Starts serve on `dataDir` (its log beside it) and waits until it is ready; with `--token T` among `extra`, the client carries it. */
export async function startServe(dataDir: string, extra: string[] = [], logName = 'serve'): Promise<Serve> {
  // The log goes beside the data folder, which serve creates: its parent must be there first.
  mkdirSync(join(dataDir, '..'), { recursive: true });
  const grpcPort = await freePort();
  const metricsPort = await freePort();
  const listenPort = await freePort();
  const webPort = await freePort();
  const proc = spawnProcess(
    process.execPath,
    [cli, 'serve', '--data', dataDir, '--grpc-port', String(grpcPort), '--metrics-port', String(metricsPort), '--listen-host', '127.0.0.1', '--listen-port', String(listenPort), '--web-port', String(webPort), ...extra],
    { name: logName, logFile: join(dataDir, '..', `${logName}-${Date.now()}.log`) },
  );
  await proc.waitForLine(/"msg":"ready"/, 30_000, 'seedbox serve to be ready');
  const at = extra.indexOf('--token');
  const control = controlClient(`127.0.0.1:${grpcPort}`, at === -1 ? undefined : extra[at + 1]);
  return {
    process: proc,
    control,
    grpcPort,
    metricsPort,
    listenPort,
    webPort,
    async stop() {
      control.close();
      await proc.stop(15_000);
    },
  };
}

export async function listTorrents(s: Serve): Promise<Torrent[]> {
  return (await call<object, ListTorrentsResponse>(s.control, 'listTorrents', {})).torrents;
}

/** The JSON log lines of a process with this message. */
export function logLines(p: ManagedProcess, msg: string): Record<string, unknown>[] {
  return p
    .text()
    .split('\n')
    .filter((l) => l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l.slice(l.indexOf('{'))) as Record<string, unknown>);
}
