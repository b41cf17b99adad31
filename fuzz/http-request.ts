import type { IncomingHttpHeaders } from 'node:http';

/**
 * A fuzz case for the web APIs is a raw HTTP/1.1 request: request line,
 * header lines, blank line, body. This reads it into what node:http would
 * hand web-server.ts, and never hands on what node's parser would refuse:
 * a header line that is malformed (no colon, a name that is not a token,
 * a control character) is left out, an unknown method reads as POST, and
 * bytes a request target cannot hold are percent-encoded. What comes out
 * is always a request a client could really send, so a crash it causes
 * is a real one; and mutated requests still get through instead of being
 * thrown away whole.
 */

export interface RawRequest {
  method: string;
  /** The request target as sent, e.g. `/api/v2/torrents/info?filter=all`. */
  target: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The methods llhttp knows; any other is a 400 from node before a handler runs. */
const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'PROPFIND', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'REPORT', 'SEARCH', 'PURGE']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;
/** Headers node keeps once (the first wins); the others are joined, cookie with '; '. */
const SINGLE = new Set(['content-type', 'content-length', 'user-agent', 'referer', 'host', 'authorization', 'proxy-authorization', 'if-modified-since', 'if-unmodified-since', 'from', 'location', 'max-forwards', 'retry-after', 'etag', 'last-modified', 'server', 'age', 'expires']);

/** The request in `input`, as node would deliver it (see above). */
export function parseRawRequest(input: Uint8Array): RawRequest {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  let end = buf.indexOf('\r\n\r\n');
  let sep = 4;
  if (end < 0) {
    end = buf.indexOf('\n\n');
    sep = 2;
  }
  const head = (end < 0 ? buf : buf.subarray(0, end)).toString('latin1');
  const body = end < 0 ? Buffer.alloc(0) : buf.subarray(end + sep);
  const lines = head.split(/\r?\n/);
  const [method, target] = lines[0]!.split(' ');
  const headers: Record<string, string | string[]> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (!TOKEN.test(name) || CONTROL.test(value)) continue;
    const prior = headers[name];
    if (prior === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
    else if (name === 'set-cookie') (prior as string[]).push(value);
    else if (!SINGLE.has(name)) headers[name] = `${prior as string}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return {
    method: method !== undefined && METHODS.has(method) ? method : 'POST',
    // eslint-disable-next-line no-control-regex
    target: target ? target.replace(/[\u0000-\u0020\u007f-\u00ff]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`) : '/',
    headers: headers as IncomingHttpHeaders,
    body,
  };
}

/** The URL as web-server.ts makes it from the target. */
export function requestUrl(target: string): URL {
  try {
    return new URL(target, 'http://localhost');
  } catch {
    return new URL('http://localhost/');
  }
}

/** Writes a request in the format parseRawRequest reads. */
export function rawRequest(method: string, target: string, headers: Record<string, string>, body: string | Uint8Array = ''): Uint8Array {
  const head = [`${method} ${target} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
  return new Uint8Array(Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), typeof body === 'string' ? Buffer.from(body, 'utf8') : body]));
}

/** A multipart/form-data body as browsers and Sonarr write it. */
export function multipart(boundary: string, parts: { name: string; filename?: string; type?: string; data: string | Uint8Array }[]): Uint8Array {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename === undefined ? '' : `; filename="${p.filename}"`}`;
    const type = p.type ?? (p.filename === undefined ? undefined : 'application/x-bittorrent');
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type ? `Content-Type: ${type}\r\n` : ''}\r\n`, 'latin1'));
    chunks.push(typeof p.data === 'string' ? Buffer.from(p.data, 'utf8') : Buffer.from(p.data));
    chunks.push(Buffer.from('\r\n', 'latin1'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return new Uint8Array(Buffer.concat(chunks));
}
