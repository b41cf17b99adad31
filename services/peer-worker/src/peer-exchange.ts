import { formatPeerAddress, parseIpv4, parseIpv6, PexFlag, UT_PEX, type PeerAddress, type PexMessage, type PexPeer } from '@seedbox/protocol';
import type { PeerSession } from './peer-session.js';

/**
 * Peer exchange (BEP 11) for one torrent: which of our connected peers we
 * tell each PEX-capable peer about, and which peers we take from theirs.
 *
 * Each connection is told, at most once a minute (libtorrent's interval),
 * what changed since the last message to it: the peers connected since
 * (added, at most 50, as libtorrent sends) and those gone (dropped). The
 * first message lists the peers connected now. The difference is kept per
 * connection, so a peer that joined mid-way is told the same as the others.
 *
 * A peer's message is taken at most once per 50 s (libtorrent's rule too);
 * a flood in between is ignored. Nothing is sent or taken for a private
 * torrent (BEP 27): the torrent passes `enabled: false`, and its sessions
 * neither offer ut_pex nor read it.
 */

/** libtorrent sends a connection a PEX message at most once a minute. */
export const PEX_SEND_INTERVAL_MS = 60_000;
/** A second message from the same peer within this is ignored (libtorrent's figure). */
export const PEX_RECEIVE_INTERVAL_MS = 50_000;
/** Most peers in one message's added (and dropped) list, as libtorrent sends. */
export const PEX_MAX_SENT = 50;
/** Past this many known peers, PEX adds none (libtorrent's max_peerlist_size): a swarm's gossip cannot grow the list without bound. */
export const PEX_MAX_KNOWN = 3000;

export interface PeerExchangeOptions {
  /** False for a private torrent: nothing is sent, nothing taken. */
  enabled: boolean;
  /** Where the peers we learn go: the torrent's peer list. */
  addPeers: (peers: readonly PeerAddress[]) => void;
  /** How many peers the list knows now; none added past PEX_MAX_KNOWN. */
  knownCount?: () => number;
  now?: () => number;
}

interface Connection {
  /** When we last sent it a message; undefined before the first. */
  sentAt: number | undefined;
  /** When we last took one of its messages. */
  takenAt: number | undefined;
  /** What it knows of our peers: what we told it, added minus dropped, by key. */
  told: Map<string, PeerAddress>;
}

export class PeerExchange {
  private readonly o: PeerExchangeOptions;
  private readonly now: () => number;
  /** Per session we exchanged with; undefined when none is, so an idle torrent (one of thousands) holds no Map. */
  private connections: Map<PeerSession, Connection> | undefined;
  /** Messages taken and ignored (too soon after the last), over the torrent's life. */
  taken = 0;
  ignored = 0;

  constructor(options: PeerExchangeOptions) {
    this.o = options;
    this.now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.o.enabled;
  }

  private connection(s: PeerSession): Connection {
    const connections = (this.connections ??= new Map());
    let c = connections.get(s);
    if (!c) connections.set(s, (c = { sentAt: undefined, takenAt: undefined, told: new Map() }));
    return c;
  }

  /** A peer's ut_pex message: its added peers join our candidates, unless it is too soon after its last. */
  received(from: PeerSession, message: PexMessage): void {
    if (!this.o.enabled) return;
    const c = this.connection(from);
    const t = this.now();
    if (c.takenAt !== undefined && t - c.takenAt < PEX_RECEIVE_INTERVAL_MS) {
      this.ignored++;
      return;
    }
    c.takenAt = t;
    this.taken++;
    const room = PEX_MAX_KNOWN - (this.o.knownCount?.() ?? 0);
    if (message.added.length > 0 && room > 0) this.o.addPeers(message.added.slice(0, room).map(({ host, port }) => ({ host, port })));
  }

  /** Once a tick: each PEX-capable peer whose minute is up hears what changed since our last message to it. */
  tick(live: ReadonlySet<PeerSession>): void {
    if (!this.o.enabled) return;
    const t = this.now();
    const ours = new Map<string, PexPeer>();
    for (const s of live) {
      const p = advertised(s);
      if (p) ours.set(formatPeerAddress(p.host, p.port), p);
    }
    for (const s of live) {
      if (!s.extensions.peerExtensions.has(UT_PEX)) continue;
      const c = this.connection(s);
      if (c.sentAt !== undefined && t - c.sentAt < PEX_SEND_INTERVAL_MS) continue;
      const self = advertised(s);
      const selfKey = self && formatPeerAddress(self.host, self.port);
      const added: PexPeer[] = [];
      for (const [key, p] of ours) {
        if (key !== selfKey && !c.told.has(key) && added.length < PEX_MAX_SENT) added.push(p);
      }
      const dropped: PeerAddress[] = [];
      for (const [key, p] of c.told) {
        if (!ours.has(key) && dropped.length < PEX_MAX_SENT) dropped.push(p);
      }
      if (added.length === 0 && dropped.length === 0) continue;
      if (!s.sendPex({ added, dropped })) continue;
      c.sentAt = t;
      for (const p of added) c.told.set(formatPeerAddress(p.host, p.port), { host: p.host, port: p.port });
      for (const p of dropped) c.told.delete(formatPeerAddress(p.host, p.port));
    }
  }

  sessionClosed(s: PeerSession): void {
    if (this.connections?.delete(s) && this.connections.size === 0) this.connections = undefined;
  }
}

/**
 * Where others can reach a connected peer, with its flags; undefined when
 * we do not know (an incoming peer that did not send its listen port, as
 * libtorrent leaves those out too) or it is not an IP address.
 */
function advertised(s: PeerSession): PexPeer | undefined {
  const port = s.direction === 'outgoing' ? s.peer.port : s.extensions.peerListenPort;
  if (port === undefined || !s.isOpen) return undefined;
  const host = s.peer.host.startsWith('::ffff:') && parseIpv4(s.peer.host.slice(7)) ? s.peer.host.slice(7) : s.peer.host;
  if (!parseIpv4(host) && !parseIpv6(host)) return undefined;
  // No encryption flag: we do not speak MSE yet. Reachable: we reached it ourselves.
  let flags = 0;
  if (s.peerPieces.isComplete && s.peerPieces.length > 0) flags |= PexFlag.seed;
  if (s.direction === 'outgoing') flags |= PexFlag.reachable;
  return { host, port, flags };
}
