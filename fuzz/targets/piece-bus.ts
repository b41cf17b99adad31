import { encodePieceDataFrameHeader, encodePieceDataPreamble, NatsWireError, PieceDataDecoder, PieceDataFrameError, ServerOpParser } from '@seedbox/cluster';
import { concat, latin1, once, type FuzzTarget } from '../target.js';

/**
 * The piece bus's two decoders of bytes from the network: the lean NATS
 * connection's parser of what a server sends (nats-wire.ts), and the
 * direct data path's frame decoder (piece-data-frame.ts). Each answers
 * operations or frames, or throws its typed error, for any bytes; each is
 * fed the input in two reads split where the input's first byte says, so
 * the code that carries a message across reads runs too.
 */

function twoReads(input: Uint8Array): [Uint8Array, Uint8Array] {
  const at = input.length === 0 ? 0 : input[0]! % (input.length + 1);
  return [input.subarray(0, at), input.subarray(at)];
}

function natsSeeds(): Uint8Array[] {
  const hdr = 'NATS/1.0\r\nSeedbox-Write-Id: pw1.7\r\nSeedbox-Continue: seedbox.piece.chunk.dw1\r\n\r\n';
  const big = new Uint8Array(3000).fill(0x61);
  return [
    latin1('INFO {"server_id":"NABC","version":"2.10.0","max_payload":8388608,"headers":true,"nonce":"abc"}\r\n'),
    latin1('PING\r\nPONG\r\n+OK\r\n'),
    latin1("-ERR 'Authorization Violation'\r\n"),
    latin1('MSG seedbox.piece.offer 1 _INBOX.x.1 5\r\nhello\r\n'),
    latin1(`HMSG _INBOX.abc.3 2 ${hdr.length} ${hdr.length}\r\n${hdr}\r\n`),
    latin1('HMSG _INBOX.abc.4 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n'),
    concat(latin1(`HMSG seedbox.piece.offer 1 _INBOX.y.9 ${hdr.length} ${hdr.length + big.length}\r\n${hdr}`), big, latin1('\r\n')),
  ];
}

export const natsWire: FuzzTarget = {
  name: 'nats-wire',
  covers: "ServerOpParser.feed (the lean NATS connection's parser: INFO, MSG, HMSG with headers and status, PING, PONG, +OK, -ERR), in two reads",
  seeds: once(natsSeeds),
  tokens: ['MSG ', 'HMSG ', 'INFO ', 'PING', 'PONG', '+OK', '-ERR ', '\r\n', 'NATS/1.0', ': ', ' 503'],
  maxInputBytes: 16 * 1024,
  run(input) {
    const p = new ServerOpParser();
    p.maxMessageBytes = 1024 * 1024;
    const [a, b] = twoReads(input);
    const ops = [...p.feed(Buffer.from(a)), ...p.feed(Buffer.from(b))];
    return ops.length === 0 ? 'need-more' : 'ok';
  },
  isTypedError: (e) => e instanceof NatsWireError,
};

function frameSeeds(): Uint8Array[] {
  const piece = new Uint8Array(100).fill(7);
  return [
    concat(encodePieceDataPreamble(), encodePieceDataFrameHeader('pw1.1', 100), piece),
    concat(encodePieceDataPreamble(), encodePieceDataFrameHeader('pw-0.99', 3), Uint8Array.of(1, 2, 3), encodePieceDataFrameHeader('pw-0.100', 1), Uint8Array.of(9)),
    encodePieceDataPreamble(),
  ];
}

export const pieceDataFrame: FuzzTarget = {
  name: 'piece-data-frame',
  covers: "PieceDataDecoder (the direct data path's preamble, frame headers and bodies), in two reads",
  seeds: once(frameSeeds),
  tokens: ['SBPD', '\x01', 'pw1.', '\x00\x00\x00'],
  maxInputBytes: 16 * 1024,
  run(input) {
    const d = new PieceDataDecoder({ maxPieceLength: 1024 * 1024 });
    let frames = 0;
    for (const read of twoReads(input)) {
      d.push(read);
      for (let e = d.next(); e; e = d.next()) if (e.kind === 'frame') frames++;
    }
    return frames === 0 ? 'need-more' : 'ok';
  },
  isTypedError: (e) => e instanceof PieceDataFrameError,
};
