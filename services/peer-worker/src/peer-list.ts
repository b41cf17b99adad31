import type { Socket } from 'node:net';
import { formatPeerAddress, type PeerAddress } from '@seedbox/protocol';
import { dialPeer } from './dial.js';
import { outgoingMethods, type EncryptionPolicy } from './encryption/encryption-policy.js';
import type { IncomingOpening } from './encryption/incoming-handshake.js';
import type { CloseReason } from './peer-connection.js';
import type { SessionOpening } from './peer-handler.js';
import type { PeerSession } from './peer-session.js';

/**
 * The peers of one swarm, for one owner (a torrent, or a metadata fetch):
 * the candidates we know of and how they fared (libtorrent's
 * `torrent_peer`, rqbit's `PeerStates`), the sessions starting up, and the
 * live set of sessions that passed admission. Dialling, backoff, bans and
 * admission live here only, so that every owner keeps the same rules.
 *
 *   candidate ──dial──► connecting ──admitted──► live ──closed──► candidate
 *       ▲                    │                                (backoff, or banned)
 *       └────── failed ──────┘
 *
 * A session joins `connecting` before it starts, so whatever happens
 * during its start (an incoming peer refused at once) reaches `closed`
 * like any other end, and nothing stays counted that is gone.
 */

/**
 * Peer connections of the whole process (libtorrent's `connections_limit`),
 * shared by every peer list: each session takes one when it starts and
 * gives it back when it closes, so the engine knows the count without
 * walking its torrents, and dialling stops when it is spent.
 */
export class ConnectionBudget {
  private used = 0;
  constructor(readonly limit: number) {}

  get count(): number {
    return this.used;
  }

  /** Room for `extra` more (connections the caller holds outside any list, e.g. still handshaking). */
  hasRoom(extra = 0): boolean {
    return this.used + extra < this.limit;
  }

  take(): void {
    this.used++;
  }

  give(): void {
    if (this.used > 0) this.used--;
  }
}

/**
 * A peer dropped for giving nothing (peer-quality.ts) is dialled again
 * only after this times the drops in a row, libtorrent's rule
 * (`min_reconnect_time`, 60 s, times the fail count): its slot goes to
 * other peers meanwhile, and after maxDialFailures drops it is given up.
 */
const USELESS_BACKOFF_MS = 60_000;
/**
 * A given-up peer is still dialled this often while the list has nothing
 * else to try (no session, no candidate left): it may only have been busy.
 * A seed at its accept backlog (libtorrent's listen queue is 5 deep) drops
 * the SYNs of a burst, and five failed dials take 31 s; a torrent whose
 * only seed that is would otherwise sit at 0% until a tracker names the
 * seed again (add()), which may be half an hour. Only a stuck list retries,
 * so the dead addresses of a live swarm cost nothing.
 */
const GIVEN_UP_RETRY_MS = 2 * 60_000;
const USELESS: ReadonlySet<CloseReason> = new Set<CloseReason>(['unrequested-data', 'choked-too-long', 'snubbed']);

interface Candidate {
  address: PeerAddress;
  /** The session dialled to it now, if any. */
  session: PeerSession | undefined;
  /** Connection attempts failed in a row. */
  failures: number;
  nextDialAt: number;
  banned: boolean;
  /** It offered the info dictionary (BEP 9): a good first peer for the download that follows a fetch. */
  hadMetadata: boolean;
  /** It did not answer our encrypted handshake: dial it in plain text (under `prefer`). */
  plainOnly: boolean;
}

export interface PeerListOptions {
  /** Most sessions at once (live and connecting). */
  maxPeers: number;
  /** Connection attempts a peer may fail in a row before we stop dialling it. Default 5. */
  maxDialFailures?: number;
  /** Makes the owner's session for a socket; the list starts it. */
  createSession: (socket: Socket, peer: PeerAddress, how: SessionOpening) => PeerSession;
  /** How we dial and whom we take (read at each dial: it may change at run time). Default 'disable'. */
  encryption?: (() => EncryptionPolicy) | undefined;
  /** Opens a TCP connection; injectable for tests. */
  connect?: ((peer: PeerAddress) => Socket) | undefined;
  /** The process's connections, shared with every other list; none for a list of its own. */
  budget?: ConnectionBudget | undefined;
  now?: () => number;
}

