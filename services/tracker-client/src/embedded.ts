import { trackerUrlKind, type PeerAddress } from '@seedbox/protocol';
import type { AnnounceFigures, TrackerStatus } from '@seedbox/cluster';
import { SentFigures } from '@seedbox/cluster/sent-figures';
import type { AnnouncePolicy } from './announce-plan.js';
import type { AnnounceSuccess, TrackerWarning } from './announcer.js';
import { DhtPeerSource, type DhtPeerSourceOptions } from './dht-peer-source.js';
import { TrackerClient, type TrackerClientOptions, type WorkerTorrentStats } from './tracker-client.js';

/**
 * The tracker-client in the same process as the engine (`seedbox
 * download`, `seed`, and `seedbox serve`): one TrackerClient announcing
 * every torrent the engine joins to it. It runs the very TrackerClient the
 * fleet runs; the "heartbeat" is a poll of the joined torrents' figures
 * once a second instead of a NATS message, so both modes share every line
 * of announce logic. As in the fleet, a beat hands the client only the
 * torrents that joined, left or whose figures changed (heartbeatChanges):
 * with 10,000 idle torrents, a record of all of them and a walk of every
 * announcer each second was a quarter of serve's idle CPU. A full
 * heartbeat goes only first, and if the client ever loses track of us.
 *
 * It has the shape of the peer-worker's PeerDiscovery (join, canFind),
 * which the engine takes; the types are written here again so that this
 * service need not import another. It also answers what the fleet's
 * tracker-client answers over NATS: each tracker's last word
 * (trackerStatus) and a reannounce asked for by hand.
 */

/** announceToAllTiers and announceToAllTrackers: the torrent's own, over EmbeddedTrackersOptions'. */
export interface EmbeddedSwarm extends AnnouncePolicy {
  infoHash: Uint8Array;
  infoHashHex: string;
  announce: readonly (readonly string[])[];
  /** BEP 27: trackers only, never the DHT. */
  private?: boolean;
}

export interface EmbeddedMember {
  totals(): WorkerTorrentStats & { complete: boolean };
  peersFound(peers: readonly PeerAddress[]): void;
  /** While its totals cannot move, an object that stays the same until they can (see the engine's SwarmMember.quiet). */
  quiet?(): object | undefined;
}

export interface EmbeddedTrackersOptions extends Omit<TrackerClientOptions, 'peerFeed' | 'dht'> {
  /** The peer id the engine handshakes with. */
  peerId: Uint8Array;
  /** The engine's listening port. */
  port: number;
  /** The address to announce; omit it to let trackers use our source address. */
  host?: string;
  /** How often the figures are read. Default 1 s (the engine's tick). */
  pollMs?: number;
  /** Announce to the torrents' trackers. Default true; false leaves the DHT alone (with `dht`). */
  trackers?: boolean;
  /** Run a DHT node too (BEP 5), on the engine's port unless told otherwise, for every public torrent. */
  dht?: Omit<DhtPeerSourceOptions, 'port'> & { port?: number };
}

export const EMBEDDED_WORKER_ID = 'embedded';

/** How long a join or leave waits for others to share its beat: the first announce is this much later. */
const JOIN_BEAT_MS = 200;

/** A joined member and what the client last had of its figures. */
interface Joined {
  member: EmbeddedMember;
  sent: SentFigures;
}

export class EmbeddedTrackers {
  readonly client: TrackerClient;
  /** The DHT node and its swarms, when asked for. */
  readonly dht: DhtPeerSource | undefined;
  private readonly o: EmbeddedTrackersOptions;
  private readonly members = new Map<string, Joined>();
  /** Left since the last beat: the next one tells the client. */
  private readonly gone = new Set<string>();
  /** The client knows our worker (a full heartbeat went): beats may send only what changed. */
  private established = false;
  private readonly timer: NodeJS.Timeout;
  private stopping: Promise<void> | undefined;

  constructor(options: EmbeddedTrackersOptions) {
    const { peerId: _p, port: _port, host: _h, pollMs = 1000, dht, trackers: _t, ...clientOptions } = options;
    this.o = options;
    this.dht = dht ? new DhtPeerSource({ ...dht, port: dht.port ?? options.port }) : undefined;
    this.client = new TrackerClient({
      ...clientOptions,
      ...(this.dht ? { dht: this.dht.swarms } : {}),
      peerFeed: { peersFound: (hex, peers) => this.members.get(hex)?.member.peersFound(peers) },
    });
    this.timer = setInterval(() => this.beat(), pollMs);
  }

  /** Whether any tier lists a tracker we can announce to, or the DHT may find it (a public torrent). */
  canFind(swarm: Pick<EmbeddedSwarm, 'announce' | 'private'>): boolean {
    if (this.dht?.canFind && !swarm.private) return true;
    return this.o.trackers !== false && swarm.announce.some((tier) => tier.some((url) => trackerUrlKind(url) !== undefined));
  }

