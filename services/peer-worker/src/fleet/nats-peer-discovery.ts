import { Events, type NatsConnection, type Subscription } from 'nats';
import { trackerUrlKind } from '@seedbox/protocol';
import { peersSubject, PEERS_WANTED, SentFigures, WORKER_HEARTBEAT, WORKER_HEARTBEAT_CHANGES } from '@seedbox/cluster';
import { PeersFound, WorkerHeartbeat, type WorkerTorrent } from '@seedbox/proto';
import type { Logger } from '@seedbox/runtime';
import type { PeerDiscovery, SwarmHandle, SwarmInfo, SwarmMember, TransferTotals } from '../peer-discovery.js';

/**
 * Peer discovery in the fleet: the tracker-client service announces for
 * every worker, as that worker. This worker tells it, once a tick and at
 * once on every join or leave, which swarms it is in and its figures in
 * each, and takes the peers found on `seedbox.peers.<infohash>`. A swarm
 * not in the registry yet (a magnet link being resolved) carries its
 * trackers in the heartbeat. A swarm out of peers asks for an early
 * announce on `seedbox.tracker.peers-wanted`.
 *
 * Most heartbeats carry only what changed since the one before: the
 * swarms joined, left, or whose figures moved (`seedbox.worker.heartbeat
 * .changes`), so an idle worker with 10,000 torrents sends a hundred bytes
 * a second, not 10,000 torrents the tracker-client must read. A full one,
 * listing every swarm (`seedbox.worker.heartbeat`, the format older
 * tracker-clients read), goes first, every FULL_HEARTBEAT_MS, and after a
 * reconnect. Each carries a seq, one more than the one before, so the
 * tracker-client knows when it missed a partial one.
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
  /** How often a full heartbeat goes; default FULL_HEARTBEAT_MS. */
  fullHeartbeatMs?: number;
}

/** How long a join or leave waits for others to share its heartbeat: the first announce is this much later. */
export const JOIN_BEAT_MS = 200;

/**
 * How often a heartbeat lists every swarm. It bounds how long a
 * tracker-client that missed a partial heartbeat (or just started) waits to
 * be back in step, and it must stay well under the tracker-client's
 * worker timeout (SEEDBOX_WORKER_TIMEOUT_MS, 15 s by default): one older
 * than partial heartbeats, during a rolling upgrade, sees only these and
 * would otherwise take the worker for dead. Each costs what every
 * heartbeat used to (all swarms encoded and read), a tenth as often.
 */
export const FULL_HEARTBEAT_MS = 10_000;

/** A joined swarm, and the figures the tracker-client last had from it (plain fields: comparing them allocates nothing). */
interface Joined {
  swarm: SwarmInfo;
  member: SwarmMember;
  peers: Subscription;
  /** What the heartbeats said of it last. */
  sent: SentFigures;
}

export class NatsPeerDiscovery implements PeerDiscovery {
  private readonly o: NatsPeerDiscoveryOptions;
  private readonly joined = new Map<string, Joined>();
  /** Left since the last heartbeat: the next partial one names them. */
  private readonly gone = new Set<string>();
  private seq = 0;
  private lastFullAt = 0;
  /** The next heartbeat lists everything: the first one, and the first after a reconnect (what went meanwhile may be lost). */
  private fullNext = true;
  private closed = false;

  constructor(options: NatsPeerDiscoveryOptions) {
    this.o = options;
    this.watchReconnects();
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
    const entry: Joined = { swarm, member, peers, sent: new SentFigures() };
    this.joined.get(hex)?.peers.unsubscribe();
    this.joined.set(hex, entry);
    this.gone.delete(hex);
    // Now rather than at the next tick: the announce is what brings the first peers.
    this.heartbeatSoon();
    return {
      requestPeers: () => this.publish(PEERS_WANTED, new TextEncoder().encode(hex)),
      leave: async () => {
        if (this.joined.get(hex) !== entry) return;
        this.joined.delete(hex);
        this.gone.add(hex);
        peers.unsubscribe();
        // The tracker-client stops the announcer (`stopped`) when a heartbeat says it is gone, or a full one no longer lists it.
        this.heartbeatSoon();
      },
    };
  }

