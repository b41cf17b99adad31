import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry, type RegistryEntry } from '../src/registry-entry.js';
import { defaultTorrentSettings } from '../src/index.js';

const HEX = 'cd'.repeat(20);
const base: RegistryEntry = { infoHashHex: HEX, torrentFile: new Uint8Array([1, 2]), desired: 'running', addedAt: 7, rechecks: 0, settings: defaultTorrentSettings(7) };

describe('registry entries', () => {
  it('keep a failed move through encoding', () => {
    const e = { ...base, moveError: { to: 'tv', message: 'no space left on device', at: 99 } };
    expect(decodeEntry(HEX, encodeEntry(e)).moveError).toEqual(e.moveError);
    expect(decodeEntry(HEX, encodeEntry(base))).not.toHaveProperty('moveError');
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
