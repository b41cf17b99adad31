/**
 * Every error raised by the protocol package is a ProtocolError: callers can
 * tell "the peer/tracker/file broke a rule" apart from a bug in our code with
 * one instanceof check, and `code` names the rule so it can be counted.
 */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
  /** A stable, machine-readable name of the rule that was broken. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
