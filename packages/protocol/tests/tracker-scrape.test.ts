import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeBencode } from '../src/bencode.js';
import { ProtocolError } from '../src/errors.js';
import { TrackerError } from '../src/tracker-error.js';
import { buildHttpScrapeUrl, httpScrapeUrl, MAX_HTTP_SCRAPE_HASHES, parseHttpScrapeResponse } from '../src/tracker-scrape.js';
import { decodeUdpScrapeResponse, encodeUdpScrapeRequest, MAX_UDP_SCRAPE_HASHES } from '../src/tracker-udp.js';

const h = (n: number): Uint8Array => new Uint8Array(20).fill(n);
const hex = (n: number): string => Buffer.from(h(n)).toString('hex');

const codeOf = (f: () => unknown): string => {
  try {
    f();
    return 'no error';
  } catch (e) {
    expect(e).toBeInstanceOf(TrackerError);
    return (e as TrackerError).code;
  }
};

/** Anything thrown must be a TrackerError, never a TypeError or RangeError. */
const onlyTypedErrors = (f: () => unknown): void => {
  try {
    f();
  } catch (e) {
    if (!(e instanceof TrackerError) || !(e instanceof ProtocolError)) throw e;
  }
};

describe('the BEP 48 scrape URL', () => {
  it('replaces the announce that starts the last path segment, keeping the rest and the query', () => {
    expect(httpScrapeUrl('http://t.test/announce')).toBe('http://t.test/scrape');
    expect(httpScrapeUrl('http://t.test:8080/x/announce?passkey=abc')).toBe('http://t.test:8080/x/scrape?passkey=abc');
    expect(httpScrapeUrl('https://t.test/announce.php?a=1&b=%20')).toBe('https://t.test/scrape.php?a=1&b=%20');
    expect(httpScrapeUrl('http://t.test/announce#frag')).toBe('http://t.test/scrape');
  });

  it('is none for a tracker without that segment, or one that is not http', () => {
    for (const url of ['http://t.test/', 'http://t.test', 'http://t.test/a', 'http://t.test/announce/x', 'http://t.test/x?announce', 'udp://t.test:6969/announce', 'not a url']) {
      expect(httpScrapeUrl(url), url).toBeUndefined();
    }
  });

  it('asks for every hash, raw bytes percent-encoded, and keeps the passkey', () => {
    const a = Uint8Array.from({ length: 20 }, (_, i) => i * 13);
    const url = buildHttpScrapeUrl('http://t.test/announce?passkey=k&info_hash=stale', [a, h(0x41)]);
    expect(url).toBe(`http://t.test/scrape?passkey=k&info_hash=${[...a].map((b) => percent(b)).join('')}&info_hash=${'A'.repeat(20)}`);
  });

  it('refuses what it cannot ask for', () => {
    expect(codeOf(() => buildHttpScrapeUrl('http://t.test/tracker', [h(1)]))).toBe('TRACKER_BAD_URL');
    expect(codeOf(() => buildHttpScrapeUrl('http://t.test/announce', []))).toBe('TRACKER_BAD_FIELD');
    expect(codeOf(() => buildHttpScrapeUrl('http://t.test/announce', Array.from({ length: MAX_HTTP_SCRAPE_HASHES + 1 }, () => h(1))))).toBe('TRACKER_BAD_FIELD');
    expect(codeOf(() => buildHttpScrapeUrl('http://t.test/announce', [new Uint8Array(19)]))).toBe('TRACKER_BAD_FIELD');
  });
});

function percent(b: number): string {
  const unreserved = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || [0x2d, 0x2e, 0x5f, 0x7e].includes(b);
  return unreserved ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
}

describe('parseHttpScrapeResponse', () => {
  const files = (entries: [Uint8Array, unknown][]): Map<Uint8Array | string, unknown> =>
    new Map(entries.map(([k, v]) => [Buffer.from(k).toString('latin1'), v]));

  it('reads each torrent’s counts by hash, and the min request interval', () => {
    const body = encodeBencode(new Map<string, never>([
      ['files', files([[h(1), { complete: 5, incomplete: 2, downloaded: 40 }], [h(2), { complete: 0 }]]) as never],
      ['flags', { min_request_interval: 1800 } as never],
    ]));
    const r = parseHttpScrapeResponse(body);
    expect(r.files).toEqual(new Map([[hex(1), { complete: 5, incomplete: 2, downloaded: 40 }], [hex(2), { complete: 0 }]]));
    expect(r.minRequestInterval).toBe(1800);
    expect(r.invalidEntries).toBe(0);
  });

  it('drops an entry with a bad key or bad counts, and keeps the others', () => {
    const body = encodeBencode({
      files: new Map<string, unknown>([
        ['short', { complete: 1 }],
        [Buffer.from(h(3)).toString('latin1'), { complete: -1 }],
        [Buffer.from(h(4)).toString('latin1'), 'not a dict'],
        [Buffer.from(h(5)).toString('latin1'), { complete: 9, incomplete: 1 }],
      ]) as never,
    });
    const r = parseHttpScrapeResponse(body);
    expect([...r.files]).toEqual([[hex(5), { complete: 9, incomplete: 1 }]]);
    expect(r.invalidEntries).toBe(3);
  });

  it('names each way a reply can be bad, and a refusal as TRACKER_FAILURE with retry in', () => {
    const refusal = (() => {
      try {
        parseHttpScrapeResponse(encodeBencode({ 'failure reason': 'scrape disabled', 'retry in': 30 }));
      } catch (e) {
        return e as TrackerError;
      }
    })();
    expect(refusal).toMatchObject({ code: 'TRACKER_FAILURE', failureReason: 'scrape disabled', retryIn: 30 });
    expect(codeOf(() => parseHttpScrapeResponse(Buffer.from('<html>')))).toBe('TRACKER_BAD_RESPONSE');
    expect(codeOf(() => parseHttpScrapeResponse(encodeBencode([1])))).toBe('TRACKER_BAD_RESPONSE');
    expect(codeOf(() => parseHttpScrapeResponse(encodeBencode({ interval: 1 })))).toBe('TRACKER_BAD_RESPONSE');
    expect(codeOf(() => parseHttpScrapeResponse(encodeBencode({ files: 3 })))).toBe('TRACKER_BAD_RESPONSE');
    expect(codeOf(() => parseHttpScrapeResponse(Buffer.alloc(2048), { maxBytes: 1024 }))).toBe('TRACKER_TOO_LARGE');
  });
});

