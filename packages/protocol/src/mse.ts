import { randomBytes, randomInt } from 'node:crypto';
import { createDhKeyPair, createRc4, MSE_KEY_LENGTH, MseError, sha1, type DhKeyPair, type StreamCipher } from './mse-crypto.js';

/**
 * Message stream encryption (MSE/PE), the handshake that precedes the
 * BitTorrent one when a peer wants its traffic obfuscated. Sans-I/O: each
 * side is fed the bytes that arrived and answers the bytes to send, and at
 * the end the ciphers for the rest of the connection.
 *
 *   1 A→B  Ya, PadA
 *   2 B→A  Yb, PadB
 *   3 A→B  HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
 *          ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
 *   4 B→A  ENCRYPT(VC, crypto_select, len(PadD), PadD), ENCRYPT2(payload)
 *   5 A→B  ENCRYPT2(payload)
 *
 * Y are Diffie-Hellman public keys, S the shared secret, SKEY the info
 * hash, VC eight zero bytes, HASH SHA-1, ENCRYPT RC4 keyed with
 * HASH('keyA', S, SKEY) from A and HASH('keyB', S, SKEY) from B. ENCRYPT2
 * is the same RC4 stream when RC4 was selected, nothing when plaintext was.
 * The random pads make the stream look random from its first byte, so each
 * side finds where the other's pad ends by searching for a value only the
 * holder of S can compute (req1, or the encrypted VC), within a bound.
 *
 * Every length is checked before anything is buffered for it, and all a
 * handshake ever holds is bounded (about 1.2 KiB, plus the initial payload
 * whose 16-bit length is known before it is read).
 */

export type CryptoMethod = 'plaintext' | 'rc4';
export const CRYPTO_PLAINTEXT = 0x01;
export const CRYPTO_RC4 = 0x02;
/** PadA..PadD are at most this long. */
export const MSE_MAX_PAD = 512;
const VC_LENGTH = 8;
const HASH_LENGTH = 20;

export function methodBits(methods: readonly CryptoMethod[]): number {
  return methods.reduce((bits, m) => bits | (m === 'rc4' ? CRYPTO_RC4 : CRYPTO_PLAINTEXT), 0);
}

/** Where a handshake ended: the ciphers for the rest of the connection (none for plaintext). */
export interface MseOutcome {
  method: CryptoMethod;
  /** For what we send from here on. */
  encrypt: StreamCipher | undefined;
  /** For what we receive from here on. */
  decrypt: StreamCipher | undefined;
  /** The info hash the initiator named (SKEY). */
  infoHash: Uint8Array;
  /**
   * The payload that came with the handshake, in plain text: for the
   * responder the initiator's initial payload (IA, usually its BitTorrent
   * handshake) and whatever followed; for the initiator whatever followed
   * the responder's PadD.
   */
  payload: Uint8Array;
}

export interface MseStep {
  /** Bytes to send now, in order (may be empty). */
  send: Uint8Array[];
  /** Set once the handshake is complete; nothing more is to be fed. */
  done?: MseOutcome;
}

export interface MseOptions {
  /** Pad lengths (0..512) and the private key; random unless a test fixes them. */
  padLength?: () => number;
  privateKey?: Uint8Array;
}

const randomPadLength = (): number => randomInt(0, MSE_MAX_PAD + 1);

/**
 * The bytes received and not yet used. `take` hands out the next n bytes,
 * decrypted by `cipher` when one is given: each byte is decrypted once,
 * exactly when its field is read, because after the handshake's end the
 * stream may be plaintext.
 */
class Inbox {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): void {
    // Copies: the chunk may be a view into a read buffer that is reused.
    this.buf = Buffer.concat([this.buf, chunk]);
  }

  get length(): number {
    return this.buf.length;
  }

  /**
   * Skips the random pad up to and past `marker`, which must start within
   * the pad's 512 bytes: true once past it, false while more bytes may
   * still bring it, an MseError 'no-sync' when they cannot.
   */
  syncPast(marker: Uint8Array, what: string): boolean {
    const within = MSE_MAX_PAD + marker.length;
    const at = this.buf.subarray(0, within).indexOf(marker);
    if (at >= 0) {
      this.skip(at + marker.length);
      return true;
    }
    if (this.buf.length >= within) throw new MseError('no-sync', `no ${what} within ${MSE_MAX_PAD} bytes of the public key`);
    return false;
  }

  take(n: number, cipher?: StreamCipher): Uint8Array | undefined {
    if (this.buf.length < n) return undefined;
    const raw = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return cipher ? cipher.update(raw) : Buffer.from(raw);
  }

  skip(n: number): void {
    this.buf = this.buf.subarray(n);
  }

  rest(cipher?: StreamCipher): Uint8Array {
    return this.take(this.buf.length, cipher)!;
  }
}

function pad(o: MseOptions): Buffer {
  return randomBytes((o.padLength ?? randomPadLength)());
}

