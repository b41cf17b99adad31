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
import { BencodeReader } from '../src/bencode-reader.js';

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

  it('steps over the values of the key paths it is given: checked, left out, their spans reported', () => {
    const raw = enc('d8:announce3:url4:infod5:filesld6:lengthi1eee4:name1:n5:filesi7eee');
    const { value, spans, skipped } = decodeBencodeWithSpans(raw, ['info'], undefined, [['info', 'files'], ['absent']]);
    const info = (value as Map<string, BValue>).get('info') as Map<string, BValue>;
    expect([...info.keys()]).toEqual(['name']);
    // A duplicate key: the last one's span, as the last one wins in a Map.
    expect(Buffer.from(raw.subarray(skipped[0]!.start, skipped[0]!.end)).toString('latin1')).toBe('i7e');
    expect(skipped[1]).toBeUndefined();
    expect(Buffer.from(raw.subarray(spans.get('info')!.start, spans.get('info')!.end)).toString('latin1')).toBe('d5:filesld6:lengthi1eee4:name1:n5:filesi7ee');
    // Only the path given: a `files` key elsewhere is built as usual, in a list under `info` too.
    const other = decodeBencodeWithSpans(enc('d5:filesi1e4:infod4:infoi2eee'), [], undefined, [['info', 'files']]).value as Map<string, BValue>;
    expect(other.get('files')).toBe(1);
    const inList = decodeBencodeWithSpans(enc('d4:infold5:filesi3eeee'), [], undefined, [['info', 'files']]);
    expect(inList.skipped[0]).toBeUndefined();
    expect(((inList.value as Map<string, BValue>).get('info') as BValue[])[0]).toEqual(new Map([['files', 3]]));
    const deep = decodeBencodeWithSpans(enc('d1:ad1:bi1ee1:lld1:bi2eeee'), [], undefined, [['l', 'x', 'b'], ['a', 'b']]);
    expect(deep.skipped[1]).toBeDefined();
    expect(deep.skipped[0]).toBeUndefined();
    // What is stepped over is checked by the same rules.
    expect(codeOf(() => decodeBencodeWithSpans(enc('d4:infod5:filesli03eeee'), [], undefined, [['info', 'files']]))).toBe('BENCODE_BAD_INTEGER');
    expect(codeOf(() => decodeBencodeWithSpans(enc('d4:infod5:filesl1:aee'), [], undefined, [['info', 'files']]))).toBe('BENCODE_TRUNCATED');
    expect(codeOf(() => decodeBencodeWithSpans(enc('d4:infod5:filesllleeeee'), [], { maxDepth: 4 }, [['info', 'files']]))).toBe('BENCODE_TOO_DEEP');
    expect(codeOf(() => decodeBencodeWithSpans(enc('d4:infod5:filesli1ei2ei3eeee'), [], { maxItems: 2 }, [['info', 'files']]))).toBe('BENCODE_TOO_LARGE');
    expect(codeOf(() => decodeBencodeWithSpans(enc('d4:infod5:filesd1:bi1e1:ai2eeee'), [], { strictKeyOrder: true }, [['info', 'files']]))).toBe('BENCODE_KEY_ORDER');
  });

  it('steps over exactly what it would decode, failing where decoding fails (property)', () => {
    const outcome = (f: () => number): string => {
      try {
        return `ok ${f()}`;
      } catch (e) {
        if (e instanceof BencodeError) return `${e.code} at ${e.offset}`;
        throw e;
      }
    };
    const valid = fc.oneof(fc.constantFrom('d3:bar4:spam3:fooi-42e4:listli1ei2e0:ee', 'ld1:ai1eel1:b1:cee', 'd1:ad1:bd1:cleeee', 'i12345e'));
    const mutated = fc.tuple(valid, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([s, at, byte]) => {
      const bytes = enc(s);
      bytes[at % bytes.length] = byte;
      return bytes;
    });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 60 })), fc.boolean(), (bytes, strict) => {
        const limits = { maxDepth: 3, maxItems: 3, strictKeyOrder: strict };
        const decoded = outcome(() => {
          const r = new BencodeReader(bytes, limits);
          r.value(0);
          return r.pos;
        });
        const skipped = outcome(() => {
          const r = new BencodeReader(bytes, limits);
          r.skip(0);
          return r.pos;
        });
        expect(skipped).toBe(decoded);
      }),
      { numRuns: 3000 },
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
