import { BencodeError, decodeBencode, encodeBencode, isBytes, isDict, isInt, utf8OrUndefined } from './bencode.js';
import type { BEncodable, BValue } from './bencode.js';
import { checkUint } from './wire-checks.js';
import { WireError } from './wire-error.js';
import { MessageId } from './wire.js';

/**
 * The BEP 10 extended handshake: the bencoded payload of an extended
 * message with extendedId 0, in which each side names the extensions it
 * speaks and the ids it wants them under.
 */

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
