import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MagnetError, isMagnetUri, parseMagnet, type MagnetErrorCode } from '../src/magnet.js';

// Reference pairs from Python's base64.b32encode, independent of our decoder.
const HEX = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';
const B32 = 'YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK';
const HEX2 = '0123456789abcdef0123456789abcdef01234567';
const B32_2 = 'AERUKZ4JVPG66AJDIVTYTK6N54ASGRLH';

/** RFC 4648 base32, written out bit by bit: a second, deliberately naive implementation. */
function base32(bytes: Uint8Array): string {
  const bits = [...bytes].map((b) => b.toString(2).padStart(8, '0')).join('');
  return bits.match(/.{5}/g)!.map((chunk) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[parseInt(chunk, 2)]).join('');
}

function errorOf(uri: string): MagnetError {
  try {
    parseMagnet(uri);
  } catch (e) {
    if (e instanceof MagnetError) return e;
    throw e;
  }
  throw new Error(`parseMagnet accepted ${uri}`);
}

describe('parseMagnet reads', () => {
  it('hex and base32 hashes, in either case, as the same 20 bytes', () => {
    for (const [hex, b32] of [[HEX, B32], [HEX2, B32_2]] as const) {
      for (const form of [hex, hex.toUpperCase(), b32, b32.toLowerCase()]) {
        const m = parseMagnet(`magnet:?xt=urn:btih:${form}`);
        expect(m.infoHashHex).toBe(hex);
        expect(Buffer.from(m.infoHash).toString('hex')).toBe(hex);
        expect(m.infoHash).toHaveLength(20);
      }
    }
  });

  it('dn, repeated tr and x.pe, percent-decoded', () => {
    const m = parseMagnet(
      `magnet:?xt=urn:btih:${HEX}&dn=na%C3%AFve+file%20%26%20more` +
        '&tr=http%3A%2F%2Fa.example%2Fannounce%3Fpasskey%3Dx%26y%3D1&tr=udp%3A%2F%2Fb.example%3A80&tr=udp://c.example:6969' +
        '&x.pe=10.0.0.1%3A6881&x.pe=[2001:db8::1]:51413&x.pe=peer.example:1',
    );
    expect(m.displayName).toBe('naïve file & more');
    expect(m.trackers).toEqual(['http://a.example/announce?passkey=x&y=1', 'udp://b.example:80', 'udp://c.example:6969']);
    expect(m.peers).toEqual(['10.0.0.1:6881', '[2001:db8::1]:51413', 'peer.example:1']);
  });

  it('the scheme in any case, with the query parameters in any order', () => {
    const m = parseMagnet(`MAGNET:?tr=udp%3A%2F%2Ft.example%3A80&dn=x&xt=URN:BTIH:${HEX}`);
    expect(m.infoHashHex).toBe(HEX);
    expect(m.trackers).toEqual(['udp://t.example:80']);
  });

  it('no dn, tr or x.pe: only the hash', () => {
    const m = parseMagnet(`magnet:?xt=urn:btih:${HEX}`);
    expect(m).toEqual({ infoHash: expect.any(Uint8Array), infoHashHex: HEX, trackers: [], peers: [] });
    expect('displayName' in m).toBe(false);
  });

  it('an empty dn as an empty name, and the first of two', () => {
    expect(parseMagnet(`magnet:?xt=urn:btih:${HEX}&dn=`).displayName).toBe('');
    expect(parseMagnet(`magnet:?xt=urn:btih:${HEX}&dn=first&dn=second`).displayName).toBe('first');
  });

  it('numbered parameters (xt.1, tr.2), and the same hash twice in two forms', () => {
    const m = parseMagnet(`magnet:?xt.1=urn:btih:${HEX}&xt.2=urn:btih:${B32}&tr.1=http://a/&tr.2=http://b/`);
    expect(m.infoHashHex).toBe(HEX);
    expect(m.trackers).toEqual(['http://a/', 'http://b/']);
  });

  it('a hybrid v1+v2 link by its v1 hash, ignoring other URN kinds and unknown parameters', () => {
    const m = parseMagnet(
      `magnet:?xt=urn:btmh:1220${'ab'.repeat(32)}&xt=urn:sha1:ABCDEF&xt=urn:btih:${HEX}&ws=http://w/&so=0-3&kt=a+b&&flag`,
    );
    expect(m.infoHashHex).toBe(HEX);
  });

  it('drops duplicate and blank trackers and unusable peers, without failing the link', () => {
    const m = parseMagnet(
      `magnet:?xt=urn:btih:${HEX}&tr=http://a/&tr=http://a/&tr=&tr=%20&tr` +
        '&x.pe=1.2.3.4:6881&x.pe=1.2.3.4:6881&x.pe=1.2.3.4&x.pe=1.2.3.4:0&x.pe=1.2.3.4:65536&x.pe=:6881&x.pe=a b:1&x.pe=',
    );
    expect(m.trackers).toEqual(['http://a/']);
    expect(m.peers).toEqual(['1.2.3.4:6881']);
  });
});

