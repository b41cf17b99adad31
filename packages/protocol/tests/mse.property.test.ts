import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CRYPTO_RC4, MseError, MseInitiator, MseResponder, rc4Available, sha1 } from '../src/index.js';

const infoHash = sha1('x');

describe.runIf(rc4Available())('MSE handshake on random input', () => {
  it('a responder answers need-more or a typed error, never a crash, whatever arrives', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 700 }), { maxLength: 4 }), (chunks) => {
        const b = new MseResponder({ findInfoHash: () => infoHash, select: (bits) => (bits & CRYPTO_RC4 ? 'rc4' : undefined) });
        try {
          for (const c of chunks) b.receive(c);
        } catch (err) {
          expect(err).toBeInstanceOf(MseError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('an initiator does the same with random replies', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 700 }), { maxLength: 4 }), (chunks) => {
        const a = new MseInitiator({ infoHash, provide: ['rc4', 'plaintext'], initialPayload: new Uint8Array(68) });
        a.start();
        try {
          for (const c of chunks) a.receive(c);
        } catch (err) {
          expect(err).toBeInstanceOf(MseError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
