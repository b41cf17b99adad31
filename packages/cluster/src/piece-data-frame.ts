/**
 * The wire format of the direct piece-data path (SEEDBOX_PIECE_DATA=direct):
 * a pure codec, no sockets. piece-data-links.ts writes it (the worker's end),
 * piece-data-listener.ts reads it (the writer's end).
 *
 * A connection opens with a preamble from the worker, so that a stranger
 * (a port scan, an HTTP probe, a BitTorrent peer on the wrong port) or an
 * older protocol is refused at its first byte instead of being read as a
 * length:
 *
 *   magic 'SBPD' (4 bytes) | version u8 (1)
 *
 * then frames, one per piece, back to back:
 *
 *   idLength u8 (1..255) | writeId (idLength bytes, printable ASCII) |
 *   length u32 BE (1..maxPieceLength) | length raw bytes
 *
 * The write id is the one the offer carried over NATS: it is how the writer
 * ties these bytes to the offer it accepted, and so the only metadata here.
 * No encoding and no checksum: the writer checks the piece's SHA-1 anyway.
 *
 * Every length is checked before anything is allocated for it: the decoder
 * keeps a fixed 260-byte header buffer, and the body is never buffered by
 * the decoder at all (it hands out views of the caller's chunks, or the
 * caller reads the body straight into its own buffer: takeBody).
 */

export const PIECE_DATA_MAGIC: Uint8Array = Uint8Array.of(0x53, 0x42, 0x50, 0x44); // 'SBPD'
export const PIECE_DATA_VERSION = 1;
/** Magic and version. */
export const PIECE_DATA_PREAMBLE_LENGTH = PIECE_DATA_MAGIC.length + 1;
export const MAX_WRITE_ID_LENGTH = 255;
/** As piece-write-server.ts: BEP 3 allows any power of two; clients cap at 16–64 MiB. */
export const DEFAULT_MAX_PIECE_LENGTH = 256 * 1024 * 1024;
/** What a u32 length can say. */
const U32_MAX = 0xffff_ffff;

/** Which rule of the format a stream or a value broke. */
export type PieceDataFrameRule =
  /** The stream does not start with 'SBPD': not a seedbox worker. */
  | 'bad-magic'
  /** A seedbox worker speaking another version of this format. */
  | 'bad-version'
  /** A write id of length 0. */
  | 'empty-write-id'
  /** A write id over 255 bytes (the encoder's rule: the u8 cannot say more). */
  | 'write-id-too-long'
  /** A write id byte outside printable ASCII (0x20..0x7e). */
  | 'non-printable-write-id'
  /** A piece of 0 bytes: no piece is empty. */
  | 'empty-piece'
  /** A piece longer than the maximum piece length. */
  | 'piece-too-long'
  /** A length that is no integer at all (the encoder's rule). */
  | 'bad-length';

export class PieceDataFrameError extends Error {
  override readonly name = 'PieceDataFrameError';
  constructor(
    readonly rule: PieceDataFrameRule,
    message: string,
  ) {
    super(message);
  }
}

/** The 5 bytes a worker sends first on every connection. */
export function encodePieceDataPreamble(): Buffer {
  const b = Buffer.allocUnsafe(PIECE_DATA_PREAMBLE_LENGTH);
  b.set(PIECE_DATA_MAGIC, 0);
  b[PIECE_DATA_MAGIC.length] = PIECE_DATA_VERSION;
  return b;
}

/**
 * A frame's header (at most 260 bytes); the piece's `length` bytes follow
 * it. Throws PieceDataFrameError for a write id or length the decoder would
 * refuse, so a bad value fails at the sender, not as a dropped connection.
 */
