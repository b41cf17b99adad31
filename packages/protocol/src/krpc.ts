import type { PeerAddress } from './address.js';
import { BencodeError, decodeBencode, encodeBencode, isBytes, isDict, isInt, isList, type BDict, type BEncodable, type BValue } from './bencode.js';
import { KrpcError, type KrpcErrorCode, type KrpcMessageKind } from './krpc-error.js';
import { NODE_ID_LENGTH, decodeCompactAddress, decodeCompactNodes, encodeCompactAddress, encodeCompactNodes, isDialable, type CompactNode } from './krpc-nodes.js';
// Remote text made safe for our logs (control characters replaced, length capped), shared with the tracker codecs.
import { trackerText } from './tracker-checks.js';

export { KRPC_ERROR, KrpcError, type KrpcErrorCode, type KrpcMessageKind } from './krpc-error.js';
export { NODE_ID_LENGTH, decodeCompactNodes, encodeCompactNodes, type CompactNode } from './krpc-nodes.js';

/**
 * KRPC, the message layer of the BitTorrent DHT (BEP 5): one bencoded
 * dictionary per UDP datagram, a query (`y` = 'q'), its response ('r') or
 * an error ('e'), tied together by the transaction id `t`. With IPv6 node
 * lists and `want` (BEP 32), the requester's address in responses (BEP 42,
 * `ip`) and read-only queries (BEP 43, `ro`).
 *
 *     d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe
 *
 * Pure, as the rest of this package: the DHT node owns the socket, the
 * routing table and the timeouts. Other nodes are strangers on the
 * Internet, so decodeKrpc checks every length before it reads or copies,
 * and answers a KrpcMessage or a KrpcError for any bytes. A KrpcError
 * carries the transaction id once it was read, so that the node can answer
 * a malformed query as BEP 5 asks (error.answerable, error.krpcCode).
 *
 * Keys we do not know are ignored, so that extensions (BEP 33 scrapes,
 * BEP 44 `v`, BEP 51 samples...) do not make messages fail to decode.
 */

/** The largest datagram we read or write: the most a UDP datagram can be, rounded up. */
export const MAX_KRPC_DATAGRAM = 64 * 1024;
/** Longest transaction id accepted. libtorrent sends 2 bytes, others up to 8; 32 leaves room and still bounds what we echo. */
export const MAX_KRPC_TRANSACTION_ID = 32;
/** Most peers in one `values` list. libtorrent sends at most 100 (to fit one datagram): ten times that still bounds one reply. */
export const MAX_KRPC_VALUES = 1000;
/** Longest token accepted. The implementations we know send 4 to 20 bytes; the node keeps one per node it asked. */
export const MAX_KRPC_TOKEN = 256;

/** BEP 32: the node lists a query asks for, IPv4 (`nodes`) and IPv6 (`nodes6`). */
export type KrpcWant = 'n4' | 'n6';

export type KrpcQuery =
  | { method: 'ping'; id: Uint8Array }
  | { method: 'find_node'; id: Uint8Array; target: Uint8Array; want?: KrpcWant[] }
  | { method: 'get_peers'; id: Uint8Array; infoHash: Uint8Array; want?: KrpcWant[] }
  /** With impliedPort the peer's port is the query's UDP source port and `port` is only what was sent (0 when none or out of range). */
  | { method: 'announce_peer'; id: Uint8Array; infoHash: Uint8Array; port: number; token: Uint8Array; impliedPort: boolean };

/** A response's body; which fields are present depends on the query it answers, which only `t` tells. */
export interface KrpcResponse {
  id: Uint8Array;
  /** `nodes`: 26-byte IPv4 entries. */
  nodes?: CompactNode[];
  /** `nodes6`: 38-byte IPv6 entries (BEP 32). */
  nodes6?: CompactNode[];
  /** `values`: compact peers, 6 bytes (IPv4) or 18 bytes (IPv6) each. */
  values?: PeerAddress[];
  token?: Uint8Array;
}

