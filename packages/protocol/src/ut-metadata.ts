import { createHash } from 'node:crypto';
import { BencodeError, decodeBencodePrefix, encodeBencode, isDict, isInt, type BValue } from './bencode.js';
import { ProtocolError } from './errors.js';

/**
 * The metadata exchange (BEP 9): how a client that knows only an info hash
 * (a magnet link) gets the info dictionary from its peers, over the
 * `ut_metadata` extension of BEP 10.
 *
 * The info dictionary ("the metadata") is cut into 16 KiB pieces, the last
 * one shorter. Each message is a bencoded dictionary, and a data message is
 * followed by the raw bytes of its piece:
 *
 *     request  d8:msg_typei0e5:piecei<n>ee
 *     data     d8:msg_typei1e5:piecei<n>e10:total_sizei<size>ee<piece bytes>
 *     reject   d8:msg_typei2e5:piecei<n>ee
 *
 * Nothing but the SHA-1 of the whole assembled dictionary (it must be the
 * info hash) says the bytes are right, so every piece is only provisionally
 * good until the last one is in; `MetadataAssembler` does that check.
 *
 * These functions take and answer the payload of an extended message (after
 * the extended id byte); framing it, and knowing which id the peer wants
 * ut_metadata under, is the wire codec's and the session's job.
 */

/** The extension's name in the BEP 10 `m` dictionary. */
export const UT_METADATA = 'ut_metadata';
/** Every metadata piece is this long except the last (BEP 9). */
export const METADATA_PIECE_LENGTH = 16 * 1024;
/**
 * The largest metadata we accept by default. BEP 9 sets no bound, but we
 * allocate `metadata_size` bytes on a peer's word: 16 MiB is the most
 * parseMetainfo accepts for a whole .torrent (whose info dict is in it), and
 * far more than a torrent of a million files needs.
 */
export const MAX_METADATA_SIZE = 16 * 1024 * 1024;

export type UtMetadataErrorCode =
  /** The message does not start with valid bencode; `cause` is the BencodeError. */
  | 'UT_METADATA_BENCODE'
  /** The bencoded value is not a dictionary. */
  | 'UT_METADATA_NOT_A_DICT'
  /** `msg_type` is missing or not a non-negative integer. */
  | 'UT_METADATA_BAD_MSG_TYPE'
  /** `piece` is missing, not a non-negative integer, or past the last piece of the metadata. */
  | 'UT_METADATA_BAD_PIECE'
  /** A request or reject carries bytes after its dictionary; only data messages do. */
  | 'UT_METADATA_TRAILING_DATA'
  /** A data message's `total_size` is missing, out of bounds, or not the size already agreed. */
  | 'UT_METADATA_BAD_TOTAL_SIZE'
  /** A `metadata_size` (or the size given to us) is not in 1..the maximum. */
  | 'UT_METADATA_BAD_SIZE'
  /** A data message's bytes are not exactly the size of its piece. */
  | 'UT_METADATA_BAD_DATA_LENGTH'
  /** The assembled metadata's SHA-1 is not the info hash. */
  | 'UT_METADATA_HASH_MISMATCH'
  /** Our own caller asked to encode a value the message cannot carry. */
  | 'UT_METADATA_BAD_FIELD';

export class UtMetadataError extends ProtocolError {
  override name = 'UtMetadataError';
  declare readonly code: UtMetadataErrorCode;
  /** The metadata piece concerned, when there is one. */
  readonly piece: number | undefined;

  constructor(code: UtMetadataErrorCode, message: string, details: { piece?: number; cause?: unknown } = {}) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.piece = details.piece;
  }
}

export const UtMetadataType = { request: 0, data: 1, reject: 2 } as const;

export type UtMetadataMessage =
  | { type: 'request'; piece: number }
  /** `data` is a view into the decoded payload: copy it if the buffer will be reused. */
  | { type: 'data'; piece: number; totalSize: number; data: Uint8Array }
  | { type: 'reject'; piece: number }
  /** A msg_type BEP 9 does not define; BEP 9 says it MUST be ignored, so it is not an error. */
  | { type: 'unknown'; msgType: number };

export type UtMetadataOutgoing = Exclude<UtMetadataMessage, { type: 'unknown' }>;

// ---- geometry ----

/** Answers `size` when it is a metadata size we accept; throws UT_METADATA_BAD_SIZE otherwise. */
export function checkMetadataSize(size: number, max = MAX_METADATA_SIZE): number {
  if (!Number.isSafeInteger(size) || size < 1 || size > max) {
    throw new UtMetadataError('UT_METADATA_BAD_SIZE', `metadata size ${size} is not in 1..${max}`);
  }
  return size;
}

/** How many 16 KiB pieces metadata of `size` bytes has. */
export function metadataPieceCount(size: number): number {
  return Math.ceil(size / METADATA_PIECE_LENGTH);
}

