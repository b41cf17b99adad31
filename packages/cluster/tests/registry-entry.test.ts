import { describe, expect, it } from 'vitest';
import { awaitingMetadata, decodeEntry, encodeEntry, type RegistryEntry } from '../src/registry-entry.js';
import { defaultTorrentSettings } from '../src/index.js';

const HEX = 'cd'.repeat(20);
const base: RegistryEntry = { infoHashHex: HEX, torrentFile: new Uint8Array([1, 2]), desired: 'running', addedAt: 7, rechecks: 0, settings: defaultTorrentSettings(7) };

describe('registry entries', () => {
  it('keep a failed move through encoding', () => {
    const e = { ...base, moveError: { to: 'tv', message: 'no space left on device', at: 99 } };
    expect(decodeEntry(HEX, encodeEntry(e)).moveError).toEqual(e.moveError);
    expect(decodeEntry(HEX, encodeEntry(base))).not.toHaveProperty('moveError');
  });

  it('keep a magnet awaiting its metadata (an empty .torrent) and why its last fetch failed; an entry without them has neither', () => {
    const uri = `magnet:?xt=urn:btih:${HEX}&dn=Some%20Show&tr=udp%3A%2F%2Ft.example%3A80`;
    const e: RegistryEntry = { ...base, torrentFile: new Uint8Array(0), magnet: uri, metadataError: 'no peer gave the metadata' };
    const back = decodeEntry(HEX, encodeEntry(e));
    expect(back).toMatchObject({ magnet: uri, metadataError: 'no peer gave the metadata' });
    expect(back.torrentFile).toHaveLength(0);
    expect(awaitingMetadata(back)).toBe(true);
    const plain = decodeEntry(HEX, encodeEntry(base));
    expect(plain).not.toHaveProperty('magnet');
    expect(plain).not.toHaveProperty('metadataError');
    expect(awaitingMetadata(plain)).toBe(false);
  });

  it('drop a malformed magnet or metadata error rather than the entry', () => {
    for (const [magnet, metadataError] of [[42, 7], ['http://not.a/magnet', null], [{ uri: 'magnet:?' }, ['x']]] as const) {
      const stored = JSON.parse(new TextDecoder().decode(encodeEntry(base))) as Record<string, unknown>;
      Object.assign(stored, { magnet, metadataError });
      const e = decodeEntry(HEX, new TextEncoder().encode(JSON.stringify(stored)));
      expect(e.magnet, JSON.stringify(magnet)).toBeUndefined();
      expect(e.metadataError).toBeUndefined();
      expect(e.desired).toBe('running');
    }
  });

  it('drop a malformed move error rather than the entry', () => {
    for (const odd of [{ to: 1, message: 'x', at: 1 }, { to: 'a', message: 'x' }, 'text', null]) {
      const stored = JSON.parse(new TextDecoder().decode(encodeEntry(base))) as Record<string, unknown>;
      stored.moveError = odd;
      const e = decodeEntry(HEX, new TextEncoder().encode(JSON.stringify(stored)));
      expect(e.moveError, JSON.stringify(odd)).toBeUndefined();
      expect(e.desired).toBe('running');
    }
  });
});
