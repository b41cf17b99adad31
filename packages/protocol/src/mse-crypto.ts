import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { ProtocolError } from './errors.js';

/**
 * The primitives of message stream encryption (MSE/PE): SHA-1 and RC4 from
 * Node's crypto (OpenSSL), and the Diffie-Hellman exchange in the 768-bit
 * group the protocol fixes, as BigInt modular powers. OpenSSL's DH object
 * checks the prime when it is made, 20-36 ms on the event loop before a
 * process's first encrypted handshake could go out; a BigInt power takes
 * 0.4 ms. Its time depends on the exponent's bits, which does not matter
 * here: MSE hides traffic from shaping and keeps nothing secret for long
 * (each connection's key pair is new), as its specification says.
 *
 * RC4 lives in OpenSSL 3's legacy provider, which Node loads only when
 * started with `--openssl-legacy-provider` (our launchers and images pass
 * it). `rc4Available()` says whether this process has it, so a start-up
 * can refuse an encryption policy it could not honour in one line.
 */

/** The group's prime P (768 bits) and generator G = 2, as the MSE specification fixes them. */
export const MSE_PRIME = Buffer.from(
  'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563',
  'hex',
);
export const MSE_GENERATOR = 2;
/** Public keys and the shared secret are 96 bytes, big-endian. */
export const MSE_KEY_LENGTH = 96;
/** Private exponents are 160 bits, as the specification suggests and libtorrent uses. */
export const MSE_PRIVATE_KEY_LENGTH = 20;
/** RC4 keystream bytes thrown away before use (the specification's RC4-drop1024). */
const RC4_DISCARD = 1024;

export class MseError extends ProtocolError {
  override name = 'MseError';
}

/** A cipher whose state runs on across calls: each byte is encrypted (or decrypted) once, in order. */
export interface StreamCipher {
  update(data: Uint8Array): Uint8Array;
}

let rc4Checked: boolean | undefined;

/** Whether this Node can make RC4 ciphers (needs OpenSSL's legacy provider). */
export function rc4Available(): boolean {
  if (rc4Checked === undefined) {
    try {
      createCipheriv('rc4', Buffer.alloc(16), null);
      rc4Checked = true;
    } catch {
      rc4Checked = false;
    }
  }
  return rc4Checked;
}

/** An RC4 stream keyed with `key`, its first 1024 keystream bytes already discarded. */
export function createRc4(key: Uint8Array): StreamCipher {
  if (!rc4Available()) throw new MseError('rc4-unavailable', 'RC4 is not available: start node with --openssl-legacy-provider');
  const cipher = createCipheriv('rc4', key, null);
  cipher.update(Buffer.alloc(RC4_DISCARD));
  return { update: (data) => cipher.update(data) };
}

export function sha1(...parts: (string | Uint8Array)[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(typeof p === 'string' ? Buffer.from(p, 'latin1') : p);
  return h.digest();
}

const P = toBigInt(MSE_PRIME);
const G = BigInt(MSE_GENERATOR);

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`);
}

/** 96 bytes, big-endian, left-padded: the form keys take on the wire and in the hashes. */
function toKeyBytes(value: bigint): Buffer {
  return Buffer.from(value.toString(16).padStart(MSE_KEY_LENGTH * 2, '0'), 'hex');
}

/** base^exponent mod P, by squaring. */
function powModP(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = base % P;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
  }
  return result;
}

export interface DhKeyPair {
  readonly publicKey: Uint8Array;
  /** The shared secret S with the other side's public key; a key outside (1, P-1) is an MseError. */
  secret(otherPublicKey: Uint8Array): Uint8Array;
}

/** A fresh key pair; `privateKey` is for tests (20 random bytes otherwise). */
export function createDhKeyPair(privateKey: Uint8Array = randomBytes(MSE_PRIVATE_KEY_LENGTH)): DhKeyPair {
  const x = toBigInt(privateKey);
  return {
    publicKey: toKeyBytes(powModP(G, x)),
    secret(other) {
      if (other.length !== MSE_KEY_LENGTH) throw new MseError('bad-public-key', `a public key is ${MSE_KEY_LENGTH} bytes, not ${other.length}`);
      const y = toBigInt(other);
      // 1, P-1 and anything outside the group would make the secret one an eavesdropper knows.
      if (y <= 1n || y >= P - 1n) throw new MseError('bad-public-key', "the peer's public key is outside the group (not within 1 < Y < P-1)");
      return toKeyBytes(powModP(y, x));
    },
  };
}