/** The length of piece `piece` of metadata of `size` bytes; throws UT_METADATA_BAD_PIECE past the end. */
export function metadataPieceSize(size: number, piece: number): number {
  const count = metadataPieceCount(size);
  if (!Number.isSafeInteger(piece) || piece < 0 || piece >= count) {
    throw new UtMetadataError('UT_METADATA_BAD_PIECE', `piece ${piece} is not in 0..${count - 1} (metadata of ${size} bytes)`, { piece });
  }
  return piece === count - 1 ? size - piece * METADATA_PIECE_LENGTH : METADATA_PIECE_LENGTH;
}

/** Piece `piece` of `metadata`, a view, for serving it. */
export function metadataPiece(metadata: Uint8Array, piece: number): Uint8Array {
  const length = metadataPieceSize(metadata.length, piece);
  const start = piece * METADATA_PIECE_LENGTH;
  return metadata.subarray(start, start + length);
}

// ---- encoding ----

/** The payload of a ut_metadata message (without the BEP 10 framing). */
export function encodeUtMetadata(m: UtMetadataOutgoing): Buffer {
  checkUint('piece', m.piece);
  if (m.type !== 'data') {
    return toBuffer(encodeBencode(new Map([['msg_type', UtMetadataType[m.type]], ['piece', m.piece]])));
  }
  checkUint('totalSize', m.totalSize);
  // The peer checks the exact length against total_size; a wrong one would
  // get us dropped, so our own bug should fail here instead.
  let expected: number;
  try {
    expected = metadataPieceSize(m.totalSize, m.piece);
  } catch (err) {
    throw new UtMetadataError('UT_METADATA_BAD_FIELD', `cannot encode: ${(err as Error).message}`, { piece: m.piece });
  }
  if (m.data.length !== expected) {
    throw new UtMetadataError('UT_METADATA_BAD_FIELD', `piece ${m.piece} of ${m.totalSize} bytes is ${expected} bytes, not ${m.data.length}`, {
      piece: m.piece,
    });
  }
  const head = encodeBencode(new Map([['msg_type', UtMetadataType.data], ['piece', m.piece], ['total_size', m.totalSize]]));
  const out = Buffer.allocUnsafe(head.length + m.data.length);
  out.set(head, 0);
  out.set(m.data, head.length);
  return out;
}

