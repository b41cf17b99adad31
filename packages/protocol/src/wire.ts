import { BencodeError, decodeBencode, encodeBencode, isBytes, isDict, isInt, utf8OrUndefined } from './bencode.js';
import type { BEncodable, BValue } from './bencode.js';
import { ProtocolError } from './errors.js';

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
 */

/** The block size every client requests (BEP 3 recommends 2^14; larger requests are commonly refused). */
export const BLOCK_SIZE = 16384;
/** pstrlen (1) + pstr (19) + reserved (8) + info hash (20) + peer id (20). */
export const HANDSHAKE_LENGTH = 68;
export const PROTOCOL_STRING = 'BitTorrent protocol';

const PSTR_BYTES = Buffer.from(PROTOCOL_STRING, 'latin1');
const HASH_LENGTH = 20;
const PEER_ID_LENGTH = 20;

// ---- errors ----

export type WireErrorCode =
  /** The handshake does not start with 19 "BitTorrent protocol" (also what an encrypted MSE stream looks like). */
  | 'WIRE_BAD_PROTOCOL_STRING'
  /** A message id that neither BEP 3, 5, 6 nor 10 defines. */
  | 'WIRE_UNKNOWN_MESSAGE'
  /** A fixed-size message with the wrong length, or a variable one shorter than its header. */
  | 'WIRE_BAD_LENGTH'
  /** A piece message that carries no data: a zero-length block answers no request. */
  | 'WIRE_EMPTY_BLOCK'
  /** A variable-size message larger than the DecodeLimits allow. */
  | 'WIRE_MESSAGE_TOO_LARGE'
  /** Our own caller asked to encode a value the wire cannot carry (an id over 255, a 19-byte hash...). */
  | 'WIRE_BAD_FIELD'
  /** A BEP 10 handshake payload that is not bencode, or whose `m` dictionary is missing or malformed. */
  | 'WIRE_BAD_EXTENDED_HANDSHAKE';

export class WireError extends ProtocolError {
  override name = 'WireError';
  declare readonly code: WireErrorCode;
  /** The id of the message that broke the rule, when one was read. */
  readonly messageId?: number;
  /** The length (or pstrlen) the peer sent. */
  readonly received?: number;
  /** The exact length the rule demands, or the bound that was crossed. */
  readonly expected?: number;

  constructor(
    code: WireErrorCode,
    message: string,
    details: { messageId?: number; received?: number; expected?: number; cause?: unknown } = {},
  ) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    if (details.messageId !== undefined) this.messageId = details.messageId;
    if (details.received !== undefined) this.received = details.received;
    if (details.expected !== undefined) this.expected = details.expected;
  }
}

export type DecodeResult<T> = { kind: 'need-more' } | { kind: 'ok'; value: T; used: number };

const NEED_MORE = Object.freeze({ kind: 'need-more' }) as { kind: 'need-more' };

// ---- handshake ----

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

// ---- messages ----

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
   * Largest block a `piece` message may carry (default BLOCK_SIZE). We only
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
    9 + (limits?.maxBlockLength ?? BLOCK_SIZE),
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
      return maxLength(id, length, 9 + (limits?.maxBlockLength ?? BLOCK_SIZE), 'maxBlockLength');
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

// ---- encoding ----

export function encodeMessage(m: Message): Buffer {
  switch (m.type) {
    case 'keep-alive':
      return Buffer.alloc(4);
    case 'choke':
      return idOnly(MessageId.choke);
    case 'unchoke':
      return idOnly(MessageId.unchoke);
    case 'interested':
      return idOnly(MessageId.interested);
    case 'not-interested':
      return idOnly(MessageId.notInterested);
    case 'have-all':
      return idOnly(MessageId.haveAll);
    case 'have-none':
      return idOnly(MessageId.haveNone);
    case 'have':
      return withIndex(MessageId.have, m.index);
    case 'suggest':
      return withIndex(MessageId.suggest, m.index);
    case 'allowed-fast':
      return withIndex(MessageId.allowedFast, m.index);
    case 'request':
      return blockRef(MessageId.request, m.index, m.begin, m.length);
    case 'cancel':
      return blockRef(MessageId.cancel, m.index, m.begin, m.length);
    case 'reject':
      return blockRef(MessageId.reject, m.index, m.begin, m.length);
    case 'port': {
      checkUint('port', m.port, 0xffff);
      const out = header(3, MessageId.port, 2);
      out.writeUInt16BE(m.port, 5);
      return out;
    }
    case 'bitfield': {
      const out = header(1 + m.bits.length, MessageId.bitfield, m.bits.length);
      out.set(m.bits, 5);
      return out;
    }
    case 'piece': {
      const head = encodePieceHeader(m.index, m.begin, m.block.length);
      const out = Buffer.allocUnsafe(head.length + m.block.length);
      out.set(head, 0);
      out.set(m.block, head.length);
      return out;
    }
    case 'extended': {
      checkUint('extendedId', m.extendedId, 0xff);
      const out = header(2 + m.payload.length, MessageId.extended, 1 + m.payload.length);
      out[5] = m.extendedId;
      out.set(m.payload, 6);
      return out;
    }
    default:
      return assertNever(m);
  }
}

