import { hostname } from 'node:os';

/**
 * JSON-lines logger: one object per line on stdout, the format log
 * collectors in a cluster (Loki, Fluent Bit) parse without configuration.
 * Logging must never take a service down, so nothing here throws: a field
 * that JSON cannot hold is replaced by a string describing it.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, unknown>>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** The keys every line starts with; a field of the same name is written as `field_<name>`. */
const RESERVED = new Set(['time', 'level', 'service', 'instance', 'msg']);

export interface LogStream {
  write(chunk: string): unknown;
}

export interface Logger {
  readonly level: LogLevel;
  isLevelEnabled(level: LogLevel): boolean;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds these fields to every line (e.g. `{ infoHash }`). */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  service: string;
  level?: LogLevel;
  stream?: LogStream;
  /** The replica; defaults to the host name, like SEEDBOX_INSTANCE_ID. */
  instance?: string;
}

export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? 'info';
  const head = `"service":${JSON.stringify(String(options.service))},"instance":${JSON.stringify(String(options.instance ?? hostname()))}`;
  return new JsonLogger(level, RANK[level] ?? RANK.info, head, '', options.stream ?? process.stdout);
}

class JsonLogger implements Logger {
  constructor(
    readonly level: LogLevel,
    private readonly rank: number,
    /** `"service":…,"instance":…`, encoded once. */
    private readonly head: string,
    /** The child fields, encoded once as `,"k":v…`. */
    private readonly bound: string,
    private readonly stream: LogStream,
  ) {}

  isLevelEnabled(level: LogLevel): boolean {
    return RANK[level] >= this.rank;
  }

  debug(msg: string, fields?: LogFields): void {
    if (this.rank <= RANK.debug) this.write('debug', msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    if (this.rank <= RANK.info) this.write('info', msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    if (this.rank <= RANK.warn) this.write('warn', msg, fields);
  }

  error(msg: string, fields?: LogFields): void {
    if (this.rank <= RANK.error) this.write('error', msg, fields);
  }

  child(fields: LogFields): Logger {
    return new JsonLogger(this.level, this.rank, this.head, this.bound + this.encodeFields(fields), this.stream);
  }

  private write(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    try {
      const line =
        `{"time":"${new Date().toISOString()}","level":"${level}",${this.head},"msg":${JSON.stringify(safeString(msg))}` +
        this.bound +
        (fields === undefined ? '' : this.encodeFields(fields)) +
        '}\n';
      this.stream.write(line);
    } catch {
      // A closed or broken stdout: there is nowhere left to report it.
    }
  }

  private encodeFields(fields: LogFields): string {
    let out = '';
    let keys: string[];
    try {
      keys = Object.keys(fields);
    } catch {
      return '';
    }
    const withStack = this.rank <= RANK.debug;
    for (const key of keys) {
      let value: unknown;
      try {
        value = fields[key];
      } catch (err) {
        value = `[unreadable: ${describeThrown(err)}]`;
      }
      const encoded = encodeValue(value, withStack);
      if (encoded === undefined) continue; // undefined and functions, as JSON.stringify drops them
      out += `,${JSON.stringify(RESERVED.has(key) ? `field_${key}` : key)}:${encoded}`;
    }
    return out;
  }
}

/** JSON for one field value, or a JSON string saying why it could not be encoded. */
function encodeValue(value: unknown, withStack: boolean): string | undefined {
  try {
    return JSON.stringify(value, (_key, v: unknown) => {
      if (v instanceof Error) return serializeError(v, withStack, 0);
      if (typeof v === 'bigint') return v.toString();
      return v;
    });
  } catch (err) {
    return JSON.stringify(`[unserializable: ${describeThrown(err)}]`);
  }
}

export interface SerializedError {
  name: string;
  message: string;
  code?: string | number;
  stack?: string;
  cause?: SerializedError | string;
}

/** An Error as a log field: name, message, code, the stack only at debug, and its cause chain (bounded). */
export function serializeError(err: Error, withStack: boolean, depth = 0): SerializedError {
  const out: SerializedError = { name: String(err.name), message: String(err.message) };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  if (withStack && typeof err.stack === 'string') out.stack = err.stack;
  const cause = err.cause;
  if (cause !== undefined && depth < 4) {
    out.cause = cause instanceof Error ? serializeError(cause, withStack, depth + 1) : safeString(cause);
  }
  return out;
}

function describeThrown(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : safeString(err);
}

function safeString(v: unknown): string {
  try {
    return String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/** A logger that drops everything, for tests and library defaults. */
export const silentLogger: Logger = createLogger({ service: 'silent', level: 'error', stream: { write: () => true } });
