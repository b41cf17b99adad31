import { ProtocolError } from './errors.js';

/**
 * The one error type of the tracker codecs (tracker.ts, tracker-http.ts,
 * tracker-udp.ts) and of the tracker-client service's transports.
 */

export type TrackerErrorCode =
  /** The tracker answered with `failure reason` (HTTP) or an error packet (UDP action 3). `failureReason` holds its text. */
  | 'TRACKER_FAILURE'
  /** The HTTP body is not bencode, not a dictionary, or a key has the wrong type or range. */
  | 'TRACKER_BAD_RESPONSE'
  /** A compact `peers`/`peers6` string whose length is not a multiple of 6/18, or a peer list that is neither a string nor a list. */
  | 'TRACKER_BAD_PEERS'
  /** A UDP packet of the wrong length for its action (truncated, or with stray bytes). */
  | 'TRACKER_BAD_LENGTH'
  /** A UDP packet whose action is not the one the request asked for. */
  | 'TRACKER_BAD_ACTION'
  /** A UDP reply whose transaction id is not the one we sent (BEP 15: "check whether the transaction ID is equal"). */
  | 'TRACKER_TRANSACTION_MISMATCH'
  /** An announce URL we cannot use: not http/https/udp, or unparseable. */
  | 'TRACKER_BAD_URL'
  /** Our own caller asked to encode a value the protocol cannot carry (a 19-byte hash, port 0...). */
  | 'TRACKER_BAD_FIELD'
  // The codes below are raised by the transports in the tracker-client
  // service, not by this package; they live here so that one error type and
  // one union of codes describe everything an announce can run into.
  /** No (matching) answer before the deadline, after every retransmit. */
  | 'TRACKER_TIMEOUT'
  /** DNS, connect, send or read failed. */
  | 'TRACKER_NETWORK'
  /** An HTTP status other than 200 with no bencoded failure in the body. */
  | 'TRACKER_HTTP_STATUS'
  /**
   * The tracker asked us to come back later (HTTP 429 or 503, with or
   * without Retry-After), or we have not asked it because it did so
   * recently: `retryAfterMs` says for how long, when known.
   */
  | 'TRACKER_RETRY_LATER'
  /** The reply is larger than the cap we accept. */
  | 'TRACKER_TOO_LARGE'
  /** The announce was cancelled by us (shutdown). */
  | 'TRACKER_ABORTED';

export class TrackerError extends ProtocolError {
  override name = 'TrackerError';
  declare readonly code: TrackerErrorCode;
  /** For TRACKER_FAILURE: the tracker's own words, control characters replaced. */
  readonly failureReason?: string;
  /** For TRACKER_FAILURE over HTTP: BEP 31 `retry in`, in minutes, or 'never'. */
  readonly retryIn?: number | 'never';
  /** For TRACKER_RETRY_LATER: how long the tracker asked us to wait (HTTP Retry-After), in ms, when it said. */
  readonly retryAfterMs?: number;
  /** A length or value that was received, when one was. */
  readonly received?: number;
  /** The length or value the rule demands. */
  readonly expected?: number;

  constructor(
    code: TrackerErrorCode,
    message: string,
    details: {
      failureReason?: string;
      retryIn?: number | 'never';
      retryAfterMs?: number;
      received?: number;
      expected?: number;
      cause?: unknown;
    } = {},
  ) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    if (details.failureReason !== undefined) this.failureReason = details.failureReason;
    if (details.retryIn !== undefined) this.retryIn = details.retryIn;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
    if (details.received !== undefined) this.received = details.received;
    if (details.expected !== undefined) this.expected = details.expected;
  }
}