/** A request message; the hot path of a downloader, so no Message object in between. */
export function encodeRequest(index: number, begin: number, length: number): Buffer {
  return blockRef(MessageId.request, index, begin, length);
}

/** Length of one framed REQUEST message. */
export const REQUEST_MESSAGE_LENGTH = 17;

/**
 * Many REQUESTs framed into one buffer, for one socket write: a leech sends
 * tens of thousands a second, and a write per request costs more than the
 * request itself.
 */
export function encodeRequestBatch(requests: readonly { index: number; begin: number; length: number }[]): Buffer {
  const out = Buffer.allocUnsafe(requests.length * REQUEST_MESSAGE_LENGTH);
  let at = 0;
  for (const r of requests) {
    checkUint('index', r.index, 0xffffffff);
    checkUint('begin', r.begin, 0xffffffff);
    checkUint('length', r.length, 0xffffffff);
    out.writeUInt32BE(13, at);
    out[at + 4] = MessageId.request;
    out.writeUInt32BE(r.index, at + 5);
    out.writeUInt32BE(r.begin, at + 9);
    out.writeUInt32BE(r.length, at + 13);
    at += REQUEST_MESSAGE_LENGTH;
  }
  return out;
}

/**
 * The 13-byte header of a piece message. The uploader writes the block after
 * it (writev, or cork/uncork) so a 16 KiB block read from disk is never
 * copied into a fresh buffer just to be framed.
 */
export function encodePieceHeader(index: number, begin: number, blockLength: number): Buffer {
  if (blockLength === 0) {
    // Peers (and our own decoder) refuse it; better to fail at the sender.
    throw new WireError('WIRE_EMPTY_BLOCK', 'refusing to encode a piece message with an empty block', {
      messageId: MessageId.piece,
    });
  }
  checkUint('index', index, 0xffffffff);
  checkUint('begin', begin, 0xffffffff);
  checkUint('blockLength', blockLength, 0xffffffff - 9);
  const out = header(9 + blockLength, MessageId.piece, 8);
  out.writeUInt32BE(index, 5);
  out.writeUInt32BE(begin, 9);
  return out;
}

/** A buffer of 5 + bodyBytes with the length prefix and id written. */
function header(length: number, id: number, bodyBytes: number): Buffer {
  checkUint('message length', length, 0xffffffff);
  const out = Buffer.allocUnsafe(5 + bodyBytes);
  out.writeUInt32BE(length, 0);
  out[4] = id;
  return out;
}

function idOnly(id: number): Buffer {
  return header(1, id, 0);
}

function withIndex(id: number, index: number): Buffer {
  checkUint('index', index, 0xffffffff);
  const out = header(5, id, 4);
  out.writeUInt32BE(index, 5);
  return out;
}

function blockRef(id: number, index: number, begin: number, length: number): Buffer {
  checkUint('index', index, 0xffffffff);
  checkUint('begin', begin, 0xffffffff);
  checkUint('length', length, 0xffffffff);
  const out = header(13, id, 12);
  out.writeUInt32BE(index, 5);
  out.writeUInt32BE(begin, 9);
  out.writeUInt32BE(length, 13);
  return out;
}

// Buffer's writers throw a bare RangeError (or silently truncate, for a byte
// store); a typed error names the field instead.
function checkUint(field: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new WireError('WIRE_BAD_FIELD', `${field} must be an integer in 0..${max}, got ${value}`);
  }
}

function checkBytesLength(field: string, value: Uint8Array, expected: number): void {
  if (!(value instanceof Uint8Array) || value.length !== expected) {
    throw new WireError('WIRE_BAD_FIELD', `${field} must be ${expected} bytes, got ${value instanceof Uint8Array ? value.length : typeof value}`, {
      received: value instanceof Uint8Array ? value.length : undefined,
      expected,
    });
  }
}

function assertNever(m: never): never {
  throw new Error(`unreachable: message ${JSON.stringify(m)}`);
}

// ---- BEP 10 extended handshake ----

export interface ExtendedHandshake {
  /** Extension name → the id the sender wants to receive it under. */
  m: Map<string, number>;
  /** 'v': client name and version. */
  clientName?: string;
  /** 'p': the sender's TCP listen port. */
  listenPort?: number;
  /** 'reqq': how many outstanding requests the sender will queue before dropping. */
  requestQueue?: number;
  /** 'metadata_size' (BEP 9): size of the info dictionary in bytes. */
  metadataSize?: number;
  /** 'yourip': our address as the sender sees it, 4 or 16 bytes. */
  yourIp?: Uint8Array;
}

