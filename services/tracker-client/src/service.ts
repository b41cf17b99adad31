import { parseMagnet, parseMetainfo } from '@seedbox/protocol';
import { FleetState, peersSubject, PEERS_WANTED, serveReannounces, WORKER_HEARTBEAT, type ServiceDefinition } from '@seedbox/cluster';
import { PeersFound, WorkerHeartbeat } from '@seedbox/proto';
import { createTrackerClientMetrics, listenOrExplain, settingOrExplain, trackerClientOptions } from '@seedbox/runtime';
import { DhtPeerSource, parseDhtBootstrap } from './dht-peer-source.js';
import { TrackerClient } from './tracker-client.js';
import { TrackerStatusWriter } from './tracker-status-writer.js';

/**
 * The tracker-client process: announces every registered torrent for every
 * peer-worker that runs it, as that worker (from its heartbeats on
 * `seedbox.worker.heartbeat`), and publishes the peers found on
 * `seedbox.peers.<infohash>`, where the workers running the torrent listen.
 *
 * It keeps no state of its own: after a restart the next heartbeats (one a
 * second) and the registry bring it back to where it was, announcing
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
     * magnet links a worker is resolving. Forgotten once no heartbeat lists
     * them and the registry has not taken them over.
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
    const noteUnregistered = (workerId: string, listed: { infoHash: string; trackers: string[] }[]): void => {
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
      if (unregistered.size === 0) return;
      // A set, not a scan of the list per torrent: both may hold thousands while the registry is read.
      const now = new Set(listed.map((t) => t.infoHash.toLowerCase()));
      for (const [hex, workers] of unregistered) {
        if (!workers.has(workerId) || now.has(hex)) continue;
        workers.delete(workerId);
        if (workers.size === 0) {
          unregistered.delete(hex);
          trackerless.delete(hex);
          if (!registered.has(hex)) void client.removeTorrent(hex);
        }
      }
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

    // A heartbeat lists every torrent its worker runs, so only a worker's
    // latest one matters: those that arrive while one is being handled
    // replace each other, and a tracker-client behind (10,000 torrents, a
    // heartbeat per completion burst) skips the stale ones instead of
    // queueing them (it once grew to 3 GiB doing so).
    const latestBeat = new Map<string, Uint8Array>();
    let unkeyed = 0;
    let beatsScheduled = false;
    const handleBeats = (): void => {
      beatsScheduled = false;
      const beats = [...latestBeat.values()];
      latestBeat.clear();
      for (const data of beats) {
        try {
          const hb = WorkerHeartbeat.decode(data);
          // Trackers first: the heartbeat then starts their announcers.
          noteUnregistered(hb.workerId, hb.torrents);
          client.heartbeat({
            workerId: hb.workerId,
            peerId: hb.peerId,
            port: hb.listenPort,
            ...(hb.announceHost !== '' ? { host: hb.announceHost } : {}),
            torrents: new Map(hb.torrents.map((t) => [t.infoHash, { uploaded: t.uploaded, downloaded: t.downloaded, left: t.left, complete: t.complete }])),
          });
        } catch (e) {
          // A malformed heartbeat is one worker's problem: log it, keep serving the others.
          log.warn('bad heartbeat', { error: e as Error });
        }
      }
    };
    const heartbeats = nc.subscribe(WORKER_HEARTBEAT, {
      callback: (_err, msg) => {
        // Keyed by subject when a worker's id is in it, else by the message: one per worker either way.
        latestBeat.set(workerOfBeat(msg.data) ?? `\0${++unkeyed}`, msg.data);
        if (!beatsScheduled) {
          beatsScheduled = true;
          setImmediate(handleBeats);
        }
      },
    });
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

/**
 * The worker id of an encoded WorkerHeartbeat, read without decoding the
 * rest (thousands of torrents): field 1, which the encoder writes first.
 * Undefined when it is not there first; the caller then keeps the beat.
 */
export function workerOfBeat(data: Uint8Array): string | undefined {
  if (data.length < 2 || data[0] !== 0x0a) return undefined;
  let len = 0;
  let at = 1;
  for (let shift = 0; at < data.length && shift < 21; shift += 7) {
    const b = data[at++]!;
    len |= (b & 0x7f) << shift;
    if (b < 0x80) {
      if (at + len > data.length) return undefined;
      return Buffer.from(data.buffer, data.byteOffset + at, len).toString('utf8');
    }
  }
  return undefined;
}