function keyStreams(secret: Uint8Array, infoHash: Uint8Array): { a: StreamCipher; b: StreamCipher } {
  return { a: createRc4(sha1('keyA', secret, infoHash)), b: createRc4(sha1('keyB', secret, infoHash)) };
}

function xor(a: Uint8Array, b: Uint8Array): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

function checkPadLength(field: string, n: number): void {
  if (n > MSE_MAX_PAD) throw new MseError('bad-pad-length', `${field} is ${n} bytes, over the ${MSE_MAX_PAD} allowed`);
}

export interface MseInitiatorOptions extends MseOptions {
  infoHash: Uint8Array;
  /** The methods we accept, from which the responder picks one. */
  provide: readonly CryptoMethod[];
  /** Sent encrypted in step 3 (IA): our BitTorrent handshake, saving a round trip. */
  initialPayload: Uint8Array;
}

/** Side A: the one that dialled. */
export class MseInitiator {
  private readonly o: MseInitiatorOptions;
  private readonly keys: DhKeyPair;
  private readonly inbox = new Inbox();
  private state: 'public-key' | 'sync' | 'select' | 'pad' | 'done' = 'public-key';
  private encrypt: StreamCipher | undefined;
  private decrypt: StreamCipher | undefined;
  private expectedVc: Uint8Array | undefined;
  private selected: CryptoMethod | undefined;
  private padDLength = 0;

  constructor(options: MseInitiatorOptions) {
    if (options.provide.length === 0) throw new MseError('no-method', 'no crypto method to provide');
    if (options.initialPayload.length > 0xffff) throw new MseError('bad-ia-length', 'the initial payload is over 65535 bytes');
    this.o = options;
    this.keys = createDhKeyPair(options.privateKey);
  }

  /** Step 1: Ya and PadA. */
  start(): Uint8Array {
    return Buffer.concat([this.keys.publicKey, pad(this.o)]);
  }

  receive(chunk: Uint8Array): MseStep {
    if (this.state === 'done') throw new MseError('after-done', 'bytes fed to a finished handshake');
    this.inbox.push(chunk);
    const send: Uint8Array[] = [];
    if (this.state === 'public-key') {
      const yb = this.inbox.take(MSE_KEY_LENGTH);
      if (!yb) return { send };
      send.push(this.step3(yb));
      this.state = 'sync';
    }
    if (this.state === 'sync') {
      // B's pad ends where its encrypted VC starts.
      if (!this.inbox.syncPast(this.expectedVc!, 'encrypted VC')) return { send };
      this.state = 'select';
    }
    if (this.state === 'select') {
      const fields = this.inbox.take(4 + 2, this.decrypt);
      if (!fields) return { send };
      const view = Buffer.from(fields);
      const select = view.readUInt32BE(0);
      const provided = methodBits(this.o.provide);
      if (select !== CRYPTO_PLAINTEXT && select !== CRYPTO_RC4) throw new MseError('bad-select', `crypto_select ${select} is not one method`);
      if ((select & provided) === 0) throw new MseError('bad-select', `the peer selected ${select}, which we did not provide (${provided})`);
      this.selected = select === CRYPTO_RC4 ? 'rc4' : 'plaintext';
      this.padDLength = view.readUInt16BE(4);
      checkPadLength('PadD', this.padDLength);
      this.state = 'pad';
    }
    if (this.state === 'pad') {
      if (!this.inbox.take(this.padDLength, this.decrypt)) return { send };
      this.state = 'done';
      const rc4 = this.selected === 'rc4';
      return {
        send,
        done: {
          method: this.selected!,
          encrypt: rc4 ? this.encrypt : undefined,
          decrypt: rc4 ? this.decrypt : undefined,
          infoHash: this.o.infoHash,
          payload: this.inbox.rest(rc4 ? this.decrypt : undefined),
        },
      };
    }
    return { send };
  }

  private step3(yb: Uint8Array): Uint8Array {
    const s = this.keys.secret(yb);
    const skey = this.o.infoHash;
    const { a, b } = keyStreams(s, skey);
    this.encrypt = a;
    this.decrypt = b;
    // What B's VC looks like encrypted: the first 8 bytes of its keystream.
    // Computing it advances `decrypt` past the VC, where reading resumes.
    this.expectedVc = Buffer.from(b.update(Buffer.alloc(VC_LENGTH)));
    const padC = pad(this.o);
    const header = Buffer.alloc(VC_LENGTH + 4 + 2 + padC.length + 2);
    header.writeUInt32BE(methodBits(this.o.provide), VC_LENGTH);
    header.writeUInt16BE(padC.length, VC_LENGTH + 4);
    padC.copy(header, VC_LENGTH + 6);
    header.writeUInt16BE(this.o.initialPayload.length, VC_LENGTH + 6 + padC.length);
    return Buffer.concat([
      sha1('req1', s),
      xor(sha1('req2', skey), sha1('req3', s)),
      a.update(header),
      a.update(this.o.initialPayload),
    ]);
  }
}

