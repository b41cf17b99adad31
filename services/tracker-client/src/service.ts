import { parseMagnet, parseMetainfo } from '@seedbox/protocol';
import { FleetState, peersSubject, PEERS_WANTED, serveReannounces, type ServiceDefinition } from '@seedbox/cluster';
import { PeersFound, WorkerHeartbeat, type WorkerTorrent } from '@seedbox/proto';
import { createTrackerClientMetrics, listenOrExplain, settingOrExplain, trackerClientOptions } from '@seedbox/runtime';
import { DhtPeerSource, parseDhtBootstrap } from './dht-peer-source.js';
import { clientBeat, HeartbeatInbox, watchWorkerHeartbeats, type BeatKind } from './heartbeat-inbox.js';
import { TrackerClient } from './tracker-client.js';
import { TrackerStatusWriter } from './tracker-status-writer.js';

export { workerOfBeat } from './heartbeat-inbox.js';

/**
 * The tracker-client process: announces every registered torrent for every
 * peer-worker that runs it, as that worker (from its heartbeats: a full one
 * every few seconds on `seedbox.worker.heartbeat`, what changed each second
 * between on `seedbox.worker.heartbeat.changes`), and publishes the peers
 * found on `seedbox.peers.<infohash>`, where the workers running the
 * torrent listen.
 *
 * It keeps no state of its own: after a restart each worker's next full
 * heartbeat and the registry bring it back to where it was, announcing
 * `started` again, which trackers take as a refresh.
 *
 * What each tracker last answered goes to the `seedbox_trackers` bucket
 * on every announce result, for the control APIs of every peer-worker; it
 * is read back at start, so a restart does not blank the statuses until
 * the next announces. A reannounce asked for by hand comes as a request
 * on `seedbox.tracker.reannounce`.
 *
 * With the DHT on (the default), its DHT node looks up every public torrent
 * the workers serve and announces each worker's port (BEP 5 takes the
 * address from the query's source: the fleet's egress address must be one
 * peers reach the workers at for those announces to be of use).
 */
