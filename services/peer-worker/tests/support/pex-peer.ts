/**
 * A peer we script for peer exchange (BEP 11): it offers ut_pex under its
 * own id, sends the client under test the PEX messages a test gives it as
 * soon as it reads that client's extended handshake, and keeps what it
 * hears: whether the client offered ut_pex, and every PEX message it sent.
 * It has no pieces. Real wire protocol (our codec) over real TCP.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import {
  decodeExtendedHandshake,
  decodePex,
  encodeExtendedHandshake,
  encodeHandshake,
  encodeMessage,
  encodePex,
  UT_PEX,
  type Message,
  type PexMessage,
} from '@seedbox/protocol';
import { readWire } from './wire-reader.js';

export interface PexPeerOptions {
  infoHash: Uint8Array;
  /** Sent, in order, once the client's extended handshake is read. */
  send?: PexMessage[];
  /** The id it wants ut_pex under. Default 9 (not ours, so a mix-up shows). */
  pexId?: number;
}

export interface PexPeer {
  address: { host: string; port: number };
  /** Per connection: whether the client offered ut_pex, and the PEX messages it sent. */
  heard: { offeredPex: boolean | undefined; received: PexMessage[] };
  close(): Promise<void>;
}

export async function startPexPeer(o: PexPeerOptions): Promise<PexPeer> {
  const pexId = o.pexId ?? 9;
  const heard: PexPeer['heard'] = { offeredPex: undefined, received: [] };
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const peerId = createHash('sha1').update(`pex-peer-${Math.random()}`).digest();
    const onMessage = (m: Message): void => {
      if (m.type !== 'extended') return;
      if (m.extendedId === 0) {
        const theirs = decodeExtendedHandshake(m.payload).m.get(UT_PEX);
        heard.offeredPex = theirs !== undefined;
        // Sent even when not offered (to the id we use, 1): the client must then ignore it.
        for (const msg of o.send ?? []) socket.write(encodeMessage({ type: 'extended', extendedId: theirs ?? 1, payload: encodePex(msg) }));
        return;
      }
      if (m.extendedId === pexId) heard.received.push(decodePex(m.payload));
    };
    readWire(socket, {
      handshake: () => {
        socket.write(encodeHandshake({ infoHash: o.infoHash, peerId, extended: true }));
        socket.write(encodeMessage({ type: 'extended', extendedId: 0, payload: encodeExtendedHandshake({ m: new Map([[UT_PEX, pexId]]), clientName: 'pex-peer' }) }));
      },
      message: onMessage,
      error: (err) => {
        console.error(`pex peer: ${err.message}`);
        socket.destroy();
      },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    address: { host: '127.0.0.1', port },
    heard,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
