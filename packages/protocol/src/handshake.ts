import { checkBytesLength, NEED_MORE } from './wire-checks.js';
import { WireError, type DecodeResult } from './wire-error.js';

/**
 * The 68-byte handshake that opens every peer connection (BEP 3), with the
 * reserved bits of the Fast extension (BEP 6), the extension protocol
 * (BEP 10) and the DHT (BEP 5). The messages that follow it are in wire.ts.
 */

/** pstrlen (1) + pstr (19) + reserved (8) + info hash (20) + peer id (20). */
export const HANDSHAKE_LENGTH = 68;
export const PROTOCOL_STRING = 'BitTorrent protocol';

const PSTR_BYTES = Buffer.from(PROTOCOL_STRING, 'latin1');
const HASH_LENGTH = 20;
const PEER_ID_LENGTH = 20;

export interface Handshake {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** The 8 reserved bytes as sent, for extensions this module does not name. */
  reserved: Uint8Array;
  /** BEP 6: reserved[7] & 0x04. */
  supportsFast: boolean;
  /** BEP 10: reserved[5] & 0x10. */
  supportsExtended: boolean;
  /** BEP 5: reserved[7] & 0x01; the peer may send `port`. */
  supportsDht: boolean;
}

export interface HandshakeOptions {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  fast?: boolean;
  extended?: boolean;
  /** Only set this when we run a DHT node whose port we will send. */
  dht?: boolean;
}

export function encodeHandshake(h: HandshakeOptions): Buffer {
  checkBytesLength('infoHash', h.infoHash, HASH_LENGTH);
  checkBytesLength('peerId', h.peerId, PEER_ID_LENGTH);
  const out = Buffer.alloc(HANDSHAKE_LENGTH); // zeroed: unset reserved bits must be 0
  out[0] = PSTR_BYTES.length;
  out.set(PSTR_BYTES, 1);
  if (h.extended) out[20 + 5] = 0x10;
  out[20 + 7] = (h.fast ? 0x04 : 0) | (h.dht ? 0x01 : 0);
  out.set(h.infoHash, 28);
  out.set(h.peerId, 48);
  return out;
}

/**
 * Decodes the 68-byte handshake. pstrlen and pstr are checked byte by byte
 * as they arrive, so a peer speaking another protocol (or MSE, which starts
 * with random bytes) is refused after its first wrong byte rather than after
 * we have waited for 68.
 *
 * infoHash, peerId and reserved are views into `buf`: copy them if the buffer
 * will be reused.
 */
export function decodeHandshake(buf: Uint8Array): DecodeResult<Handshake> {
  if (buf.length === 0) return NEED_MORE;
  const pstrlen = buf[0]!;
  if (pstrlen !== PSTR_BYTES.length) {
    throw new WireError(
      'WIRE_BAD_PROTOCOL_STRING',
      `handshake pstrlen is ${pstrlen}, but BEP 3 requires ${PSTR_BYTES.length} ('${PROTOCOL_STRING}')`,
      { received: pstrlen, expected: PSTR_BYTES.length },
    );
  }
  const present = Math.min(buf.length, 1 + PSTR_BYTES.length);
  for (let i = 1; i < present; i++) {
    if (buf[i] !== PSTR_BYTES[i - 1]) {
      throw new WireError(
        'WIRE_BAD_PROTOCOL_STRING',
        `handshake protocol string differs from '${PROTOCOL_STRING}' at byte ${i} (0x${buf[i]!.toString(16)})`,
      );
    }
  }
  if (buf.length < HANDSHAKE_LENGTH) return NEED_MORE;
  const reserved = buf.subarray(20, 28);
  return {
    kind: 'ok',
    used: HANDSHAKE_LENGTH,
    value: {
      reserved,
      infoHash: buf.subarray(28, 48),
      peerId: buf.subarray(48, 68),
      supportsFast: (reserved[7]! & 0x04) !== 0,
      supportsExtended: (reserved[5]! & 0x10) !== 0,
      supportsDht: (reserved[7]! & 0x01) !== 0,
    },
  };
}
