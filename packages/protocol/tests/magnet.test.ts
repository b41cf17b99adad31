import { describe, expect, it } from 'vitest';
import { MagnetError, isMagnetUri, parseMagnet } from '../src/magnet.js';

const HEX = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';
// The same 20 bytes in RFC 4648 base32.
const B32 = Buffer.from(HEX, 'hex')
  .reduce<{ bits: string }>((acc, byte) => ({ bits: acc.bits + byte.toString(2).padStart(8, '0') }), { bits: '' })
  .bits.match(/.{5}/g)!
  .map((b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[parseInt(b, 2)])
  .join('');

describe('parseMagnet', () => {
  it('reads hex and base32 hashes as the same torrent', () => {
    expect(parseMagnet(`magnet:?xt=urn:btih:${HEX}`).infoHashHex).toBe(HEX);
    expect(parseMagnet(`magnet:?xt=urn:btih:${B32}`).infoHashHex).toBe(HEX);
    expect(parseMagnet(`magnet:?xt=urn:btih:${B32.toLowerCase()}`).infoHashHex).toBe(HEX);
    expect(parseMagnet(`magnet:?xt=urn:btih:${HEX.toUpperCase()}`).infoHashHex).toBe(HEX);
  });

  it('reads dn, repeated tr and x.pe, percent-decoded', () => {
    const m = parseMagnet(
      `magnet:?xt=urn:btih:${HEX}&dn=My%20File+x&tr=http%3A%2F%2Fa.example%2Fannounce&tr=udp%3A%2F%2Fb.example%3A80&tr=udp%3A%2F%2Fb.example%3A80&x.pe=10.0.0.1%3A6881`,
    );
    expect(m.displayName).toBe('My File x');
    expect(m.trackers).toEqual(['http://a.example/announce', 'udp://b.example:80']);
    expect(m.peers).toEqual(['10.0.0.1:6881']);
  });

  it('refuses bad input with typed errors', () => {
    const code = (uri: string) => {
      try {
        parseMagnet(uri);
      } catch (e) {
        if (e instanceof MagnetError) return e.code;
        throw e;
      }
      return undefined;
    };
    expect(code('http://x')).toBe('MAGNET_NOT_A_MAGNET');
    expect(code('magnet:?dn=x')).toBe('MAGNET_NO_INFO_HASH');
    expect(code('magnet:?xt=urn:btih:abc')).toBe('MAGNET_BAD_INFO_HASH');
    expect(code(`magnet:?xt=urn:btih:${'z'.repeat(40)}`)).toBe('MAGNET_BAD_INFO_HASH');
    expect(code(`magnet:?xt=urn:btih:${'1'.repeat(32)}`)).toBe('MAGNET_BAD_INFO_HASH'); // '1' is not base32
    expect(code(`magnet:?xt=urn:btih:${HEX}&xt=urn:btih:${'0'.repeat(40)}`)).toBe('MAGNET_CONFLICTING_INFO_HASH');
    expect(code('magnet:?xt=urn:btmh:1220' + '0'.repeat(64))).toBe('MAGNET_V2_ONLY');
    expect(code(`magnet:?xt=urn:btih:${HEX}&dn=%E0%A4%A`)).toBe('MAGNET_BAD_ENCODING');
  });

  it('tells magnet URIs from paths', () => {
    expect(isMagnetUri('magnet:?xt=urn:btih:x')).toBe(true);
    expect(isMagnetUri('file.torrent')).toBe(false);
  });
});
