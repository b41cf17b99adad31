/**
 * The piece-data codec (piece-data-frame.ts) without sockets: every rule
 * with its typed error, input split anywhere (byte by byte, random split
 * points), bodies taken past the decoder (onread), and random bytes giving
 * frames or a PieceDataFrameError, never another error or a frame longer
 * than the maximum.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_PIECE_LENGTH,
  encodePieceDataFrameHeader,
  encodePieceDataPreamble,
  PIECE_DATA_PREAMBLE_LENGTH,
  PieceDataDecoder,
  PieceDataFrameError,
  type PieceDataFrameRule,
} from '../src/piece-data-frame.js';

interface Frame {
  writeId: string;
  body: Uint8Array;
}

function encodeStream(frames: Frame[]): Buffer {
  return Buffer.concat([encodePieceDataPreamble(), ...frames.flatMap((f) => [encodePieceDataFrameHeader(f.writeId, f.body.byteLength), f.body])]);
}

/** Decodes chunks into whole frames, copying bodies as a receiver would. */
function decodeAll(chunks: Uint8Array[], maxPieceLength?: number): Frame[] {
  const d = new PieceDataDecoder({ maxPieceLength });
  const frames: Frame[] = [];
  let current: { writeId: string; body: Buffer; fill: number } | undefined;
  for (const chunk of chunks) {
    d.push(chunk);
    for (let e = d.next(); e; e = d.next()) {
      if (e.kind === 'frame') {
        expect(current).toBeUndefined();
        current = { writeId: e.writeId, body: Buffer.alloc(e.length), fill: 0 };
      } else {
        current!.body.set(e.bytes, current!.fill);
        current!.fill += e.bytes.byteLength;
        if (e.end) {
          expect(current!.fill).toBe(current!.body.length);
          frames.push({ writeId: current!.writeId, body: current!.body });
          current = undefined;
        }
      }
    }
  }
  return frames;
}

function expectFrames(got: Frame[], want: Frame[]): void {
  expect(got.map((f) => f.writeId)).toEqual(want.map((f) => f.writeId));
  got.forEach((f, i) => expect(Buffer.compare(f.body, want[i]!.body), f.writeId).toBe(0));
}

function splitAt(buf: Buffer, points: number[]): Buffer[] {
  const cuts = [...new Set(points.map((p) => p % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts, buf.length]) {
    out.push(buf.subarray(at, c));
    at = c;
  }
  return out;
}

function ruleOf(f: () => unknown): PieceDataFrameRule | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof PieceDataFrameError) return e.rule;
    throw e;
  }
  return undefined;
}

const preamble = encodePieceDataPreamble();
const header = (id: number[], length: number[]) => Buffer.from([id.length, ...id, ...length]);

