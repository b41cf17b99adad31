import { decodeHandshake, maybePlainHandshake, MseError, MseResponder, ProtocolError, type Handshake } from '@seedbox/protocol';
import type { PeerCipher } from '../peer-connection.js';
import { selectMethod, type EncryptionPolicy } from './encryption-policy.js';

/**
 * How an incoming connection opens, up to its BitTorrent handshake: a
 * plain one, or the encrypted (MSE) handshake first, told apart by the
 * first bytes (a plain handshake starts with 19, "BitTorrent protocol"; an
 * encrypted one with a random-looking public key). The policy decides
 * which are taken. At the end the listener has the handshake, which names
 * the torrent, the bytes that followed it in plain text, and the cipher
 * for the rest of the connection, if any.
 */

export type HandshakeRefusal = 'bad-handshake' | 'bad-encrypted-handshake' | 'unknown-torrent' | 'plaintext-refused' | 'encrypted-refused';

export interface IncomingOpening {
  handshake: Handshake;
  /** What came after the handshake, in plain text. */
  leftover: Uint8Array;
  /** Both directions' RC4 when that was negotiated; undefined for a plain stream. */
  cipher: PeerCipher | undefined;
  /** The connection opened with the encrypted handshake (whatever the method). */
  encrypted: boolean;
}

export type IncomingStep = { kind: 'need-more' } | { kind: 'refused'; reason: HandshakeRefusal; error?: Error } | { kind: 'done'; opening: IncomingOpening };

export interface IncomingHandshakeOptions {
  policy: EncryptionPolicy;
  /** Our info hash whose SHA-1('req2', hash) this is, if any (the encrypted handshake names its torrent so). */
  findInfoHash(req2: Uint8Array): Uint8Array | undefined;
  /** Writes the responder's answers to the socket. */
  send(bytes: Uint8Array): void;
}

/** "\x13BitTorrent protocol": seeing all of it (or a byte off it) decides. */
const PREFIX_LENGTH = 20;

export class IncomingHandshake {
  private readonly o: IncomingHandshakeOptions;
  private mode: 'sniff' | 'plain' | 'encrypted' | 'after-encrypted' = 'sniff';
  private buf: Buffer = Buffer.alloc(0);
  private responder: MseResponder | undefined;
  private cipher: PeerCipher | undefined;
  private encryptedHash: Uint8Array | undefined;

  constructor(options: IncomingHandshakeOptions) {
    this.o = options;
  }

  receive(chunk: Uint8Array): IncomingStep {
    try {
      return this.step(chunk);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      if (err instanceof MseError) return { kind: 'refused', reason: err.code === 'unknown-torrent' ? 'unknown-torrent' : 'bad-encrypted-handshake', error: err };
      return { kind: 'refused', reason: 'bad-handshake', error: err };
    }
  }

  private step(chunk: Uint8Array): IncomingStep {
    if (this.mode === 'encrypted') return this.encrypted(chunk);
    if (this.mode === 'after-encrypted' && this.cipher) chunk = this.cipher.decrypt.update(chunk);
    // Copied: the chunk may be a view into a reused read buffer.
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    if (this.mode === 'sniff') {
      if (!maybePlainHandshake(this.buf)) {
        if (this.o.policy === 'disable') return { kind: 'refused', reason: 'encrypted-refused' };
        this.mode = 'encrypted';
        this.responder = new MseResponder({ findInfoHash: (r) => this.o.findInfoHash(r), select: (bits) => selectMethod(this.o.policy, bits) });
        const first = this.buf;
        this.buf = Buffer.alloc(0);
        return this.encrypted(first);
      }
      if (this.buf.length < PREFIX_LENGTH) return { kind: 'need-more' };
      if (this.o.policy === 'require') return { kind: 'refused', reason: 'plaintext-refused' };
      this.mode = 'plain';
    }
    return this.decode();
  }

  private encrypted(chunk: Uint8Array): IncomingStep {
    const r = this.responder!.receive(chunk);
    for (const bytes of r.send) this.o.send(bytes);
    if (!r.done) return { kind: 'need-more' };
    const { encrypt, decrypt, infoHash, payload } = r.done;
    this.cipher = encrypt && decrypt ? { encrypt, decrypt } : undefined;
    this.encryptedHash = infoHash;
    this.mode = 'after-encrypted';
    this.responder = undefined;
    // Plain text already; it usually holds the whole handshake (sent as the initial payload).
    this.buf = Buffer.from(payload);
    return this.decode();
  }

  private decode(): IncomingStep {
    const r = decodeHandshake(this.buf);
    if (r.kind === 'need-more') return r;
    if (this.encryptedHash && Buffer.compare(Buffer.from(r.value.infoHash), Buffer.from(this.encryptedHash)) !== 0) {
      return { kind: 'refused', reason: 'bad-encrypted-handshake', error: new MseError('wrong-info-hash', 'the handshake inside the encrypted stream names another torrent') };
    }
    const encrypted = this.mode === 'after-encrypted';
    return { kind: 'done', opening: { handshake: r.value, leftover: this.buf.subarray(r.used), cipher: this.cipher, encrypted } };
  }
}
