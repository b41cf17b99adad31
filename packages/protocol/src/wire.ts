import { BLOCK_LENGTH } from './geometry.js';
import { NEED_MORE } from './wire-checks.js';
import { WireError, type DecodeResult } from './wire-error.js';

/**
 * The peer wire protocol (BEP 3), with the Fast extension (BEP 6), the DHT
 * port message (BEP 5) and the extension protocol (BEP 10).
 *
 * Pure functions over bytes, in the shape of rqbit's `deserialize`: a decoder
 * answers "need more bytes", or a value and how many bytes it used, or throws
 * a WireError. The caller owns the socket and the buffering.
 *
 * Every decode error means the byte stream can no longer be framed, so none
 * of them is recoverable: drop the peer and count `err.code`.
 *
 * The decoder does not know what was negotiated. It accepts the BEP 6 and
 * BEP 10 messages from any peer; refusing `have-all` from a peer that did not
 * set the fast bit is the connection's job, as is every rule about state
 * (requests while choked, pieces nobody asked for, request lengths).
 *
 * The codec is cut by job: handshake.ts (the 68-byte handshake), this file
 * (message ids and types, and the message decoder), wire-encode.ts (the
 * message encoder, request batches and piece headers), extended.ts (the
 * BEP 10 handshake payload) and wire-error.ts (WireError).
 */

/** Message ids: BEP 3 (0-8), BEP 5 (9), BEP 6 (0x0d-0x11), BEP 10 (20). */
export const MessageId = {
  choke: 0,
  unchoke: 1,
  interested: 2,
  notInterested: 3,
  have: 4,
  bitfield: 5,
  request: 6,
  piece: 7,
  cancel: 8,
  port: 9,
  suggest: 0x0d,
  haveAll: 0x0e,
  haveNone: 0x0f,
  reject: 0x10,
  allowedFast: 0x11,
  extended: 20,
} as const;
export type MessageIdValue = (typeof MessageId)[keyof typeof MessageId];

export type Message =
  | { type: 'keep-alive' }
  | { type: 'choke' }
  | { type: 'unchoke' }
  | { type: 'interested' }
  | { type: 'not-interested' }
  | { type: 'have'; index: number }
  | { type: 'bitfield'; bits: Uint8Array }
  | { type: 'request'; index: number; begin: number; length: number }
  | { type: 'piece'; index: number; begin: number; block: Uint8Array }
  | { type: 'cancel'; index: number; begin: number; length: number }
  | { type: 'port'; port: number }
  | { type: 'suggest'; index: number }
  | { type: 'have-all' }
  | { type: 'have-none' }
  | { type: 'reject'; index: number; begin: number; length: number }
  | { type: 'allowed-fast'; index: number }
  | { type: 'extended'; extendedId: number; payload: Uint8Array };

export type MessageType = Message['type'];
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;

/** Indexed by id; a hole is an id we do not speak. Used for error messages. */
const ID_NAMES: readonly (string | undefined)[] = (() => {
  const names: (string | undefined)[] = [];
  const byId: Record<MessageIdValue, Exclude<MessageType, 'keep-alive'>> = {
    0: 'choke',
    1: 'unchoke',
    2: 'interested',
    3: 'not-interested',
    4: 'have',
    5: 'bitfield',
    6: 'request',
    7: 'piece',
    8: 'cancel',
    9: 'port',
    13: 'suggest',
    14: 'have-all',
    15: 'have-none',
    16: 'reject',
    17: 'allowed-fast',
    20: 'extended',
  };
  for (const [id, name] of Object.entries(byId)) names[Number(id)] = name;
  return names;
})();

export interface DecodeLimits {
  /**
   * Largest block a `piece` message may carry (default BLOCK_LENGTH). We only
   * accept blocks we requested, and we never request more than this.
   * The length fields of request/cancel/reject are not checked here: they
   * cost the codec nothing, and whether to serve a request of that size is
   * the uploader's decision.
   */
  maxBlockLength?: number;
  /** Largest bitfield payload in bytes (default 2^20, i.e. 8M pieces); pass ceil(pieceCount / 8) once the torrent is known. */
  maxBitfieldLength?: number;
  /** Largest BEP 10 payload after the extended id (default 1 MiB; a BEP 9 metadata piece is 16 KiB plus a small dict). */
  maxExtendedLength?: number;
}

const DEFAULT_MAX_BITFIELD_LENGTH = 1 << 20;
const DEFAULT_MAX_EXTENDED_LENGTH = 1 << 20;

/**
 * Decodes one length-prefixed message from the front of `buf`.
 *
 * The length prefix is read unsigned (webtorrent reads it with `<<24`, so
 * 0x80000001 comes out negative and is taken for a keep-alive). Before it
 * waits for a single body byte the decoder checks the id and the claimed
 * length against the rules of that message kind: a peer that claims a
 * 2 GiB message is refused as soon as 5 bytes (often 4) are in, instead of
 * being buffered while we answer need-more.
 *
 * Zero copy: `bits`, `block` and `payload` are views into `buf`. While the
 * message is in use the caller must not overwrite that part of `buf` (for
 * example by reusing a receive buffer); copy the bytes if it must.
 *
 * `used` is 4 + the length prefix; the caller drops that many bytes.
 */
