/**
 * The distributed mode as processes, for tests: peer-workers, disk-writers
 * and a tracker-client, each `node services/<name>/dist/main.js` with its
 * configuration in environment variables, as a pod runs it. Every process
 * gets its own metrics and gRPC ports; all share one data folder (the
 * "shared volume") and one NATS.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SeedboxControlClient } from '@seedbox/proto';
import { bearerTokenInterceptor } from '@seedbox/runtime';
import { freePort, makeTempDir, spawnProcess, type ManagedProcess } from './processes.js';

const ROOT = join(import.meta.dirname, '..', '..');

export type ServiceKind = 'peer-worker' | 'disk-writer' | 'tracker-client';

export interface FleetProcess {
  kind: ServiceKind;
  id: string;
  process: ManagedProcess;
  metricsPort: number;
  grpcPort: number;
  /** BitTorrent port (peer-workers). */
  listenPort?: number;
  /** The qBittorrent WebAPI and Transmission RPC (peer-workers). */
  webPort?: number;
}

export interface StartServiceOptions {
  natsUrl: string;
  dataDir: string;
  id: string;
  env?: Record<string, string>;
  workDir?: string;
}

export async function startService(kind: ServiceKind, o: StartServiceOptions): Promise<FleetProcess> {
  const main = join(ROOT, 'services', kind, 'dist', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is not built: run \`npm run build\` first`);
  const metricsPort = await freePort();
  const grpcPort = await freePort();
  const listenPort = kind === 'peer-worker' ? await freePort() : undefined;
  const webPort = kind === 'peer-worker' ? await freePort() : undefined;
  // The DHT node's UDP port: a free one, not the default 6881, which another fleet on this machine (a benchmark, say) may hold.
  const dhtPort = kind === 'tracker-client' ? await freePort() : undefined;
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    SEEDBOX_NATS_URL: o.natsUrl,
    SEEDBOX_METRICS_HOST: '127.0.0.1',
    SEEDBOX_METRICS_PORT: String(metricsPort),
    SEEDBOX_GRPC_HOST: '127.0.0.1',
    SEEDBOX_GRPC_PORT: String(grpcPort),
    SEEDBOX_INSTANCE_ID: o.id,
    SEEDBOX_LOG_LEVEL: 'debug',
    ...(kind !== 'tracker-client' ? { SEEDBOX_DATA_DIR: o.dataDir } : {}),
    ...(listenPort !== undefined ? { SEEDBOX_LISTEN_HOST: '127.0.0.1', SEEDBOX_LISTEN_PORT: String(listenPort) } : {}),
    ...(webPort !== undefined ? { SEEDBOX_WEB_PORT: String(webPort) } : {}),
    ...(dhtPort !== undefined ? { SEEDBOX_DHT_PORT: String(dhtPort) } : {}),
    ...o.env,
  };
  const workDir = o.workDir ?? makeTempDir('fleet');
  const proc = spawnProcess(process.execPath, [main], { name: `${kind} ${o.id}`, env, logFile: join(workDir, `${o.id}.log`) });
  await proc.waitForLine(/"msg":"ready"/, 30_000, `${kind} ${o.id} to be ready`);
  return { kind, id: o.id, process: proc, metricsPort, grpcPort, ...(listenPort !== undefined ? { listenPort } : {}), ...(webPort !== undefined ? { webPort } : {}) };
}

export interface Fleet {
  dataDir: string;
  peerWorkers: FleetProcess[];
  diskWriters: FleetProcess[];
  trackerClient: FleetProcess | undefined;
  all(): FleetProcess[];
  /** A gRPC control client for the first peer-worker (closed by stop()). */
  control: SeedboxControlClient;
  stop(): Promise<void>;
}

export async function startFleet(o: { natsUrl: string; peerWorkers?: number; diskWriters?: number; trackerClient?: boolean; dataDir?: string; env?: Record<string, string> }): Promise<Fleet> {
  const workDir = makeTempDir('fleet');
  const dataDir = o.dataDir ?? join(workDir, 'volume');
  mkdirSync(dataDir, { recursive: true });
  const base = { natsUrl: o.natsUrl, dataDir, workDir, ...(o.env ? { env: o.env } : {}) };
  const diskWriters: FleetProcess[] = [];
  for (let i = 0; i < (o.diskWriters ?? 1); i++) diskWriters.push(await startService('disk-writer', { ...base, id: `dw${i + 1}` }));
  const trackerClient = o.trackerClient === false ? undefined : await startService('tracker-client', { ...base, id: 'tc1' });
  const peerWorkers: FleetProcess[] = [];
  for (let i = 0; i < (o.peerWorkers ?? 1); i++) peerWorkers.push(await startService('peer-worker', { ...base, id: `pw${i + 1}` }));
  // With SEEDBOX_TOKEN in the fleet's env, the client carries it.
  const control = controlClient(`127.0.0.1:${peerWorkers[0]!.grpcPort}`, o.env?.SEEDBOX_TOKEN);
  const fleet: Fleet = {
    dataDir,
    peerWorkers,
    diskWriters,
    trackerClient,
    all: () => [...peerWorkers, ...diskWriters, ...(trackerClient ? [trackerClient] : [])],
    control,
    async stop() {
      control.close();
      await Promise.all(fleet.all().map((p) => p.process.stop(10_000)));
    },
  };
  return fleet;
}

/** A control client of a server; with a token, every call carries it (authorization: Bearer). */
export function controlClient(address: string, token?: string, creds: grpc.ChannelCredentials = grpc.credentials.createInsecure()): SeedboxControlClient {
  return new SeedboxControlClient(address, creds, token === undefined ? {} : { interceptors: [bearerTokenInterceptor(token)] });
}

/** GET /metrics of a service: every sample, by `name{labels}`. */
export async function scrape(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** Promisified unary calls of the control client. */
export function call<Req, Res>(client: SeedboxControlClient, method: keyof SeedboxControlClient, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    const f = client[method] as unknown as (r: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => void;
    f.call(client, req, (e, r) => (e ? reject(e) : resolve(r)));
  });
}