export function encodePieceDataFrameHeader(writeId: string, length: number, maxPieceLength = DEFAULT_MAX_PIECE_LENGTH): Buffer {
  checkWriteId(writeId);
  checkLength(length, maxPieceLength);
  const b = Buffer.allocUnsafe(1 + writeId.length + 4);
  b[0] = writeId.length;
  b.write(writeId, 1, 'latin1'); // checked ASCII: one byte per character
  b.writeUInt32BE(length, 1 + writeId.length);
  return b;
}

/** The start of a frame: allocate `length` bytes for it only after checking writeId against what you expect. */
export interface PieceDataFrameStart {
  readonly kind: 'frame';
  readonly writeId: string;
  readonly length: number;
}

/** Next bytes of the current frame's body: a view of the chunk given to push(), valid until the next push(). */
export interface PieceDataBody {
  readonly kind: 'body';
  readonly bytes: Uint8Array;
  /** These are the body's last bytes. */
  readonly end: boolean;
}

export type PieceDataEvent = PieceDataFrameStart | PieceDataBody;

type Step = 'magic' | 'version' | 'id-length' | 'id' | 'length' | 'body';

/**
 * An incremental decoder for one connection, fed the socket's chunks as
 * they come, however they are split:
 *
 *   decoder.push(chunk);
 *   for (let e; (e = decoder.next()); ) ...
 *
 * next() returns the events in the chunk one by one, then undefined once the
 * chunk is used up, and throws PieceDataFrameError at the first byte that
 * breaks a rule (so the frames before it are still delivered). After an
 * error the decoder stays broken: the stream cannot be resynchronised.
 */
export class PieceDataDecoder {
  readonly maxPieceLength: number;
  private step: Step = 'magic';
  private chunk: Uint8Array | undefined;
  private at = 0;
  /** Bytes of the current field read so far (magic, write id or length). */
  private got = 0;
  private idLength = 0;
  private readonly id = new Uint8Array(MAX_WRITE_ID_LENGTH);
  private length = 0;
  private bodyLeft = 0;
  private failure: PieceDataFrameError | undefined;

  constructor(opts: { maxPieceLength?: number } = {}) {
    this.maxPieceLength = opts.maxPieceLength ?? DEFAULT_MAX_PIECE_LENGTH;
    if (!Number.isSafeInteger(this.maxPieceLength) || this.maxPieceLength < 1 || this.maxPieceLength > U32_MAX) {
      throw new RangeError(`maxPieceLength ${this.maxPieceLength} is not in 1..${U32_MAX}`);
    }
  }

  /** Inside a preamble or a frame: bytes are owed (the stall timeout applies, not the idle one). */
  get midFrame(): boolean {
    return this.step !== 'id-length' || this.got > 0;
  }

  /** Body bytes still to come for the current frame (0 outside a body). */
  get bodyRemaining(): number {
    return this.step === 'body' ? this.bodyLeft : 0;
  }

  /** The next chunk; call only once next() has returned undefined. */
  push(chunk: Uint8Array): void {
    if (this.chunk && this.at < this.chunk.byteLength) throw new Error('PieceDataDecoder.push before the previous chunk was used up');
    this.chunk = chunk;
    this.at = 0;
  }

  /**
   * `n` body bytes the caller read straight into its own buffer, past the
   * decoder (net.Socket's onread). Returns true when they end the body.
   */
  takeBody(n: number): boolean {
    if (this.step !== 'body' || (this.chunk && this.at < this.chunk.byteLength) || n < 0 || n > this.bodyLeft) {
      throw new Error(`PieceDataDecoder.takeBody(${n}) outside a body or past its end (${this.bodyRemaining} left)`);
    }
    this.bodyLeft -= n;
    if (this.bodyLeft > 0) return false;
    this.startHeader();
    return true;
  }

