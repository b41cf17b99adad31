import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  BencodeError,
  decodeBencode,
  decodeBencodePrefix,
  decodeBencodeWithSpans,
  encodeBencode,
  type BValue,
} from '../src/bencode.js';

const enc = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (e instanceof BencodeError) return e.code;
    throw e;
  }
  return undefined;
};

describe('bencode decoder', () => {
  it('decodes every kind', () => {
    const v = decodeBencode(enc('d3:bar4:spam3:fooi-42e4:listli1ei2e0:ee')) as Map<string, BValue>;
    expect(Buffer.from(v.get('bar') as Uint8Array).toString()).toBe('spam');
    expect(v.get('foo')).toBe(-42);
    const list = v.get('list') as BValue[];
    expect(list.slice(0, 2)).toEqual([1, 2]);
    expect((list[2] as Uint8Array).length).toBe(0);
  });

  it('refuses non-canonical and malformed input with a typed error', () => {
    expect(codeOf(() => decodeBencode(enc('i03e')))).toBe('BENCODE_BAD_INTEGER');
    expect(codeOf(() => decodeBencode(enc('i-0e')))).toBe('BENCODE_BAD_INTEGER');
    expect(codeOf(() => decodeBencode(enc('ie')))).toBe('BENCODE_BAD_INTEGER');
    expect(codeOf(() => decodeBencode(enc('i1.5e')))).toBe('BENCODE_BAD_INTEGER');
    expect(codeOf(() => decodeBencode(enc('i99999999999999999999e')))).toBe('BENCODE_INTEGER_RANGE');
    expect(codeOf(() => decodeBencode(enc('i1')))).toBe('BENCODE_TRUNCATED');
    expect(codeOf(() => decodeBencode(enc('5:abc')))).toBe('BENCODE_TRUNCATED');
    expect(codeOf(() => decodeBencode(enc('01:a')))).toBe('BENCODE_BAD_INTEGER');
    expect(codeOf(() => decodeBencode(enc('li1e')))).toBe('BENCODE_TRUNCATED');
    expect(codeOf(() => decodeBencode(enc('di1ei2ee')))).toBe('BENCODE_SYNTAX');
    expect(codeOf(() => decodeBencode(enc('x')))).toBe('BENCODE_SYNTAX');
    expect(codeOf(() => decodeBencode(enc('i1ei2e')))).toBe('BENCODE_TRAILING_DATA');
    expect(codeOf(() => decodeBencode(enc('')))).toBe('BENCODE_TRUNCATED');
    expect(codeOf(() => decodeBencode(enc('d1:bi1e1:ai2ee'), { strictKeyOrder: true }))).toBe('BENCODE_KEY_ORDER');
  });

  it('bounds depth, size and item counts before any large allocation', () => {
    expect(codeOf(() => decodeBencode(enc('l'.repeat(100_000))))).toBe('BENCODE_TOO_DEEP');
    expect(codeOf(() => decodeBencode(enc('4294967295:x')))).toBe('BENCODE_TRUNCATED');
    expect(codeOf(() => decodeBencode(enc('li1ei2ei3ee'), { maxItems: 2 }))).toBe('BENCODE_TOO_LARGE');
    expect(codeOf(() => decodeBencode(new Uint8Array(100), { maxBytes: 10 }))).toBe('BENCODE_TOO_LARGE');
  });

  it('keeps a __proto__ key as data', () => {
    const v = decodeBencode(enc('d9:__proto__i1ee')) as Map<string, BValue>;
    expect(v.get('__proto__')).toBe(1);
    expect(Object.getPrototypeOf(v)).toBe(Map.prototype);
  });

  it('reports the raw span of a top-level key', () => {
    const raw = enc('d8:announce3:url4:infod1:bi1e1:ai2eee');
    const { spans } = decodeBencodeWithSpans(raw, ['info']);
    const span = spans.get('info')!;
    expect(Buffer.from(raw.subarray(span.start, span.end)).toString('latin1')).toBe('d1:bi1e1:ai2ee');
  });

  it('decodes a prefix and says how much it used', () => {
    const r = decodeBencodePrefix(enc('d1:ai1eeTRAILING'));
    expect(r.used).toBe(8);
  });

  it('round-trips what it encodes (property)', () => {
    const value: fc.Arbitrary<BValue> = fc.letrec<{ v: BValue }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.integer({ min: -1e12, max: 1e12 }),
        fc.uint8Array({ maxLength: 20 }),
        fc.array(tie('v'), { maxLength: 4 }),
        fc.dictionary(fc.string({ maxLength: 6 }).map((s) => Buffer.from(s, 'utf8').toString('latin1')), tie('v'), { maxKeys: 4 }).map(
          (o) => new Map(Object.entries(o)),
        ),
      ),
    })).v;
    const toEncodable = (v: BValue): unknown =>
      v instanceof Map ? new Map([...v].map(([k, x]) => [Buffer.from(k, 'latin1'), toEncodable(x)])) : Array.isArray(v) ? v.map(toEncodable) : v;
    fc.assert(
      fc.property(value, (v) => {
        const bytes = encodeBencode(toEncodable(v) as never);
        expect(decodeBencode(bytes, { strictKeyOrder: true })).toEqual(v);
      }),
    );
  });

  it('answers random bytes with a value or a BencodeError, never anything else (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeBencode(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(BencodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