describe('parseMagnet refuses, with a typed error naming the parameter', () => {
  const cases: [label: string, uri: string, code: MagnetErrorCode, param: string | undefined][] = [
    ['an http URL', 'http://example.com/x.torrent', 'MAGNET_NOT_A_MAGNET', undefined],
    ['a file path', 'x.torrent', 'MAGNET_NOT_A_MAGNET', undefined],
    ['an empty string', '', 'MAGNET_NOT_A_MAGNET', undefined],
    ['magnet: without a query', `magnet:xt=urn:btih:${HEX}`, 'MAGNET_NOT_A_MAGNET', undefined],
    ['no parameters', 'magnet:?', 'MAGNET_NO_INFO_HASH', 'xt'],
    ['no xt', 'magnet:?dn=x&tr=http://a/', 'MAGNET_NO_INFO_HASH', 'xt'],
    ['only another URN kind', 'magnet:?xt=urn:sha1:YNCKHTQCWBTRNJIV4WNAE52SJUQCZO5C', 'MAGNET_NO_INFO_HASH', 'xt'],
    ['an empty hash', 'magnet:?xt=urn:btih:', 'MAGNET_BAD_INFO_HASH', 'xt'],
    ['39 hex digits', `magnet:?xt=urn:btih:${HEX.slice(1)}`, 'MAGNET_BAD_INFO_HASH', 'xt'],
    ['41 hex digits', `magnet:?xt=urn:btih:${HEX}0`, 'MAGNET_BAD_INFO_HASH', 'xt'],
    ['40 characters, not all hex', `magnet:?xt=urn:btih:${HEX.slice(0, 39)}g`, 'MAGNET_BAD_INFO_HASH', 'xt'],
    ['31 base32 characters', `magnet:?xt=urn:btih:${B32.slice(1)}`, 'MAGNET_BAD_INFO_HASH', 'xt'],
    ['33 base32 characters', `magnet:?xt=urn:btih:${B32}A`, 'MAGNET_BAD_INFO_HASH', 'xt'],
    ['32 characters with a 1 (not base32)', `magnet:?xt=urn:btih:${B32.slice(0, 31)}1`, 'MAGNET_BAD_INFO_HASH', 'xt'],
    ['32 characters with padding', `magnet:?xt=urn:btih:${B32.slice(0, 31)}=`, 'MAGNET_BAD_INFO_HASH', 'xt'],
    ['a bad numbered xt', 'magnet:?xt.1=urn:btih:zz', 'MAGNET_BAD_INFO_HASH', 'xt.1'],
    ['two different hashes', `magnet:?xt=urn:btih:${HEX}&xt=urn:btih:${HEX2}`, 'MAGNET_CONFLICTING_INFO_HASH', 'xt'],
    ['two different hashes, hex then base32', `magnet:?xt=urn:btih:${HEX}&xt.2=urn:btih:${B32_2}`, 'MAGNET_CONFLICTING_INFO_HASH', 'xt.2'],
    ['a v2-only link', `magnet:?xt=urn:btmh:1220${'ab'.repeat(32)}&dn=x`, 'MAGNET_V2_ONLY', 'xt'],
    ['a malformed % escape', `magnet:?xt=urn:btih:${HEX}&dn=100%`, 'MAGNET_BAD_ENCODING', 'dn'],
    ['a % escape with non-hex', `magnet:?xt=urn:btih:${HEX}&tr=%zz`, 'MAGNET_BAD_ENCODING', 'tr'],
    ['a truncated UTF-8 sequence', `magnet:?xt=urn:btih:${HEX}&dn=%E0%A4%A`, 'MAGNET_BAD_ENCODING', 'dn'],
    ['bytes that are not UTF-8', `magnet:?xt=urn:btih:${HEX}&dn=%FF%FE`, 'MAGNET_BAD_ENCODING', 'dn'],
    ['a bad escape in xt', 'magnet:?xt=urn%3Abtih%3A%G0', 'MAGNET_BAD_ENCODING', 'xt'],
  ];
  for (const [label, uri, code, param] of cases) {
    it(label, () => {
      const e = errorOf(uri);
      expect([e.code, e.param]).toEqual([code, param]);
      expect(e.name).toBe('MagnetError');
      expect(e.message).not.toContain('\n');
    });
  }

  it('says what is wrong with the hash', () => {
    expect(errorOf('magnet:?xt=urn:btih:abc').message).toMatch(/3 characters; expected 40 hex digits or 32 base32/);
    expect(errorOf(`magnet:?xt=urn:btih:${'z'.repeat(40)}`).message).toMatch(/not all hex digits/);
    expect(errorOf(`magnet:?xt=urn:btih:${'1'.repeat(32)}`).message).toMatch(/not base32/);
  });
});

