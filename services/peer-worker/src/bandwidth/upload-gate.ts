import type { BandwidthPath, CancelRequest } from './shaper.js';

/**
 * Upload shaping for one session: the blocks we serve (PIECE messages)
 * wait here until the buckets grant their bytes, one block at a time, and
 * go out in the order they were served. Everything else we send (HAVE,
 * REQUEST, CHOKE, keep-alives, the extension messages) is small and goes
 * straight out, unshaped and uncounted, as libtorrent does by default:
 * holding a REQUEST back behind our own upload would slow our download,
 * and a HAVE behind it would hide pieces from the swarm.
 *
 * Held blocks are bounded (HOLD_BYTES): past it the session reports
 * itself not writable, so the upload server stops serving requests into
 * it, as it does for a full socket; each block sent frees room and the
 * server is told (`onRoom`).
 */

/** A PIECE message's header (length, id, index, begin): counted with the block, since it takes the line too. */
const PIECE_HEADER_BYTES = 13;
/** Blocks held per session at most: enough to keep a granted burst going without waiting on the disk. */
export const HOLD_BYTES = 512 * 1024;

export interface HeldBlock {
  index: number;
  begin: number;
  data: Uint8Array;
  /** Called once the block went to the socket (the upload server counts it then). */
  sent?: (() => void) | undefined;
  /** Called once nothing holds `data` any more: the socket wrote it, or it was dropped unsent (the read cache reuses the memory). */
  done?: (() => void) | undefined;
}

export class UploadGate {
  private held: HeldBlock[] = [];
  private heldBytes = 0;
  private asking = false;
  private cancel: CancelRequest | undefined;

  constructor(
    private readonly path: BandwidthPath,
    private readonly send: (b: HeldBlock) => void,
    private readonly onRoom: () => void,
  ) {}

  /** Whether more blocks may be offered (the hold is under its bound). */
  get hasRoom(): boolean {
    return this.heldBytes < HOLD_BYTES;
  }

  get heldCount(): number {
    return this.held.length;
  }

  /** A block to send: at once when nothing is held and the path is unlimited, else when its turn and the grant come. */
  offer(block: HeldBlock): void {
    if (this.held.length === 0 && !this.path.limited) {
      this.send(block);
      return;
    }
    this.held.push(block);
    this.heldBytes += block.data.length;
    this.pump();
  }

  private pump(): void {
    while (!this.asking && this.held.length > 0) {
      const b = this.held[0]!;
      this.asking = true;
      let inside = true;
      const cancel = this.path.request(b.data.length + PIECE_HEADER_BYTES, () => {
        this.asking = false;
        this.cancel = undefined;
        // Unless the peer cancelled it meanwhile (drop): its bytes were granted all the same.
        if (this.held[0] === b) {
          this.held.shift();
          this.heldBytes -= b.data.length;
          this.send(b);
        }
        // Granted later, from the shaper's timer: carry on from here, and let the server fill the room.
        if (!inside) {
          this.pump();
          this.onRoom();
        }
      });
      inside = false;
      if (this.asking) {
        this.cancel = cancel;
        return;
      }
    }
  }

  /** Drops one held block (the peer cancelled it); true when it was held. */
  drop(index: number, begin: number): boolean {
    const i = this.held.findIndex((b) => b.index === index && b.begin === begin);
    if (i < 0) return false;
    const [b] = this.held.splice(i, 1);
    this.heldBytes -= b!.data.length;
    b!.done?.();
    return true;
  }

  /** Drops every held block (we choked the peer, or the session closed); answers them, for REJECTs (their data is let go). */
  clear(): readonly { index: number; begin: number; length: number }[] {
    const dropped = this.held.map((b) => ({ index: b.index, begin: b.begin, length: b.data.length }));
    for (const b of this.held) b.done?.();
    this.held = [];
    this.heldBytes = 0;
    this.cancel?.();
    this.cancel = undefined;
    this.asking = false;
    return dropped;
  }
}
