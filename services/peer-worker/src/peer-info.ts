import { clientFromPeerId, type Bitfield } from '@seedbox/protocol';
import type { PeerInfo } from '@seedbox/cluster';
import type { PeerSession } from './peer-session.js';

/**
 * A torrent's sessions as the control APIs list them (PeerInfo in
 * @seedbox/cluster: the shape a worker answers with over NATS, and the
 * one `seedbox serve` reads straight from its engine). Reading changes
 * nothing; it walks the bitfields once per peer, so it is done when a
 * client asks, not every tick.
 */

export interface PeerInfoContext {
  /** Our verified pieces, to tell which of the peer's we lack (relevance). */
  have: Bitfield;
  /** The address of the peer holding our optimistic unchoke, if any. */
  optimistic: string | undefined;
  /** The choker's snub rule, in seconds. */
  snubSeconds: number;
}

export function peerInfoOf(s: PeerSession, ctx: PeerInfoContext): PeerInfo {
  const id = s.remote?.peerId;
  const fromId = id ? (clientFromPeerId(id) ?? '') : '';
  const theirs = s.peerPieces;
  return {
    host: s.peer.host,
    port: s.peer.port,
    // What a client calls itself (BEP 10 `v`) is more precise than its peer id prefix, as libtorrent and Transmission take it.
    client: s.remoteClient ?? fromId,
    peerIdClient: fromId,
    incoming: s.direction === 'incoming',
    amChoking: s.amChoking,
    amInterested: s.amInterested,
    peerChoking: s.peerChoking,
    peerInterested: s.peerInterested,
    optimistic: ctx.optimistic === s.address,
    snubbed: s.isSnubbing(ctx.snubSeconds),
    progress: theirs.length > 0 ? theirs.count / theirs.length : 0,
    relevance: relevance(theirs, ctx.have),
    downloadRate: s.download.rate,
    uploadRate: s.upload.rate,
    downloaded: s.download.total,
    uploaded: s.upload.total,
    ...(s.encryption !== 'none' ? { encryption: s.encryption } : {}),
  };
}

/** Of the pieces we lack, the share the peer has (qBittorrent's PeerInfo::calcRelevance); 0 when we lack none. */
export function relevance(theirs: Bitfield, ours: Bitfield): number {
  const missing = ours.length - ours.count;
  if (missing <= 0 || theirs.length !== ours.length) return 0;
  const a = theirs.toBytes();
  const b = ours.toBytes();
  let wanted = 0;
  for (let i = 0; i < a.length; i++) for (let x = a[i]! & ~b[i]! & 0xff; x !== 0; x &= x - 1) wanted++;
  return wanted / missing;
}