export type KrpcMessage =
  /** readOnly (BEP 43): the sender does not answer queries; keep it out of the routing table. */
  | { kind: 'query'; t: Uint8Array; query: KrpcQuery; readOnly?: boolean; version?: Uint8Array }
  /** ip (BEP 42): our own address as the responder saw it. */
  | { kind: 'response'; t: Uint8Array; response: KrpcResponse; ip?: PeerAddress; version?: Uint8Array }
  | { kind: 'error'; t: Uint8Array; code: number; message: string; version?: Uint8Array };

const KNOWN_METHODS: ReadonlySet<string> = new Set(['ping', 'find_node', 'get_peers', 'announce_peer']);

/**
 * A KRPC message is three levels deep (a list of values in the body); the
 * slack lets BEP 44's arbitrary `v` values through, so that a `put` query
 * still reaches the unknown-method answer. The datagram bound already
 * bounds the item count; maxItems only stops a list of thousands of
 * empty strings from becoming thousands of objects.
 */
const LIMITS = { maxBytes: MAX_KRPC_DATAGRAM, maxDepth: 32, maxItems: 4096 };

// ---- decoding ----

/** What is known of the datagram while its rules are checked: every error carries it. */
interface Ctx {
  t?: Uint8Array;
  kind?: KrpcMessageKind;
}

function fail(ctx: Ctx, code: KrpcErrorCode, message: string, details: { key?: string; received?: number; method?: string } = {}): never {
  throw new KrpcError(code, message, { ...details, ...(ctx.t && { t: ctx.t }), ...(ctx.kind && { messageKind: ctx.kind }) });
}

function describe(v: BValue | undefined): string {
  if (v === undefined) return 'missing';
  if (isBytes(v)) return `${v.length} bytes`;
  if (isInt(v)) return 'an integer';
  return isList(v) ? 'a list' : 'a dictionary';
}

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

/** A byte string of `min`..`max` bytes under `key`, copied: the node keeps ids and tokens after the datagram is gone. */
function bytesField(ctx: Ctx, dict: BDict, key: string, min: number, max: number, code: KrpcErrorCode): Uint8Array {
  const v = dict.get(key);
  if (!isBytes(v) || v.length < min || v.length > max) {
    const size = min === max ? `${min}` : `${min}..${max}`;
    fail(ctx, code, `'${key}' is ${describe(v)}, not a string of ${size} bytes`, { key, ...(isBytes(v) && { received: v.length }) });
  }
  return new Uint8Array(v);
}

const hash = (ctx: Ctx, dict: BDict, key: string, code: KrpcErrorCode): Uint8Array => bytesField(ctx, dict, key, NODE_ID_LENGTH, NODE_ID_LENGTH, code);

/**
 * Decodes one datagram. Answers the message, or throws a KrpcError naming
 * the rule that was broken; never anything else, whatever the bytes.
 * Byte strings in the result are copies, not views into `buf`.
 */
