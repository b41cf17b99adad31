import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, Events, type Authenticator, type ConnectionOptions, type NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import {
  ConfigError,
  configHelp,
  createCommonMetrics,
  createLogger,
  grpcAccessOf,
  HealthService,
  installShutdown,
  isHelpRequested,
  listenOrExplain,
  loadConfig,
  readSettingFile,
  redactConfig,
  routeGrpcLogs,
  StartupError,
  startGrpcServer,
  startObservabilityServer,
  type CommonConfig,
  type CommonMetrics,
  type ConfigOf,
  type ConfigSchema,
  type GrpcServiceEntry,
  type Logger,
  type LogLevel,
  type ServiceName,
} from '@seedbox/runtime';
import { health } from '@seedbox/proto';
import { LeanNatsConnection } from './lean-nats/lean-nats-connection.js';
import { sendHeartbeats, type HeartbeatSender, type ServiceFigures } from './service-heartbeat.js';

/**
 * What every service process shares: configuration checked at start, JSON
 * logs, NATS (reconnecting for ever), /metrics /healthz /readyz, gRPC with
 * grpc.health.v1, a heartbeat on `seedbox.service.heartbeat` for the fleet
 * view, and a graceful shutdown on SIGTERM. A service's main is then only
 * its own parts, started in `start` and stopped in the steps it registers.
 */

export const VERSION = '0.1.0';

export interface ServiceContext<C> {
  config: C;
  log: Logger;
  nc: NatsConnection;
  registry: Registry;
  metrics: CommonMetrics;
  health: HealthService;
  /**
   * The piece path's own connection to the same servers with the same
   * credentials (lean-nats-connection.ts), connected; closed after the
   * service's own shutdown steps.
   */
  openPieceBus(): Promise<LeanNatsConnection>;
  /** Steps run in order on SIGTERM/SIGINT, before NATS is drained. */
  onShutdown(name: string, run: () => Promise<void> | void): void;
}

export interface StartedService {
  /** The gRPC services it serves besides health. */
  grpc?: GrpcServiceEntry[];
  /** Its own part of /readyz's verdict (NATS is checked for it). */
  ready?: () => true | string;
  /** Its figures for the fleet view, read at each heartbeat (every 2 s); keep them few and cheap to read. */
  figures?: () => ServiceFigures;
}

export interface ServiceDefinition<S extends ConfigSchema> {
  service: ServiceName;
  schema: S;
  /** Starts the service's own parts. */
  start(ctx: ServiceContext<ConfigOf<S> & CommonConfig>): Promise<StartedService>;
}

export interface RunOptions {
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Replaced in tests. */
  exit?: (code: number) => void;
}

/**
 * Runs a service until SIGTERM/SIGINT. A bad configuration value is one
 * line on stderr and exit 1; `--help` prints the options.
 */
