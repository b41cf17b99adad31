/**
 * The DHT's typed errors. A query that goes unanswered or is refused is the
 * normal weather of a DHT (most nodes out there are gone or firewalled), so
 * DhtQueryError is recoverable and counted, never fatal. DhtBindError and
 * DhtLifecycleError are the caller's to handle: the socket could not be had,
 * or the node was used outside its running state. DhtStateFileError is a
 * saved routing table that cannot be read; the node warns and starts empty.
 */

export type DhtErrorCode = 'DHT_QUERY_FAILED' | 'DHT_BIND_FAILED' | 'DHT_WRONG_STATE' | 'DHT_STATE_FILE_CORRUPT';

export class DhtError extends Error {
  override name = 'DhtError';
  readonly code: DhtErrorCode;

  constructor(code: DhtErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Why a query of ours got no answer:
 * - timeout: nothing came back in time (the node counts a failure against it);
 * - error-reply: the node answered with a KRPC error (`krpcCode`, `krpcMessage`);
 * - send-failed: the socket refused the datagram;
 * - aborted: the caller's signal fired;
 * - closed: our node stopped while the query waited.
 */
export type DhtQueryFailure = 'timeout' | 'error-reply' | 'send-failed' | 'aborted' | 'closed';

export class DhtQueryError extends DhtError {
  override name = 'DhtQueryError';
  readonly reason: DhtQueryFailure;
  readonly method: string;
  readonly to: string;
  readonly krpcCode: number | undefined;

  constructor(reason: DhtQueryFailure, method: string, to: string, detail: string, extra: { krpcCode?: number; cause?: unknown } = {}) {
    super('DHT_QUERY_FAILED', `DHT ${method} to ${to}: ${detail}`, { cause: extra.cause });
    this.reason = reason;
    this.method = method;
    this.to = to;
    this.krpcCode = extra.krpcCode;
  }
}

export class DhtBindError extends DhtError {
  override name = 'DhtBindError';
  readonly host: string;
  readonly port: number;

  constructor(host: string, port: number, cause: unknown) {
    const why = (cause as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE' ? 'the port is already in use' : String((cause as Error)?.message ?? cause);
    super('DHT_BIND_FAILED', `DHT cannot bind UDP ${host.includes(':') ? `[${host}]` : host}:${port}: ${why}`, { cause });
    this.host = host;
    this.port = port;
  }
}

export class DhtLifecycleError extends DhtError {
  override name = 'DhtLifecycleError';
  readonly state: string;

  constructor(action: string, state: string) {
    super('DHT_WRONG_STATE', `DHT node cannot ${action} while ${state}`);
    this.state = state;
  }
}

export class DhtStateFileError extends DhtError {
  override name = 'DhtStateFileError';
  readonly path: string;

  constructor(path: string, detail: string, cause?: unknown) {
    super('DHT_STATE_FILE_CORRUPT', `DHT state file ${path}: ${detail}`, { cause });
    this.path = path;
  }
}
