import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/**
 * One HTTP request as the web APIs see it, and what they answer. The
 * handlers (qbittorrent/, transmission/) are functions from a WebRequest
 * to a WebResponse, with no socket in sight, so they are tested without a
 * server; web-server.ts does the node:http side.
 */

/** A request body larger than this is refused with 413: a .torrent file is at most 16 MiB (our metainfo limit), and a form carries a few of them. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export class WebRequestError extends Error {
  override readonly name = 'WebRequestError';
  constructor(
    /** The HTTP status to answer. */
    readonly status: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A form field: text, or a file with its name and bytes. */
export type FormValue = string | { filename: string; data: Uint8Array };

/** The fields of a urlencoded or multipart body, each name with every value it was given, in order. */
export class FormFields {
  constructor(private readonly fields: ReadonlyMap<string, readonly FormValue[]>) {}

  static fromEntries(entries: Iterable<[string, FormValue]>): FormFields {
    const m = new Map<string, FormValue[]>();
    for (const [k, v] of entries) {
      const list = m.get(k);
      if (list) list.push(v);
      else m.set(k, [v]);
    }
    return new FormFields(m);
  }

  has(name: string): boolean {
    return this.fields.has(name);
  }

  /** The first text value of the field; undefined when absent or a file. */
  text(name: string): string | undefined {
    const v = this.fields.get(name)?.find((x) => typeof x === 'string');
    return typeof v === 'string' ? v : undefined;
  }

  /** Every file sent under the field, in order. */
  files(name: string): { filename: string; data: Uint8Array }[] {
    return (this.fields.get(name) ?? []).filter((x): x is { filename: string; data: Uint8Array } => typeof x !== 'string');
  }

  names(): string[] {
    return [...this.fields.keys()];
  }
}

export interface WebRequest {
  method: string;
  /** The path without the query, e.g. `/api/v2/torrents/info`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The client's address: the socket's (IPv4-mapped IPv6 unwrapped), or from X-Forwarded-For behind a trusted proxy. */
  remoteAddress: string;
  /** The raw body, read once on first call (at most MAX_BODY_BYTES, else WebRequestError 413). */
  body(): Promise<Buffer>;
  /** The body as form fields (urlencoded or multipart), merged after the query's fields; WebRequestError 400/415 when it is neither or is malformed. */
  form(): Promise<FormFields>;
}

export interface WebResponse {
  status: number;
  headers?: Record<string, string | string[]>;
  body?: string | Uint8Array;
}

export function text(status: number, body: string, headers: Record<string, string | string[]> = {}): WebResponse {
  return { status, headers: { 'Content-Type': 'text/plain; charset=UTF-8', ...headers }, body };
}

export function json(status: number, value: unknown, headers: Record<string, string | string[]> = {}): WebResponse {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(value) };
}

/** The address without the `::ffff:` a dual-stack socket puts before IPv4 peers. */
export function plainAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address === 'localhost';
}

/** Reads a body, refusing it past `limit` bytes before reading more (a Content-Length over it is refused at once). */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new WebRequestError(413, `the request body is ${declared} bytes; at most ${limit} are taken`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new WebRequestError(413, `the request body is over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Form fields from a body: `application/x-www-form-urlencoded` or
 * `multipart/form-data`. Multipart goes through the fetch API's own
 * parser (Response.formData, built into Node), which handles boundaries,
 * quoted names and binary parts better than a hand-written one would.
 * A body with no content type or another one (qBittorrent's clients
 * send GET-style queries in POST bodies) is read as urlencoded.
 */
export async function parseForm(body: Buffer, contentType: string | undefined, query: URLSearchParams): Promise<FormFields> {
  const entries: [string, FormValue][] = [...query.entries()];
  const type = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type === 'multipart/form-data') {
    let form: FormData;
    try {
      form = await new Response(body, { headers: { 'Content-Type': contentType! } }).formData();
    } catch (e) {
      throw new WebRequestError(400, `the multipart body cannot be read: ${(e as Error).message}`, { cause: e });
    }
    for (const [name, value] of form.entries()) {
      if (typeof value === 'string') entries.push([name, value]);
      else entries.push([name, { filename: value.name, data: new Uint8Array(await value.arrayBuffer()) }]);
    }
  } else if (body.length > 0) {
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) entries.push([k, v]);
  }
  return FormFields.fromEntries(entries);
}