export interface MseResponderOptions extends MseOptions {
  /** The info hash whose HASH('req2', info hash) this is, among ours; undefined for none. */
  findInfoHash(req2: Uint8Array): Uint8Array | undefined;
  /** Picks one method from those the initiator provides (bits), or undefined to refuse. */
  select(provided: number): CryptoMethod | undefined;
}

/** Side B: the one that accepted the connection. */
export class MseResponder {
  private readonly o: MseResponderOptions;
  private readonly keys: DhKeyPair;
  private readonly inbox = new Inbox();
  private state: 'public-key' | 'sync' | 'skey' | 'provide' | 'pad' | 'payload' | 'done' = 'public-key';
  private secret: Uint8Array | undefined;
  private req1: Uint8Array | undefined;
  private infoHash: Uint8Array | undefined;
  private encrypt: StreamCipher | undefined;
  private decrypt: StreamCipher | undefined;
  private selected: CryptoMethod | undefined;
  private padCLength = 0;
  private iaLength = 0;

  constructor(options: MseResponderOptions) {
    this.o = options;
    this.keys = createDhKeyPair(options.privateKey);
  }

  receive(chunk: Uint8Array): MseStep {
    if (this.state === 'done') throw new MseError('after-done', 'bytes fed to a finished handshake');
    this.inbox.push(chunk);
    const send: Uint8Array[] = [];
    if (this.state === 'public-key') {
      const ya = this.inbox.take(MSE_KEY_LENGTH);
      if (!ya) return { send };
      this.secret = this.keys.secret(ya);
      this.req1 = sha1('req1', this.secret);
      send.push(Buffer.concat([this.keys.publicKey, pad(this.o)]));
      this.state = 'sync';
    }
    if (this.state === 'sync') {
      // A's pad ends where HASH('req1', S) starts.
      if (!this.inbox.syncPast(this.req1!, 'HASH(req1, S)')) return { send };
      this.state = 'skey';
    }
    if (this.state === 'skey') {
      const hidden = this.inbox.take(HASH_LENGTH);
      if (!hidden) return { send };
      const infoHash = this.o.findInfoHash(xor(hidden, sha1('req3', this.secret!)));
      if (!infoHash) throw new MseError('unknown-torrent', 'the stream names no torrent of ours');
      this.infoHash = infoHash;
      const { a, b } = keyStreams(this.secret!, infoHash);
      this.decrypt = a;
      this.encrypt = b;
      this.state = 'provide';
    }
    if (this.state === 'provide') {
      const fields = this.inbox.take(VC_LENGTH + 4 + 2, this.decrypt);
      if (!fields) return { send };
      const view = Buffer.from(fields);
      if (view.subarray(0, VC_LENGTH).some((b) => b !== 0)) throw new MseError('bad-vc', 'the verification constant is not zero: wrong key or not MSE');
      const provided = view.readUInt32BE(VC_LENGTH);
      const selected = this.o.select(provided);
      if (!selected) throw new MseError('no-common-method', `the peer provides crypto ${provided}, none of which we allow`);
      this.selected = selected;
      this.padCLength = view.readUInt16BE(VC_LENGTH + 4);
      checkPadLength('PadC', this.padCLength);
      this.state = 'pad';
    }
    if (this.state === 'pad') {
      // PadC, then len(IA); both known in size now.
      const padAndLength = this.inbox.take(this.padCLength + 2, this.decrypt);
      if (!padAndLength) return { send };
      this.iaLength = Buffer.from(padAndLength).readUInt16BE(this.padCLength);
      this.state = 'payload';
    }
    if (this.state === 'payload') {
      const ia = this.inbox.take(this.iaLength, this.decrypt);
      if (!ia) return { send };
      const rc4 = this.selected === 'rc4';
      const padD = pad(this.o);
      const header = Buffer.alloc(VC_LENGTH + 4 + 2 + padD.length);
      header.writeUInt32BE(rc4 ? CRYPTO_RC4 : CRYPTO_PLAINTEXT, VC_LENGTH);
      header.writeUInt16BE(padD.length, VC_LENGTH + 4);
      padD.copy(header, VC_LENGTH + 6);
      send.push(this.encrypt!.update(header));
      this.state = 'done';
      const after = this.inbox.rest(rc4 ? this.decrypt : undefined);
      return {
        send,
        done: {
          method: this.selected!,
          encrypt: rc4 ? this.encrypt : undefined,
          decrypt: rc4 ? this.decrypt : undefined,
          infoHash: this.infoHash!,
          payload: Buffer.concat([ia, after]),
        },
      };
    }
    return { send };
  }
}

/**
 * Whether the first bytes of an incoming connection can still be a plain
 * BitTorrent handshake (19, "BitTorrent protocol"). Anything else is taken
 * for MSE, whose first bytes are a random-looking public key.
 */
export function maybePlainHandshake(first: Uint8Array): boolean {
  const prefix = PLAIN_PREFIX;
  const n = Math.min(first.length, prefix.length);
  for (let i = 0; i < n; i++) if (first[i] !== prefix[i]) return false;
  return true;
}

const PLAIN_PREFIX = Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol', 'latin1')]);