export function decodeKrpc(buf: Uint8Array): KrpcMessage {
  const ctx: Ctx = {};
  if (buf.length > MAX_KRPC_DATAGRAM) {
    fail(ctx, 'krpc-too-large', `datagram is ${buf.length} bytes, more than ${MAX_KRPC_DATAGRAM}`, { received: buf.length });
  }
  let root: BValue;
  try {
    root = decodeBencode(buf, LIMITS);
  } catch (err) {
    if (!(err instanceof BencodeError)) throw err;
    throw new KrpcError('krpc-bencode', `KRPC datagram is not valid bencode: ${err.message}`, { cause: err });
  }
  if (!isDict(root)) fail(ctx, 'krpc-not-dict', `KRPC datagram is ${describe(root)}, not a dictionary`);
  // `t` first: every later error carries it, so that the node can answer.
  ctx.t = bytesField(ctx, root, 't', 1, MAX_KRPC_TRANSACTION_ID, 'krpc-bad-transaction-id');
  const y = root.get('y');
  const type = isBytes(y) && y.length === 1 ? String.fromCharCode(y[0]!) : undefined;
  const v = root.get('v');
  // `v` is informational (client and version): one that is not a string is ignored, not an error.
  const version = isBytes(v) ? { version: new Uint8Array(v) } : {};
  switch (type) {
    case 'q':
      ctx.kind = 'query';
      return { ...decodeQuery(ctx, root), ...version };
    case 'r':
      ctx.kind = 'response';
      return { ...decodeResponse(ctx, root), ...version };
    case 'e':
      ctx.kind = 'error';
      return { ...decodeErrorMessage(ctx, root), ...version };
    default:
      return fail(ctx, 'krpc-bad-type', `'y' is ${isBytes(y) ? `'${trackerText(y.subarray(0, 16))}'` : describe(y)}, not 'q', 'r' or 'e'`, { key: 'y' });
  }
}

function decodeQuery(ctx: Ctx, root: BDict): KrpcMessage {
  const q = root.get('q');
  if (!isBytes(q)) fail(ctx, 'krpc-bad-method', `query's 'q' is ${describe(q)}, not a method name`, { key: 'q' });
  const method = latin1(q);
  // Before the arguments are looked at: an unknown method gets 204 whatever it carries.
  if (!KNOWN_METHODS.has(method)) {
    const name = trackerText(q.subarray(0, 64));
    fail(ctx, 'krpc-unknown-method', `unknown KRPC method '${name}'`, { key: 'q', method: name });
  }
  const a = root.get('a');
  if (!isDict(a)) fail(ctx, 'krpc-bad-arguments', `${method} query's 'a' is ${describe(a)}, not a dictionary`, { key: 'a' });
  const id = hash(ctx, a, 'id', 'krpc-bad-id');
  let query: KrpcQuery;
  if (method === 'ping') {
    query = { method, id };
  } else if (method === 'find_node') {
    query = { method, id, target: hash(ctx, a, 'target', 'krpc-bad-target'), ...want(ctx, a) };
  } else if (method === 'get_peers') {
    query = { method, id, infoHash: hash(ctx, a, 'info_hash', 'krpc-bad-info-hash'), ...want(ctx, a) };
  } else {
    const infoHash = hash(ctx, a, 'info_hash', 'krpc-bad-info-hash');
    // BEP 5: "if it is present and non-zero"; anything but a non-zero integer is the default, 0.
    const implied = a.get('implied_port');
    const impliedPort = isInt(implied) && implied !== 0;
    const p = a.get('port');
    let port: number;
    if (impliedPort) {
      // The node uses the UDP source port; what was sent is kept only for logs, 0 when unusable.
      port = isInt(p) && p >= 0 && p <= 0xffff ? p : 0;
    } else {
      if (!isInt(p) || p < 1 || p > 0xffff) fail(ctx, 'krpc-bad-port', `announce_peer 'port' is ${isInt(p) ? p : describe(p)}, not in 1..65535`, { key: 'port' });
      port = p;
    }
    const token = bytesField(ctx, a, 'token', 1, MAX_KRPC_TOKEN, 'krpc-bad-token');
    query = { method: 'announce_peer', id, infoHash, port, token, impliedPort };
  }
  const ro = root.get('ro');
  // BEP 43 sends ro=1; like `implied_port`, any non-zero integer counts.
  return { kind: 'query', t: ctx.t!, query, ...(isInt(ro) && ro !== 0 && { readOnly: true }) };
}

/** BEP 32 `want`: unknown entries are ignored (later BEPs may add families), duplicates collapse. */
function want(ctx: Ctx, a: BDict): { want?: KrpcWant[] } {
  const w = a.get('want');
  if (w === undefined) return {};
  if (!isList(w)) fail(ctx, 'krpc-bad-want', `'want' is ${describe(w)}, not a list`, { key: 'want' });
  const out: KrpcWant[] = [];
  for (const item of w) {
    if (!isBytes(item)) fail(ctx, 'krpc-bad-want', `'want' holds ${describe(item)}, not a string`, { key: 'want' });
    const s = latin1(item);
    if ((s === 'n4' || s === 'n6') && !out.includes(s)) out.push(s);
  }
  return { want: out };
}

