import { describe, expect, it } from 'vitest';
import { parseDeleteRequest, parseMoveRequest, StorageRequestError } from '../src/index.js';

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const HEX = 'AB'.repeat(20);

describe('storage requests', () => {
  it('reads a bare info hash (the older request) and the JSON form', () => {
    expect(parseDeleteRequest(enc(HEX))).toEqual({ infoHash: HEX.toLowerCase() });
    expect(parseDeleteRequest(enc({ infoHash: HEX, name: 'x', savePath: 'tv' }))).toEqual({ infoHash: HEX.toLowerCase(), name: 'x', savePath: 'tv' });
    expect(parseMoveRequest(enc({ infoHash: HEX, name: 'x', to: 'tv' }))).toEqual({ infoHash: HEX.toLowerCase(), name: 'x', from: undefined, to: 'tv' });
  });

  it('refuses what is not a request, saying why', () => {
    for (const bad of ['zz', '[1]', JSON.stringify({ infoHash: 'nothex' }), JSON.stringify({ infoHash: HEX, savePath: 'tv' }), JSON.stringify({ infoHash: HEX, name: 3 })]) {
      expect(() => parseDeleteRequest(enc(bad))).toThrow(StorageRequestError);
    }
    expect(() => parseMoveRequest(enc({ infoHash: HEX, name: 'x' }))).toThrow(/needs the torrent's name and the folder/);
  });
});