describe('piece-data frame codec', () => {
  it('encodes the preamble and a header as the format says', () => {
    expect([...preamble]).toEqual([0x53, 0x42, 0x50, 0x44, 1]);
    expect(PIECE_DATA_PREAMBLE_LENGTH).toBe(5);
    expect([...encodePieceDataFrameHeader('pw-0.7', 0x01020304)]).toEqual([6, ...Buffer.from('pw-0.7'), 1, 2, 3, 4]);
    expect(encodePieceDataFrameHeader('x'.repeat(255), 1).length).toBe(260);
  });

  it('round-trips frames fed whole, byte by byte and in halves', () => {
    const frames: Frame[] = [
      { writeId: 'pw-1.1', body: Buffer.from([42]) },
      { writeId: 'a b~!', body: Buffer.alloc(16384 + 3, 7) },
      { writeId: 'z', body: Buffer.from('hello') },
    ];
    const stream = encodeStream(frames);
    expectFrames(decodeAll([stream]), frames);
    expectFrames(decodeAll([...stream].map((b) => Uint8Array.of(b))), frames);
    // Every cut through the headers at both ends, every 97th through the long body.
    for (let cut = 0; cut <= stream.length; cut += cut < 64 || cut > stream.length - 64 ? 1 : 97) expectFrames(decodeAll([stream.subarray(0, cut), stream.subarray(cut)]), frames);
  });

  it('round-trips any frames split at any points', () => {
    const writeId = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 255 });
    const frame = fc.record({ writeId, body: fc.uint8Array({ minLength: 1, maxLength: 3000 }) });
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, points) => {
        expectFrames(decodeAll(splitAt(encodeStream(frames), points)), frames);
      }),
      { numRuns: 300 },
    );
  });

  it('gives random bytes as frames or a PieceDataFrameError, never another error or a frame over the maximum', () => {
    const max = 4096;
    const check = (chunks: Uint8Array[]) => {
      const d = new PieceDataDecoder({ maxPieceLength: max });
      try {
        for (const c of chunks) {
          d.push(c);
          for (let e = d.next(); e; e = d.next()) if (e.kind === 'frame') expect(e.length).toBeLessThanOrEqual(max);
        }
      } catch (e) {
        expect(e).toBeInstanceOf(PieceDataFrameError);
        // Broken for good: the stream cannot be resynchronised.
        expect(() => d.next()).toThrow(e as Error);
      }
    };
    // Plain garbage, and garbage after a valid preamble (where the header rules are reached).
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 10 }), (bytes, withPreamble, points) => {
        check(splitAt(Buffer.concat([withPreamble ? preamble : Buffer.alloc(0), bytes]), points));
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses each broken rule with its own error, at the first bad byte', () => {
    const decode = (bytes: number[] | Buffer, max?: number) => () => decodeAll([Buffer.from(bytes)], max);
    expect(ruleOf(decode(Buffer.from('GET / HTTP/1.1\r\n')))).toBe('bad-magic');
    expect(ruleOf(decode([0x53]))).toBeUndefined(); // a prefix of the magic: more may come
    expect(ruleOf(decode([0x53, 0x42, 0x00]))).toBe('bad-magic');
    expect(ruleOf(decode([0x13, ...Buffer.from('BitTorrent protocol')]))).toBe('bad-magic');
    expect(ruleOf(decode([0x53, 0x42, 0x50, 0x44, 2]))).toBe('bad-version');
    expect(ruleOf(decode([...preamble, 0]))).toBe('empty-write-id');
    expect(ruleOf(decode([...preamble, 3, 0x61, 0x0a]))).toBe('non-printable-write-id');
    expect(ruleOf(decode([...preamble, 1, 0xc3]))).toBe('non-printable-write-id');
    expect(ruleOf(decode([...preamble, ...header([0x61], [0, 0, 0, 0])]))).toBe('empty-piece');
    // 0x80000001 is 2 GiB and 1 byte, not a negative number (webtorrent's mistake).
    expect(ruleOf(decode([...preamble, ...header([0x61], [0x80, 0, 0, 1])]))).toBe('piece-too-long');
    expect(ruleOf(decode([...preamble, ...header([0x61], [0, 0, 0x10, 1])], 4096))).toBe('piece-too-long');
    expect(ruleOf(decode([...preamble, ...header([0x61], [0, 0, 0x10, 0])], 4096))).toBeUndefined();
    const err = (() => {
      try {
        decodeAll([Buffer.from([...preamble, ...header([0x61], [0xff, 0xff, 0xff, 0xff])])]);
      } catch (e) {
        return e as PieceDataFrameError;
      }
    })();
    expect(err?.name).toBe('PieceDataFrameError');
    expect(err?.message).toContain(`over the maximum of ${DEFAULT_MAX_PIECE_LENGTH}`);
  });

  it('delivers the frames before a broken one', () => {
    const good = encodeStream([{ writeId: 'ok', body: Buffer.from('abc') }]);
    const d = new PieceDataDecoder();
    d.push(Buffer.concat([good, Buffer.from([0])]));
    expect(d.next()).toMatchObject({ kind: 'frame', writeId: 'ok', length: 3 });
    expect(d.next()).toMatchObject({ kind: 'body', end: true });
    expect(() => d.next()).toThrow(PieceDataFrameError);
  });

  it('the encoder refuses what the decoder would', () => {
    expect(ruleOf(() => encodePieceDataFrameHeader('', 1))).toBe('empty-write-id');
    expect(ruleOf(() => encodePieceDataFrameHeader('x'.repeat(256), 1))).toBe('write-id-too-long');
    expect(ruleOf(() => encodePieceDataFrameHeader('pw-é.1', 1))).toBe('non-printable-write-id');
    expect(ruleOf(() => encodePieceDataFrameHeader('a\nb', 1))).toBe('non-printable-write-id');
    expect(ruleOf(() => encodePieceDataFrameHeader('a', 0))).toBe('empty-piece');
    expect(ruleOf(() => encodePieceDataFrameHeader('a', 1.5))).toBe('bad-length');
    expect(ruleOf(() => encodePieceDataFrameHeader('a', -1))).toBe('bad-length');
    expect(ruleOf(() => encodePieceDataFrameHeader('a', DEFAULT_MAX_PIECE_LENGTH + 1))).toBe('piece-too-long');
    expect(ruleOf(() => encodePieceDataFrameHeader('a', 2 ** 32, 2 ** 40))).toBe('piece-too-long');
  });

  it('lets the caller take a body past the decoder (onread), and says when a frame is under way', () => {
    const d = new PieceDataDecoder();
    expect(d.midFrame).toBe(true); // the preamble is owed
    d.push(preamble);
    expect(d.next()).toBeUndefined();
    expect(d.midFrame).toBe(false);
    d.push(Buffer.concat([encodePieceDataFrameHeader('w.1', 10), Buffer.from([1, 2])]));
    expect(d.next()).toEqual({ kind: 'frame', writeId: 'w.1', length: 10 });
    expect(d.next()).toMatchObject({ kind: 'body', end: false });
    expect(d.next()).toBeUndefined();
    expect(d.bodyRemaining).toBe(8);
    expect(d.midFrame).toBe(true);
    expect(d.takeBody(5)).toBe(false);
    expect(() => d.takeBody(4)).toThrow(/past its end/);
    expect(d.takeBody(3)).toBe(true);
    expect(d.midFrame).toBe(false);
    expect(() => d.takeBody(1)).toThrow(/outside a body/);
    d.push(encodePieceDataFrameHeader('w.2', 1).subarray(0, 2));
    expect(d.next()).toBeUndefined();
    expect(d.midFrame).toBe(true);
  });
});
