import { ProtocolError } from './errors.js';

/**
 * The error every peer wire codec throws (handshake.ts, wire.ts,
 * wire-encode.ts, extended.ts), and the answer shape of their decoders.
 */

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