export class PeerList {
  private readonly o: PeerListOptions;
  private readonly now: () => number;
  private readonly maxFailures: number;
  // Every torrent has a list, most of thousands idle, and an empty Map or
  // Set costs ~170 bytes: the candidates are made with the first one (then
  // kept: they are what we dial), the starting sessions exist only while one is.
  /** Known peers by address; undefined until the first is added. */
  private candidates: Map<string, Candidate> | undefined;
  /** Sessions starting; undefined when none is. */
  private connecting: Set<PeerSession> | undefined;
  /** Not made lazily: the torrent hands this very Set to its figures (torrent.ts, SnapshotCache), which read it as it changes. */
  private readonly liveSet = new Set<PeerSession>();

  constructor(options: PeerListOptions) {
    this.o = options;
    this.now = options.now ?? Date.now;
    this.maxFailures = options.maxDialFailures ?? 5;
  }

  /** Sessions that passed admission and are open. */
  get live(): ReadonlySet<PeerSession> {
    return this.liveSet;
  }

  /** Live and starting sessions: what the cap counts. */
  get sessionCount(): number {
    return this.liveSet.size + (this.connecting?.size ?? 0);
  }

  get knownCount(): number {
    return this.candidates?.size ?? 0;
  }

  /**
   * Adds candidates; answers how many were new. A known one is left as it
   * is, unless it was given up: a source naming it again (a tracker's
   * answer, PEX, the DHT) says it is still in the swarm, so it gets one
   * more try. Without that, a torrent whose only seed refused five dials in
   * a row (busy, restarting, at its connection limit) never dialled it
   * again, however often the tracker handed it out; libtorrent likewise
   * takes such a peer back from the next tracker reply. Sources repeat
   * themselves at their own pace (an announce interval), which paces the
   * retries too.
   */
  add(addresses: readonly PeerAddress[]): number {
    let added = 0;
    for (const address of addresses) {
      const key = formatPeerAddress(address.host, address.port);
      const known = this.candidates?.get(key);
      if (known) {
        if (!known.session && !known.banned && known.failures >= this.maxFailures) {
          known.failures = this.maxFailures - 1;
          known.nextDialAt = 0;
        }
        continue;
      }
      (this.candidates ??= new Map()).set(key, { address, session: undefined, failures: 0, nextDialAt: 0, banned: false, hadMetadata: false, plainOnly: false });
      added++;
    }
    return added;
  }

  /**
   * Dials candidates until the cap, skipping those connected, banned or
   * backing off, and those given up unless nothing else is left to try
   * (GIVEN_UP_RETRY_MS).
   */
  dial(): void {
    if (!this.candidates) return;
    const t = this.now();
    // Worked out at the first given-up candidate due, as it is a pass over the list.
    let stuck: boolean | undefined;
    for (const c of this.candidates.values()) {
      if (this.sessionCount >= this.o.maxPeers || (this.o.budget && !this.o.budget.hasRoom())) return;
      if (c.session || c.banned || c.nextDialAt > t) continue;
      if (c.failures >= this.maxFailures && !(stuck ??= !this.hasProspects())) continue;
      const policy = this.o.encryption?.() ?? 'disable';
      const encrypt = policy === 'prefer' && c.plainOnly ? undefined : outgoingMethods(policy);
      const session = dialPeer(c.address, (socket, peer) => this.o.createSession(socket, peer, { direction: 'outgoing', encrypt }), this.o.connect);
      c.session = session;
      this.begin(session);
    }
  }