/** The bencoded payload of an extended message with extendedId 0 (not framed). */
export function encodeExtendedHandshake(h: ExtendedHandshake): Buffer {
  const m = new Map<string, number>();
  for (const [name, id] of h.m) {
    checkUint(`m.${name}`, id, 0xff);
    m.set(name, id);
  }
  const dict = new Map<string, BEncodable>([['m', m]]);
  if (h.clientName !== undefined) dict.set('v', h.clientName);
  if (h.listenPort !== undefined) {
    checkUint('listenPort', h.listenPort, 0xffff);
    dict.set('p', h.listenPort);
  }
  if (h.requestQueue !== undefined) {
    checkUint('requestQueue', h.requestQueue, Number.MAX_SAFE_INTEGER);
    dict.set('reqq', h.requestQueue);
  }
  if (h.metadataSize !== undefined) {
    checkUint('metadataSize', h.metadataSize, Number.MAX_SAFE_INTEGER);
    dict.set('metadata_size', h.metadataSize);
  }
  if (h.yourIp !== undefined) {
    if (h.yourIp.length !== 4 && h.yourIp.length !== 16) {
      throw new WireError('WIRE_BAD_FIELD', `yourIp must be 4 or 16 bytes, got ${h.yourIp.length}`);
    }
    dict.set('yourip', h.yourIp);
  }
  const bytes = encodeBencode(dict);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The handshake is a flat dict with one nested dict; anything deeper is hostile or broken. */
const EXTENDED_HANDSHAKE_BENCODE_LIMITS = { maxDepth: 8, maxItems: 4096 };

/**
 * Decodes the payload of an extended message with extendedId 0.
 *
 * `m` is checked strictly because it decides how every later extended
 * message is routed: a missing `m` or an id outside 0..255 is an error.
 * The other keys are hints, so one that is malformed (a port of 0, a client
 * name that is not UTF-8) is left out rather than failing the peer, and
 * unknown keys are ignored as BEP 10 asks. An entry of 0 in `m` means the
 * extension is disabled, so it is dropped.
 *
 * The result does not refer to `payload`: it may be kept after the buffer
 * is reused.
 */
export function decodeExtendedHandshake(payload: Uint8Array): ExtendedHandshake {
  let root: BValue;
  try {
    root = decodeBencode(payload, EXTENDED_HANDSHAKE_BENCODE_LIMITS);
  } catch (err) {
    if (!(err instanceof BencodeError)) throw err;
    throw new WireError('WIRE_BAD_EXTENDED_HANDSHAKE', `extended handshake is not valid bencode: ${err.message}`, {
      messageId: MessageId.extended,
      cause: err,
    });
  }
  if (!isDict(root)) {
    throw new WireError('WIRE_BAD_EXTENDED_HANDSHAKE', 'extended handshake is not a dictionary', {
      messageId: MessageId.extended,
    });
  }
  const rawM = root.get('m');
  if (!isDict(rawM)) {
    throw new WireError(
      'WIRE_BAD_EXTENDED_HANDSHAKE',
      rawM === undefined ? "extended handshake has no 'm' dictionary" : "extended handshake 'm' is not a dictionary",
      { messageId: MessageId.extended },
    );
  }
  const m = new Map<string, number>();
  for (const [name, id] of rawM) {
    if (!isInt(id) || id < 0 || id > 0xff) {
      throw new WireError('WIRE_BAD_EXTENDED_HANDSHAKE', `extended handshake 'm' entry '${name}' is not an integer in 0..255`, {
        messageId: MessageId.extended,
      });
    }
    if (id !== 0) m.set(name, id);
  }

  const out: ExtendedHandshake = { m };
  const v = root.get('v');
  if (isBytes(v)) {
    const name = utf8OrUndefined(v);
    if (name !== undefined) out.clientName = name;
  }
  const p = root.get('p');
  if (isInt(p) && p >= 1 && p <= 0xffff) out.listenPort = p;
  const reqq = root.get('reqq');
  if (isInt(reqq) && reqq >= 1) out.requestQueue = reqq;
  const metadataSize = root.get('metadata_size');
  if (isInt(metadataSize) && metadataSize >= 1) out.metadataSize = metadataSize;
  const yourIp = root.get('yourip');
  // A copy, so that holding the handshake does not pin the receive buffer.
  if (isBytes(yourIp) && (yourIp.length === 4 || yourIp.length === 16)) out.yourIp = Uint8Array.from(yourIp);
  return out;
}