function checkUint(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new UtMetadataError('UT_METADATA_BAD_FIELD', `${field} must be a non-negative integer, got ${value}`);
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---- decoding ----

/**
 * The dictionary is flat; a few levels and items leave room for keys other
 * clients add, and stop a nesting or item bomb long before it costs anything.
 */
const HEADER_LIMITS = { maxDepth: 4, maxItems: 64 };

export interface UtMetadataDecodeOptions {
  /** The largest `total_size` accepted (default MAX_METADATA_SIZE). */
  maxMetadataSize?: number;
}

/**
 * Decodes the payload of one ut_metadata message. A data message is checked
 * against its own `total_size`: the size within bounds, the piece within
 * the metadata, and exactly that piece's length of bytes. Whether that size
 * is the one the peer advertised is the assembler's check.
 *
 * Unknown keys are ignored (clients add their own); an unknown msg_type is
 * answered as `unknown`, as BEP 9 asks. Everything else wrong is a
 * UtMetadataError: the peer broke the protocol.
 */
export function decodeUtMetadata(payload: Uint8Array, options: UtMetadataDecodeOptions = {}): UtMetadataMessage {
  let root: BValue;
  let used: number;
  try {
    ({ value: root, used } = decodeBencodePrefix(payload, HEADER_LIMITS));
  } catch (err) {
    if (!(err instanceof BencodeError)) throw err;
    throw new UtMetadataError('UT_METADATA_BENCODE', `ut_metadata message is not valid bencode: ${err.message}`, { cause: err });
  }
  if (!isDict(root)) throw new UtMetadataError('UT_METADATA_NOT_A_DICT', 'ut_metadata message is not a dictionary');
  const msgType = root.get('msg_type');
  if (!isInt(msgType) || msgType < 0) {
    throw new UtMetadataError('UT_METADATA_BAD_MSG_TYPE', msgType === undefined ? "ut_metadata message has no 'msg_type'" : "'msg_type' is not a non-negative integer");
  }
  if (msgType > UtMetadataType.reject) return { type: 'unknown', msgType };

  const piece = root.get('piece');
  if (!isInt(piece) || piece < 0) {
    throw new UtMetadataError('UT_METADATA_BAD_PIECE', piece === undefined ? "ut_metadata message has no 'piece'" : "'piece' is not a non-negative integer");
  }
  if (msgType !== UtMetadataType.data) {
    if (used !== payload.length) {
      throw new UtMetadataError('UT_METADATA_TRAILING_DATA', `${payload.length - used} bytes after a ${msgType === 0 ? 'request' : 'reject'} message`, { piece });
    }
    return { type: msgType === UtMetadataType.request ? 'request' : 'reject', piece };
  }

  const totalSize = root.get('total_size');
  const max = options.maxMetadataSize ?? MAX_METADATA_SIZE;
  if (!isInt(totalSize) || totalSize < 1 || totalSize > max) {
    throw new UtMetadataError(
      'UT_METADATA_BAD_TOTAL_SIZE',
      totalSize === undefined ? "data message has no 'total_size'" : `data message 'total_size' ${String(totalSize)} is not an integer in 1..${max}`,
      { piece },
    );
  }
  const expected = metadataPieceSize(totalSize, piece);
  const data = payload.subarray(used);
  if (data.length !== expected) {
    throw new UtMetadataError(
      'UT_METADATA_BAD_DATA_LENGTH',
      `data for piece ${piece} is ${data.length} bytes; piece ${piece} of ${totalSize} bytes is ${expected}`,
      { piece },
    );
  }
  return { type: 'data', piece, totalSize, data };
}

// ---- assembly ----

/**
 * Collects the pieces of one torrent's metadata and checks the result.
 *
 * The size is checked before the buffer is allocated for it. A piece is
 * taken once (a second copy, from an endgame-like re-ask, is ignored), and
 * must agree with the size: a peer that advertised one size and sends
 * pieces of another is lying or broken.
 */
export class MetadataAssembler {
  readonly infoHash: Uint8Array;
  readonly size: number;
  readonly pieceCount: number;
  private readonly buffer: Uint8Array;
  private readonly got: Uint8Array;
  private received = 0;

  constructor(infoHash: Uint8Array, size: number, maxSize = MAX_METADATA_SIZE) {
    if (infoHash.length !== 20) throw new UtMetadataError('UT_METADATA_BAD_FIELD', `info hash must be 20 bytes, got ${infoHash.length}`);
    this.infoHash = Uint8Array.from(infoHash);
    this.size = checkMetadataSize(size, maxSize);
    this.pieceCount = metadataPieceCount(size);
    this.buffer = new Uint8Array(size);
    this.got = new Uint8Array(this.pieceCount);
  }

  has(piece: number): boolean {
    return this.got[piece] === 1;
  }

  get receivedCount(): number {
    return this.received;
  }

  get isComplete(): boolean {
    return this.received === this.pieceCount;
  }

  /** Pieces not received yet, in order. */
  missing(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.pieceCount; i++) if (this.got[i] === 0) out.push(i);
    return out;
  }

  /**
   * Takes one data message (its bytes are copied). Answers false for a
   * piece already held. Throws UT_METADATA_BAD_TOTAL_SIZE, _BAD_PIECE or
   * _BAD_DATA_LENGTH when the message does not fit this metadata.
   */
  receive(m: { piece: number; totalSize: number; data: Uint8Array }): boolean {
    if (m.totalSize !== this.size) {
      throw new UtMetadataError('UT_METADATA_BAD_TOTAL_SIZE', `data message says total_size ${m.totalSize}, but the metadata is ${this.size} bytes`, {
        piece: m.piece,
      });
    }
    const expected = metadataPieceSize(this.size, m.piece);
    if (m.data.length !== expected) {
      throw new UtMetadataError('UT_METADATA_BAD_DATA_LENGTH', `data for piece ${m.piece} is ${m.data.length} bytes, not ${expected}`, {
        piece: m.piece,
      });
    }
    if (this.got[m.piece] === 1) return false;
    this.buffer.set(m.data, m.piece * METADATA_PIECE_LENGTH);
    this.got[m.piece] = 1;
    this.received++;
    return true;
  }

  /**
   * Once every piece is in: the metadata, when its SHA-1 is the info hash.
   * On a mismatch it throws UT_METADATA_HASH_MISMATCH and forgets every
   * piece, since nothing tells which of them was wrong.
   */
  finish(): Uint8Array {
    if (!this.isComplete) {
      throw new UtMetadataError('UT_METADATA_BAD_FIELD', `metadata has ${this.received} of ${this.pieceCount} pieces; finish() needs them all`);
    }
    const digest = createHash('sha1').update(this.buffer).digest();
    if (Buffer.compare(digest, this.infoHash) !== 0) {
      this.reset();
      throw new UtMetadataError(
        'UT_METADATA_HASH_MISMATCH',
        `the ${this.size} bytes of metadata hash to ${digest.toString('hex')}, not the info hash ${Buffer.from(this.infoHash).toString('hex')}`,
      );
    }
    return this.buffer;
  }

  /** Forgets every piece received. */
  reset(): void {
    this.got.fill(0);
    this.received = 0;
  }
}
