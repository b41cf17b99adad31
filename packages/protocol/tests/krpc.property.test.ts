import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIpv4, formatIpv6 } from '../src/address.js';
import { decodeBencode, encodeBencode, isDict, type BDict, type BValue } from '../src/bencode.js';
import { KrpcError, MAX_KRPC_VALUES, decodeCompactNodes, decodeKrpc, encodeCompactNodes, encodeKrpc, type CompactNode, type KrpcMessage, type KrpcQuery } from '../src/krpc.js';

// ---- arbitraries ----

const id20 = fc.uint8Array({ minLength: 20, maxLength: 20 });
const t = fc.uint8Array({ minLength: 1, maxLength: 32 });
const port = fc.integer({ min: 1, max: 0xffff });
const token = fc.uint8Array({ minLength: 1, maxLength: 40 });
const want = fc.option(fc.subarray<'n4' | 'n6'>(['n4', 'n6']), { nil: undefined });

const notUnspecified = (b: Uint8Array) => b.some((x) => x !== 0);
/** Hosts in the decoder's own spelling, so a round trip answers the same text; 0.0.0.0 and :: are never dialled, so never decoded. */
const host4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).filter(notUnspecified).map((b) => formatIpv4(b));
const host6any = fc.uint8Array({ minLength: 16, maxLength: 16 }).filter(notUnspecified).map((b) => formatIpv6(b));
/** In nodes6 only real IPv6 text: an IPv4-mapped address formats as IPv4 and belongs in nodes. */
const host6 = host6any.filter((h) => h.includes(':'));

const node = (host: fc.Arbitrary<string>): fc.Arbitrary<CompactNode> => fc.record({ id: id20, host, port });
const peer = fc.record({ host: fc.oneof(host4, host6any), port });
/** Printable text: error messages are cleaned of control characters for our logs. */
const message = fc.string({ unit: fc.constantFrom(...' abcxyzABC0189-_:\'"éß✓'.split('')), maxLength: 60 });
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

/** Drops the keys whose value is undefined, which the decoder never writes. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const queryArb: fc.Arbitrary<KrpcQuery> = fc.oneof(
  fc.record({ method: fc.constant('ping' as const), id: id20 }),
  fc.record({ method: fc.constant('find_node' as const), id: id20, target: id20, want }).map(defined),
  fc.record({ method: fc.constant('get_peers' as const), id: id20, infoHash: id20, want }).map(defined),
  fc.boolean().chain((impliedPort) =>
    fc.record({ method: fc.constant('announce_peer' as const), id: id20, infoHash: id20, port: impliedPort ? fc.integer({ min: 0, max: 0xffff }) : port, token, impliedPort: fc.constant(impliedPort) }),
  ),
);

const messageArb: fc.Arbitrary<KrpcMessage> = fc.oneof(
  fc.record({ kind: fc.constant('query' as const), t, query: queryArb, readOnly: opt(fc.constant(true)), version: opt(fc.uint8Array({ maxLength: 8 })) }).map(defined),
  fc
    .record({
      kind: fc.constant('response' as const),
      t,
      response: fc
        .record({
          id: id20,
          nodes: opt(fc.array(node(host4), { maxLength: 8 })),
          nodes6: opt(fc.array(node(host6), { maxLength: 8 })),
          values: opt(fc.array(peer, { maxLength: 30 })),
          token: opt(token),
        })
        .map(defined),
      ip: opt(fc.record({ host: fc.oneof(host4, host6any), port: fc.integer({ min: 0, max: 0xffff }) })),
      version: opt(fc.uint8Array({ maxLength: 8 })),
    })
    .map(defined),
  fc.record({ kind: fc.constant('error' as const), t, code: fc.integer({ min: -1000, max: 100_000 }), message }),
);

/** Runs the decoder: it answers a message or throws a KrpcError, never anything else. */
function decodeOrKrpcError(bytes: Uint8Array): KrpcMessage | KrpcError {
  try {
    return decodeKrpc(bytes);
  } catch (e) {
    if (!(e instanceof KrpcError)) throw e;
    return e;
  }
}

