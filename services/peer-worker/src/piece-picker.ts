import type { Bitfield } from '@seedbox/protocol';

/**
 * Chooses which piece to start next. Pieces have a priority (0 = not
 * wanted, never started; higher levels start first, see file-selection.ts);
 * within the highest priority the peer offers, rarest first, with a few
 * random pieces at the very start (a rare piece is slow to get from the one
 * peer that has it, and the first pieces are what lets us trade). In
 * sequential mode the
 * lowest index of that priority goes first instead (for watching while
 * downloading); the scheduler still finishes pieces under way first.
 *
 * It is pure state with no I/O. The torrent owns one, and every peer session
 * of that torrent calls into it on the one event loop, so it needs no lock:
 * Node's single thread is the serialization point (see docs/ARCHITECTURE.md).
 *
 * Ties among the rarest go by extent affinity (libtorrent's idea): the
 * pieces are taken in extents of about 4 MiB, and the next piece after the
 * last one picked goes first while its extent holds one of the rarest; at
 * an extent's end (or when none is left in it) the next extent starts at a
 * random piece, so that leeches of one swarm still spread out. Neighbouring
 * pieces share files: taken together, a file's pieces arrive while its
 * handle is open, and with many small files that is most of the disk
 * work (a piece started alone opens and closes each of its files again).
 *
 * Cost: pick() is one pass over the pieces (as it was before priorities),
 * called once per piece started, not per block; a sequential pick starts at
 * a cursor below which nothing is left to start, and stops at the first
 * piece of the highest priority still unstarted. Changing priorities is
 * O(pieces), and rare.
 */
export interface PickerOptions {
  /** Pick at random until we have this many pieces. */
  randomFirstPieces?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
  /** Per-piece priority (0 = skip); default every piece 1. */
  priorities?: Uint8Array | undefined;
  sequential?: boolean | undefined;
  /** Pieces in an extent (see above); default 1 (no affinity). */
  extentPieces?: number;
}

/** The extent size the engine uses: libtorrent's, about 4 MiB. */
export const EXTENT_BYTES = 4 * 1024 * 1024;

/** Pieces in an extent of EXTENT_BYTES for a torrent of `pieceLength`: at least 1. */
export function extentPieces(pieceLength: number): number {
  return Math.max(1, Math.floor(EXTENT_BYTES / pieceLength));
}

/** Highest priority level the picker knows (PIECE_TOP in file-selection.ts). */
const LEVELS = 4;

export class PiecePicker {
  readonly pieceCount: number;
  /** How many connected peers have each piece. */
  private readonly availability: Uint32Array;
  /** Pieces we have verified; the picker is the only writer (markHave). */
  private readonly have: Bitfield;
  /** Pieces being downloaded or verified: not to be started again. */
  private readonly busy: Uint8Array;
  private priority: Uint8Array;
  /** Wanted pieces (priority > 0) neither verified nor under way, by priority level. */
  private readonly unstartedAt = new Uint32Array(LEVELS);
  /** Wanted pieces not verified. */
  private missing = 0;
  private sequentialOn: boolean;
  /** Sequential mode: no piece below it is left to start. */
  private cursor = 0;
  private readonly randomFirst: number;
  private readonly random: () => number;
  private readonly extent: number;
  /** The last piece a rarest-first pick chose (-1: none yet): its extent continues. */
  private lastPick = -1;
  /**
   * The lowest availability of any piece, worked out again only after the
   * counts changed: a candidate of the top priority that has it cannot be
   * beaten, so the scan stops there. With one seed (or a stable swarm) a
   * pick is then a few steps from the last one instead of a pass over
   * every piece, 132 ms of a 3,928-piece download's event loop.
   */
  private floor = 0;
  private floorStale = true;

