/**
 * The NATS client protocol (https://docs.nats.io/reference/reference-protocols/nats-protocol),
 * as much of it as the piece path needs, with no I/O: a parser of what the
 * server sends and encoders of what a client sends.
 *
 * Why not nats.js's parser: it rebuilds a message larger than one socket
 * read in a buffer that grows (and copies) as the reads arrive, and hands
 * out a view into it, which the SHA-1 pool must then copy once more before
 * it can move the bytes to a thread. Here a message's payload is given a
 * buffer of its own, of its exact size, as soon as its control line says
 * how large it is: the bytes are copied once, from the socket's read into
 * that buffer, and the buffer can be transferred as it is.
 */

import { pieceBuffers } from '@seedbox/runtime';

const CR = 13;
const LF = 10;
const EMPTY = Buffer.alloc(0);
/** Up to this size a payload may be a view into the socket's read (or Node's buffer pool); above it, it owns its ArrayBuffer. */
const SMALL_MESSAGE = 16 * 1024;

/** A control line longer than this is not NATS (an INFO with a long list of cluster URLs fits). */
export const MAX_CONTROL_LINE = 1024 * 1024;
/** Header blocks are small text; a larger one is a broken stream. */
export const MAX_HEADER_BYTES = 64 * 1024;

export class NatsWireError extends Error {
  constructor(
    readonly rule: 'control-line-too-long' | 'unknown-operation' | 'bad-message-line' | 'message-too-large' | 'bad-message-end' | 'bad-headers',
    message: string,
  ) {
    super(message);
    this.name = 'NatsWireError';
  }
}

export interface WireMessage {
  subject: string;
  sid: number;
  reply: string | undefined;
  /** Header fields, names as sent; undefined when the message has none. */
  headers: Map<string, string> | undefined;
  /** A status on the header line (503: no responders). */
  status: number | undefined;
  /**
   * The payload. Above 16 KiB it owns its whole ArrayBuffer (so the SHA-1
   * pool can transfer it to a thread as it is), and comes from the
   * process's piece buffers (`allocate`).
   */
  data: Buffer;
}

export type ServerOp =
  | { op: 'info'; info: Record<string, unknown> }
  | { op: 'msg'; msg: WireMessage }
  | { op: 'ping' }
  | { op: 'pong' }
  | { op: 'ok' }
  | { op: 'err'; text: string };

interface PendingMsg {
  subject: string;
  sid: number;
  reply: string | undefined;
  headerBytes: number;
  total: number;
  /** The header block, then the payload (a buffer of its own, of its exact size), then the CRLF after them. */
  head: Buffer;
  payload: Buffer;
  /** Bytes of header block, payload and CRLF received so far. */
  filled: number;
  /** The two bytes after the payload. */
  end: number[];
}

/**
 * Feed it the socket's reads in order; it answers the operations they
 * complete. Throws NatsWireError on anything that is not the protocol (the
 * connection is then useless: close it).
 */
export class ServerOpParser {
  private line: Buffer | undefined;
  private pending: PendingMsg | undefined;
  /** Largest message (headers and payload) accepted: the server's max_payload, once known. */
  maxMessageBytes = 64 * 1024 * 1024;
  /** Where a large payload's buffer comes from: the process's piece buffers, given back once the piece is written. */
  allocate: (size: number) => Buffer = (size) => pieceBuffers.take(size);