/** Any bencodable value, biased to the lengths KRPC checks (ids, compact entries) and its keys. */
const anyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer({ min: -2, max: 70_000 }),
    fc.uint8Array({ maxLength: 40 }),
    fc.constantFrom(...[0, 1, 2, 6, 18, 19, 20, 21, 26, 38, 52].map((n) => new Uint8Array(n).fill(7))),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom('id', 'target', 'info_hash', 'port', 'token', 'implied_port', 'want', 'nodes', 'nodes6', 'values', 'x'), tie('value'), { maxKeys: 5 }),
  ),
})).value;
/** Byte-level damage to a valid datagram: what a broken or hostile node sends. */
const mutated = fc
  .tuple(
    messageArb.map((m) => encodeKrpc(m)),
    fc.array(
      fc.record({
        op: fc.integer({ min: 0, max: 5 }),
        at: fc.nat(),
        len: fc.integer({ min: 1, max: 40 }),
        byte: fc.integer({ min: 0, max: 255 }),
        insert: fc.constantFrom('e', 'd', 'l', 'i', ':', '0', '9', 'i-1e', '20:', '5:nodes', '6:values', '1:y1:q', '1:q4:vote'),
      }),
      { minLength: 1, maxLength: 2 },
    ),
  )
  .map(([datagram, edits]) => {
    let b = Buffer.from(datagram);
    for (const { op, at: rawAt, len, byte, insert } of edits) {
      const at = b.length === 0 ? 0 : rawAt % b.length;
      if (op === 0) b[at] = byte;
      else if (op === 1) b = b.subarray(0, at); // truncated
      else if (op === 2) b = Buffer.concat([b.subarray(0, at), b.subarray(at + len)]); // a range dropped
      else if (op === 3) b = Buffer.concat([b.subarray(0, at), Buffer.from([byte]), b.subarray(at)]);
      else if (op === 4) b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]); // a range repeated
      else b = Buffer.concat([b.subarray(0, at), Buffer.from(insert, 'latin1'), b.subarray(at)]); // a bencode token inserted
    }
    return new Uint8Array(b);
  });

/**
 * Value-level damage to a valid datagram: one key at any depth removed,
 * given another value, or a key added, and the result bencoded again, so
 * that the damage reaches the field checks rather than the bencode parser.
 */
const KRPC_KEYS = ['t', 'y', 'q', 'a', 'r', 'e', 'v', 'ro', 'ip', 'id', 'target', 'info_hash', 'port', 'token', 'implied_port', 'want', 'nodes', 'nodes6', 'values'];
const reshaped = fc
  .tuple(messageArb, fc.nat(), fc.integer({ min: 0, max: 2 }), fc.constantFrom(...KRPC_KEYS), anyValue)
  .map(([m, pick, op, newKey, value]) => {
    const root = decodeBencode(encodeKrpc(m)) as BDict;
    const slots: [BDict, string][] = [];
    const walk = (d: BDict): void => {
      for (const [k, v] of d) {
        slots.push([d, k]);
        if (isDict(v)) walk(v);
      }
    };
    walk(root);
    const [dict, key] = slots[pick % slots.length]!;
    if (op === 0) dict.delete(key);
    else if (op === 1) dict.set(key, value as BValue);
    else dict.set(newKey, value as BValue);
    return encodeBencode(root as never);
  });

