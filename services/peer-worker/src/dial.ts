import { connect as netConnect, type Socket } from 'node:net';
import { sharedReadBuffer, type PeerSession } from './peer-session.js';

export interface PeerAddress {
  host: string;
  port: number;
}

/**
 * Dials a peer and wraps the socket in the session `create` makes. Unless a
 * test injects `connect`, the socket reads into the shared read buffer
 * (see `sharedReadBuffer`), whose callback must exist before the session it
 * feeds: hence the session is looked up through `target` when data comes.
 */
export function dialPeer(
  peer: PeerAddress,
  create: (socket: Socket, address: string) => PeerSession,
  connect?: (peer: PeerAddress) => Socket,
): PeerSession {
  const target: { session?: PeerSession } = {};
  const socket = connect
    ? connect(peer)
    : netConnect({
        host: peer.host,
        port: peer.port,
        onread: {
          buffer: sharedReadBuffer,
          callback: (n: number, buf: Uint8Array) => {
            target.session?.onData(buf.subarray(0, n));
            return true;
          },
        },
      });
  target.session = create(socket, `${peer.host}:${peer.port}`);
  return target.session;
}
