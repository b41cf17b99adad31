import { CRYPTO_PLAINTEXT, CRYPTO_RC4, encodeHandshake, MseError, MseInitiator, MseResponder, sha1, type CryptoMethod } from '@seedbox/protocol';
import { IncomingHandshake } from '../../services/peer-worker/src/encryption/incoming-handshake.js';
import { captured } from '../seeds.js';
import { concat, once, type FuzzTarget } from '../target.js';

/**
 * Message stream encryption (MSE/PE), both sides, and the listener's first
 * look at an incoming connection. The keys are fixed here so that a seed is
 * a handshake that really completes against the side under test: mutations
 * then reach every field (the sync search, VC, crypto_provide, the pad and
 * IA lengths, the handshake inside the stream), not only the public key.
 * Each case feeds the input in two reads, cut where its first byte says.
 */

const INFO_HASH = sha1('fuzz: the torrent');
const A_KEY = sha1('fuzz: initiator private key');
const B_KEY = sha1('fuzz: responder private key');
const REQ2 = sha1('req2', INFO_HASH).toString('hex');
const btHandshake = encodeHandshake({ infoHash: INFO_HASH, peerId: sha1('fuzz: peer id'), extended: true, fast: true });

const select = (bits: number): CryptoMethod | undefined => (bits & CRYPTO_PLAINTEXT ? 'plaintext' : bits & CRYPTO_RC4 ? 'rc4' : undefined);
const responder = (): MseResponder =>
  new MseResponder({ findInfoHash: (r) => (Buffer.from(r).toString('hex') === REQ2 ? INFO_HASH : undefined), select, privateKey: B_KEY, padLength: () => 0 });
const initiator = (provide: CryptoMethod[]): MseInitiator =>
  new MseInitiator({ infoHash: INFO_HASH, provide, initialPayload: btHandshake, privateKey: A_KEY, padLength: () => 0 });

/** What the initiator sends (steps 1 and 3 and payload), and what the responder answers (step 2 and 4 and payload), for a run with the keys above. */
function conversations(): { toResponder: Uint8Array[]; toInitiator: Uint8Array[] } {
  const toResponder: Uint8Array[] = [];
  const toInitiator: Uint8Array[] = [];
  for (const [provide, pads] of [
    [['rc4', 'plaintext'], 0],
    [['rc4'], 37],
    [['plaintext'], 512],
  ] as const) {
    const a = new MseInitiator({ infoHash: INFO_HASH, provide: [...provide], initialPayload: btHandshake, privateKey: A_KEY, padLength: () => pads });
    const b = new MseResponder({ findInfoHash: () => INFO_HASH, select, privateKey: B_KEY, padLength: () => pads });
    const one = a.start();
    const two = b.receive(one).send;
    const three = a.receive(concat(...two)).send;
    const four = b.receive(concat(...three));
    toResponder.push(concat(one, ...three, new Uint8Array([0, 0, 0, 1, 2])));
    toInitiator.push(concat(...two, ...four.send, new Uint8Array([0, 0, 0, 1, 2])));
  }
  return { toResponder, toInitiator };
}

const seeds = once(() => {
  const c = conversations();
  return [...captured('mse'), ...c.toResponder, ...c.toInitiator, btHandshake];
});

/** Feeds `input` in two reads, cut at a point its first byte picks. */
function feed(input: Uint8Array, receive: (chunk: Uint8Array) => boolean): void {
  const cut = input.length === 0 ? 0 : Math.min(input.length, (input[0]! * 7) % (input.length + 1));
  if (receive(input.subarray(0, cut))) return;
  receive(input.subarray(cut));
}

export const mse: FuzzTarget = {
  name: 'mse',
  covers:
    'MseResponder.receive and MseInitiator.receive (the encrypted handshake both ways, with fixed keys so seeds complete) and the listener\'s IncomingHandshake (plain or encrypted, each policy)',
  seeds,
  tokens: ['\x13BitTorrent protocol', '\x00\x00\x00\x00\x00\x00\x00\x00', '\x00\x00\x00\x02', '\x00\x00\x00\x03', '\x02\x00', '\xff\xff'],
  maxInputBytes: 4096,
  run(input) {
    const outcomes: string[] = [];
    const b = responder();
    try {
      let done = false;
      feed(input, (chunk) => (done = b.receive(chunk).done !== undefined));
      outcomes.push(done ? 'responder done' : 'responder need-more');
    } catch (e) {
      if (!(e instanceof MseError)) throw e;
      outcomes.push(`responder ${e.code}`);
    }
    const a = initiator(['rc4', 'plaintext']);
    a.start();
    try {
      let done = false;
      feed(input, (chunk) => (done = a.receive(chunk).done !== undefined));
      outcomes.push(done ? 'initiator done' : 'initiator need-more');
    } catch (e) {
      if (!(e instanceof MseError)) throw e;
      outcomes.push(`initiator ${e.code}`);
    }
    for (const policy of ['prefer', 'require', 'disable'] as const) {
      const h = new IncomingHandshake({ policy, findInfoHash: (r) => (Buffer.from(r).toString('hex') === REQ2 ? INFO_HASH : undefined), send: () => {} });
      // It answers need-more, refused or done; anything thrown is a bug (a ProtocolError escaping included).
      feed(input, (chunk) => h.receive(chunk).kind !== 'need-more');
    }
    return outcomes.join(', ');
  },
  isTypedError: (e) => e instanceof MseError,
};
