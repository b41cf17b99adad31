import type { NatsConnection, Subscription } from 'nats';
import { trackerUrlKind } from '@seedbox/protocol';
import { peersSubject, PEERS_WANTED, WORKER_HEARTBEAT } from '@seedbox/cluster';
import { PeersFound, WorkerHeartbeat } from '@seedbox/proto';
import type { Logger } from '@seedbox/runtime';
import type { PeerDiscovery, SwarmHandle, SwarmInfo, SwarmMember } from '../peer-discovery.js';

/**
 * Peer discovery in the fleet: the tracker-client service announces for
 * every worker, as that worker. This worker tells it, once a tick and at
 * once on every join or leave, which swarms it is in and its figures in
 * each (`seedbox.worker.heartbeat`), and takes the peers found on
 * `seedbox.peers.<infohash>`. A swarm not in the registry yet (a magnet
 * link being resolved) carries its trackers in the heartbeat. A swarm out
 * of peers asks for an early announce on `seedbox.tracker.peers-wanted`.
 */
export interface NatsPeerDiscoveryOptions {
  nc: NatsConnection;
  workerId: string;
  peerId: Uint8Array;
  /** What trackers should give out for this worker. */
  announce: { host?: string | undefined; port: number };
  /** The fleet's tracker-clients run the DHT: a public torrent is findable without trackers. */
  dht?: boolean;
  log: Logger;
}

/** How long a join or leave waits for others to share its heartbeat: the first announce is this much later. */
export const JOIN_BEAT_MS = 200;

interface Joined {
  swarm: SwarmInfo;
  member: SwarmMember;
  peers: Subscription;
}

export class NatsPeerDiscovery implements PeerDiscovery {
  private readonly o: NatsPeerDiscoveryOptions;
  private readonly joined = new Map<string, Joined>();
  private closed = false;

  constructor(options: NatsPeerDiscoveryOptions) {
    this.o = options;
  }

  /** The tracker-client announces to a torrent's trackers, and looks public ones up on the DHT; with neither it has nothing to ask. */
  canFind(swarm: SwarmInfo): boolean {
    if (this.o.dht && !swarm.private) return true;
    return swarm.announce.some((tier) => tier.some((url) => trackerUrlKind(url) !== undefined));
  }

  join(swarm: SwarmInfo, member: SwarmMember): SwarmHandle {
    const hex = swarm.infoHashHex;
    const { nc, log } = this.o;
    const peers = nc.subscribe(peersSubject(hex), {
      callback: (_err, msg) => {
        try {
          const found = PeersFound.decode(msg.data);
          member.peersFound(found.peers.filter((p) => p.port > 0 && p.port < 65536 && p.host !== '').map((p) => ({ host: p.host, port: p.port })));
        } catch (e) {
          log.warn('bad peers message', { infoHash: hex, error: e as Error });
        }
      },
    });
    const entry: Joined = { swarm, member, peers };
    this.joined.get(hex)?.peers.unsubscribe();
    this.joined.set(hex, entry);
    // Now rather than at the next tick: the announce is what brings the first peers.
    this.heartbeatSoon();
    return {
      requestPeers: () => this.publish(PEERS_WANTED, new TextEncoder().encode(hex)),
      leave: async () => {
        if (this.joined.get(hex) !== entry) return;
        this.joined.delete(hex);
        peers.unsubscribe();
        // The tracker-client stops the announcer (`stopped`) when a heartbeat no longer lists it.
        this.heartbeatSoon();
      },
    };
  }

  private soon: NodeJS.Timeout | undefined;

  /**
   * A heartbeat JOIN_BEAT_MS from now, one for every join and leave until
   * then. A heartbeat lists every torrent, so one per join made adding
   * 10,000 torrents send gigabytes (10 MB/s of heartbeats, which the
   * tracker-client could not keep up with); torrents join as their checks
   * end, each in a turn of its own, so a turn is not enough to group them.
   */
  private heartbeatSoon(): void {
    this.soon ??= setTimeout(() => {
      this.soon = undefined;
      this.heartbeat();
    }, JOIN_BEAT_MS);
  }

  /** Tells the tracker-client where this worker is, with its figures in every swarm it joined. */
  heartbeat(): void {
    if (this.soon) {
      clearTimeout(this.soon);
      this.soon = undefined;
    }
    if (this.closed) return;
    const { announce, workerId, peerId } = this.o;
    const torrents = [...this.joined.values()].map(({ swarm, member }) => ({
      infoHash: swarm.infoHashHex,
      ...member.totals(),
      trackers: swarm.unregistered ? swarm.announce.flat() : [],
    }));
    const hb = WorkerHeartbeat.encode({ workerId, peerId: Buffer.from(peerId), announceHost: announce.host ?? '', listenPort: announce.port, timeMs: Date.now(), torrents }).finish();
    this.publish(WORKER_HEARTBEAT, hb);
  }

  /** The last heartbeat lists nothing: the tracker-client announces `stopped` for every swarm of ours. */
  close(): void {
    for (const j of this.joined.values()) j.peers.unsubscribe();
    this.joined.clear();
    this.heartbeat();
    this.closed = true;
  }

  private publish(subject: string, data: Uint8Array): void {
    try {
      this.o.nc.publish(subject, data);
    } catch {
      // A closed connection during shutdown: nobody to tell.
    }
  }
}