function decodeResponse(ctx: Ctx, root: BDict): KrpcMessage {
  const r = root.get('r');
  if (!isDict(r)) fail(ctx, 'krpc-bad-response', `response's 'r' is ${describe(r)}, not a dictionary`, { key: 'r' });
  const response: KrpcResponse = { id: hash(ctx, r, 'id', 'krpc-bad-id') };
  for (const [key, family] of [['nodes', 4], ['nodes6', 6]] as const) {
    const n = r.get(key);
    if (n === undefined) continue;
    if (!isBytes(n)) fail(ctx, 'krpc-bad-nodes', `'${key}' is ${describe(n)}, not a string`, { key });
    response[key] = decodeCompactNodes(n, family);
  }
  const values = r.get('values');
  if (values !== undefined) response.values = decodeValues(ctx, values);
  if (r.has('token')) response.token = bytesField(ctx, r, 'token', 1, MAX_KRPC_TOKEN, 'krpc-bad-token');
  // BEP 42's `ip` is advice about our own address; a malformed one is ignored rather than costing us the response.
  const ipBytes = root.get('ip');
  const ip = isBytes(ipBytes) ? decodeCompactAddress(ipBytes) : undefined;
  return { kind: 'response', t: ctx.t!, response, ...(ip && { ip }) };
}

/**
 * `values`: the count is checked before any entry is read, every entry
 * must be 6 or 18 bytes (anything else is not a peer list), and entries
 * that cannot be dialled (port 0, 0.0.0.0, ::) are left out.
 */
function decodeValues(ctx: Ctx, values: BValue): PeerAddress[] {
  if (!isList(values)) fail(ctx, 'krpc-bad-values', `'values' is ${describe(values)}, not a list`, { key: 'values' });
  if (values.length > MAX_KRPC_VALUES) {
    fail(ctx, 'krpc-too-many-values', `'values' has ${values.length} peers, at most ${MAX_KRPC_VALUES}`, { key: 'values', received: values.length });
  }
  const out: PeerAddress[] = [];
  for (const entry of values) {
    if (!isBytes(entry) || (entry.length !== 6 && entry.length !== 18)) {
      fail(ctx, 'krpc-bad-values', `'values' holds ${describe(entry)}, not a 6- or 18-byte compact peer`, { key: 'values', ...(isBytes(entry) && { received: entry.length }) });
    }
    if (isDialable(entry)) out.push(decodeCompactAddress(entry)!);
  }
  return out;
}

function decodeErrorMessage(ctx: Ctx, root: BDict): KrpcMessage {
  const e = root.get('e');
  // Extra items after [code, message] are tolerated, as unknown keys are.
  if (!isList(e) || !isInt(e[0]) || !isBytes(e[1])) fail(ctx, 'krpc-bad-error', `'e' is ${describe(e)}, not a list [code, message]`, { key: 'e' });
  // The message only ever goes to our logs: control characters replaced, length capped.
  return { kind: 'error', t: ctx.t!, code: e[0], message: trackerText(e[1]) };
}

// ---- encoding ----

function badField(message: string, key: string): never {
  throw new KrpcError('krpc-bad-field', message, { key });
}

function checkBytes(key: string, v: Uint8Array, min: number, max: number): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length < min || v.length > max) {
    badField(`${key} must be ${min === max ? min : `${min}..${max}`} bytes, got ${v instanceof Uint8Array ? v.length : typeof v}`, key);
  }
  return v;
}

const checkHash = (key: string, v: Uint8Array): Uint8Array => checkBytes(key, v, NODE_ID_LENGTH, NODE_ID_LENGTH);