export async function runService<S extends ConfigSchema>(def: ServiceDefinition<S>, opts: RunOptions = {}): Promise<void> {
  const argv = opts.argv ?? process.argv.slice(2);
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  if (isHelpRequested(argv)) {
    process.stdout.write(`usage: seedbox ${def.service} [options]\n\nEvery option is an environment variable or a flag:\n\n${configHelp(def.schema)}\n`);
    return exit(0);
  }
  let config: ConfigOf<S> & CommonConfig;
  try {
    config = loadConfig(def.schema, { argv, env: opts.env ?? process.env }) as ConfigOf<S> & CommonConfig;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`seedbox ${def.service}: ${e.message}\n`);
      return exit(1);
    }
    throw e;
  }
  const startedAt = Date.now();
  const log = createLogger({ service: def.service, level: config.logLevel as LogLevel, instance: config.instanceId });
  log.info('starting', { version: VERSION, config: redactConfig(def.schema, config) });

  const registry = new Registry();
  const metrics = createCommonMetrics(registry, { service: def.service, version: VERSION });
  const healthService = new HealthService();
  healthService.setStatus('', 'NOT_SERVING');
  let natsUp = false;
  let serviceReady: () => true | string = () => 'starting';
  const readiness = (): true | string => (!natsUp ? 'not connected to NATS' : serviceReady());
  let figures: (() => ServiceFigures) | undefined;
  const steps: { name: string; run: () => Promise<void> | void }[] = [];

  // HTTP first: liveness answers while NATS is still being reached.
  routeGrpcLogs(log);
  try {
    await startUp();
  } catch (e) {
    // A port in use, a folder that cannot be used: one line naming the setting, not a stack trace.
    if (!(e instanceof StartupError)) throw e;
    process.stderr.write(`seedbox ${def.service}: ${e.message}\n`);
    log.error('start-up failed', { setting: e.setting, error: e });
    return exit(1);
  }

  async function startUp(): Promise<void> {
    // Settings that name files or lock the gRPC port are checked before anything listens.
    const grpcAccess = await grpcAccessOf(config);
    await checkNatsFiles(config);
    const http = await listenOrExplain('SEEDBOX_METRICS_PORT (--metrics-port)', config.metricsPort, () =>
      startObservabilityServer({
        host: config.metricsHost,
        port: config.metricsPort,
        registry,
        checks: { ready: readiness },
      }),
    );
    log.info('metrics listening', { port: http.port });

    const nc = await connect(natsOptions(config, `${def.service}/${config.instanceId}`));
    natsUp = true;
    metrics.setNatsConnected(true);
    log.info('connected to NATS', { server: nc.getServer(), maxPayload: nc.info?.max_payload });
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === Events.Disconnect) {
          natsUp = false;
          metrics.setNatsConnected(false);
          log.warn('disconnected from NATS', { server: s.data });
        } else if (s.type === Events.Reconnect) {
          natsUp = true;
          metrics.setNatsConnected(true);
          log.info('reconnected to NATS', { server: s.data });
        } else if (s.type === Events.Error) {
          log.warn('NATS error', { error: s.data });
        }
      }
    })();

    // From now until the NATS drain, every 2 s: the fleet view sees the process starting, ready, and leaving.
    const heartbeat: HeartbeatSender = sendHeartbeats({
      nc,
      kind: def.service,
      instance: config.instanceId,
      version: VERSION,
      startedAt,
      ready: readiness,
      figures: () => figures?.(),
    });

    let pieceBus: LeanNatsConnection | undefined;
    const ctx: ServiceContext<ConfigOf<S> & CommonConfig> = {
      config,
      log,
      nc,
      registry,
      metrics,
      health: healthService,
      openPieceBus: async () => {
        const o = natsOptions(config, `${def.service}/${config.instanceId}`);
        pieceBus ??= new LeanNatsConnection({
          ...o,
          servers: Array.isArray(o.servers) ? o.servers : [o.servers ?? ''],
          tls: o.tls ? { caFile: o.tls.caFile, certFile: o.tls.certFile, keyFile: o.tls.keyFile } : undefined,
          onState: (state, detail) => (state === 'reconnecting' ? log.warn('piece path: disconnected from NATS', { detail }) : log.info(`piece path: ${state}`, { detail })),
          onProblem: (detail) => log.debug('piece path: NATS connection problem', { detail }),
        });
        await pieceBus.connected();
        return pieceBus;
      },
      onShutdown: (name, run) => steps.push({ name, run }),
    };
    const started = await def.start(ctx);
    serviceReady = started.ready ?? (() => true);
    figures = started.figures;
    const grpcServer = await listenOrExplain('SEEDBOX_GRPC_PORT (--grpc-port)', config.grpcPort, () =>
      startGrpcServer({
        host: grpcAccess.host,
        port: config.grpcPort,
        services: [{ definition: health.HealthService, implementation: healthService.implementation }, ...(started.grpc ?? [])],
        credentials: grpcAccess.credentials,
        // A .torrent file may be up to 16 MiB (our metainfo limit); gRPC's default cap is 4 MiB.
        options: { 'grpc.max_receive_message_length': 20 * 1024 * 1024, interceptors: grpcAccess.interceptors },
      }),
    );
    healthService.setStatus('', 'SERVING');
    healthService.setStatus(`seedbox.${def.service}`, 'SERVING');
    log.info('ready', { grpcHost: grpcAccess.host, grpcPort: grpcServer.port, grpcAccess: grpcAccess.summary, metricsPort: http.port });

    // Steps in order: not ready (and NOT_SERVING) first, so Kubernetes stops
    // sending work; then the service's own; then gRPC, NATS (drained, so what
    // was published goes out) and HTTP.
    installShutdown({
      logger: log,
      timeoutMs: config.shutdownTimeoutMs,
      exit,
      steps: [
        {
          name: 'not ready',
          run: async () => {
            serviceReady = () => 'shutting down';
            healthService.setStatus('', 'NOT_SERVING');
            healthService.setStatus(`seedbox.${def.service}`, 'NOT_SERVING');
            heartbeat.beat();
          },
        },
        ...steps.map((st) => ({ name: st.name, run: async () => st.run() })),
        // The last heartbeat says it is leaving, so the fleet view shows it gone at once rather than 10 s later.
        { name: 'say goodbye', run: async () => heartbeat.stop() },
        { name: 'close gRPC', run: () => grpcServer.close(2000) },
        { name: 'close the piece path', run: async () => pieceBus?.close() },
        { name: 'drain NATS', run: () => nc.drain() },
        { name: 'close HTTP', run: () => http.close() },
      ],
    });
  }
}

