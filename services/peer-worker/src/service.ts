import { FleetState, NatsPieceSink, PieceDataLinks, storageRequest, STORAGE_DELETE, STORAGE_MOVE, VERSION, type ServiceDefinition } from '@seedbox/cluster';
import { Sha1Pool, torrentDir } from '@seedbox/storage';
import { SeedboxControlService } from '@seedbox/proto';
import { createPeerWorkerMetrics, listenOrExplain, peerWorkerOptions, settingOrExplain } from '@seedbox/runtime';
import { createControlService } from './control/control-service.js';
import { FleetBackend } from './fleet/fleet-backend.js';
import { FleetBandwidth } from './fleet/fleet-bandwidth.js';
import { FleetPeers } from './fleet/fleet-peers.js';
import { FleetRunner } from './fleet/fleet-runner.js';
import { NatsFleetView } from './fleet/fleet-view.js';
import { engineFigures, FiguresPublisher, recordTick } from './fleet/figures.js';
import { NatsPeerDiscovery } from './fleet/nats-peer-discovery.js';
import { sharedVolumeData } from './fleet/shared-volume-data.js';
import { StatsBoard } from './fleet/stats-board.js';
import { TrackerBoard } from './fleet/tracker-board.js';
import { Engine, type EngineTick } from './engine.js';
import { checkEncryptionPolicy } from './encryption/encryption-policy.js';
import { startWebApi } from './web/start-web-api.js';

/**
 * The peer-worker process: the wire protocol for the torrents the fleet
 * gives it (FleetRunner), pieces to the disk-writers over NATS
 * (NatsPieceSink), and the control APIs that any replica answers from
 * the shared state (FleetBackend): gRPC, the qBittorrent WebAPI and the
 * Transmission RPC.
 */
export const peerWorkerService: ServiceDefinition<typeof peerWorkerOptions> = {
  service: 'peer-worker',
  schema: peerWorkerOptions,
  async start({ config, log, nc, registry, onShutdown, openPieceBus }) {
    // A policy this Node cannot keep (RC4 needs --openssl-legacy-provider) is a start-up error.
    settingOrExplain('SEEDBOX_ENCRYPTION (--encryption)', config.encryption, () => checkEncryptionPolicy(config.encryption));
    const m = createPeerWorkerMetrics(registry, { torrents: config.torrentMetrics });
    const state = await FleetState.open(nc);
    // The direct data path: pieces' bytes over TCP to the writer NATS chose (SEEDBOX_PIECE_DATA=direct).
    const links =
      config.pieceData === 'direct'
        ? new PieceDataLinks({ onDisconnect: (address, reason) => log.info('direct data link closed', { address, reason }) })
        : undefined;
    const sink = new NatsPieceSink({
      bus: await openPieceBus(),
      direct: links,
      onDirectFallback: (address, reason) => {
        m.pieceDataFallbacks.inc();
        log.warn('piece sent inline: its writer cannot be reached directly', { address, reason });
      },
      workerId: config.instanceId,
      maxInFlight: config.maxPiecesInFlight,
      onRoundTrip: (seconds) => m.pieceNatsRoundTrip.observe(seconds),
      onInFlight: (n) => m.piecesInFlight.set(n),
      onRetry: (p, reason, attempt) => log.warn('piece sent again', { infoHash: p.infoHash, piece: p.index, reason, attempt }),
    });
    let announce: { host: string | undefined; port: number } | undefined;
    let discovery: NatsPeerDiscovery | undefined;
    const engine = new Engine({
      sink,
      discovery: ({ peerId, listenPort }) => {
        announce = { host: config.announceHost, port: config.announcePort ?? listenPort ?? config.listenPort };
        discovery = new NatsPeerDiscovery({ nc, workerId: config.instanceId, peerId, announce, dht: config.dht, log });
        return discovery;
      },
      listen: { host: config.listenHost, port: config.listenPort },
      torrent: { maxPeers: config.maxPeers },
      maxConnections: config.maxConnections,
      incoming: { maxPerIp: config.maxConnectionsPerIp },
      encryption: config.encryption,
    });
    await listenOrExplain('SEEDBOX_LISTEN_PORT (--listen-port)', config.listenPort, () => engine.start());
    const peerId = engine.peerId;
    if (!discovery || !announce) throw new Error('the engine started without making its discovery');
    // Hashing here only checks data a torrent was added over (and rechecks): one thread is enough.
    const hasher = new Sha1Pool(1);
    const nats = discovery;
    const board = new StatsBoard(nc);
    const trackerBoard = await TrackerBoard.open(nc, state);
    const peers = new FleetPeers(nc, config.instanceId, engine, (hex) => board.runners(hex));
    const bandwidth = new FleetBandwidth(nc, config.instanceId, engine);
    const publisher = new FiguresPublisher(nc, config.instanceId);
    // The runner acts on seeding rules through the backend, which reads the runner: made after it.
    const late: { backend?: FleetBackend } = {};
    const runner = new FleetRunner({
      state,
      engine,
      data: (meta, recorded, savePath) => sharedVolumeData(meta, torrentDir(config.dataDir, meta.infoHashHex, savePath), hasher, recorded),
      // Only disk-writers write the volume: one of them moves and deletes.
      moveData: (meta, from, to) => storageRequest(nc, STORAGE_MOVE, { infoHash: meta.infoHashHex, name: meta.name, from, to }),
      removeTorrent: async (hex, deleteData) => {
        await late.backend?.remove(hex, { deleteData });
      },
      stats: board,
      speedLimits: (limits) => bandwidth.setTotal(limits),
      onTick: (t) => {
        nats.heartbeat();
        publisher.publish(t);
        bandwidth.tick(t);
      },
      onStop: () => nats.close(),
      workerId: config.instanceId,
      announce,
      log,
    });
    const backend = new FleetBackend({
      state,
      stats: board,
      trackers: trackerBoard,
      peers,
      dataDir: config.dataDir,
      dht: config.dht,
      fleet: runner,
      deleteData: (hex, place) => storageRequest(nc, STORAGE_DELETE, { infoHash: hex, name: place.name, savePath: place.savePath }),
    });
    late.backend = backend;
    let lastTick: EngineTick | undefined;
    engine.on('tick', (t) => {
      lastTick = t;
      recordTick(m, t, runner.pausedCount);
    });
    await runner.start();
    log.info('peer-worker listening', { port: engine.listenPort, peerId: Buffer.from(peerId).toString('hex') });
    const fleetView = new NatsFleetView({ nc, stats: board, log });
    const web = await startWebApi({ config, backend, dataDir: config.dataDir, encryption: config.encryption, dht: config.dht, version: VERSION, log, fleet: fleetView });

    onShutdown('close the web APIs', () => web.close());
    onShutdown('stop torrents and hand back pieces', async () => {
      fleetView.close();
      board.close();
      trackerBoard.close();
      peers.close();
      bandwidth.close();
      await runner.stop();
      sink.close();
      links?.close();
      await hasher.close();
    });
    return {
      grpc: [{ definition: SeedboxControlService, implementation: createControlService(backend) }],
      figures: () => engineFigures(lastTick),
    };
  },
};