function queryArgs(q: KrpcQuery): Map<string, BEncodable> {
  const a = new Map<string, BEncodable>([['id', checkHash('id', q.id)]]);
  switch (q.method) {
    case 'ping':
      break;
    case 'find_node':
      a.set('target', checkHash('target', q.target));
      if (q.want) a.set('want', q.want);
      break;
    case 'get_peers':
      a.set('info_hash', checkHash('infoHash', q.infoHash));
      if (q.want) a.set('want', q.want);
      break;
    case 'announce_peer': {
      a.set('info_hash', checkHash('infoHash', q.infoHash));
      const min = q.impliedPort ? 0 : 1;
      if (!Number.isInteger(q.port) || q.port < min || q.port > 0xffff) badField(`port must be an integer in ${min}..65535, got ${q.port}`, 'port');
      a.set('port', q.port);
      a.set('token', checkBytes('token', q.token, 1, MAX_KRPC_TOKEN));
      if (q.impliedPort) a.set('implied_port', 1);
      break;
    }
    default:
      badField(`unknown method '${(q as { method: unknown }).method as string}'`, 'q');
  }
  if ('want' in q && q.want?.some((w) => w !== 'n4' && w !== 'n6')) badField(`want entries must be 'n4' or 'n6', got ${q.want.join(', ')}`, 'want');
  return a;
}

function responseBody(r: KrpcResponse): Map<string, BEncodable> {
  const body = new Map<string, BEncodable>([['id', checkHash('id', r.id)]]);
  if (r.nodes) body.set('nodes', encodeCompactNodes(r.nodes, 4));
  if (r.nodes6) body.set('nodes6', encodeCompactNodes(r.nodes6, 6));
  if (r.values) {
    if (r.values.length > MAX_KRPC_VALUES) badField(`${r.values.length} values, at most ${MAX_KRPC_VALUES}`, 'values');
    body.set('values', r.values.map((p) => encodeCompactAddress(p, 'values', 1)));
  }
  if (r.token) body.set('token', checkBytes('token', r.token, 1, MAX_KRPC_TOKEN));
  return body;
}

/**
 * The datagram for one message, keys sorted as BEP 3 asks. Our own caller
 * asking for something the peer would refuse (a 19-byte id, port 0
 * without implied_port, more than MAX_KRPC_VALUES values, a datagram over
 * MAX_KRPC_DATAGRAM) is a KrpcError 'krpc-bad-field', not a bad datagram.
 */
export function encodeKrpc(m: KrpcMessage): Buffer {
  const root = new Map<string, BEncodable>([['t', checkBytes('t', m.t, 1, MAX_KRPC_TRANSACTION_ID)]]);
  switch (m.kind) {
    case 'query':
      root.set('y', 'q');
      root.set('q', m.query.method);
      root.set('a', queryArgs(m.query));
      if (m.readOnly) root.set('ro', 1);
      break;
    case 'response':
      root.set('y', 'r');
      root.set('r', responseBody(m.response));
      // Port 0 is allowed here: BEP 42 reports what the responder saw, which we only read.
      if (m.ip) root.set('ip', encodeCompactAddress(m.ip, 'ip', 0));
      break;
    case 'error':
      if (!Number.isSafeInteger(m.code)) badField(`error code must be an integer, got ${m.code}`, 'e');
      root.set('y', 'e');
      root.set('e', [m.code, m.message]);
      break;
    default:
      badField(`unknown message kind '${(m as { kind: unknown }).kind as string}'`, 'y');
  }
  if (m.version !== undefined) root.set('v', checkBytes('version', m.version, 0, MAX_KRPC_DATAGRAM));
  const bytes = encodeBencode(root);
  if (bytes.length > MAX_KRPC_DATAGRAM) badField(`message is ${bytes.length} bytes, more than a datagram (${MAX_KRPC_DATAGRAM})`, 'datagram');
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