  private soon: NodeJS.Timeout | undefined;

  /**
   * A heartbeat JOIN_BEAT_MS from now, one for every join and leave until
   * then. A heartbeat once listed every torrent, so one per join made
   * adding 10,000 torrents send gigabytes (10 MB/s of heartbeats, which the
   * tracker-client could not keep up with); even now that it lists only
   * changes, each one reads every swarm's figures. Torrents join as their
   * checks end, each in a turn of its own, so a turn is not enough to
   * group them.
   */
  private heartbeatSoon(): void {
    this.soon ??= setTimeout(() => {
      this.soon = undefined;
      this.heartbeat();
    }, JOIN_BEAT_MS);
  }

  /**
   * Tells the tracker-client where this worker is and its figures: those
   * of the swarms joined, left or changed since the last heartbeat, or of
   * every swarm when a full heartbeat is due. Called every tick; reading
   * each swarm's figures is then the only per-swarm work of an idle one.
   */
  heartbeat(): void {
    if (this.soon) {
      clearTimeout(this.soon);
      this.soon = undefined;
    }
    if (this.closed) return;
    const now = Date.now();
    if (this.fullNext || now - this.lastFullAt >= (this.o.fullHeartbeatMs ?? FULL_HEARTBEAT_MS)) {
      this.fullNext = false;
      this.lastFullAt = now;
      this.publish(WORKER_HEARTBEAT, this.encode(now, [...this.joined].map(([hex, j]) => this.listed(hex, j, j.sent.all(j.member)))));
      return;
    }
    const torrents: WorkerTorrent[] = [];
    for (const [hex, j] of this.joined) {
      // Only what moved (a dormant torrent read since it fell quiet is not read again).
      const t = j.sent.changed(j.member);
      if (t) torrents.push(this.listed(hex, j, t));
    }
    // Sent when nothing changed too: it is the worker's sign of life, and its seq shows the tracker-client nothing was missed.
    this.publish(WORKER_HEARTBEAT_CHANGES, this.encode(now, torrents, [...this.gone]));
  }

  /** The last heartbeat, a full one, lists nothing: the tracker-client announces `stopped` for every swarm of ours. */
  close(): void {
    for (const j of this.joined.values()) j.peers.unsubscribe();
    this.joined.clear();
    this.fullNext = true;
    this.heartbeat();
    this.closed = true;
  }

  /** A heartbeat of either kind; `gone` only in partial ones. Resets the list of swarms gone: they are told now. */
  private encode(now: number, torrents: WorkerTorrent[], gone: string[] = []): Uint8Array {
    const { announce, workerId, peerId } = this.o;
    this.gone.clear();
    const seq = ++this.seq;
    return WorkerHeartbeat.encode({ workerId, peerId: Buffer.from(peerId), announceHost: announce.host ?? '', listenPort: announce.port, timeMs: now, torrents, seq, gone }).finish();
  }

  private listed(hex: string, { swarm }: Joined, t: TransferTotals): WorkerTorrent {
    return { infoHash: hex, uploaded: t.uploaded, downloaded: t.downloaded, left: t.left, complete: t.complete, trackers: swarm.unregistered ? swarm.announce.flat() : [] };
  }

  /** After a reconnect the server may have dropped what was sent while away: the next heartbeat lists everything. */
  private watchReconnects(): void {
    const { nc } = this.o;
    // Test doubles of the connection may have no status stream.
    if (typeof nc.status !== 'function') return;
    void (async () => {
      for await (const s of nc.status()) if (s.type === Events.Reconnect) this.fullNext = true;
    })().catch(() => {
      // The stream ends with the connection; nothing to do then.
    });
  }

  private publish(subject: string, data: Uint8Array): void {
    try {
      this.o.nc.publish(subject, data);
    } catch {
      // A closed connection during shutdown: nobody to tell.
    }
  }
}