  /** A connection the listener accepted and whose handshake named our info hash. */
  acceptIncoming(socket: Socket, opening: IncomingOpening): void {
    const peer = { host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    this.begin(this.o.createSession(socket, peer, { direction: 'incoming', opening }));
  }

  private begin(session: PeerSession): void {
    (this.connecting ??= new Set()).add(session);
    this.o.budget?.take();
    session.start();
  }

  /**
   * The rules every owner applies to a handshake before its own: not
   * ourselves, not a second connection to the same peer id, and an
   * incoming peer only while there is room. Admitted, the session is live.
   */
  admit(session: PeerSession, localPeerId: Uint8Array): CloseReason | undefined {
    const remote = session.remote!;
    if (Buffer.compare(Buffer.from(remote.peerId), Buffer.from(localPeerId)) === 0) {
      this.ban(session.address); // never dial ourselves again
      return 'self-connection';
    }
    for (const other of this.liveSet) {
      if (other !== session && Buffer.compare(Buffer.from(other.remote!.peerId), Buffer.from(remote.peerId)) === 0) return 'duplicate-peer';
    }
    if (session.direction === 'incoming' && this.liveSet.size >= this.o.maxPeers) return 'too-many-peers';
    return undefined;
  }

  /** The owner admitted the session too: it is live. */
  opened(session: PeerSession): void {
    if (!this.leaveConnecting(session)) return;
    this.liveSet.add(session);
  }

  /** Takes the session out of `connecting`; false when it was not there. */
  private leaveConnecting(session: PeerSession): boolean {
    if (!this.connecting?.delete(session)) return false;
    if (this.connecting.size === 0) this.connecting = undefined;
    return true;
  }

  /**
   * A session ended: it leaves the sets, and its candidate learns when it
   * may be dialled again. One that never completed a handshake (or had
   * nothing for us) counts a failure and backs off 1, 2, 4, 8 s: a peer
   * that is restarting gets a few chances within a quarter of a minute,
   * one that is gone is given up (dialled again only when a source names
   * it again, or every GIVEN_UP_RETRY_MS while nothing else is left to
   * try). One dropped for giving nothing backs off
   * a minute per drop in a row (USELESS_BACKOFF_MS). Bad data and ourselves
   * are banned.
   */
  closed(session: PeerSession, reason: CloseReason): void {
    if (this.leaveConnecting(session) || this.liveSet.delete(session)) this.o.budget?.give();
    const c = this.candidates?.get(session.address);
    if (!c || c.session !== session) return;
    c.session = undefined;
    if (reason === 'bad-data' || reason === 'self-connection') c.banned = true;
    // Our decision (a pause, a shutdown): nothing against the peer.
    if (reason === 'shutdown' || reason === 'paused') return;
    // It took the connection but not our encrypted handshake: as libtorrent
    // does, dial it again at once in plain text, if the policy allows that.
    if (reason === 'encryption-failed' && !c.plainOnly && this.o.encryption?.() === 'prefer') {
      c.plainOnly = true;
      c.nextDialAt = this.now();
      return;
    }
    if (USELESS.has(reason)) {
      c.failures++;
      c.nextDialAt = this.now() + USELESS_BACKOFF_MS * c.failures;
    } else if (!session.remote || reason === 'not-useful') {
      c.failures++;
      c.nextDialAt = this.now() + (reason === 'not-useful' ? 30_000 : Math.min(60_000, 1000 * 2 ** (c.failures - 1)));
    } else {
      c.failures = 0;
      c.nextDialAt = this.now() + 1000;
    }
    if (c.failures >= this.maxFailures) c.nextDialAt = Math.max(c.nextDialAt, this.now() + GIVEN_UP_RETRY_MS);
  }

  /** Never dial this address again; its sessions are for the caller to close. */
  ban(address: string): void {
    const c = this.candidates?.get(address);
    if (c) c.banned = true;
  }

  /** The candidate offered the info dictionary (BEP 9). */
  markHadMetadata(address: string): void {
    const c = this.candidates?.get(address);
    if (c) c.hadMetadata = true;
  }

  /** Candidates that offered the info dictionary and are not banned. */
  withMetadata(): PeerAddress[] {
    return [...(this.candidates?.values() ?? [])].filter((c) => c.hadMetadata && !c.banned).map((c) => c.address);
  }

  /** Whether any session is up or starting, or any candidate still worth dialling: when false, only new peers can help. */
  hasProspects(): boolean {
    if (this.sessionCount > 0) return true;
    for (const c of this.candidates?.values() ?? []) if (!c.banned && c.failures < this.maxFailures) return true;
    return false;
  }

  /** Closes every session, live and starting. */
  closeAll(reason: CloseReason): void {
    for (const s of [...(this.connecting ?? []), ...this.liveSet]) s.close(reason);
  }
}
