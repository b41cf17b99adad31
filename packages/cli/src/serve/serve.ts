import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { LocalFleetStore, LocalFleetStoreError, VERSION } from '@seedbox/cluster';
import { counted, DiskWriter, WriteFigures } from '@seedbox/disk-writer';
import { checkEncryptionPolicy, Engine, FleetBackend, FleetRunner, LocalFleetView, LocalStatsBoard, createControlService, engineFigures, recordTick, startWebApi, type EngineTick } from '@seedbox/peer-worker';
import { health, SeedboxControlService } from '@seedbox/proto';
import {
  ConfigError,
  configHelp,
  createCommonMetrics,
  createLogger,
  createPeerWorkerMetrics,
  grpcAccessOf,
  HealthService,
  installShutdown,
  isHelpRequested,
  listenOrExplain,
  loadConfig,
  redactConfig,
  routeGrpcLogs,
  serveOptions,
  settingOrExplain,
  startGrpcServer,
  startObservabilityServer,
  StartupError,
  type LogLevel,
  type ServeConfig,
} from '@seedbox/runtime';
import { localTorrentData, moveTorrentContent, Sha1Pool, torrentDir, torrentRemovalPath } from '@seedbox/storage';
import { EmbeddedTrackers, parseDhtBootstrap } from '@seedbox/tracker-client';
import { CliError } from '../cli-error.js';
import { WatchFolder } from './watch-folder.js';

/**
 * `seedbox serve`: the one-machine seedbox. The peer-worker, the
 * disk-writer and the tracker-client in one process, with the fleet's own
 * code: FleetRunner and FleetBackend over a LocalFleetStore (the state
 * folder) instead of JetStream, pieces handed to the DiskWriter in
 * process, the tracker-client announcing in process. It answers the same
 * gRPC control API as a peer-worker, the qBittorrent WebAPI and the
 * Transmission RPC on its web port, serves /metrics, /healthz and
 * /readyz, takes the same SEEDBOX_ settings, and adds what a daemon
 * needs: torrents kept across restarts, resume data, a watch folder.
 *
 * Files land in DATA_DIR/<infohash>/<name>; the state (registry,
 * bitfields, resume data) in STATE_DIR (DATA_DIR/.seedbox by default).
 */

export const serveUsage = 'seedbox serve --data DIR [--state-dir DIR] [--watch-dir DIR] [--grpc-port N] [--listen-port N] [--help for every option]';


const SERVE_ID = 'serve';

export async function serve(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  if (isHelpRequested(argv)) {
    out.write(`usage: ${serveUsage}\n\nEvery option is an environment variable or a flag:\n\n${configHelp(serveOptions)}\n`);
    return 0;
  }
  let config: ServeConfig;
  try {
    config = loadConfig(serveOptions, { argv, env: process.env });
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message);
    throw e;
  }
  try {
    return await run(config);
  } catch (e) {
    if (e instanceof StartupError) throw new CliError(e.message);
    throw e;
  }
}