  next(): PieceDataEvent | undefined {
    if (this.failure) throw this.failure;
    const c = this.chunk;
    if (!c) return undefined;
    while (this.at < c.byteLength) {
      switch (this.step) {
        case 'magic': {
          const byte = c[this.at++]!;
          if (byte !== PIECE_DATA_MAGIC[this.got]) return this.fail('bad-magic', `the stream does not start with the piece-data magic (byte ${this.got} is 0x${hex(byte)})`);
          if (++this.got === PIECE_DATA_MAGIC.length) this.step = 'version';
          break;
        }
        case 'version': {
          const v = c[this.at++]!;
          if (v !== PIECE_DATA_VERSION) return this.fail('bad-version', `piece-data version ${v}; this side speaks ${PIECE_DATA_VERSION}`);
          this.startHeader();
          break;
        }
        case 'id-length': {
          this.idLength = c[this.at++]!;
          if (this.idLength === 0) return this.fail('empty-write-id', 'a frame with an empty write id');
          this.step = 'id';
          break;
        }
        case 'id': {
          // Checked as it comes: a binary stream fails at its first bad byte.
          const n = Math.min(this.idLength - this.got, c.byteLength - this.at);
          for (let i = 0; i < n; i++) {
            const byte = c[this.at + i]!;
            if (byte < 0x20 || byte > 0x7e) return this.fail('non-printable-write-id', `write id byte ${this.got + i} is 0x${hex(byte)}, not printable ASCII`);
          }
          this.id.set(c.subarray(this.at, this.at + n), this.got);
          this.at += n;
          this.got += n;
          if (this.got === this.idLength) {
            this.got = 0;
            this.length = 0;
            this.step = 'length';
          }
          break;
        }
        case 'length': {
          // Unsigned arithmetic: a leading 0x80 is 2 GiB, never a negative number.
          this.length = this.length * 256 + c[this.at++]!;
          if (++this.got < 4) break;
          const writeId = Buffer.from(this.id.buffer, this.id.byteOffset, this.idLength).toString('latin1');
          if (this.length === 0) return this.fail('empty-piece', `write id ${writeId}: a piece of 0 bytes`);
          if (this.length > this.maxPieceLength) return this.fail('piece-too-long', `write id ${writeId}: a piece of ${this.length} bytes, over the maximum of ${this.maxPieceLength}`);
          this.step = 'body';
          this.bodyLeft = this.length;
          return { kind: 'frame', writeId, length: this.length };
        }
        case 'body': {
          const n = Math.min(this.bodyLeft, c.byteLength - this.at);
          const bytes = c.subarray(this.at, this.at + n);
          this.at += n;
          this.bodyLeft -= n;
          const end = this.bodyLeft === 0;
          if (end) this.startHeader();
          return { kind: 'body', bytes, end };
        }
      }
    }
    return undefined;
  }

  private startHeader(): void {
    this.step = 'id-length';
    this.got = 0;
  }

  private fail(rule: PieceDataFrameRule, message: string): never {
    this.failure = new PieceDataFrameError(rule, message);
    throw this.failure;
  }
}

function checkWriteId(writeId: string): void {
  if (writeId.length === 0) throw new PieceDataFrameError('empty-write-id', 'a frame with an empty write id');
  if (writeId.length > MAX_WRITE_ID_LENGTH) throw new PieceDataFrameError('write-id-too-long', `write id of ${writeId.length} characters, over ${MAX_WRITE_ID_LENGTH}`);
  for (let i = 0; i < writeId.length; i++) {
    const code = writeId.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) throw new PieceDataFrameError('non-printable-write-id', `write id character ${i} is U+${code.toString(16).padStart(4, '0')}, not printable ASCII`);
  }
}

function checkLength(length: number, maxPieceLength: number): void {
  if (!Number.isSafeInteger(length) || length < 0) throw new PieceDataFrameError('bad-length', `piece length ${length} is not a byte count`);
  if (length === 0) throw new PieceDataFrameError('empty-piece', 'a piece of 0 bytes');
  const max = Math.min(maxPieceLength, U32_MAX);
  if (length > max) throw new PieceDataFrameError('piece-too-long', `a piece of ${length} bytes, over the maximum of ${max}`);
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
