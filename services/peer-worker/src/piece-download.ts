import { BLOCK_LENGTH } from '@seedbox/protocol';
import { pieceBuffers } from '@seedbox/runtime/piece-buffers';

const FREE = 0;
const REQUESTED = 1;
const RECEIVED = 2;

/**
 * One piece being downloaded: which of its 16 KiB blocks are free, asked
 * for, or here, and the bytes received so far.
 *
 * Blocks are received straight into one buffer per piece. That is the one
 * copy on the whole path (from the socket's read buffer), and it is needed
 * anyway because TCP reads do not line up with blocks. From there the
 * buffer is handed over whole: transferred (not copied) to a hash worker and
 * back, then given to writev.
 *
 * The buffer is an ordinary ArrayBuffer of its own, not shared memory: V8
 * copies into a SharedArrayBuffer several times slower than into ordinary
 * memory (measured: 0.75 s of the event loop per GiB), and an ArrayBuffer of
 * its own can be transferred to a worker thread without a copy.
 */
export class PieceDownload {
  readonly index: number;
  readonly size: number;
  readonly blockCount: number;
  readonly buffer: Uint8Array;
  private readonly state: Uint8Array;
  /** Outstanding requests per block: more than one only in endgame. */
  private readonly requests: Uint16Array;
  private received = 0;
  /** First block that may be free: blocks below it are all taken. */
  private freeHint = 0;
  /** Peers that sent at least one block of this piece, to blame on a hash failure. */
  readonly contributors = new Set<string>();

  constructor(index: number, size: number) {
    this.index = index;
    this.size = size;
    this.blockCount = Math.ceil(size / BLOCK_LENGTH);
    // Not zeroed: every byte is written by a block before the piece is used.
    // From the process's piece buffers: the sink gives it back once written (piece-buffers.ts).
    this.buffer = pieceBuffers.take(size);
    this.state = new Uint8Array(this.blockCount);
    this.requests = new Uint16Array(this.blockCount);
  }

  blockLength(block: number): number {
    return Math.min(BLOCK_LENGTH, this.size - block * BLOCK_LENGTH);
  }

  /** The next block nobody has asked for, or -1. */
  nextFree(): number {
    for (let b = this.freeHint; b < this.blockCount; b++) {
      if (this.state[b] === FREE) {
        this.freeHint = b;
        return b;
      }
    }
    this.freeHint = this.blockCount;
    return -1;
  }

  hasFree(): boolean {
    return this.nextFree() !== -1;
  }

  /** Asked for but not here yet: an endgame candidate. */
  isPending(block: number): boolean {
    return this.state[block] === REQUESTED;
  }

  markRequested(block: number): void {
    if (this.state[block] === FREE) this.state[block] = REQUESTED;
    this.requests[block]!++;
  }

  /**
   * A request for the block was cancelled, rejected, timed out or lost with
   * its peer. Answers whether that left the block free: nobody asked for it.
   */
  release(block: number): boolean {
    if (this.requests[block]! > 0) this.requests[block]!--;
    if (this.requests[block] !== 0 || this.state[block] !== REQUESTED) return false;
    this.state[block] = FREE;
    if (block < this.freeHint) this.freeHint = block;
    return true;
  }

  isReceived(block: number): boolean {
    return this.state[block] === RECEIVED;
  }

  requestCount(block: number): number {
    return this.requests[block]!;
  }

  /**
   * Stores a block. Answers false (and stores nothing) when the block is
   * already here: an endgame duplicate or a late answer to a timed-out
   * request that another peer already served.
   */
  receive(block: number, data: Uint8Array, from: string): boolean {
    if (this.state[block] === RECEIVED) return false;
    this.buffer.set(data, block * BLOCK_LENGTH);
    this.state[block] = RECEIVED;
    this.received++;
    this.contributors.add(from);
    return true;
  }

  get complete(): boolean {
    return this.received === this.blockCount;
  }

  get receivedBlocks(): number {
    return this.received;
  }

  /**
   * The piece for the disk-writer: the whole buffer as one block, which
   * writev splits at file boundaries. The sink takes ownership: it may
   * transfer the buffer to another thread, so nothing here reads it again.
   */
  blocks(): Uint8Array[] {
    return [this.buffer];
  }
}
