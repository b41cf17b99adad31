import { describe, expect, it } from 'vitest';
import { createDiffieHellman, randomBytes } from 'node:crypto';
import {
  createDhKeyPair,
  CRYPTO_PLAINTEXT,
  CRYPTO_RC4,
  encodeHandshake,
  maybePlainHandshake,
  MSE_GENERATOR,
  MSE_PRIME,
  MSE_PRIVATE_KEY_LENGTH,
  MseError,
  MseInitiator,
  MseResponder,
  rc4Available,
  sha1,
  type CryptoMethod,
  type MseOutcome,
} from '../src/index.js';

const infoHash = sha1('an info hash');
const otherHash = sha1('another');
const bt = encodeHandshake({ infoHash, peerId: Buffer.alloc(20, 7), extended: true });

function responder(allow: CryptoMethod[], pad = (): number => 37): MseResponder {
  const known = new Map([infoHash, otherHash].map((h) => [sha1('req2', h).toString('hex'), h]));
  return new MseResponder({
    findInfoHash: (req2) => known.get(Buffer.from(req2).toString('hex')),
    select: (bits) =>
      allow.includes('plaintext') && bits & CRYPTO_PLAINTEXT ? 'plaintext' : allow.includes('rc4') && bits & CRYPTO_RC4 ? 'rc4' : undefined,
    padLength: pad,
  });
}

/** Runs both sides against each other, cutting every flight into pieces of `cut` bytes. */
function run(a: MseInitiator, b: MseResponder, cut = 1 << 20): { a: MseOutcome; b: MseOutcome } {
  let toB: Uint8Array[] = [a.start()];
  let toA: Uint8Array[] = [];
  let doneA: MseOutcome | undefined;
  let doneB: MseOutcome | undefined;
  const feed = (chunks: Uint8Array[], side: MseInitiator | MseResponder): { out: Uint8Array[]; done?: MseOutcome } => {
    const out: Uint8Array[] = [];
    let done: MseOutcome | undefined;
    const all = Buffer.concat(chunks);
    for (let i = 0; i < all.length && !done; i += cut) {
      const step = side.receive(all.subarray(i, i + cut));
      out.push(...step.send);
      done = step.done;
    }
    return { out, ...(done ? { done } : {}) };
  };
  for (let round = 0; round < 10 && !(doneA && doneB); round++) {
    if (!doneB && toB.length > 0) {
      const r = feed(toB, b);
      toA = r.out;
      doneB = r.done;
      toB = [];
    }
    if (!doneA && toA.length > 0) {
      const r = feed(toA, a);
      toB = r.out;
      doneA = r.done;
    }
  }
  if (!doneA || !doneB) throw new Error('handshake did not finish');
  return { a: doneA, b: doneB };
}

