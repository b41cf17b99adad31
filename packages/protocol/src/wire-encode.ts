import { checkUint } from './wire-checks.js';
import { WireError } from './wire-error.js';
import { MessageId, type Message } from './wire.js';

/**
 * The message encoder: whole messages, and the two shapes a transfer sends
 * most (request batches and piece headers) without a Message object in
 * between.
 */

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

/** Length of one framed HAVE message. */
export const HAVE_MESSAGE_LENGTH = 9;

/**
 * HAVEs framed into one buffer, for one socket write: a piece verified
 * goes to every peer, and a download of small pieces verifies thousands.
 */
export function encodeHaveBatch(indices: readonly number[]): Buffer {
  const out = Buffer.allocUnsafe(indices.length * HAVE_MESSAGE_LENGTH);
  let at = 0;
  for (const index of indices) {
    checkUint('index', index, 0xffffffff);
    out.writeUInt32BE(5, at);
    out[at + 4] = MessageId.have;
    out.writeUInt32BE(index, at + 5);
    at += HAVE_MESSAGE_LENGTH;
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

function assertNever(m: never): never {
  throw new Error(`unreachable: message ${JSON.stringify(m)}`);
}
