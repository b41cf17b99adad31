import type { NatsConnection, Subscription } from 'nats';
import { gatherPeers, peersSubject, servePeerLists, type PeerInfo } from '@seedbox/cluster';
import { PeersFound } from '@seedbox/proto';
import type { PeerAddress } from '@seedbox/protocol';
import type { PeerSource } from '../control/backend.js';

/**
 * Connected peers in the fleet (see peer-lists.ts in @seedbox/cluster):
 * this worker answers for the torrents its engine runs, and asks every
 * worker when a control API wants a torrent's peers, counting on as many
 * answers as the figures name workers running it; peers a control API
 * adds go to every worker running the torrent.
 */
export class FleetPeers implements PeerSource {
  private readonly sub: Subscription;

  constructor(
    private readonly nc: NatsConnection,
    workerId: string,
    engine: { peers(infoHashHex: string): PeerInfo[] | undefined },
    /** How many workers run a torrent, from the figures they publish (StatsBoard). */
    private readonly runners: (infoHashHex: string) => number,
    private readonly timeoutMs = 1000,
  ) {
    this.sub = servePeerLists(nc, workerId, (hex) => engine.peers(hex));
  }

  peers(infoHashHex: string): Promise<PeerInfo[]> {
    return gatherPeers(this.nc, infoHashHex, this.runners(infoHashHex), this.timeoutMs);
  }

  /** On the subject the tracker-client hands its peers on: every worker running the torrent (or resolving its magnet) dials them. */
  async addPeers(infoHashHex: string, peers: readonly PeerAddress[]): Promise<void> {
    const msg = PeersFound.encode({ infoHash: infoHashHex, source: 'control-api', peers: peers.map((p) => ({ host: p.host, port: p.port, peerId: Buffer.alloc(0) })) });
    this.nc.publish(peersSubject(infoHashHex), msg.finish());
  }

  close(): void {
    this.sub.unsubscribe();
  }
}
