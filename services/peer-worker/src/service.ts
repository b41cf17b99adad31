import { FleetState, NatsPieceSink, type ServiceDefinition } from '@seedbox/cluster';
import { SeedboxControlService } from '@seedbox/proto';
import { createPeerWorkerMetrics, peerWorkerOptions } from '@seedbox/runtime';
import { createControlService } from './control/control-service.js';
import { FleetBackend } from './fleet/fleet-backend.js';
import { FleetRunner } from './fleet/fleet-runner.js';
import { StatsBoard } from './fleet/stats-board.js';
import { PeerWorker } from './worker.js';

/**
 * The peer-worker process: the wire protocol for the torrents the fleet
 * gives it (FleetRunner), pieces to the disk-writers over NATS
 * (NatsPieceSink), and the gRPC control API that any replica answers from
 * the shared state (FleetBackend).
 */
export const peerWorkerService: ServiceDefinition<typeof peerWorkerOptions> = {
  service: 'peer-worker',
  schema: peerWorkerOptions,
  async start({ config, log, nc, registry, onShutdown }) {
    const m = createPeerWorkerMetrics(registry);
    const state = await FleetState.open(nc);
    const sink = new NatsPieceSink({
      nc,
      workerId: config.instanceId,
      maxInFlight: config.maxPiecesInFlight,
      onRoundTrip: (seconds) => m.pieceNatsRoundTrip.observe(seconds),
      onInFlight: (n) => m.piecesInFlight.set(n),
      onRetry: (p, reason, attempt) => log.warn('piece sent again', { infoHash: p.infoHash, piece: p.index, reason, attempt }),
    });
    const worker = new PeerWorker({
      sink,
      listen: { host: config.listenHost, port: config.listenPort },
      torrent: { maxPeers: config.maxPeers },
    });
    await worker.start();
    const runner = new FleetRunner({
      nc,
      state,
      worker,
      workerId: config.instanceId,
      dataDir: config.dataDir,
      announce: { ...(config.announceHost !== undefined ? { host: config.announceHost } : {}), port: config.announcePort ?? worker.listenPort ?? config.listenPort },
      log,
    });
    const board = new StatsBoard(nc);
    const backend = new FleetBackend(nc, state, board, {
      peerId: worker.peerId,
      port: config.announcePort ?? worker.listenPort ?? config.listenPort,
      timeoutMs: 120_000,
    });
    worker.on('tick', (t) => {
      m.observeTick(t);
      let downloading = 0;
      let seeding = 0;
      for (const x of t.torrents) {
        if (x.complete) seeding++;
        else downloading++;
      }
      m.setTorrentStates({ downloading, seeding, paused: runner.pausedCount });
    });
    await runner.start();
    log.info('peer-worker listening', { port: worker.listenPort, peerId: Buffer.from(worker.peerId).toString('hex') });

    onShutdown('stop torrents and hand back pieces', async () => {
      board.close();
      await runner.stop();
      sink.close();
    });
    return {
      grpc: [{ definition: SeedboxControlService, implementation: createControlService(backend) }],
    };
  },
};
