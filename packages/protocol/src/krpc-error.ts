import { ProtocolError } from './errors.js';

/**
 * The error of the KRPC codec (krpc.ts, krpc-nodes.ts), and the error
 * numbers KRPC itself puts in `e` replies.
 */

/** The error numbers of BEP 5, for the `e` list of an error reply. */
export const KRPC_ERROR = { generic: 201, server: 202, protocol: 203, methodUnknown: 204 } as const;

export type KrpcErrorCode =
  /** The datagram is larger than MAX_KRPC_DATAGRAM: refused before it is parsed. */
  | 'krpc-too-large'
  /** The datagram is not valid bencode; `cause` is the BencodeError. */
  | 'krpc-bencode'
  /** The bencoded value is not a dictionary. */
  | 'krpc-not-dict'
  /** `t` is missing, not a byte string, or not 1..MAX_KRPC_TRANSACTION_ID bytes. */
  | 'krpc-bad-transaction-id'
  /** `y` is missing or not one of 'q', 'r', 'e'. */
  | 'krpc-bad-type'
  /** A query whose `q` (the method name) is missing or not a byte string. */
  | 'krpc-bad-method'
  /** A query for a method we do not implement; BEP 5 says to answer it with error 204. `method` names it. */
  | 'krpc-unknown-method'
  /** A query whose `a` is missing or not a dictionary. */
  | 'krpc-bad-arguments'
  /** A response whose `r` is missing or not a dictionary. */
  | 'krpc-bad-response'
  /** An error message whose `e` is not a list starting with an integer and a byte string. */
  | 'krpc-bad-error'
  /** `id` is missing or not NODE_ID_LENGTH bytes. */
  | 'krpc-bad-id'
  /** find_node's `target` is missing or not NODE_ID_LENGTH bytes. */
  | 'krpc-bad-target'
  /** get_peers' or announce_peer's `info_hash` is missing or not 20 bytes. */
  | 'krpc-bad-info-hash'
  /** announce_peer's `port` is missing or not in 1..65535 (without implied_port). */
  | 'krpc-bad-port'
  /** announce_peer's `token` is missing, or a token is not 1..MAX_KRPC_TOKEN bytes. */
  | 'krpc-bad-token'
  /** BEP 32 `want` is not a list of byte strings. */
  | 'krpc-bad-want'
  /** `nodes` or `nodes6` is not a byte string. */
  | 'krpc-bad-nodes'
  /** `values` is not a list of 6- or 18-byte strings. */
  | 'krpc-bad-values'
  /** More than MAX_KRPC_VALUES entries in `values`. */
  | 'krpc-too-many-values'
  /** Our own caller asked to encode a value KRPC cannot carry (a 19-byte id, port 0, a DNS name as a node...). */
  | 'krpc-bad-field';

/** What the datagram said it was, as far as it was read before the rule was broken. */
export type KrpcMessageKind = 'query' | 'response' | 'error';

export class KrpcError extends ProtocolError {
  override name = 'KrpcError';
  declare readonly code: KrpcErrorCode;
  /**
   * The transaction id of the datagram, once it was read (a copy): with it
   * the node can answer a malformed query with an error reply, as BEP 5
   * asks. Absent when the datagram broke a rule before `t` was read.
   */
  readonly t?: Uint8Array;
  /** What `y` said the datagram is, when it was read. Only queries are answered. */
  readonly messageKind?: KrpcMessageKind;
  /** For krpc-unknown-method: the method's name (latin1, so any bytes survive). */
  readonly method?: string;
  /** The key concerned, when there is one. */
  readonly key?: string;
  /** The length or count received, when one was. */
  readonly received?: number;

  constructor(
    code: KrpcErrorCode,
    message: string,
    details: { t?: Uint8Array; messageKind?: KrpcMessageKind; method?: string; key?: string; received?: number; cause?: unknown } = {},
  ) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    if (details.t !== undefined) this.t = details.t;
    if (details.messageKind !== undefined) this.messageKind = details.messageKind;
    if (details.method !== undefined) this.method = details.method;
    if (details.key !== undefined) this.key = details.key;
    if (details.received !== undefined) this.received = details.received;
  }

  /**
   * The BEP 5 error number to answer a malformed query with: 204 for a
   * method we do not know, 203 (protocol error) for anything else.
   */
  get krpcCode(): number {
    return this.code === 'krpc-unknown-method' ? KRPC_ERROR.methodUnknown : KRPC_ERROR.protocol;
  }

  /** Whether the node should answer this datagram with an error reply: a query whose `t` was read. */
  get answerable(): boolean {
    return this.t !== undefined && this.messageKind === 'query';
  }
}
