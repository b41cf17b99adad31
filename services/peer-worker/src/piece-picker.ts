import type { Bitfield } from '@seedbox/protocol';

/**
 * Chooses which piece to start next: rarest first among the pieces a peer
 * has, ties broken at random so that leeches of one swarm spread out, with a
 * few random pieces at the very start (a rare piece is slow to get from the
 * one peer that has it, and the first pieces are what lets us trade).
 *
 * It is pure state with no I/O. The torrent owns one, and every peer session
 * of that torrent calls into it on the one event loop, so it needs no lock:
 * Node's single thread is the serialization point (see docs/ARCHITECTURE.md).
 */
export interface PickerOptions {
  /** Pick at random until we have this many pieces. */
  randomFirstPieces?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

export class PiecePicker {
  readonly pieceCount: number;
  /** How many connected peers have each piece. */
  private readonly availability: Uint32Array;
  /** Pieces we have verified; the picker is the only writer (markHave). */
  private readonly have: Bitfield;
  /** Pieces being downloaded or verified: not to be started again. */
  private readonly busy: Uint8Array;
  private unstarted: number;
  private readonly randomFirst: number;
  private readonly random: () => number;

  constructor(have: Bitfield, options: PickerOptions = {}) {
    this.pieceCount = have.length;
    this.have = have;
    this.availability = new Uint32Array(have.length);
    this.busy = new Uint8Array(have.length);
    this.unstarted = have.length - have.count;
    this.randomFirst = options.randomFirstPieces ?? 4;
    this.random = options.random ?? Math.random;
  }

  /** A peer's whole bitfield (BITFIELD or HAVE_ALL) joins the counts. */
  addPeer(bits: Bitfield): void {
    for (const i of bits.setIndices()) this.availability[i]!++;
  }

  /** A peer left: its pieces leave the counts. */
  removePeer(bits: Bitfield): void {
    for (const i of bits.setIndices()) this.availability[i]!--;
  }

  /** A peer announced one more piece (HAVE). */
  peerHas(index: number): void {
    this.availability[index]!++;
  }

  availabilityOf(index: number): number {
    return this.availability[index]!;
  }

  /** A download of the piece started. */
  markBusy(index: number): void {
    if (this.busy[index] === 0 && !this.have.has(index)) this.unstarted--;
    this.busy[index] = 1;
  }

  /** The piece failed verification (or its download was abandoned): it may be started again. */
  markIdle(index: number): void {
    if (this.busy[index] === 1 && !this.have.has(index)) this.unstarted++;
    this.busy[index] = 0;
  }

  /** The piece is verified on disk. */
  markHave(index: number): void {
    if (this.have.has(index)) return;
    if (this.busy[index] === 0) this.unstarted--;
    this.busy[index] = 0;
    this.have.set(index);
  }

  isBusy(index: number): boolean {
    return this.busy[index] === 1;
  }

  /**
   * The next piece to start from a peer that has `peerBits`, or undefined
   * when it has nothing we want that is not already under way.
   * `peerBits` may be 'all' for a seed.
   */
  pick(peerBits: Bitfield | 'all'): number | undefined {
    const wanted = (i: number): boolean =>
      !this.have.has(i) && this.busy[i] === 0 && (peerBits === 'all' || peerBits.has(i));

    if (this.have.count < this.randomFirst) {
      // Reservoir-sample one wanted piece uniformly.
      let chosen: number | undefined;
      let seen = 0;
      for (let i = 0; i < this.pieceCount; i++) {
        if (!wanted(i)) continue;
        seen++;
        if (this.random() * seen < 1) chosen = i;
      }
      return chosen;
    }

    // Rarest first. A linear scan: even 100k pieces cost well under a
    // millisecond, and a piece is picked once per piece, not per block.
    let best: number | undefined;
    let bestAvail = Infinity;
    let ties = 0;
    for (let i = 0; i < this.pieceCount; i++) {
      if (!wanted(i)) continue;
      const a = this.availability[i]!;
      if (a < bestAvail) {
        bestAvail = a;
        best = i;
        ties = 1;
      } else if (a === bestAvail) {
        ties++;
        if (this.random() * ties < 1) best = i;
      }
    }
    return best;
  }

  /** Pieces we lack that no download has started: when 0, endgame may begin. */
  get unstartedCount(): number {
    return this.unstarted;
  }
}