  constructor(have: Bitfield, options: PickerOptions = {}) {
    this.pieceCount = have.length;
    this.have = have;
    this.availability = new Uint32Array(have.length);
    this.busy = new Uint8Array(have.length);
    this.priority = options.priorities ?? new Uint8Array(have.length).fill(1);
    this.sequentialOn = options.sequential ?? false;
    this.randomFirst = options.randomFirstPieces ?? 4;
    this.random = options.random ?? Math.random;
    this.extent = Math.max(1, Math.floor(options.extentPieces ?? 1));
    this.recount();
  }

  private recount(): void {
    this.unstartedAt.fill(0);
    this.missing = 0;
    for (let i = 0; i < this.pieceCount; i++) {
      const p = this.priority[i]!;
      if (p === 0 || this.have.has(i)) continue;
      this.missing++;
      if (this.busy[i] === 0) this.unstartedAt[p]!++;
    }
    this.cursor = 0;
  }

  /** New per-piece priorities (one per piece, 0 = skip, at most 3). Pieces under way stay under way. */
  setPriorities(priorities: Uint8Array): void {
    if (priorities.length !== this.pieceCount) throw new RangeError(`${priorities.length} piece priorities for ${this.pieceCount} pieces`);
    this.priority = priorities;
    this.recount();
  }

  setSequential(on: boolean): void {
    this.sequentialOn = on;
    this.cursor = 0;
  }

  get sequential(): boolean {
    return this.sequentialOn;
  }

  /** Whether the piece is wanted at all (priority above 0). */
  isWanted(index: number): boolean {
    return this.priority[index]! > 0;
  }

  /** A peer's whole bitfield (BITFIELD or HAVE_ALL) joins the counts. */
  addPeer(bits: Bitfield): void {
    for (const i of bits.setIndices()) this.availability[i]!++;
    this.floorStale = true;
  }

  /** A peer left: its pieces leave the counts. */
  removePeer(bits: Bitfield): void {
    for (const i of bits.setIndices()) this.availability[i]!--;
    this.floorStale = true;
  }

  /** A peer announced one more piece (HAVE). */
  peerHas(index: number): void {
    this.availability[index]!++;
    this.floorStale = true;
  }

  availabilityOf(index: number): number {
    return this.availability[index]!;
  }

  private availabilityFloor(): number {
    if (this.floorStale) {
      let min = Infinity;
      for (const a of this.availability) if (a < min) min = a;
      this.floor = min;
      this.floorStale = false;
    }
    return this.floor;
  }

  /** A download of the piece started. */
  markBusy(index: number): void {
    if (this.busy[index] === 0 && !this.have.has(index) && this.priority[index]! > 0) this.unstartedAt[this.priority[index]!]!--;
    this.busy[index] = 1;
  }

  /** The piece failed verification (or its download was abandoned): it may be started again. */
  markIdle(index: number): void {
    if (this.busy[index] === 1 && !this.have.has(index) && this.priority[index]! > 0) this.unstartedAt[this.priority[index]!]!++;
    this.busy[index] = 0;
    if (index < this.cursor) this.cursor = index;
  }