export const trackerClientService: ServiceDefinition<typeof trackerClientOptions> = {
  service: 'tracker-client',
  schema: trackerClientOptions,
  async start({ config, log, nc, registry, onShutdown }) {
    const m = createTrackerClientMetrics(registry);
    const bootstrap = settingOrExplain('SEEDBOX_DHT_BOOTSTRAP (--dht-bootstrap)', config.dhtBootstrap ?? '', () => parseDhtBootstrap(config.dhtBootstrap));
    const dht = config.dht
      ? new DhtPeerSource({ port: config.dhtPort, bootstrap, ...(config.dhtStateFile !== undefined ? { stateFile: config.dhtStateFile } : {}), log })
      : undefined;
    if (dht) await listenOrExplain('SEEDBOX_DHT_PORT (--dht-port)', config.dhtPort, () => dht.ready);
    const state = await FleetState.open(nc);
    const statuses = new TrackerStatusWriter(state, (hex, error) => log.warn('tracker status not stored', { infoHash: hex, error }));
    const client = new TrackerClient({
      onTrackerStatus: (hex, list) => statuses.write(hex, list),
      peerFeed: {
        peersFound: (hex, peers, source) => {
          m.peersFound.inc(peers.length);
          const msg = PeersFound.encode({ infoHash: hex, source, peers: peers.map((p) => ({ host: p.host, port: p.port, peerId: Buffer.alloc(0) })) });
          nc.publish(peersSubject(hex), msg.finish());
        },
      },
      workerTimeoutMs: config.workerTimeoutMs,
      announceToAllTiers: config.announceToAllTiers,
      ...(dht ? { dht: dht.swarms } : {}),
      onWarning: (w) => {
        if (w.kind === 'announce-failed') m.countAnnounce('error');
        log.warn('tracker', { kind: w.kind, infoHash: w.infoHashHex, worker: w.workerId, url: w.url, code: w.code, message: w.message });
      },
      onAnnounce: (s) => {
        m.countAnnounce('ok');
        log.debug('announced', { infoHash: s.infoHashHex, worker: s.workerId, url: s.url, event: s.event, peers: s.response.peers.length });
      },
    });

    // Before any announce: what the trackers said before this process started.
    await statuses.restore(client).catch((e: unknown) => log.warn('stored tracker statuses not read', { error: e as Error }));

    /**
     * Torrents known only from heartbeats, with the trackers they carried:
     * magnet links a worker is resolving. Forgotten once no worker runs
     * them (gone from its partial heartbeat, or missing from its full one)
     * and the registry has not taken them over.
     */
    const unregistered = new Map<string, Set<string>>();
    const registered = new Set<string>();
    /**
     * Of those, the ones heard of with no tracker (kept for the DHT): a
     * registered torrent is listed so too when its heartbeat comes before
     * this process has read its registry entry, and must then be added
     * again with the entry's trackers, or it would never be announced.
     */
    const trackerless = new Set<string>();
    /** Torrents a worker lists (all of them, or those joined or changed): those in no registry are added with their trackers. */
    const noteListed = (workerId: string, listed: { infoHash: string; trackers: string[] }[]): void => {
      for (const t of listed) {
        const hex = t.infoHash.toLowerCase();
        // A magnet link without trackers can still be found on the DHT.
        if ((t.trackers.length === 0 && !dht) || registered.has(hex) || !/^[0-9a-f]{40}$/.test(hex)) continue;
        let workers = unregistered.get(hex);
        if (!workers) {
          workers = new Set();
          unregistered.set(hex, workers);
          if (t.trackers.length === 0) trackerless.add(hex);
          client.addTorrent({ infoHash: Buffer.from(hex, 'hex'), announce: t.trackers.slice(0, 64).map((url) => [url]) });
        }
        workers.add(workerId);
      }
    };
    /** Torrents a worker no longer runs: one in no registry is forgotten once no worker runs it. */
    const noteDropped = (workerId: string, hex: string): void => {
      const workers = unregistered.get(hex);
      if (!workers?.delete(workerId) || workers.size > 0) return;
      unregistered.delete(hex);
      trackerless.delete(hex);
      if (!registered.has(hex)) void client.removeTorrent(hex);
    };
    /** A full heartbeat: what it does not list, the worker no longer runs. */
    const noteUnregistered = (workerId: string, listed: WorkerTorrent[]): void => {
      noteListed(workerId, listed);
      if (unregistered.size === 0) return;
      // A set, not a scan of the list per torrent: both may hold thousands while the registry is read.
      const now = new Set(listed.map((t) => t.infoHash.toLowerCase()));
      for (const [hex, workers] of [...unregistered]) if (workers.has(workerId) && !now.has(hex)) noteDropped(workerId, hex);
    };

    const stopWatch = await state.watchTorrents(
      (hex, e) => {
        if (!e) {
          registered.delete(hex);
          void client.removeTorrent(hex);
          return;
        }
        registered.add(hex);
        unregistered.delete(hex);
        // Known without trackers until now: forgotten (it announced nowhere, so nothing is sent) and added with the entry's.
        if (trackerless.delete(hex)) void client.removeTorrent(hex, { keepStatus: true });
        try {
          // A magnet awaiting its metadata is announced to its link's trackers (its owner is fetching it); the .torrent it becomes has the same ones.
          const meta = e.magnet !== undefined ? undefined : parseMetainfo(e.torrentFile);
          const announce = meta ? meta.announce : parseMagnet(e.magnet!).trackers.slice(0, 64).map((url) => [url]);
          client.addTorrent({ infoHash: Buffer.from(hex, 'hex'), announce, private: meta?.private ?? false });
        } catch (err) {
          log.warn('registered torrent cannot be parsed', { infoHash: hex, error: err as Error });
        }
      },
      (key, err) => log.warn('bad registry entry', { key, error: err }),
    );

    const handleBeat = (kind: BeatKind, data: Uint8Array): void => {
      try {
        const hb = WorkerHeartbeat.decode(data);
        const beat = clientBeat(hb);
        if (kind === 'full') {
          // Trackers first: the heartbeat then starts their announcers.
          noteUnregistered(hb.workerId, hb.torrents);
          client.heartbeat(beat);
          return;
        }
        noteListed(hb.workerId, hb.torrents);
        const verdict = client.heartbeatChanges(beat);
        // Not applied: the worker's next full heartbeat says what it runs.
        if (verdict === 'applied') for (const hex of hb.gone) noteDropped(hb.workerId, hex.toLowerCase());
        else log.debug('heartbeat changes skipped until the next full heartbeat', { worker: hb.workerId, seq: hb.seq, verdict });
      } catch (e) {
        // A malformed heartbeat is one worker's problem: log it, keep serving the others.
        log.warn('bad heartbeat', { error: e as Error });
      }
    };
    const heartbeats = watchWorkerHeartbeats(nc, new HeartbeatInbox(handleBeat));
    // The fleet's DHT switch (the web UI, either web API), over this process's SEEDBOX_DHT.
    const stopConfig = dht ? await state.watchConfig((c) => client.setDhtEnabled(c.dht ?? config.dht)) : undefined;
    const wanted = nc.subscribe(PEERS_WANTED, {
      callback: (_err, msg) => {
        const hex = new TextDecoder().decode(msg.data).trim().toLowerCase();
        if (/^[0-9a-f]{40}$/.test(hex)) client.requestPeers(hex);
      },
    });
    const reannounces = serveReannounces(nc, (hex) => client.reannounce(hex));
    const gauge = setInterval(() => m.announcers.set(client.announcerCount), 1000);
    gauge.unref();

    onShutdown('announce stopped', async () => {
      heartbeats.unsubscribe();
      wanted.unsubscribe();
      reannounces.unsubscribe();
      stopWatch();
      stopConfig?.();
      clearInterval(gauge);
      await client.stop();
      await dht?.stop();
      await statuses.flush();
    });
    return {
      figures: () => {
        const list = client.list();
        // An announcer is one torrent for one worker: a seeding fleet announces each torrent once per worker.
        return {
          torrentsAnnounced: new Set(list.map((a) => a.infoHashHex)).size,
          announcers: list.length,
          ...(dht ? { dhtNodes: dht.node.stats().nodes } : {}),
        };
      },
    };
  },
};
