/**
 * A peer we script for the metadata exchange (BEP 9): it has a torrent's
 * info dictionary (or claims to) and answers ut_metadata requests in the
 * way a test asks: serving, serving wrong bytes, rejecting, or never
 * answering. It speaks the real wire protocol (our codec) over real TCP, and
 * wants ut_metadata under its own id, so a fetcher that confuses its id
 * with ours is caught.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import {
  decodeExtendedHandshake,
  decodeUtMetadata,
  encodeBencode,
  encodeExtendedHandshake,
  encodeHandshake,
  encodeMessage,
  encodeUtMetadata,
  metadataPiece,
  metadataPieceCount,
  type Message,
} from '@seedbox/protocol';
import { readWire } from './wire-reader.js';

export type MetadataBehaviour =
  /** Answers every request with the piece. */
  | 'serve'
  /** Answers every request with a reject. */
  | 'reject'
  /** Reads requests and never answers. */
  | 'silent'
  /** Offers no BEP 10 extension at all. */
  | 'no-extension'
  /** Offers BEP 10 but not ut_metadata. */
  | 'no-ut-metadata';

export interface MetadataPeerOptions {
  infoHash: Uint8Array;
  /** The bytes it serves: the real info dictionary, or a wrong one of the same size. */
  metadata: Uint8Array;
  behaviour?: MetadataBehaviour;
  /** The metadata_size it advertises; default metadata.length. */
  advertisedSize?: number;
  /** The id it wants ut_metadata messages under. Default 5. */
  utMetadataId?: number;
  /** Answers each request after this long, ms. */
  delayMs?: number;
}

export interface MetadataPeer {
  port: number;
  address: { host: string; port: number };
  stats: { connections: number; requests: number[]; served: number; rejected: number };
  close(): Promise<void>;
}

export async function startMetadataPeer(o: MetadataPeerOptions): Promise<MetadataPeer> {
  const behaviour = o.behaviour ?? 'serve';
  const ourId = o.utMetadataId ?? 5;
  const stats = { connections: 0, requests: [] as number[], served: 0, rejected: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    stats.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const peerId = createHash('sha1').update(`metadata-peer-${Math.random()}`).digest();
    /** The id the other side wants ut_metadata under, from its extended handshake. */
    let theirId: number | undefined;
    const onMessage = (m: Message): void => {
      if (m.type !== 'extended') return;
      if (m.extendedId === 0) {
        theirId = decodeExtendedHandshake(m.payload).m.get('ut_metadata');
        return;
      }
      if (m.extendedId !== ourId) throw new Error(`ut_metadata message under id ${m.extendedId}, but we asked for ${ourId}`);
      const msg = decodeUtMetadata(m.payload);
      if (msg.type !== 'request' || theirId === undefined) return;
      stats.requests.push(msg.piece);
      if (behaviour === 'silent') return;
      const inRange = msg.piece < metadataPieceCount(o.metadata.length);
      const payload =
        behaviour === 'reject' || !inRange
          ? encodeUtMetadata({ type: 'reject', piece: msg.piece })
          : encodeUtMetadata({ type: 'data', piece: msg.piece, totalSize: o.metadata.length, data: metadataPiece(o.metadata, msg.piece) });
      if (behaviour === 'reject' || !inRange) stats.rejected++;
      else stats.served++;
      const frame = encodeMessage({ type: 'extended', extendedId: theirId, payload });
      if (o.delayMs) setTimeout(() => socket.destroyed || socket.write(frame), o.delayMs);
      else socket.write(frame);
    };
    readWire(socket, {
      handshake: () => {
        const extended = behaviour !== 'no-extension';
        socket.write(encodeHandshake({ infoHash: o.infoHash, peerId, extended }));
        if (extended) {
          const m = new Map<string, number>(behaviour === 'no-ut-metadata' ? [['ut_pex', 1]] : [['ut_metadata', ourId]]);
          const ext = encodeExtendedHandshake({ m, clientName: 'metadata-peer', metadataSize: o.advertisedSize ?? o.metadata.length });
          socket.write(encodeMessage({ type: 'extended', extendedId: 0, payload: ext }));
        }
        // A bitfield the fetcher cannot size (it has no metadata yet): it must be ignored, not refused.
        socket.write(encodeMessage({ type: 'bitfield', bits: new Uint8Array([0xff, 0xff, 0xf0]) }));
      },
      message: onMessage,
      error: (err) => {
        // A wire mistake by the client under test: make it visible by hanging up.
        console.error(`metadata peer: ${err.message}`);
        socket.destroy();
      },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    address: { host: '127.0.0.1', port },
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A valid single-file info dictionary big enough for `metadataPieces`
 * pieces of metadata (the piece hashes make up the bulk), and its info hash.
 */
export function makeInfoDict(metadataPieces: number, name = 'magnet.bin'): { bytes: Uint8Array; infoHash: Uint8Array } {
  const pieceLength = 16384;
  // Each hash is 20 bytes; enough of them to spill into the last metadata piece.
  const count = Math.ceil(((metadataPieces - 1) * 16384 + 100) / 20);
  const pieces = Buffer.alloc(count * 20);
  for (let i = 0; i < count; i++) createHash('sha1').update(`${name}:${i}`).digest().copy(pieces, i * 20);
  const bytes = encodeBencode({ length: count * pieceLength - 7, name, 'piece length': pieceLength, pieces });
  if (metadataPieceCount(bytes.length) !== metadataPieces) throw new Error(`made ${metadataPieceCount(bytes.length)} metadata pieces, not ${metadataPieces}`);
  return { bytes, infoHash: new Uint8Array(createHash('sha1').update(bytes).digest()) };
}

/** The same bytes with one bit flipped in metadata piece `piece` (every piece when 'all'): the same size, the wrong hash. */
export function corrupt(bytes: Uint8Array, piece: number | 'all' = 0): Uint8Array {
  const out = Uint8Array.from(bytes);
  const pieces = piece === 'all' ? Array.from({ length: metadataPieceCount(bytes.length) }, (_, i) => i) : [piece];
  for (const p of pieces) out[p * 16384 + 7]! ^= 0x01;
  return out;
}