describe('UDP scrape (BEP 15 action 2)', () => {
  it('asks for up to 74 hashes in one packet, and reads seeders, completed, leechers in the order asked', () => {
    const req = Buffer.from(encodeUdpScrapeRequest({ connectionId: 0x1234n, transactionId: 77, infoHashes: [h(1), h(2)] }));
    expect(req.length).toBe(16 + 40);
    expect([req.readBigUInt64BE(0), req.readUInt32BE(8), req.readUInt32BE(12)]).toEqual([0x1234n, 2, 77]);
    expect(req.subarray(36, 56)).toEqual(Buffer.from(h(2)));
    const reply = Buffer.alloc(8 + 24);
    reply.writeUInt32BE(2, 0);
    reply.writeUInt32BE(77, 4);
    [5, 40, 2, 0, 1, 3].forEach((v, i) => reply.writeUInt32BE(v, 8 + 4 * i));
    expect(decodeUdpScrapeResponse(reply, 77, 2)).toEqual([
      { complete: 5, downloaded: 40, incomplete: 2 },
      { complete: 0, downloaded: 1, incomplete: 3 },
    ]);
    expect(encodeUdpScrapeRequest({ connectionId: 1n, transactionId: 1, infoHashes: Array.from({ length: MAX_UDP_SCRAPE_HASHES }, () => h(1)) }).length).toBe(1496);
  });

  it('refuses a reply that is not exactly as long as the hashes asked, and an error packet is a refusal', () => {
    const reply = Buffer.alloc(8 + 12);
    reply.writeUInt32BE(2, 0);
    reply.writeUInt32BE(9, 4);
    expect(codeOf(() => decodeUdpScrapeResponse(reply, 9, 2))).toBe('TRACKER_BAD_LENGTH');
    expect(codeOf(() => decodeUdpScrapeResponse(reply.subarray(0, 19), 9, 1))).toBe('TRACKER_BAD_LENGTH');
    expect(codeOf(() => decodeUdpScrapeResponse(reply, 10, 1))).toBe('TRACKER_TRANSACTION_MISMATCH');
    const err = Buffer.concat([Buffer.from([0, 0, 0, 3, 0, 0, 0, 9]), Buffer.from('scrape not allowed')]);
    expect(codeOf(() => decodeUdpScrapeResponse(err, 9, 1))).toBe('TRACKER_FAILURE');
    expect(codeOf(() => encodeUdpScrapeRequest({ connectionId: 1n, transactionId: 1, infoHashes: [] }))).toBe('TRACKER_BAD_FIELD');
    expect(codeOf(() => encodeUdpScrapeRequest({ connectionId: 1n, transactionId: 1, infoHashes: Array.from({ length: 75 }, () => h(1)) }))).toBe('TRACKER_BAD_FIELD');
  });
});

describe('scrape decoders on random input', () => {
  const bencodeish = fc
    .array(fc.constantFrom(...'dile0123456789:e-'.split(''), 'files', '5:files', 'flags', 'complete', 'incomplete', 'downloaded', '20:', 'i1e', 'failure reason'), { maxLength: 80 })
    .map((parts) => Buffer.from(parts.join(''), 'latin1'));

  it('the HTTP parser answers a value or a TrackerError, for garbage and near-bencode alike', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), bencodeish), (bytes) => {
        onlyTypedErrors(() => parseHttpScrapeResponse(bytes, { maxBytes: 300 }));
      }),
      { numRuns: 3000 },
    );
  });

  it('the HTTP parser copes with random values in random places', () => {
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, fc.integer({ min: -3, max: 1 << 30 }), fc.uint8Array({ maxLength: 24 }), fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.oneof(fc.constantFrom('complete', 'incomplete', 'downloaded', 'min_request_interval'), fc.string({ minLength: 20, maxLength: 20 }), fc.string({ maxLength: 5 })), tie('v'), { maxKeys: 4 })),
    })).v;
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('files', 'flags', 'failure reason', 'retry in'), value), (dict) => {
        onlyTypedErrors(() => {
          const r = parseHttpScrapeResponse(encodeBencode(dict as never));
          for (const [k, counts] of r.files) {
            expect(k).toMatch(/^[0-9a-f]{40}$/);
            for (const n of Object.values(counts)) expect(Number.isSafeInteger(n) && n >= 0).toBe(true);
          }
        });
      }),
      { numRuns: 2000 },
    );
  });

  it('the UDP decoder answers the counts or a TrackerError, whatever the packet and the count asked', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 80 }), fc.boolean(), (rest, tx, count, header) => {
        const bytes = header ? Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from([tx >>> 24, (tx >>> 16) & 255, (tx >>> 8) & 255, tx & 255]), rest]) : rest;
        onlyTypedErrors(() => {
          const r = decodeUdpScrapeResponse(bytes, tx, count);
          expect(r).toHaveLength(count);
        });
      }),
      { numRuns: 3000 },
    );
  });
});
