import { describe, expect, it } from 'vitest';
import { Bitfield, BLOCK_LENGTH, PieceGeometry } from '@seedbox/protocol';
import type { PieceSink } from '@seedbox/cluster';
import { DownloadScheduler } from '../src/download-scheduler.js';
import type { PeerSession } from '../src/peer-session.js';

/** A peer's pieces that counts the scheduler's questions. */
class CountedPieces extends Bitfield {
  asked = 0;
  override has(index: number): boolean {
    this.asked++;
    return super.has(index);
  }
}

/** The part of a PeerSession the scheduler drives: a pipeline of `cap` requests. */
class FakeSession {
  amInterested = false;
  readonly isOpen = true;
  readonly peerPieces: CountedPieces;
  /** Requests outstanding, as "index:begin". */
  readonly outstanding = new Set<string>();
  readonly asked: string[] = [];

  constructor(
    readonly address: string,
    pieceCount: number,
    public cap: number,
  ) {
    this.peerPieces = new CountedPieces(pieceCount);
    for (let i = 0; i < pieceCount; i++) this.peerPieces.set(i);
  }

  get requestRoom(): number {
    return this.cap - this.outstanding.size;
  }
  setInterested(on: boolean): void {
    this.amInterested = on;
  }
  request(index: number, begin: number): void {
    this.outstanding.add(`${index}:${begin}`);
    this.asked.push(`${index}:${begin}`);
  }
  isRequested(index: number, begin: number): boolean {
    return this.outstanding.has(`${index}:${begin}`);
  }
  cancel(index: number, begin: number): void {
    this.outstanding.delete(`${index}:${begin}`);
  }
  flush(): void {}
  sendHave(): void {}
  close(): void {}
}

const BLOCKS_PER_PIECE = 4;
const PIECES = 200;

function scheduler(sessions: FakeSession[]): DownloadScheduler {
  const pieceLength = BLOCKS_PER_PIECE * BLOCK_LENGTH;
  const totalLength = PIECES * pieceLength;
  // Pieces handed to the sink stay there: only the requests matter here.
  const sink: PieceSink = { writePiece: () => new Promise(() => {}) };
  return new DownloadScheduler({
    infoHashHex: '00'.repeat(20),
    geometry: new PieceGeometry({ pieceLength, totalLength, files: [{ length: totalLength }] }),
    have: new Bitfield(PIECES),
    sink,
    sessions: () => sessions as unknown as PeerSession[],
    onVerified: () => {},
    onBadPeer: () => {},
    onWriteError: () => {},
  });
}

describe('DownloadScheduler', () => {
  it('gives a freed block to the next peer without walking the pieces fully asked for', () => {
    const a = new FakeSession('a', PIECES, 100 * BLOCKS_PER_PIECE);
    const b = new FakeSession('b', PIECES, 0);
    const s = scheduler([a, b]);
    s.peerPiecesChanged(a as unknown as PeerSession);
    s.peerPiecesChanged(b as unknown as PeerSession);
    // a's pipeline holds 100 pieces, every block of each asked for.
    expect(a.asked).toHaveLength(100 * BLOCKS_PER_PIECE);
    const started = [...new Set(a.asked.map((k) => Number(k.split(':')[0])))];
    expect(started).toHaveLength(100);
    expect(b.asked).toEqual([]);

    // a's request for a block of the 51st piece started is dropped (a choke,
    // a reject): b, with room for one, is asked for that very block.
    const piece = started[50]!;
    a.outstanding.delete(`${piece}:${2 * BLOCK_LENGTH}`);
    b.cap = 1;
    b.peerPieces.asked = 0;
    s.requestsDropped(a as unknown as PeerSession, [{ index: piece, begin: 2 * BLOCK_LENGTH }]);
    expect(b.asked).toEqual([`${piece}:${2 * BLOCK_LENGTH}`]);
    // Only the piece with a free block was looked at, not the 50 before it.
    expect(b.peerPieces.asked).toBeLessThanOrEqual(2);

    // The piece has nothing free now: b's next room starts a new piece.
    b.cap = 2;
    s.refill(b as unknown as PeerSession);
    const next = Number(b.asked[1]!.split(':')[0]);
    expect(started).not.toContain(next);
    expect(b.asked[1]).toBe(`${next}:0`);
  });
});