describe.runIf(rc4Available())('MSE handshake', () => {
  it('agrees on a shared secret from both sides', () => {
    const x = createDhKeyPair();
    const y = createDhKeyPair();
    expect(x.publicKey).toHaveLength(96);
    expect(Buffer.from(x.secret(y.publicKey))).toEqual(Buffer.from(y.secret(x.publicKey)));
  });

  it("computes the same keys and secrets as OpenSSL's Diffie-Hellman in the MSE group", () => {
    const openssl = createDiffieHellman(MSE_PRIME, MSE_GENERATOR);
    for (let i = 0; i < 20; i++) {
      // Short exponents too: a key with leading zero bytes.
      const priv = randomBytes(MSE_PRIVATE_KEY_LENGTH);
      if (i < 3) priv.fill(0, 0, 10 + i);
      const ours = createDhKeyPair(priv);
      openssl.setPrivateKey(priv);
      const pad = (b: Buffer): Buffer => Buffer.concat([Buffer.alloc(96 - b.length), b]);
      expect(Buffer.from(ours.publicKey)).toEqual(pad(openssl.computeSecret(Buffer.from([MSE_GENERATOR]))));
      const other = createDhKeyPair().publicKey;
      expect(Buffer.from(ours.secret(other))).toEqual(pad(openssl.computeSecret(other)));
    }
  });

  it('refuses a public key outside the group: 0, 1, P-1, P and above', () => {
    const x = createDhKeyPair();
    const key = (v: bigint): Buffer => Buffer.from(v.toString(16).padStart(192, '0'), 'hex');
    const p = BigInt(`0x${MSE_PRIME.toString('hex')}`);
    for (const bad of [0n, 1n, p - 1n, p, p + 5n, (1n << 768n) - 1n]) {
      expect(() => x.secret(key(bad))).toThrow(expect.objectContaining({ code: 'bad-public-key' }));
    }
    expect(x.secret(key(2n))).toHaveLength(96);
    expect(x.secret(key(p - 2n))).toHaveLength(96);
  });

  it.each([
    ['rc4', ['rc4', 'plaintext'], ['rc4']],
    ['plaintext', ['rc4', 'plaintext'], ['rc4', 'plaintext']],
    ['rc4', ['rc4'], ['rc4', 'plaintext']],
  ] as const)('negotiates %s (provided %j, allowed %j), the initial payload and the streams after it', (method, provide, allow) => {
    for (const cut of [1, 7, 100, 1 << 20]) {
      const a = new MseInitiator({ infoHash, provide, initialPayload: bt, padLength: () => 100 });
      const { a: ra, b: rb } = run(a, responder([...allow]), cut);
      expect(ra.method).toBe(method);
      expect(rb.method).toBe(method);
      expect(Buffer.from(rb.infoHash)).toEqual(infoHash);
      expect(Buffer.from(rb.payload)).toEqual(bt);
      // The streams continue both ways: RC4 or nothing.
      const msg = Buffer.from('after the handshake');
      const onWire = ra.encrypt ? ra.encrypt.update(msg) : msg;
      expect(Buffer.from(onWire).equals(msg)).toBe(method === 'plaintext');
      expect(Buffer.from(rb.decrypt ? rb.decrypt.update(onWire) : onWire)).toEqual(msg);
      const back = rb.encrypt ? rb.encrypt.update(msg) : msg;
      expect(Buffer.from(ra.decrypt ? ra.decrypt.update(back) : back)).toEqual(msg);
    }
  });

  it('hands over payload that came in the same read as the end of the handshake', () => {
    const a = new MseInitiator({ infoHash, provide: ['rc4'], initialPayload: new Uint8Array(0), padLength: () => 0 });
    const b = responder(['rc4'], () => 512);
    const s1 = b.receive(a.start());
    const s2 = a.receive(Buffer.concat(s1.send));
    const ia = Buffer.from('the handshake came after IA, not inside it');
    // A's step 3, then payload encrypted with the same stream, all in one read.
    const a3 = s2.send;
    expect(s2.done).toBeUndefined();
    const done = b.receive(Buffer.concat(a3));
    expect(done.done!.payload).toHaveLength(0);
    const toA = Buffer.concat([...done.send, done.done!.encrypt!.update(ia)]);
    const ra = a.receive(toA).done!;
    expect(Buffer.from(ra.payload)).toEqual(ia);
  });

  it('refuses a torrent it does not have, and a method it does not allow, by name', () => {
    const unknown = new MseInitiator({ infoHash: sha1('not ours'), provide: ['rc4'], initialPayload: bt });
    expect(() => run(unknown, responder(['rc4']))).toThrow(expect.objectContaining({ code: 'unknown-torrent' }));
    const plainOnly = new MseInitiator({ infoHash, provide: ['plaintext'], initialPayload: bt });
    expect(() => run(plainOnly, responder(['rc4']))).toThrow(expect.objectContaining({ code: 'no-common-method' }));
  });

  it('gives up when the sync value is not within 512 bytes of the key', () => {
    const b = responder(['rc4']);
    b.receive(Buffer.alloc(96, 5));
    expect(() => b.receive(Buffer.alloc(531, 1))).not.toThrow();
    expect(() => b.receive(Buffer.alloc(1, 1))).toThrow(MseError);
    const a = new MseInitiator({ infoHash, provide: ['rc4'], initialPayload: bt });
    a.start();
    expect(() => a.receive(Buffer.alloc(96 + 520, 3))).toThrow(expect.objectContaining({ code: 'no-sync' }));
  });

  it('refuses a public key outside the group', () => {
    const b = responder(['rc4']);
    expect(() => b.receive(Buffer.alloc(96, 0))).toThrow(expect.objectContaining({ code: 'bad-public-key' }));
  });

  it('tells a plain handshake from an encrypted one by its first bytes', () => {
    expect(maybePlainHandshake(bt.subarray(0, 1))).toBe(true);
    expect(maybePlainHandshake(bt)).toBe(true);
    expect(maybePlainHandshake(Buffer.from([19, 66, 105, 0]))).toBe(false);
    expect(maybePlainHandshake(Buffer.from([0x8f]))).toBe(false);
  });
});