  /** Announces `swarm` with the member's figures (`started` now), and gives it the peers found. */
  join(swarm: EmbeddedSwarm, member: EmbeddedMember): { requestPeers(): void; leave(): Promise<void> } {
    const hex = swarm.infoHashHex;
    const joined: Joined = { member, sent: new SentFigures() };
    this.members.set(hex, joined);
    this.gone.delete(hex);
    const { announceToAllTiers, announceToAllTrackers } = swarm;
    this.client.addTorrent({
      infoHash: swarm.infoHash,
      announce: this.o.trackers === false ? [] : swarm.announce,
      ...(swarm.private ? { private: true } : {}),
      ...(announceToAllTiers !== undefined ? { announceToAllTiers } : {}),
      ...(announceToAllTrackers !== undefined ? { announceToAllTrackers } : {}),
    });
    void this.beatSoon();
    let left: Promise<void> | undefined;
    return {
      requestPeers: () => this.client.requestPeers(hex),
      leave: () => {
        left ??= (async () => {
          if (this.members.get(hex) !== joined) return;
          // The last figures go with `stopped`: the announcer keeps those of the last heartbeat.
          // Leaves come in bursts within one turn (a stop, a pause of many), so the next turn's beat groups them.
          await this.beatSoon(0);
          if (this.members.get(hex) !== joined) return;
          this.members.delete(hex);
          // The worker's list drops it at the next beat; until then stopEntry() still reads its last figures there.
          this.gone.add(hex);
          // A torrent leaves when it pauses too: what its trackers said last stays on show.
          await this.client.removeTorrent(hex, { keepStatus: true });
        })();
        return left;
      },
    };
  }

  /** What each tracker of the torrent last answered (kept while it is paused). */
  trackerStatus(infoHashHex: string): TrackerStatus[] {
    return this.client.trackerStatus(infoHashHex);
  }

  /** Announces the torrent now, if it is joined (see Announcer.announceNow); answers how many announces were brought forward. */
  reannounce(infoHashHex: string): number {
    return this.client.reannounce(infoHashHex);
  }

  private soon: { beat: Promise<void>; fire: () => void; timer: NodeJS.Timeout | undefined } | undefined;

  /**
   * A beat `delayMs` from now (0: the next turn), shared by every caller
   * until then; a caller in a hurry brings a later one forward. A beat
   * reads every member's figures, so one per join or leave made adding (or
   * stopping) thousands of torrents cost O(N²): 2,000 joins took 2.5 s of
   * CPU. Torrents join as their checks end, each in a turn of its own, so
   * a turn of the event loop is not enough to group joins (JOIN_BEAT_MS);
   * leaves come together, and waiting for the joins' beat held every
   * `seedbox download` up to 200 ms at its exit.
   */
  private beatSoon(delayMs = JOIN_BEAT_MS): Promise<void> {
    if (!this.soon) {
      let resolve!: () => void;
      const beat = new Promise<void>((r) => (resolve = r));
      const soon = {
        beat,
        timer: undefined as NodeJS.Timeout | undefined,
        fire: () => {
          if (this.soon !== soon) return;
          clearTimeout(soon.timer);
          this.soon = undefined;
          this.beat();
          resolve();
        },
      };
      this.soon = soon;
      if (delayMs > 0) soon.timer = setTimeout(soon.fire, delayMs);
      else setImmediate(soon.fire);
    } else if (delayMs === 0 && this.soon.timer) {
      clearTimeout(this.soon.timer);
      this.soon.timer = undefined;
      setImmediate(this.soon.fire);
    }
    return this.soon.beat;
  }

  /**
   * Hands the client the members that joined or whose figures changed, and
   * those that left. Reading each member's totals is the one thing left
   * that costs O(members) (the engine has no cheaper way to say a figure
   * moved): four numbers compared, nothing kept.
   */
  private beat(): void {
    if (this.stopping) return;
    if (!this.established) return this.fullBeat();
    const changed = new Map<string, WorkerTorrentStats>();
    for (const [hex, j] of this.members) {
      // Only what moved (a dormant torrent read since it fell quiet is not read again).
      const t = this.read(hex, () => j.sent.changed(j.member));
      if (t) changed.set(hex, t);
    }
    const verdict = this.client.heartbeatChanges({ ...this.identity(), torrents: changed, gone: this.gone });
    this.gone.clear();
    // Only if the client dropped our worker (workerTimeoutMs, with the loop blocked past it): tell it everything again.
    if (verdict !== 'applied') this.fullBeat();
  }

  /** Every member's figures: establishes our worker with the client. */
  private fullBeat(): void {
    const torrents = new Map<string, WorkerTorrentStats>();
    for (const [hex, j] of this.members) {
      const t = this.read(hex, () => j.sent.all(j.member));
      if (t) torrents.set(hex, t);
    }
    this.gone.clear();
    this.client.heartbeat({ ...this.identity(), torrents });
    this.established = true;
  }

  /** A member's figures, as `read` takes them; a member whose figures cannot be read is skipped this time. */
  private read(hex: string, read: () => AnnounceFigures | undefined): AnnounceFigures | undefined {
    try {
      return read();
    } catch (e) {
      // This one is skipped this time; announces keep its last figures meanwhile.
      this.o.onWarning?.({ kind: 'all-failed', infoHashHex: hex, message: `reading the figures failed: ${String(e)}`, error: e as Error });
      return undefined;
    }
  }

  private identity(): { workerId: string; peerId: Uint8Array; port: number; host?: string } {
    return { workerId: EMBEDDED_WORKER_ID, peerId: this.o.peerId, port: this.o.port, ...(this.o.host !== undefined ? { host: this.o.host } : {}) };
  }

  /** `stopped` to the trackers of every torrent still joined (bounded by timing.stopTimeoutMs), then closes the sockets. */
  stop(): Promise<void> {
    clearInterval(this.timer);
    this.stopping ??= Promise.all([this.client.stop(), this.dht?.stop()]).then(() => undefined);
    return this.stopping;
  }
}

export type { AnnounceSuccess, TrackerWarning };
export { parseDhtBootstrap } from './dht-peer-source.js';
