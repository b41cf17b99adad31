/**
 * A seed we script, for behaviour no real client shows on demand: sending
 * corrupt pieces, answering very slowly or a byte a second, choking for
 * ever, sending blocks nobody asked for, ignoring CANCELs. It speaks the
 * real wire protocol (our codec) over real TCP. Interop with real clients
 * is tested elsewhere (test/); this is for the engine's own rules.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import {
  decodeHandshake,
  decodeMessage,
  encodeHandshake,
  encodeMessage,
  encodePieceHeader,
  type Message,
} from '@seedbox/protocol';

export interface ScriptedSeedOptions {
  /** The torrent's whole content. */
  data: Buffer;
  pieceLength: number;
  infoHash: Uint8Array;
  /** Pieces whose blocks this seed corrupts. */
  corruptPieces?: ReadonlySet<number>;
  /** Delay before answering each request, ms. */
  delayMs?: number;
  /** Offer BEP 6. */
  fast?: boolean;
  /** Answer at this many bytes per second, a byte at a time (whole messages, in order; CANCELs are ignored). */
  trickleBytesPerSecond?: number;
  /** Advertise every piece and never unchoke. */
  chokeForever?: boolean;
  /** On unchoking, send this many blocks nobody asked for (the last pieces' first blocks, correct data); requests are answered as usual. */
  unrequested?: number;
  /** Answer requests even after they were cancelled (a client that already queued them). */
  ignoreCancel?: boolean;
}

export interface ScriptedSeed {
  port: number;
  /** Block requests received, and blocks sent (whole, the unrequested ones included). */
  stats: { requests: number; blocksSent: number; unrequestedSent: number; cancels: number; connections: number };
  close(): Promise<void>;
}

export async function startScriptedSeed(o: ScriptedSeedOptions): Promise<ScriptedSeed> {
  const stats = { requests: 0, blocksSent: 0, unrequestedSent: 0, cancels: 0, connections: 0 };
  const sockets = new Set<Socket>();
  const pieceCount = Math.ceil(o.data.length / o.pieceLength);
  const server: Server = createServer((socket) => {
    stats.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buf = Buffer.alloc(0);
    let shook = false;
    const cancelled = new Set<string>();
    const timers = new Set<NodeJS.Timeout>();
    socket.on('close', () => timers.forEach(clearTimeout));
    // Trickling: whole block messages waiting, the first one partly written.
    const trickle: Buffer[] = [];
    if (o.trickleBytesPerSecond) {
      const t = setInterval(() => {
        const head = trickle[0];
        if (!head || socket.destroyed) return;
        socket.write(head.subarray(0, 1));
        trickle[0] = head.subarray(1);
        if (trickle[0].length > 0) return;
        trickle.shift();
        stats.blocksSent++;
      }, 1000 / o.trickleBytesPerSecond);
      socket.on('close', () => clearInterval(t));
    }
    const writeBlock = (index: number, begin: number, block: Buffer): void => {
      if (o.trickleBytesPerSecond) {
        trickle.push(Buffer.concat([encodePieceHeader(index, begin, block.length), block]));
        return;
      }
      socket.write(encodePieceHeader(index, begin, block.length));
      socket.write(block);
      stats.blocksSent++;
    };
    const peerId = createHash('sha1').update(`scripted-${Math.random()}`).digest();
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (!shook) {
          let r;
          try {
            r = decodeHandshake(buf);
          } catch {
            // Not a plain handshake (e.g. an encrypted one): close, as a peer without MSE does.
            socket.destroy();
            return;
          }
          if (r.kind === 'need-more') return;
          buf = buf.subarray(r.used);
          shook = true;
          socket.write(encodeHandshake({ infoHash: o.infoHash, peerId, fast: o.fast ?? false }));
          if (o.fast && r.value.supportsFast) socket.write(encodeMessage({ type: 'have-all' }));
          else {
            const bits = new Uint8Array(Math.ceil(pieceCount / 8));
            for (let i = 0; i < pieceCount; i++) bits[i >> 3]! |= 0x80 >> (i & 7);
            socket.write(encodeMessage({ type: 'bitfield', bits }));
          }
          continue;
        }
        const r = decodeMessage(buf, { maxBitfieldLength: Math.ceil(pieceCount / 8) });
        if (r.kind === 'need-more') return;
        buf = buf.subarray(r.used);
        onMessage(r.value);
      }
    });
    const onMessage = (m: Message): void => {
      if (m.type === 'interested' && !o.chokeForever) {
        socket.write(encodeMessage({ type: 'unchoke' }));
        for (let k = 0; k < (o.unrequested ?? 0); k++) {
          const index = pieceCount - 1 - (k % pieceCount);
          const start = index * o.pieceLength;
          writeBlock(index, 0, o.data.subarray(start, Math.min(start + 16384, start + o.pieceLength, o.data.length)));
          stats.unrequestedSent++;
        }
      }
      if (m.type === 'cancel') {
        stats.cancels++;
        if (!o.ignoreCancel) cancelled.add(`${m.index}:${m.begin}`);
      }
      if (m.type !== 'request') return;
      stats.requests++;
      cancelled.delete(`${m.index}:${m.begin}`);
      const send = (): void => {
        if (cancelled.delete(`${m.index}:${m.begin}`) || socket.destroyed) return;
        const start = m.index * o.pieceLength + m.begin;
        let block = o.data.subarray(start, start + m.length);
        if (o.corruptPieces?.has(m.index)) block = Buffer.from(block.map((b) => b ^ 0xff));
        writeBlock(m.index, m.begin, block);
      };
      if (o.delayMs) {
        const t = setTimeout(() => {
          timers.delete(t);
          send();
        }, o.delayMs);
        timers.add(t);
      } else send();
    };
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Builds the Metainfo-shaped object for content, without a .torrent file. */
export function metaFor(data: Buffer, pieceLength: number, name = 'scripted.bin') {
  const pieceCount = Math.ceil(data.length / pieceLength);
  const hashes = Buffer.alloc(pieceCount * 20);
  for (let i = 0; i < pieceCount; i++) {
    createHash('sha1').update(data.subarray(i * pieceLength, (i + 1) * pieceLength)).digest().copy(hashes, i * 20);
  }
  const infoHash = createHash('sha1').update(hashes).update(name).digest();
  return {
    infoHash: new Uint8Array(infoHash),
    infoHashHex: infoHash.toString('hex'),
    name,
    nameBytes: Buffer.from(name),
    pieceLength,
    pieceCount,
    pieceHashes: new Uint8Array(hashes),
    totalLength: data.length,
    files: [{ path: [name], length: data.length, offset: 0, padding: false }],
    multiFile: false,
    private: false,
    announce: [],
    urlList: [],
    infoBytes: new Uint8Array(0),
  };
}
