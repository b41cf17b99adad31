import { randomInt } from 'node:crypto';
import { formatPeerAddress } from '@seedbox/protocol';
import type { PeerInfo } from '../../control/backend.js';
import { changedFields } from './qbt-sync.js';

/**
 * sync/torrentPeers (SyncController::torrentPeersAction in qBittorrent
 * 5.1): a torrent's connected peers keyed by "ip:port", a full picture
 * first, then what changed since the answer the client names by `rid`,
 * as sync/maindata does (and with the same per-process memory of recent
 * answers, see qbt-sync.ts). The views are pure.
 *
 * Several workers of a fleet may each be connected to one remote peer (a
 * seeding fleet and one leech): qBittorrent has one connection per peer,
 * so such connections are shown as one, their speeds and totals added up.
 */

export interface QbtPeer {
  ip: string;
  port: number;
  client: string;
  peer_id_client: string;
  progress: number;
  dl_speed: number;
  up_speed: number;
  downloaded: number;
  uploaded: number;
  /** "BT": TCP; the engine has no uTP. */
  connection: string;
  flags: string;
  flags_desc: string;
  relevance: number;
  /** The files of the piece the peer is downloading; qBittorrent's '' for none, which is what the engine can say. */
  files: string;
  /** No GeoIP database here: '' as qBittorrent leaves an address it cannot place. */
  country_code: string;
}

/**
 * qBittorrent's PeerInfo flags, each letter with its sentence: D/d we want
 * its pieces and it unchokes/chokes us, U/u it wants ours and we
 * unchoke/choke it, K it unchokes us unwanted, ? we unchoke it unwanted,
 * O optimistic unchoke, S snubbed, I incoming, E encrypted traffic (RC4
 * after the MSE handshake), e encrypted handshake (MSE, then plaintext),
 * in qBittorrent's order (src/base/bittorrent/peerinfo.cpp). Letters for
 * DHT, PeX (PeerInfo does not say where a peer came from), LSD, uTP and
 * hole punching never apply.
 */
export function qbtPeerFlags(p: Pick<PeerInfo, 'amChoking' | 'amInterested' | 'peerChoking' | 'peerInterested' | 'optimistic' | 'snubbed' | 'incoming' | 'encryption'>): { flags: string; flags_desc: string } {
  const out: [string, string][] = [];
  if (p.amInterested) out.push(p.peerChoking ? ['d', 'Interested (local) and choked (peer)'] : ['D', 'Interested (local) and unchoked (peer)']);
  if (p.peerInterested) out.push(p.amChoking ? ['u', 'Interested (peer) and choked (local)'] : ['U', 'Interested (peer) and unchoked (local)']);
  if (!p.peerChoking && !p.amInterested) out.push(['K', 'Not interested (local) and unchoked (peer)']);
  if (!p.amChoking && !p.peerInterested) out.push(['?', 'Not interested (peer) and unchoked (local)']);
  if (p.optimistic) out.push(['O', 'Optimistic unchoke']);
  if (p.snubbed) out.push(['S', 'Peer snubbed']);
  if (p.incoming) out.push(['I', 'Incoming connection']);
  if (p.encryption === 'rc4') out.push(['E', 'Encrypted traffic']);
  if (p.encryption === 'handshake') out.push(['e', 'Encrypted handshake']);
  return { flags: out.map(([f]) => f).join(' '), flags_desc: out.map(([f, d]) => `${f} = ${d}`).join('\n') };
}

const whole = (n: number): number => (Number.isFinite(n) && n > 0 ? Math.round(n) : 0);

export function qbtPeer(p: PeerInfo): QbtPeer {
  return {
    ip: p.host,
    port: p.port,
    client: p.client,
    peer_id_client: p.peerIdClient,
    progress: p.progress,
    dl_speed: whole(p.downloadRate),
    up_speed: whole(p.uploadRate),
    downloaded: whole(p.downloaded),
    uploaded: whole(p.uploaded),
    connection: 'BT',
    ...qbtPeerFlags(p),
    relevance: p.relevance,
    files: '',
    country_code: '',
  };
}

/** The peers keyed as qBittorrent keys them ("ip:port", IPv6 bracketed); one remote peer on several workers is one entry. */
export function qbtPeers(list: readonly PeerInfo[]): Record<string, QbtPeer> {
  const out: Record<string, QbtPeer> = {};
  for (const p of list) {
    const key = formatPeerAddress(p.host, p.port);
    const view = qbtPeer(p);
    const seen = out[key];
    if (!seen) {
      out[key] = view;
      continue;
    }
    // The busier connection's flags and client stand for the peer.
    const busier = view.dl_speed + view.up_speed > seen.dl_speed + seen.up_speed ? view : seen;
    out[key] = {
      ...busier,
      progress: Math.max(seen.progress, view.progress),
      relevance: Math.max(seen.relevance, view.relevance),
      dl_speed: seen.dl_speed + view.dl_speed,
      up_speed: seen.up_speed + view.up_speed,
      downloaded: seen.downloaded + view.downloaded,
      uploaded: seen.uploaded + view.uploaded,
    };
  }
  return out;
}

export interface TorrentPeersAnswer {
  rid: number;
  full_update?: true;
  /** qBittorrent's "resolve peer countries": off, there is nothing to show a flag for. */
  show_flags?: boolean;
  peers?: Record<string, Partial<QbtPeer>>;
  peers_removed?: string[];
}

interface Snapshot {
  hash: string;
  peers: Record<string, QbtPeer>;
}

/** The last answers of this process, by rid, to diff a client's next request against (as MaindataStore). */
export class TorrentPeersStore {
  private readonly snapshots = new Map<number, Snapshot>();

  constructor(
    private readonly max = 16,
    private readonly nextRid: () => number = () => randomInt(1, 2 ** 31),
  ) {}

  /** A full update for rid 0, an rid not known here or one given for another torrent; else the changes. */
  answer(rid: number, hash: string, peers: Record<string, QbtPeer>): TorrentPeersAnswer {
    const prev = rid > 0 ? this.snapshots.get(rid) : undefined;
    let next = this.nextRid();
    while (this.snapshots.has(next) || next === rid) next = this.nextRid();
    this.snapshots.set(next, { hash, peers });
    while (this.snapshots.size > this.max) this.snapshots.delete(this.snapshots.keys().next().value!);
    if (!prev || prev.hash !== hash) return { rid: next, full_update: true, show_flags: false, peers };
    const out: TorrentPeersAnswer = { rid: next };
    const changed: Record<string, Partial<QbtPeer>> = {};
    for (const [key, peer] of Object.entries(peers)) {
      const before = prev.peers[key];
      const fields = before ? changedFields(before, peer) : peer;
      if (Object.keys(fields).length > 0) changed[key] = fields;
    }
    const removed = Object.keys(prev.peers).filter((k) => !(k in peers));
    if (Object.keys(changed).length > 0) out.peers = changed;
    if (removed.length > 0) out.peers_removed = removed;
    return out;
  }
}
