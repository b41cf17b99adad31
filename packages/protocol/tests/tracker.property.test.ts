import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeBencode } from '../src/bencode.js';
import { ProtocolError } from '../src/errors.js';
import { formatIpv4, formatIpv6, normalizeHost, parseIpv6 } from '../src/address.js';
import { TrackerError } from '../src/tracker-error.js';
import { parseHttpAnnounceResponse } from '../src/tracker-http.js';
import { decodeUdpAnnounceResponse, decodeUdpConnectResponse, decodeUdpErrorResponse, readUdpHeader } from '../src/tracker-udp.js';
import { decodeCompactPeers } from '../src/tracker.js';

/** Runs a decoder; anything thrown must be a TrackerError (a ProtocolError), never a TypeError or RangeError. */
const onlyTypedErrors = (f: () => unknown): void => {
  try {
    f();
  } catch (e) {
    if (!(e instanceof TrackerError) || !(e instanceof ProtocolError)) throw e;
  }
};

const u32 = fc.integer({ min: 0, max: 0xffffffff });

/** Random bytes, and random bytes behind a plausible UDP header so the decoders get past the first checks. */
const udpish = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.tuple(fc.integer({ min: 0, max: 4 }), u32, fc.uint8Array({ maxLength: 120 })).map(([action, tx, rest]) => {
    const b = Buffer.alloc(8 + rest.length);
    b.writeUInt32BE(action, 0);
    b.writeUInt32BE(tx, 4);
    b.set(rest, 8);
    return b;
  }),
);

/** Random bencode-ish text: mostly the characters bencode is made of. */
const bencodeish = fc
  .array(fc.constantFrom(...'dile0123456789:e-'.split(''), 'interval', 'peers', 'peers6', 'failure reason', '5:peers', 'i1e'), { maxLength: 60 })
  .map((parts) => Buffer.from(parts.join(''), 'latin1'));

describe('tracker decoders on random input', () => {
  it('the HTTP parser answers a value or a TrackerError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), bencodeish), (bytes) => {
        onlyTypedErrors(() => parseHttpAnnounceResponse(bytes, { maxBytes: 256 }));
      }),
      { numRuns: 2000 },
    );
  });

  it('the HTTP parser copes with random values under the known keys', () => {
    const value = fc.oneof(fc.integer({ min: -5, max: 100_000 }), fc.uint8Array({ maxLength: 40 }), fc.constant([]), fc.array(fc.dictionary(fc.constantFrom('ip', 'port', 'peer id'), fc.oneof(fc.integer({ min: -1, max: 70_000 }), fc.uint8Array({ maxLength: 20 }), fc.string({ maxLength: 20 })))));
    const keys = fc.constantFrom('interval', 'min interval', 'peers', 'peers6', 'failure reason', 'warning message', 'tracker id', 'complete', 'external ip', 'retry in');
    fc.assert(
      fc.property(fc.dictionary(keys, value), (dict) => {
        onlyTypedErrors(() => parseHttpAnnounceResponse(encodeBencode(dict as never)));
      }),
      { numRuns: 2000 },
    );
  });

  it('every UDP decoder answers a value or a TrackerError', () => {
    fc.assert(
      fc.property(udpish, u32, fc.constantFrom<4 | 6>(4, 6), (bytes, tx, family) => {
        onlyTypedErrors(() => readUdpHeader(bytes));
        onlyTypedErrors(() => decodeUdpConnectResponse(bytes, tx));
        onlyTypedErrors(() => decodeUdpAnnounceResponse(bytes, tx, family));
        onlyTypedErrors(() => decodeUdpErrorResponse(bytes, tx));
        onlyTypedErrors(() => decodeUdpErrorResponse(bytes));
        onlyTypedErrors(() => decodeCompactPeers(bytes, family));
      }),
      { numRuns: 3000 },
    );
  });

  it('a UDP reply is refused unless its transaction id is ours', () => {
    fc.assert(
      fc.property(udpish, u32, (bytes, tx) => {
        if (bytes.length < 8 || Buffer.from(bytes).readUInt32BE(4) === tx) return;
        for (const f of [() => decodeUdpConnectResponse(bytes, tx), () => decodeUdpAnnounceResponse(bytes, tx)]) {
          expect(() => f()).toThrow(TrackerError);
        }
      }),
    );
  });
});

describe('tracker codecs round trip', () => {
  const peer4 = fc.record({ a: fc.uint8Array({ minLength: 4, maxLength: 4 }), port: fc.integer({ min: 1, max: 65535 }) }).filter((p) => p.a.some((x) => x !== 0));
  const peer6 = fc.record({ a: fc.uint8Array({ minLength: 16, maxLength: 16 }), port: fc.integer({ min: 1, max: 65535 }) }).filter((p) => p.a.some((x) => x !== 0));
  const compact = (peers: { a: Uint8Array; port: number }[]): Buffer =>
    Buffer.concat(peers.map((p) => Buffer.concat([Buffer.from(p.a), Buffer.from([p.port >> 8, p.port & 0xff])])));

  it('compact peers and peers6 come back as the addresses that were encoded', () => {
    fc.assert(
      fc.property(fc.array(peer4, { maxLength: 20 }), fc.array(peer6, { maxLength: 10 }), fc.nat(100_000), (p4, p6, interval) => {
        const r = parseHttpAnnounceResponse(encodeBencode({ interval, peers: compact(p4), peers6: compact(p6) }));
        expect(r.interval).toBe(interval);
        expect(r.invalidPeers).toBe(0);
        expect(r.peers).toEqual([
          ...p4.map((p) => ({ host: formatIpv4(p.a), port: p.port })),
          ...p6.map((p) => ({ host: formatIpv6(p.a), port: p.port })),
        ]);
      }),
    );
  });

  it('IPv6 text survives format -> parse -> format, and normalisation is idempotent', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (a) => {
        const text = formatIpv6(a);
        expect(normalizeHost(text)).toBe(text);
        if (!text.includes('.')) expect(Buffer.from(parseIpv6(text)!)).toEqual(Buffer.from(a));
      }),
    );
    fc.assert(
      fc.property(fc.ipV6(), (t) => {
        expect(normalizeHost(normalizeHost(t)!)).toBe(normalizeHost(t));
      }),
    );
  });
});