  /** The piece is verified on disk. */
  markHave(index: number): void {
    if (this.have.has(index)) return;
    const p = this.priority[index]!;
    if (p > 0) {
      this.missing--;
      if (this.busy[index] === 0) this.unstartedAt[p]!--;
    }
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
    if (this.unstartedCount === 0) return undefined;
    const all = peerBits === 'all';
    const have = this.have;
    const busy = this.busy;
    const priority = this.priority;
    // The highest level with pieces left to start: a candidate there cannot be beaten on priority.
    let top = LEVELS - 1;
    while (top > 0 && this.unstartedAt[top] === 0) top--;

    if (this.sequentialOn) {
      while (this.cursor < this.pieceCount && (priority[this.cursor] === 0 || busy[this.cursor] === 1 || have.has(this.cursor))) this.cursor++;
      let best: number | undefined;
      let bestPri = 0;
      for (let i = this.cursor; i < this.pieceCount; i++) {
        const p = priority[i]!;
        if (p <= bestPri || busy[i] === 1 || have.has(i) || !(all || peerBits.has(i))) continue;
        best = i;
        bestPri = p;
        if (p === top) break;
      }
      return best;
    }

    if (have.count < this.randomFirst) return this.pickAtRandom(peerBits);

    // Highest priority, then rarest. A linear scan, which stops at a piece
    // nothing can beat (see `floor`): even 100k pieces cost well under a
    // millisecond, and a piece is picked once per piece, not per block. It starts after the last pick and goes round, keeping the
    // first of the best it meets, so that among the rarest the next piece
    // of the extent under way wins (see the class comment); and the first of
    // the best in a later extent, should this one have none left.
    const n = this.pieceCount;
    const start = this.lastPick + 1 < n ? this.lastPick + 1 : 0;
    const extentEnd = this.lastPick < 0 ? start : Math.min(n, (Math.floor(this.lastPick / this.extent) + 1) * this.extent);
    const floor = this.availabilityFloor();
    let best: number | undefined;
    let bestPri = 0;
    let bestAvail = Infinity;
    for (let k = 0, i = start; k < n; k++, i = i + 1 === n ? 0 : i + 1) {
      const p = priority[i]!;
      if (p < bestPri || p === 0 || busy[i] === 1 || have.has(i) || !(all || peerBits.has(i))) continue;
      const a = this.availability[i]!;
      if (p > bestPri || a < bestAvail) {
        bestPri = p;
        bestAvail = a;
        best = i;
        // Nothing later can beat it, and the scan keeps the first of the best anyway.
        if (p === top && a === floor) break;
      }
    }
    if (best === undefined) return undefined;
    // The best lies past this extent: a fresh one starts, at a random piece
    // among the best (the first of them from a random point, round), or at
    // the first of the best in that piece's extent, so the extent is taken whole.
    if (best < start || best >= extentEnd) {
      const isBest = (i: number): boolean =>
        priority[i] === bestPri && busy[i] === 0 && !have.has(i) && this.availability[i] === bestAvail && (all || peerBits.has(i));
      const from = Math.floor(this.random() * n);
      for (let k = 0, i = from; k < n; k++, i = i + 1 === n ? 0 : i + 1) {
        if (!isBest(i)) continue;
        best = i;
        break;
      }
      for (let i = best - (best % this.extent); i < best; i++) {
        if (!isBest(i)) continue;
        best = i;
        break;
      }
    }
    this.lastPick = best;
    return best;
  }

  /**
   * One piece, uniformly, among the highest priority the peer offers: the
   * candidates counted in one pass, the chosen one found in a second, with
   * one random number. (Reservoir sampling drew one per candidate: the
   * first picks of a 4,000-piece torrent drew half a million, each a heap
   * number for the young generation.)
   */
  private pickAtRandom(peerBits: Bitfield | 'all'): number | undefined {
    const all = peerBits === 'all';
    const { have, busy, priority } = this;
    const candidate = (i: number, p: number): boolean => p !== 0 && busy[i] === 0 && !have.has(i) && (all || peerBits.has(i));
    let bestPri = 0;
    let count = 0;
    for (let i = 0; i < this.pieceCount; i++) {
      const p = priority[i]!;
      if (p < bestPri || !candidate(i, p)) continue;
      if (p > bestPri) {
        bestPri = p;
        count = 0;
      }
      count++;
    }
    if (count === 0) return undefined;
    let k = Math.min(count - 1, Math.floor(this.random() * count));
    for (let i = 0; i < this.pieceCount; i++) {
      if (priority[i] === bestPri && candidate(i, bestPri) && k-- === 0) return i;
    }
    return undefined;
  }

  /** Wanted pieces we lack that no download has started: when 0, endgame may begin. */
  get unstartedCount(): number {
    let n = 0;
    for (let l = 1; l < LEVELS; l++) n += this.unstartedAt[l]!;
    return n;
  }

  /** Wanted pieces not yet verified: when 0, the download is done (skipped pieces may still be missing). */
  get missingCount(): number {
    return this.missing;
  }
}