  feed(chunk: Buffer): ServerOp[] {
    const ops: ServerOp[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.pending) {
        at = this.fillBody(chunk, at, ops);
        continue;
      }
      const nl = chunk.indexOf(LF, at);
      if (nl === -1) {
        this.keepPartialLine(chunk.subarray(at));
        break;
      }
      let lineBytes = chunk.subarray(at, nl + 1);
      if (this.line) {
        lineBytes = Buffer.concat([this.line, lineBytes]);
        this.line = undefined;
      }
      at = nl + 1;
      this.controlLine(lineBytes, chunk, at, ops);
      // A small message whose whole body is in this read: views, no copy.
      const p = this.pending as PendingMsg | undefined;
      if (p && p.total <= SMALL_MESSAGE && chunk.length - at >= p.total + 2) {
        this.pending = undefined;
        const body = chunk.subarray(at, at + p.total + 2);
        // Copied: the read may be a buffer the connection reads into again.
        this.finishMessage(p, body.subarray(0, p.headerBytes), Buffer.from(body.subarray(p.headerBytes, p.total)), [body[p.total]!, body[p.total + 1]!], ops);
        at += p.total + 2;
      }
    }
    return ops;
  }

  /**
   * Where the next socket read may go straight: the rest of a large
   * payload under way (so its bytes land where they belong, with no copy),
   * or undefined. After such a read, call `payloadFilled`, not `feed`.
   */
  payloadTarget(): Buffer | undefined {
    const p = this.pending;
    if (!p || p.filled < p.headerBytes || p.filled >= p.total || p.payload.length <= SMALL_MESSAGE) return undefined;
    return p.payload.subarray(p.filled - p.headerBytes);
  }

  /** `n` bytes were read into `payloadTarget()`. */
  payloadFilled(n: number): void {
    const p = this.pending!;
    p.filled += n;
  }

  private keepPartialLine(rest: Buffer): void {
    const size = (this.line?.length ?? 0) + rest.length;
    if (size > MAX_CONTROL_LINE) throw new NatsWireError('control-line-too-long', `a control line of more than ${MAX_CONTROL_LINE} bytes`);
    // Copied: the read it came from may be reused by the caller.
    this.line = this.line ? Buffer.concat([this.line, rest]) : Buffer.from(rest);
  }

  private controlLine(bytes: Buffer, chunk: Buffer, bodyAt: number, ops: ServerOp[]): void {
    const text = bytes.toString('latin1', 0, bytes.length - (bytes.length >= 2 && bytes[bytes.length - 2] === CR ? 2 : 1));
    const space = text.indexOf(' ');
    const verb = (space === -1 ? text : text.slice(0, space)).toUpperCase();
    const rest = space === -1 ? '' : text.slice(space + 1);
    switch (verb) {
      case 'MSG':
      case 'HMSG':
        return this.messageLine(verb, rest, chunk.length - bodyAt);
      case 'PING':
        ops.push({ op: 'ping' });
        return;
      case 'PONG':
        ops.push({ op: 'pong' });
        return;
      case '+OK':
        ops.push({ op: 'ok' });
        return;
      case '-ERR':
        ops.push({ op: 'err', text: rest.replace(/^'|'$/g, '') });
        return;
      case 'INFO': {
        let info: unknown;
        try {
          info = JSON.parse(rest);
        } catch {
          throw new NatsWireError('unknown-operation', 'an INFO whose JSON does not parse');
        }
        if (typeof info !== 'object' || info === null) throw new NatsWireError('unknown-operation', 'an INFO that is not a JSON object');
        ops.push({ op: 'info', info: info as Record<string, unknown> });
        return;
      }
      default:
        throw new NatsWireError('unknown-operation', `unknown operation '${verb.slice(0, 16)}'`);
    }
  }

  private messageLine(verb: 'MSG' | 'HMSG', rest: string, inThisRead: number): void {
    const f = rest.split(' ').filter((s) => s !== '');
    const hasHeaders = verb === 'HMSG';
    const fixed = hasHeaders ? 4 : 3;
    if (f.length !== fixed && f.length !== fixed + 1) throw new NatsWireError('bad-message-line', `${verb} with ${f.length} fields`);
    const reply = f.length === fixed + 1 ? f[2] : undefined;
    const total = toSize(f[f.length - 1]!);
    const headerBytes = hasHeaders ? toSize(f[f.length - 2]!) : 0;
    const sid = toSize(f[1]!);
    if (total === undefined || headerBytes === undefined || sid === undefined || headerBytes > total) {
      throw new NatsWireError('bad-message-line', `${verb} with sizes that are not numbers or do not add up`);
    }
    if (total > this.maxMessageBytes) throw new NatsWireError('message-too-large', `a message of ${total} bytes, above the ${this.maxMessageBytes} accepted`);
    if (headerBytes > MAX_HEADER_BYTES) throw new NatsWireError('bad-headers', `a header block of ${headerBytes} bytes`);
    // Sizes checked above, so only now: a payload buffer of its own unless
    // the message is small and whole in this read (then feed takes views).
    const whole = total <= SMALL_MESSAGE && inThisRead >= total + 2;
    const head = whole ? EMPTY : Buffer.allocUnsafe(headerBytes);
    const payload = whole ? EMPTY : total - headerBytes > SMALL_MESSAGE ? this.allocate(total - headerBytes) : Buffer.allocUnsafe(total - headerBytes);
    this.pending = { subject: f[0]!, sid, reply, headerBytes, total, head, payload, filled: 0, end: [] };
  }

  private fillBody(chunk: Buffer, at: number, ops: ServerOp[]): number {
    const p = this.pending!;
    while (at < chunk.length && p.filled < p.total + 2) {
      if (p.filled < p.headerBytes) {
        const n = chunk.copy(p.head, p.filled, at, Math.min(chunk.length, at + p.headerBytes - p.filled));
        p.filled += n;
        at += n;
      } else if (p.filled < p.total) {
        const n = chunk.copy(p.payload, p.filled - p.headerBytes, at, Math.min(chunk.length, at + p.total - p.filled));
        p.filled += n;
        at += n;
      } else {
        p.end.push(chunk[at]!);
        p.filled++;
        at++;
      }
    }
    if (p.filled === p.total + 2) {
      this.pending = undefined;
      this.finishMessage(p, p.head, p.payload, p.end, ops);
    }
    return at;
  }

  private finishMessage(p: PendingMsg, head: Buffer, data: Buffer, end: number[], ops: ServerOp[]): void {
    if (end[0] !== CR || end[1] !== LF) throw new NatsWireError('bad-message-end', `a message of ${p.total} bytes not followed by CRLF`);
    let headers: Map<string, string> | undefined;
    let status: number | undefined;
    if (p.headerBytes > 0) ({ headers, status } = decodeHeaders(head));
    ops.push({ op: 'msg', msg: { subject: p.subject, sid: p.sid, reply: p.reply, headers, status, data } });
  }
}

