import { connect as netConnect, type Socket } from 'node:net';
import type { PeerAddress } from '@seedbox/protocol';
import { sharedReadBuffer } from './peer-connection.js';
import type { PeerSession } from './peer-session.js';

export type { PeerAddress };

/**
 * Opens a TCP connection to a peer and wraps the socket in the session
 * `create` makes (not started: the caller registers it first). Unless a
 * test injects `connect`, the socket reads into the shared read buffer
 * (see `sharedReadBuffer`), whose callback must exist before the session it
 * feeds: hence the session is looked up through `target` when data comes.
 */
export function dialPeer(
  peer: PeerAddress,
  create: (socket: Socket, peer: PeerAddress) => PeerSession,
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
  target.session = create(socket, peer);
  return target.session;
}
