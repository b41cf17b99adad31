import { Bitfield, BitfieldError, ProtocolError } from '@seedbox/protocol';

/**
 * The pieces a peer announced, and what each announcement changed. BEP 3
 * allows a BITFIELD only as the first message, but aria2 sends a fresh one
 * mid-connection after HAVE_NONE: we accept it as a list of HAVEs, so a
 * peer never loses pieces it announced and availability stays exact (each
 * piece it adds is counted once).
 */
export interface PiecesChange {
  /** The peer's first announcement (BITFIELD, HAVE_ALL, HAVE_NONE, or a HAVE before any): its pieces start from it. */
  opening: boolean;
  /** Pieces announced since the opening, one by one. */
  added: number[];
}

export class RemotePieces {
  readonly bits: Bitfield;
  private announced = false;

  constructor(pieceCount: number) {
    this.bits = new Bitfield(pieceCount);
  }

  /** BITFIELD, HAVE_ALL or HAVE_NONE. A bitfield of the wrong size or with spare bits set throws a ProtocolError. */
  merge(indices: Iterable<number>): PiecesChange {
    if (!this.announced) {
      this.announced = true;
      for (const i of indices) this.bits.set(i);
      return { opening: true, added: [] };
    }
    const added: number[] = [];
    for (const i of indices) if (this.bits.set(i)) added.push(i);
    return { opening: false, added };
  }

  mergeBitfield(bytes: Uint8Array): PiecesChange {
    let bf: Bitfield;
    try {
      bf = Bitfield.fromBytes(bytes, this.bits.length);
    } catch (err) {
      if (err instanceof BitfieldError) throw new ProtocolError(err.code, err.message, { cause: err });
      throw err;
    }
    return this.merge(bf.setIndices());
  }

  /** One HAVE (already checked against the piece count). A HAVE first means the peer had nothing before it. */
  have(index: number): PiecesChange {
    const opening = !this.announced;
    this.announced = true;
    return { opening, added: this.bits.set(index) ? [index] : [] };
  }
}