async function run(config: ServeConfig): Promise<number> {
  const startedAt = Date.now();
  const log = createLogger({ service: 'serve', level: config.logLevel as LogLevel, instance: config.instanceId });
  routeGrpcLogs(log);
  // Checked before anything is opened: a control API beyond loopback without a token, a certificate that cannot be read.
  const grpcAccess = await grpcAccessOf(config);
  const stateDir = config.stateDir ?? join(config.dataDir, '.seedbox');
  let store: LocalFleetStore;
  try {
    store = await LocalFleetStore.open(stateDir);
  } catch (e) {
    if (e instanceof LocalFleetStoreError) throw new StartupError('SEEDBOX_STATE_DIR (--state-dir)', `SEEDBOX_STATE_DIR (--state-dir): ${e.message}`, { cause: e });
    throw e;
  }
  for (const bad of store.badEntries) log.warn('state entry skipped: it cannot be read', { path: bad.path, error: bad.error });
  log.info('starting', { version: VERSION, config: redactConfig(serveOptions, config), stateDir });

  const registry = new Registry();
  createCommonMetrics(registry, { service: 'peer-worker', version: VERSION });
  const m = createPeerWorkerMetrics(registry, { torrents: config.torrentMetrics });
  const healthService = new HealthService();
  const dhtBootstrap = settingOrExplain('SEEDBOX_DHT_BOOTSTRAP (--dht-bootstrap)', config.dhtBootstrap ?? '', () => parseDhtBootstrap(config.dhtBootstrap));
  // A policy this Node cannot keep (RC4 needs --openssl-legacy-provider) is a start-up error.
  settingOrExplain('SEEDBOX_ENCRYPTION (--encryption)', config.encryption, () => checkEncryptionPolicy(config.encryption));
  healthService.setStatus('', 'NOT_SERVING');
  let ready: true | string = 'starting';
  const http = await listenOrExplain(`SEEDBOX_METRICS_PORT (--metrics-port)`, String(config.metricsPort), () =>
    startObservabilityServer({ host: config.metricsHost, port: config.metricsPort, registry, checks: { ready: () => ready } }),
  );

  const hasher = new Sha1Pool(config.hashThreads);
  const writer = new DiskWriter({ hasher });
  // Counted on the way in, for the fleet view's disk figures (a disk-writer counts what NATS brings it).
  const written = new WriteFigures();
  let trackers: EmbeddedTrackers | undefined;
  const engine = new Engine({
    sink: counted(writer, written),
    listen: { host: config.listenHost, port: config.listenPort },
    torrent: { maxPeers: config.maxPeers },
    maxConnections: config.maxConnections,
    incoming: { maxPerIp: config.maxConnectionsPerIp },
    encryption: config.encryption,
    discovery: ({ peerId, listenPort }) =>
      (trackers = new EmbeddedTrackers({
        peerId,
        port: config.announcePort ?? listenPort ?? config.listenPort,
        ...(config.announceHost !== undefined ? { host: config.announceHost } : {}),
        announceToAllTiers: config.announceToAllTiers,
        // On the BitTorrent port number, as libtorrent runs it, unless told otherwise.
        ...(config.dht
          ? {
              dht: {
                port: config.dhtPort ?? listenPort ?? config.listenPort,
                bootstrap: dhtBootstrap,
                stateFile: config.dhtStateFile ?? join(stateDir, 'dht-state.json'),
                log,
              },
            }
          : {}),
        onWarning: (w) => log.warn('tracker', { kind: w.kind, infoHash: w.infoHashHex, url: w.url, code: w.code, message: w.message }),
      })),
  });
  await listenOrExplain('SEEDBOX_LISTEN_PORT (--listen-port)', String(config.listenPort), () => engine.start()).catch(async (e: unknown) => {
    await Promise.all([http.close(), writer.close()]);
    throw e;
  });
  if (trackers?.dht) {
    const dhtPort = String(config.dhtPort ?? engine.listenPort ?? config.listenPort);
    await listenOrExplain('SEEDBOX_DHT_PORT (--dht-port)', dhtPort, () => trackers!.dht!.ready).catch(async (e: unknown) => {
      await Promise.all([engine.stop(), http.close(), trackers?.stop(), writer.close()]);
      throw e;
    });
  }

  const resumePath = (hex: string): string => join(stateDir, 'resume', `${hex}.json`);
  const board = new LocalStatsBoard();
  let lastTick: EngineTick | undefined;
  // The runner acts on seeding rules through the backend, which reads the runner: made after it.
  const late: { backend?: FleetBackend } = {};
  const runner = new FleetRunner({
    state: store,
    engine,
    workerId: SERVE_ID,
    announce: { host: config.announceHost, port: engine.listenPort ?? config.listenPort },
    log,
    stats: board,
    // The files, created sparse on first run; checked through resume data, so a restart hashes only what changed.
    data: async (meta, _recorded, savePath) => {
      const hex = meta.infoHashHex;
      const storage = await writer.addTorrent(meta, torrentDir(config.dataDir, hex, savePath));
      return { ...localTorrentData(storage, writer.sha1, resumePath(hex)), close: () => writer.removeTorrent(hex) };
    },
    moveData: async (meta, from, to) => {
      // Files this process has open follow the rename; the next open uses the new folder.
      await moveTorrentContent(config.dataDir, meta.infoHashHex, meta.name, from, to);
    },
    removeTorrent: async (hex, deleteData) => {
      await late.backend?.remove(hex, { deleteData });
    },
    onTick: (t) => {
      lastTick = t;
      board.record(t);
      recordTick(m, t, runner.pausedCount);
    },
  });
  const backend = new FleetBackend({
    state: store,
    stats: board,
    // The tracker-client and the peers are in this process: asked directly, no NATS.
    trackers: { status: (hex) => trackers?.trackerStatus(hex) ?? [], reannounce: async (hex) => trackers?.reannounce(hex) ?? 0 },
    peers: {
      peers: async (hex) => engine.peers(hex) ?? [],
      addPeers: async (hex, peers) => {
        engine.addPeers(hex, peers);
      },
    },
    dataDir: config.dataDir,
    dht: config.dht,
    fleet: runner,
    deleteData: async (hex, place) => {
      // The torrent stops first (pieces under way answered), then its files go.
      await runner.settled();
      await writer.removeTorrent(hex);
      await rm(torrentRemovalPath(config.dataDir, hex, place.name, place.savePath), { recursive: true, force: true });
      await rm(resumePath(hex), { force: true });
      log.info('torrent data deleted', { infoHash: hex });
    },
  });
  late.backend = backend;
  await runner.start();
  // The fleet's DHT switch (the web UI, either web API), over SEEDBOX_DHT.
  const stopDhtSwitch = trackers?.dht ? await store.watchConfig((c) => trackers?.client.setDhtEnabled(c.dht ?? config.dht)) : undefined;

  const grpcServer = await listenOrExplain('SEEDBOX_GRPC_PORT (--grpc-port)', String(config.grpcPort), () =>
    startGrpcServer({
      host: grpcAccess.host,
      port: config.grpcPort,
      services: [
        { definition: health.HealthService, implementation: healthService.implementation },
        { definition: SeedboxControlService, implementation: createControlService(backend) },
      ],
      credentials: grpcAccess.credentials,
      // A .torrent file may be up to 16 MiB (our metainfo limit); gRPC's default cap is 4 MiB.
      options: { 'grpc.max_receive_message_length': 20 * 1024 * 1024, interceptors: grpcAccess.interceptors },
    }),
  ).catch(async (e: unknown) => {
    await runner.stop();
    await Promise.all([http.close(), trackers?.stop(), writer.close()]);
    throw e;
  });

  // A fleet of one: this process is its only member, with the figures a peer-worker, a disk-writer and the tracker-client would each send.
  const fleetView = new LocalFleetView(
    () => ({
      kind: 'serve',
      instance: config.instanceId,
      version: VERSION,
      startedAt,
      sentAt: Date.now(),
      ready,
      leaving: false,
      figures: {
        ...engineFigures(lastTick),
        ...written.figures(),
        torrentsAnnounced: new Set(trackers?.client.list().map((a) => a.infoHashHex)).size,
        ...(trackers?.dht ? { dhtNodes: trackers.dht.node.stats().nodes } : {}),
      },
    }),
    board,
  );
  const web = await startWebApi({ config, backend, dataDir: config.dataDir, encryption: config.encryption, dht: config.dht, version: VERSION, log, fleet: fleetView }).catch(async (e: unknown) => {
    await runner.stop();
    await Promise.all([http.close(), grpcServer.close(0), trackers?.stop(), writer.close()]);
    throw e;
  });

  const watcher = config.watchDir === undefined ? undefined : new WatchFolder({ dir: config.watchDir, backend, log });
  await watcher?.start().catch(async (e: unknown) => {
    await runner.stop();
    await Promise.all([http.close(), grpcServer.close(0), web.close(), trackers?.stop(), writer.close()]);
    throw new StartupError('SEEDBOX_WATCH_DIR (--watch-dir)', `SEEDBOX_WATCH_DIR (--watch-dir) ${config.watchDir}: ${(e as Error).message}`, { cause: e });
  });

  ready = true;
  healthService.setStatus('', 'SERVING');
  healthService.setStatus('seedbox.serve', 'SERVING');
  log.info('ready', { grpcHost: grpcAccess.host, grpcPort: grpcServer.port, grpcAccess: grpcAccess.summary, metricsPort: http.port, webPort: web.port, listenPort: engine.listenPort, dataDir: config.dataDir, torrents: (await store.listTorrents()).length });

  // A daemon: it runs until SIGTERM or SIGINT, and the shutdown ends the process (0, or 1 past its deadline).
  return new Promise<number>(() => {
    installShutdown({
      logger: log,
      timeoutMs: config.shutdownTimeoutMs,
      steps: [
        {
          name: 'not ready',
          run: async () => {
            ready = 'shutting down';
            healthService.setStatus('', 'NOT_SERVING');
            healthService.setStatus('seedbox.serve', 'NOT_SERVING');
          },
        },
        { name: 'stop the watch folder', run: async () => watcher?.stop() },
        { name: 'close the web APIs', run: () => web.close() },
        // Torrents stop (pieces under way written, resume data saved), then `stopped` to the trackers.
        { name: 'stop torrents', run: () => runner.stop() },
        {
          name: 'announce stopped',
          run: async () => {
            stopDhtSwitch?.();
            await trackers?.stop();
          },
        },
        { name: 'close files', run: () => writer.close() },
        { name: 'write the state', run: () => store.flush() },
        { name: 'close gRPC', run: () => grpcServer.close(2000) },
        { name: 'close HTTP', run: () => http.close() },
      ],
    });
  });
}
