import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIpv4, formatIpv6 } from '../src/address.js';
import { encodeBencode } from '../src/bencode.js';
import { MAX_PEX_PEERS, PexError, PexFlag, decodePex, encodePex, type PexMessage } from '../src/pex.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(PexError);
    return (e as PexError).code;
  }
}

describe('ut_pex codec (BEP 11)', () => {
  it('encodes compact IPv4 entries with one flags byte each', () => {
    const payload = encodePex({ added: [{ host: '10.0.0.1', port: 6881, flags: PexFlag.seed | PexFlag.reachable }], dropped: [{ host: '1.2.3.4', port: 80 }] });
    expect(text(payload)).toBe('d5:added6:\x0a\x00\x00\x01\x1a\xe17:added.f1:\x127:dropped6:\x01\x02\x03\x04\x00\x50e');
  });

  it('puts IPv6 peers under added6 and dropped6, and reads them back', () => {
    const m: PexMessage = { added: [{ host: '2001:db8::1', port: 51413, flags: PexFlag.utp }], dropped: [{ host: 'fe80::2', port: 1 }] };
    const payload = encodePex(m);
    expect(text(payload)).toContain('6:added6');
    expect(text(payload)).toContain('8:dropped6');
    expect(decodePex(payload)).toEqual(m);
  });

  it('reads a message libtorrent-style: no flags list, unknown keys, and port-0 entries left out', () => {
    const payload = encodeBencode(
      new Map<string, Uint8Array | number>([
        ['added', Uint8Array.from([127, 0, 0, 1, 0x1a, 0xe1, 127, 0, 0, 2, 0, 0])],
        ['x-future', 7],
      ]),
    );
    expect(decodePex(payload)).toEqual({ added: [{ host: '127.0.0.1', port: 6881, flags: 0 }], dropped: [] });
  });

  it('ignores a flags list whose length does not match its peers', () => {
    const payload = encodeBencode(new Map([['added', Uint8Array.from([1, 2, 3, 4, 0, 9])], ['added.f', Uint8Array.from([1, 2])]]));
    expect(decodePex(payload).added).toEqual([{ host: '1.2.3.4', port: 9, flags: 0 }]);
  });

  it('refuses lists whose length is not a whole number of entries', () => {
    expect(codeOf(() => decodePex(encodeBencode(new Map([['added', new Uint8Array(7)]]))))).toBe('PEX_BAD_LENGTH');
    expect(codeOf(() => decodePex(encodeBencode(new Map([['dropped6', new Uint8Array(17)]]))))).toBe('PEX_BAD_LENGTH');
  });

  it(`refuses more than ${MAX_PEX_PEERS} peers, and payloads larger than any within the cap`, () => {
    const many = new Uint8Array((MAX_PEX_PEERS + 1) * 6).fill(1);
    expect(codeOf(() => decodePex(encodeBencode(new Map([['added', many]]))))).toBe('PEX_TOO_MANY_PEERS');
    expect(codeOf(() => decodePex(encodeBencode(new Map([['dropped', many]]))))).toBe('PEX_TOO_MANY_PEERS');
    expect(codeOf(() => decodePex(new Uint8Array(100_000)))).toBe('PEX_TOO_LARGE');
    const peers = Array.from({ length: MAX_PEX_PEERS + 1 }, (_, i) => ({ host: '1.1.1.1', port: i + 1, flags: 0 }));
    expect(codeOf(() => encodePex({ added: peers, dropped: [] }))).toBe('PEX_TOO_MANY_PEERS');
  });

  it('refuses what is not a dictionary of byte strings', () => {
    expect(codeOf(() => decodePex(Buffer.from('i1e')))).toBe('PEX_NOT_A_DICT');
    expect(codeOf(() => decodePex(Buffer.from('d5:addedi1ee')))).toBe('PEX_NOT_A_DICT');
    expect(codeOf(() => decodePex(Buffer.from('d5:added')))).toBe('PEX_BENCODE');
  });

  it('refuses to encode peers it cannot carry', () => {
    expect(codeOf(() => encodePex({ added: [{ host: 'example.org', port: 1, flags: 0 }], dropped: [] }))).toBe('PEX_BAD_FIELD');
    expect(codeOf(() => encodePex({ added: [], dropped: [{ host: '1.2.3.4', port: 0 }] }))).toBe('PEX_BAD_FIELD');
    expect(codeOf(() => encodePex({ added: [{ host: '1.2.3.4', port: 1, flags: 256 }], dropped: [] }))).toBe('PEX_BAD_FIELD');
  });
});

// ---- properties ----

const port = fc.integer({ min: 1, max: 0xffff });
const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatIpv4(b));
// IPv4-mapped IPv6 addresses are formatted as IPv4, so they would come back under `added`: left out here.
const v6 = fc
  .uint8Array({ minLength: 16, maxLength: 16 })
  .filter((b) => !(b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff))
  .map((b) => formatIpv6(b));
const address = fc.record({ host: fc.oneof(v4, v6), port });
const pexPeer = fc.record({ host: fc.oneof(v4, v6), port, flags: fc.integer({ min: 0, max: 0xff }) });
const isV4 = (h: string) => !h.includes(':');
// Decoding lists IPv4 entries before IPv6 ones.
const byFamily = <T extends { host: string }>(xs: T[]) => [...xs.filter((x) => isV4(x.host)), ...xs.filter((x) => !isV4(x.host))];

describe('ut_pex codec properties', () => {
  it('decode(encode(x)) = x (IPv4 entries first)', () => {
    fc.assert(
      fc.property(fc.array(pexPeer, { maxLength: MAX_PEX_PEERS }), fc.array(address, { maxLength: MAX_PEX_PEERS }), (added, dropped) => {
        expect(decodePex(encodePex({ added, dropped }))).toEqual({ added: byFamily(added), dropped: byFamily(dropped) });
      }),
    );
  });

  it('random bytes give a PexError or a message, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        try {
          decodePex(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(PexError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('random dictionaries of byte strings under the pex keys give a PexError or a bounded message', () => {
    const key = fc.constantFrom('added', 'added.f', 'added6', 'added6.f', 'dropped', 'dropped6', 'other');
    const value = fc.oneof(fc.uint8Array({ maxLength: 4000 }), fc.integer(), fc.constant([] as number[]));
    fc.assert(
      fc.property(fc.array(fc.tuple(key, value), { maxLength: 8 }), (entries) => {
        const payload = encodeBencode(new Map(entries));
        try {
          const m = decodePex(payload);
          expect(m.added.length).toBeLessThanOrEqual(MAX_PEX_PEERS);
          expect(m.dropped.length).toBeLessThanOrEqual(MAX_PEX_PEERS);
        } catch (e) {
          expect(e).toBeInstanceOf(PexError);
        }
      }),
    );
  });
});
