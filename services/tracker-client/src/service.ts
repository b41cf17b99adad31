import { parseMetainfo } from '@seedbox/protocol';
import { FleetState, peersSubject, WORKER_HEARTBEAT, type ServiceDefinition } from '@seedbox/cluster';
import { PeersFound, WorkerHeartbeat } from '@seedbox/proto';
import { createTrackerClientMetrics, trackerClientOptions } from '@seedbox/runtime';
import { TrackerClient } from './tracker-client.js';

/**
 * The tracker-client process: announces every registered torrent for every
 * peer-worker that runs it, as that worker (from its heartbeats on
 * `seedbox.worker.heartbeat`), and publishes the peers found on
 * `seedbox.peers.<infohash>`, where the workers running the torrent listen.
 *
 * It keeps no state of its own: after a restart the next heartbeats (one a
 * second) and the registry bring it back to where it was, announcing
 * `started` again, which trackers take as a refresh.
 */
export const trackerClientService: ServiceDefinition<typeof trackerClientOptions> = {
  service: 'tracker-client',
  schema: trackerClientOptions,
  async start({ config, log, nc, registry, onShutdown }) {
    const m = createTrackerClientMetrics(registry);
    const state = await FleetState.open(nc);
    const client = new TrackerClient({
      peerFeed: {
        peersFound: (hex, peers, source) => {
          m.peersFound.inc(peers.length);
          const msg = PeersFound.encode({ infoHash: hex, source, peers: peers.map((p) => ({ host: p.host, port: p.port, peerId: Buffer.alloc(0) })) });
          nc.publish(peersSubject(hex), msg.finish());
        },
      },
      workerTimeoutMs: config.workerTimeoutMs,
      onWarning: (w) => {
        if (w.kind === 'announce-failed') m.countAnnounce('error');
        log.warn('tracker', { kind: w.kind, infoHash: w.infoHashHex, worker: w.workerId, url: w.url, code: w.code, message: w.message });
      },
      onAnnounce: (s) => {
        m.countAnnounce('ok');
        log.debug('announced', { infoHash: s.infoHashHex, worker: s.workerId, url: s.url, event: s.event, peers: s.response.peers.length });
      },
    });

    const stopWatch = await state.watchTorrents(
      (hex, e) => {
        if (!e) {
          void client.removeTorrent(hex);
          return;
        }
        try {
          const meta = parseMetainfo(e.torrentFile);
          client.addTorrent({ infoHash: meta.infoHash, announce: meta.announce });
        } catch (err) {
          log.warn('registered torrent cannot be parsed', { infoHash: hex, error: err as Error });
        }
      },
      (key, err) => log.warn('bad registry entry', { key, error: err }),
    );

    const heartbeats = nc.subscribe(WORKER_HEARTBEAT, {
      callback: (_err, msg) => {
        try {
          const hb = WorkerHeartbeat.decode(msg.data);
          client.heartbeat({
            workerId: hb.workerId,
            peerId: hb.peerId,
            port: hb.listenPort,
            ...(hb.announceHost !== '' ? { host: hb.announceHost } : {}),
            torrents: Object.fromEntries(hb.torrents.map((t) => [t.infoHash, { uploaded: t.uploaded, downloaded: t.downloaded, left: t.left, complete: t.complete }])),
          });
        } catch (e) {
          // A malformed heartbeat is one worker's problem: log it, keep serving the others.
          log.warn('bad heartbeat', { error: e as Error });
        }
      },
    });
    const gauge = setInterval(() => m.announcers.set(client.list().length), 1000);
    gauge.unref();

    onShutdown('announce stopped', async () => {
      heartbeats.unsubscribe();
      stopWatch();
      clearInterval(gauge);
      await client.stop();
    });
    return {};
  },
};
