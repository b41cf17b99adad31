import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clientFromPeerId } from '../src/index.js';

const id = (prefix: string): Uint8Array => {
  const b = Buffer.alloc(20, 0x61);
  b.write(prefix, 0, 'latin1');
  return b;
};

describe('clientFromPeerId', () => {
  it('reads Azureus-style ids: the client by its code, the version digit by digit (letters for 10 and up)', () => {
    expect(clientFromPeerId(id('-LT2080-'))).toBe('libtorrent (Rasterbar) 2.0.8');
    expect(clientFromPeerId(id('-lt0D80-'))).toBe('libTorrent (Rakshasa) 0.13.8');
    expect(clientFromPeerId(id('-TR4060-'))).toBe('Transmission 4.0.6');
    expect(clientFromPeerId(id('-qB4631-'))).toBe('qBittorrent 4.6.3.1');
    expect(clientFromPeerId(id('-DE13F0-'))).toBe('Deluge 1.3.15');
    expect(clientFromPeerId(id('-SB0100-'))).toBe('seedbox 0.1.0');
  });

  it('keeps the code of a client it does not know; Mainline ids too', () => {
    expect(clientFromPeerId(id('-ZZ1230-'))).toBe('ZZ 1.2.3');
    expect(clientFromPeerId(id('M7-10-2--'))).toBe('BitTorrent 7.10.2');
  });

  it('guesses nothing from ids that follow no convention, or are not 20 bytes', () => {
    expect(clientFromPeerId(id('-LT20*0-'))).toBeUndefined();
    expect(clientFromPeerId(id('- T2080-'))).toBeUndefined();
    expect(clientFromPeerId(id('S58B-----'))).toBeUndefined();
    expect(clientFromPeerId(new Uint8Array(8))).toBeUndefined();
    expect(clientFromPeerId(Buffer.from('-LT2080-'))).toBeUndefined();
  });

  it('never throws on random bytes', () => {
    for (let i = 0; i < 2000; i++) {
      const r = clientFromPeerId(randomBytes(20));
      expect(r === undefined || typeof r === 'string').toBe(true);
    }
  });
});
