import type { PeerInfo } from '../../control/backend.js';

/**
 * A connected peer as Transmission 4.0's torrent-get `peers` lists it
 * (tr_peer_stat, rpc-spec 3.3), from the PeerInfo a worker gives. Pure.
 *
 * Transmission calls itself the "client": clientIsChoked is the peer
 * choking us, peerIsChoked is us choking it. Downloading from and
 * uploading to are what moved in the last second, as Transmission counts
 * them (a peer unchoked but idle is neither).
 */

export interface TrPeer {
  address: string;
  clientIsChoked: boolean;
  clientIsInterested: boolean;
  clientName: string;
  flagStr: string;
  isDownloadingFrom: boolean;
  isEncrypted: boolean;
  isIncoming: boolean;
  isUTP: boolean;
  isUploadingTo: boolean;
  peerIsChoked: boolean;
  peerIsInterested: boolean;
  port: number;
  progress: number;
  rateToClient: number;
  rateToPeer: number;
}

/**
 * Transmission's flag letters, in its order: O optimistic unchoke, D/d
 * downloading from it / wanting to, U/u uploading to it / it wanting us
 * to, K it unchokes us unwanted, ? we unchoke it unwanted, E encrypted
 * (RC4; Transmission's is_encrypted is false for an MSE handshake that
 * chose plaintext), I incoming. H (DHT), X (PEX: PeerInfo does not say
 * where a peer came from) and T (uTP) never apply here.
 */
export function trPeerFlags(p: Pick<PeerInfo, 'optimistic' | 'amInterested' | 'peerInterested' | 'amChoking' | 'peerChoking' | 'incoming' | 'downloadRate' | 'uploadRate' | 'encryption'>): string {
  let s = '';
  if (p.optimistic) s += 'O';
  if (p.downloadRate > 0) s += 'D';
  else if (p.amInterested) s += 'd';
  if (p.uploadRate > 0) s += 'U';
  else if (p.peerInterested) s += 'u';
  if (!p.peerChoking && !p.amInterested) s += 'K';
  if (!p.amChoking && !p.peerInterested) s += '?';
  if (p.encryption === 'rc4') s += 'E';
  if (p.incoming) s += 'I';
  return s;
}

const bytesPerSecond = (n: number): number => (Number.isFinite(n) && n > 0 ? Math.round(n) : 0);

export function trPeer(p: PeerInfo): TrPeer {
  return {
    address: p.host,
    clientIsChoked: p.peerChoking,
    clientIsInterested: p.amInterested,
    clientName: p.client,
    flagStr: trPeerFlags(p),
    isDownloadingFrom: p.downloadRate > 0,
    isEncrypted: p.encryption === 'rc4',
    isIncoming: p.incoming,
    isUTP: false,
    isUploadingTo: p.uploadRate > 0,
    peerIsChoked: p.amChoking,
    peerIsInterested: p.peerInterested,
    port: p.port,
    progress: p.progress,
    rateToClient: bytesPerSecond(p.downloadRate),
    rateToPeer: bytesPerSecond(p.uploadRate),
  };
}