function toSize(s: string): number | undefined {
  if (!/^\d{1,12}$/.test(s)) return undefined;
  return Number(s);
}

/** `NATS/1.0[ status[ text]]\r\n(Name: value\r\n)*\r\n` */
export function decodeHeaders(block: Buffer): { headers: Map<string, string>; status: number | undefined } {
  const text = block.toString('utf8');
  const lines = text.split('\r\n');
  const first = lines[0] ?? '';
  if (!first.startsWith('NATS/1.0')) throw new NatsWireError('bad-headers', 'a header block not starting with NATS/1.0');
  const code = /^NATS\/1\.0 (\d{3})/.exec(first);
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    if (l === '') continue;
    const colon = l.indexOf(':');
    if (colon <= 0) throw new NatsWireError('bad-headers', 'a header line without a name');
    headers.set(l.slice(0, colon).trim(), l.slice(colon + 1).trim());
  }
  return { headers, status: code ? Number(code[1]) : undefined };
}

export function encodeHeaders(headers: Record<string, string>): Buffer {
  let text = 'NATS/1.0\r\n';
  for (const [k, v] of Object.entries(headers)) {
    if (/[\r\n:]/.test(k) || /[\r\n]/.test(v)) throw new NatsWireError('bad-headers', `header ${JSON.stringify(k)} cannot be sent`);
    text += `${k}: ${v}\r\n`;
  }
  return Buffer.from(`${text}\r\n`, 'utf8');
}

const SUBJECT = /^\S+$/;

function checkSubject(s: string): void {
  if (!SUBJECT.test(s) || /\s/.test(s)) throw new NatsWireError('bad-message-line', `'${s}' is not a subject`);
}

/** The control line (and header block) of a publish; the payload and a CRLF follow it. */
export function encodePublishHead(subject: string, reply: string | undefined, headerBlock: Buffer | undefined, payloadBytes: number): Buffer {
  checkSubject(subject);
  if (reply !== undefined) checkSubject(reply);
  const r = reply !== undefined ? ` ${reply}` : '';
  if (!headerBlock) return Buffer.from(`PUB ${subject}${r} ${payloadBytes}\r\n`, 'latin1');
  const line = Buffer.from(`HPUB ${subject}${r} ${headerBlock.length} ${headerBlock.length + payloadBytes}\r\n`, 'latin1');
  return Buffer.concat([line, headerBlock]);
}

export function encodeSub(subject: string, queue: string | undefined, sid: number): Buffer {
  checkSubject(subject);
  return Buffer.from(`SUB ${subject}${queue ? ` ${queue}` : ''} ${sid}\r\n`, 'latin1');
}

export function encodeUnsub(sid: number): Buffer {
  return Buffer.from(`UNSUB ${sid}\r\n`, 'latin1');
}

export function encodeConnect(options: Record<string, unknown>): Buffer {
  return Buffer.from(`CONNECT ${JSON.stringify(options)}\r\n`, 'utf8');
}

export const PING = Buffer.from('PING\r\n', 'latin1');
export const PONG = Buffer.from('PONG\r\n', 'latin1');
export const CRLF = Buffer.from('\r\n', 'latin1');
