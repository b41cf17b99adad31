import { describe, expect, it } from 'vitest';
import { Bitfield, BitfieldError } from '../src/bitfield.js';

describe('Bitfield', () => {
  it('puts piece 0 in the high bit of the first byte', () => {
    const bf = new Bitfield(10);
    bf.set(0);
    bf.set(9);
    expect([...bf.toBytes()]).toEqual([0x80, 0x40]);
    expect(bf.count).toBe(2);
    expect([...bf.setIndices()]).toEqual([0, 9]);
    expect(bf.set(0)).toBe(false);
    expect(bf.clear(0)).toBe(true);
    expect(bf.count).toBe(1);
  });

  it('checks the byte count and the spare bits of a peer bitfield', () => {
    expect(Bitfield.fromBytes(new Uint8Array([0xff, 0xc0]), 10).isComplete).toBe(true);
    expect(() => Bitfield.fromBytes(new Uint8Array([0xff, 0xe0]), 10)).toThrow(
      expect.objectContaining({ code: 'BITFIELD_SPARE_BITS' }),
    );
    expect(() => Bitfield.fromBytes(new Uint8Array([0xff]), 10)).toThrow(BitfieldError);
    expect(() => Bitfield.fromBytes(new Uint8Array([0xff, 0, 0]), 10)).toThrow(
      expect.objectContaining({ code: 'BITFIELD_LENGTH' }),
    );
  });

  it('makes a full bitfield without spare bits', () => {
    const bf = Bitfield.full(10);
    expect([...bf.toBytes()]).toEqual([0xff, 0xc0]);
    expect(bf.isComplete).toBe(true);
    expect(Bitfield.full(16).toBytes()).toEqual(new Uint8Array([0xff, 0xff]));
  });

  it('refuses out-of-range indices', () => {
    const bf = new Bitfield(3);
    expect(() => bf.set(3)).toThrow(BitfieldError);
    expect(bf.has(3)).toBe(false);
    expect(bf.has(-1)).toBe(false);
  });
});