describe('isMagnetUri', () => {
  it('tells magnet URIs from paths and other URLs', () => {
    expect(isMagnetUri(`magnet:?xt=urn:btih:${HEX}`)).toBe(true);
    expect(isMagnetUri('Magnet:?dn=x')).toBe(true);
    expect(isMagnetUri('magnet.torrent')).toBe(false);
    expect(isMagnetUri('./magnet:?x')).toBe(false);
    expect(isMagnetUri('https://example.com/?magnet:?')).toBe(false);
  });
});

describe('parseMagnet (properties)', () => {
  it('hex and base32 forms of any hash give those bytes back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.boolean(), (hash, lower) => {
        const hex = Buffer.from(hash).toString('hex');
        const b32 = lower ? base32(hash).toLowerCase() : base32(hash);
        expect(parseMagnet(`magnet:?xt=urn:btih:${hex}`).infoHashHex).toBe(hex);
        expect(parseMagnet(`magnet:?xt=urn:btih:${b32}`).infoHashHex).toBe(hex);
      }),
      { numRuns: 500 },
    );
  });

  it('dn and tr survive encodeURIComponent', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.webUrl(), (name, tracker) => {
        const m = parseMagnet(`magnet:?xt=urn:btih:${HEX}&dn=${encodeURIComponent(name)}&tr=${encodeURIComponent(tracker)}`);
        expect(m.displayName).toBe(name);
        expect(m.trackers).toEqual(tracker.trim() ? [tracker.trim()] : []);
      }),
      { numRuns: 200 },
    );
  });

  it('throws nothing but MagnetError on any string', () => {
    const parts = fc.constantFrom('magnet:?', 'xt=urn:btih:', 'xt=urn:btmh:', HEX, B32, '&', '=', '%', '%C3', '%A9', 'dn=', 'tr=', 'x.pe=', '.1', '+');
    const uri = fc.oneof(fc.string({ unit: 'binary' }), fc.array(parts, { maxLength: 12 }).map((p) => p.join('')));
    fc.assert(
      fc.property(uri, (s) => {
        try {
          const m = parseMagnet(s);
          expect(m.infoHash).toHaveLength(20);
        } catch (e) {
          expect(e).toBeInstanceOf(MagnetError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