export function natsOptions(config: CommonConfig, name: string): ConnectionOptions {
  return {
    servers: config.natsUrl.split(',').map((s) => s.trim()),
    name,
    // A seedbox outlives NATS restarts: keep trying, and keep trying at start too.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    waitOnFirstConnect: true,
    // No stack capture per request: a piece is a request, and the traces cost CPU on the hot path.
    noAsyncTraces: true,
    ...(config.natsUser !== undefined ? { user: config.natsUser } : {}),
    ...(config.natsPassword !== undefined ? { pass: config.natsPassword } : {}),
    ...(config.natsToken !== undefined ? { token: config.natsToken } : {}),
    ...(config.natsCreds !== undefined ? { authenticator: credsFileAuthenticator(config.natsCreds) } : {}),
    // Any TLS file makes the connection TLS-only. nats.js reads the files at
    // each (re)connect, so certificates renewed in place (a mounted Secret) are taken.
    ...(config.natsTlsCa !== undefined || config.natsTlsCert !== undefined
      ? {
          tls: {
            ...(config.natsTlsCa !== undefined ? { caFile: config.natsTlsCa } : {}),
            ...(config.natsTlsCert !== undefined ? { certFile: config.natsTlsCert, keyFile: config.natsTlsKey } : {}),
          },
        }
      : {}),
  };
}

/** A creds file read at every (re)connect, so that a renewed one is taken without a restart. */
function credsFileAuthenticator(path: string): Authenticator {
  return credsAuthenticator(() => readFileSync(path));
}

/** The NATS files exist and pair up; a failure is one line naming the setting, not an endless reconnect loop. */
async function checkNatsFiles(config: CommonConfig): Promise<void> {
  if ((config.natsTlsCert === undefined) !== (config.natsTlsKey === undefined)) {
    const missing = config.natsTlsCert === undefined ? 'SEEDBOX_NATS_TLS_CERT (--nats-tls-cert)' : 'SEEDBOX_NATS_TLS_KEY (--nats-tls-key)';
    throw new StartupError(missing, `${missing} is not set: a NATS client certificate needs both the certificate and its private key`);
  }
  const files: [string, string | undefined][] = [
    ['SEEDBOX_NATS_CREDS (--nats-creds)', config.natsCreds],
    ['SEEDBOX_NATS_TLS_CA (--nats-tls-ca)', config.natsTlsCa],
    ['SEEDBOX_NATS_TLS_CERT (--nats-tls-cert)', config.natsTlsCert],
    ['SEEDBOX_NATS_TLS_KEY (--nats-tls-key)', config.natsTlsKey],
  ];
  for (const [setting, path] of files) if (path !== undefined) await readSettingFile(setting, path);
  if (config.natsCreds !== undefined) {
    const setting = 'SEEDBOX_NATS_CREDS (--nats-creds)';
    try {
      credsAuthenticator(readFileSync(config.natsCreds))('start-up check');
    } catch (e) {
      throw new StartupError(setting, `${setting} ${config.natsCreds}: not a NATS credentials file (a user JWT and an NKey seed)`, { cause: e });
    }
  }
}