export function decodeMessage(buf: Uint8Array, limits?: DecodeLimits): DecodeResult<Message> {
  if (buf.length < 4) return NEED_MORE;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const length = view.getUint32(0);
  if (length === 0) return { kind: 'ok', used: 4, value: { type: 'keep-alive' } };
  if (buf.length < 5) {
    // No message kind is larger than the largest variable one, so a length
    // beyond that is wrong whatever id follows.
    const largest = largestMessage(limits);
    if (length > largest) {
      throw new WireError('WIRE_MESSAGE_TOO_LARGE', `length prefix ${length} is larger than any message allowed (${largest})`, {
        received: length,
        expected: largest,
      });
    }
    return NEED_MORE;
  }
  const id = buf[4]!;
  checkLength(id, length, limits);
  const end = 4 + length;
  if (buf.length < end) return NEED_MORE;

  let value: Message;
  switch (id) {
    case MessageId.choke:
      value = { type: 'choke' };
      break;
    case MessageId.unchoke:
      value = { type: 'unchoke' };
      break;
    case MessageId.interested:
      value = { type: 'interested' };
      break;
    case MessageId.notInterested:
      value = { type: 'not-interested' };
      break;
    case MessageId.have:
      value = { type: 'have', index: view.getUint32(5) };
      break;
    case MessageId.bitfield:
      value = { type: 'bitfield', bits: buf.subarray(5, end) };
      break;
    case MessageId.request:
      value = { type: 'request', index: view.getUint32(5), begin: view.getUint32(9), length: view.getUint32(13) };
      break;
    case MessageId.piece:
      value = { type: 'piece', index: view.getUint32(5), begin: view.getUint32(9), block: buf.subarray(13, end) };
      break;
    case MessageId.cancel:
      value = { type: 'cancel', index: view.getUint32(5), begin: view.getUint32(9), length: view.getUint32(13) };
      break;
    case MessageId.port:
      value = { type: 'port', port: view.getUint16(5) };
      break;
    case MessageId.suggest:
      value = { type: 'suggest', index: view.getUint32(5) };
      break;
    case MessageId.haveAll:
      value = { type: 'have-all' };
      break;
    case MessageId.haveNone:
      value = { type: 'have-none' };
      break;
    case MessageId.reject:
      value = { type: 'reject', index: view.getUint32(5), begin: view.getUint32(9), length: view.getUint32(13) };
      break;
    case MessageId.allowedFast:
      value = { type: 'allowed-fast', index: view.getUint32(5) };
      break;
    case MessageId.extended:
      value = { type: 'extended', extendedId: buf[5]!, payload: buf.subarray(6, end) };
      break;
    default:
      // checkLength has already refused every other id.
      throw new Error(`unreachable: message id ${id} passed the length check`);
  }
  return { kind: 'ok', used: end, value };
}

function largestMessage(limits: DecodeLimits | undefined): number {
  return Math.max(
    13,
    9 + (limits?.maxBlockLength ?? BLOCK_LENGTH),
    1 + (limits?.maxBitfieldLength ?? DEFAULT_MAX_BITFIELD_LENGTH),
    2 + (limits?.maxExtendedLength ?? DEFAULT_MAX_EXTENDED_LENGTH),
  );
}

/** Throws unless `length` is one the message kind `id` can have. */
function checkLength(id: number, length: number, limits: DecodeLimits | undefined): void {
  switch (id) {
    case MessageId.choke:
    case MessageId.unchoke:
    case MessageId.interested:
    case MessageId.notInterested:
    case MessageId.haveAll:
    case MessageId.haveNone:
      return exactLength(id, length, 1);
    case MessageId.have:
    case MessageId.suggest:
    case MessageId.allowedFast:
      return exactLength(id, length, 5);
    case MessageId.request:
    case MessageId.cancel:
    case MessageId.reject:
      return exactLength(id, length, 13);
    case MessageId.port:
      return exactLength(id, length, 3);
    case MessageId.bitfield:
      return maxLength(id, length, 1 + (limits?.maxBitfieldLength ?? DEFAULT_MAX_BITFIELD_LENGTH), 'maxBitfieldLength');
    case MessageId.piece:
      if (length < 9) {
        throw new WireError('WIRE_BAD_LENGTH', `piece message of length ${length} is shorter than its 9-byte header`, {
          messageId: id,
          received: length,
          expected: 9,
        });
      }
      if (length === 9) {
        throw new WireError('WIRE_EMPTY_BLOCK', 'piece message carries an empty block, which answers no request', {
          messageId: id,
          received: length,
          expected: 10,
        });
      }
      return maxLength(id, length, 9 + (limits?.maxBlockLength ?? BLOCK_LENGTH), 'maxBlockLength');
    case MessageId.extended:
      if (length < 2) {
        throw new WireError('WIRE_BAD_LENGTH', `extended message of length ${length} has no extended id byte`, {
          messageId: id,
          received: length,
          expected: 2,
        });
      }
      return maxLength(id, length, 2 + (limits?.maxExtendedLength ?? DEFAULT_MAX_EXTENDED_LENGTH), 'maxExtendedLength');
    default:
      throw new WireError('WIRE_UNKNOWN_MESSAGE', `unknown message id ${id} (length ${length})`, {
        messageId: id,
        received: length,
      });
  }
}

function exactLength(id: number, length: number, expected: number): void {
  if (length !== expected) {
    throw new WireError('WIRE_BAD_LENGTH', `${ID_NAMES[id]} message must have length ${expected}, got ${length}`, {
      messageId: id,
      received: length,
      expected,
    });
  }
}

function maxLength(id: number, length: number, max: number, limitName: string): void {
  if (length > max) {
    throw new WireError(
      'WIRE_MESSAGE_TOO_LARGE',
      `${ID_NAMES[id]} message of length ${length} is larger than the ${max} allowed by ${limitName}`,
      { messageId: id, received: length, expected: max },
    );
  }
}