/** Random values under KRPC's own keys: reaches every field check, which random bytes rarely do. */
const krpcish = fc
  .record(
    {
      t: fc.oneof({ arbitrary: t, weight: 9 }, { arbitrary: anyValue, weight: 1 }),
      y: fc.oneof({ arbitrary: fc.constantFrom('q', 'r', 'e'), weight: 9 }, { arbitrary: anyValue, weight: 1 }),
      q: fc.oneof(fc.constantFrom('ping', 'find_node', 'get_peers', 'announce_peer', 'vote'), anyValue),
      a: fc.oneof(
        fc.record({ id: fc.oneof(id20, anyValue), target: id20, info_hash: id20, port: fc.oneof(port, anyValue), token: fc.oneof(token, anyValue), implied_port: fc.integer({ min: -1, max: 2 }), want: fc.oneof(fc.constant(['n4', 'n6']), anyValue) }, { requiredKeys: [] }),
        anyValue,
      ),
      r: fc.oneof(
        fc.record({ id: fc.oneof(id20, anyValue), nodes: anyValue, nodes6: anyValue, values: fc.oneof(fc.array(fc.uint8Array({ minLength: 6, maxLength: 6 })), anyValue), token: anyValue }, { requiredKeys: [] }),
        anyValue,
      ),
      e: fc.oneof(fc.tuple(fc.integer(), fc.string()), anyValue),
      ro: anyValue,
      ip: anyValue,
      v: anyValue,
    },
    { requiredKeys: ['t', 'y'] },
  )
  .map((d) => encodeBencode(d as never));

// ---- properties ----

describe('KRPC properties', () => {
  it('decode(encode(m)) = m for every message kind', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        expect(decodeKrpc(encodeKrpc(m))).toEqual(m);
      }),
      { numRuns: 2000 },
    );
  });

  it('compact node lists round-trip, and a trailing partial entry is ignored', () => {
    fc.assert(
      fc.property(fc.array(node(host4), { maxLength: 20 }), fc.array(node(host6), { maxLength: 20 }), fc.uint8Array({ maxLength: 25 }), (v4, v6, tail) => {
        expect(decodeCompactNodes(Buffer.concat([encodeCompactNodes(v4, 4), tail]), 4)).toEqual(v4);
        expect(decodeCompactNodes(Buffer.concat([encodeCompactNodes(v6, 6), tail.subarray(0, 37)]), 6)).toEqual(v6);
      }),
    );
  });

  it('random bytes give a KrpcMessage or a KrpcError, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        decodeOrKrpcError(bytes);
        decodeCompactNodes(bytes, 4);
        decodeCompactNodes(bytes, 6);
      }),
      { numRuns: 3000 },
    );
  });

  it('mutated valid datagrams give a KrpcMessage or a KrpcError, and what decodes re-encodes to itself', () => {
    fc.assert(
      fc.property(fc.oneof(mutated, reshaped), (bytes) => {
        const m = decodeOrKrpcError(bytes);
        // Whatever we accept, we can write back, and it reads the same.
        if (!(m instanceof KrpcError)) expect(decodeKrpc(encodeKrpc(m))).toEqual(m);
      }),
      { numRuns: 3000 },
    );
  });

  it('random values under the KRPC keys give a KrpcMessage or a KrpcError, and what decodes re-encodes to itself', () => {
    fc.assert(
      fc.property(krpcish, (bytes) => {
        const m = decodeOrKrpcError(bytes);
        if (m instanceof KrpcError) {
          // An error that names a query always has the t to answer it with.
          if (m.messageKind === 'query') expect(m.answerable).toBe(true);
          return;
        }
        // Whatever we accept, we can write back, and it reads the same.
        expect(decodeKrpc(encodeKrpc(m))).toEqual(m);
      }),
      { numRuns: 3000 },
    );
  });

  it(`never answers more than ${MAX_KRPC_VALUES} values, whatever the datagram`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3000 }), (n) => {
        const datagram = encodeBencode(new Map<string, unknown>([['r', new Map<string, unknown>([['id', new Uint8Array(20)], ['values', new Array(n).fill(Uint8Array.of(1, 2, 3, 4, 0, 1))]])], ['t', 'aa'], ['y', 'r']]) as never);
        const m = decodeOrKrpcError(datagram);
        if (n <= MAX_KRPC_VALUES) expect(m instanceof KrpcError ? m.code : m.kind === 'response' && m.response.values?.length).toBe(n);
        else expect(m instanceof KrpcError && m.code).toBe('krpc-too-many-values');
      }),
      { numRuns: 30 },
    );
  });
});
