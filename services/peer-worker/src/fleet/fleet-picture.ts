import { parseMetainfo, PieceGeometry, type Bitfield, type Metainfo } from '@seedbox/protocol';
import { awaitingMetadata, readBitfield, type RegistryEntry } from '@seedbox/cluster';
import { piecePriorities } from '../file-selection.js';

/**
 * What a worker knows of the fleet's torrents, as the store's watches
 * bring it: every registry entry with its parsed metainfo, and every
 * torrent's verified pieces. The runner decides from it; the control API
 * reads from it (how much of a torrent is there, whether it is done).
 *
 * Magnet links still without their metadata are kept apart (`awaiting`):
 * they have no .torrent to parse, no pieces and nothing to run, only a
 * link whose owner fetches the metadata (MagnetOwner). Once the entry
 * has its .torrent, it moves to the registry like any torrent.
 *
 * What is read from a torrent's bitfield (the pieces, their count, whether
 * it is complete or done) is worked out once per bitfield: the store hands
 * over new bytes at every change, so the bytes' identity says whether what
 * was read from them still holds. A sync over 10,000 torrents, or the
 * control API listing them, then reads numbers, not bytes.
 */

export interface Registered {
  entry: RegistryEntry;
  meta: Metainfo;
}

/** What the fleet's bitfield bytes of one torrent say, read once (see `read`). */
interface BitsRead {
  from: Uint8Array | undefined;
  pieceCount: number;
  bits: Bitfield;
}

/** Each torrent's wanted pieces, for the file priorities they were made from, and whether the bitfield `doneFrom` had them all. */
interface Wanted {
  key: string;
  pieces: Uint8Array;
  doneFrom?: Uint8Array | undefined;
  done?: boolean;
}

export class FleetPicture {
  private readonly registry = new Map<string, Registered>();
  /** Entries whose metadata is not in yet (see RegistryEntry.magnet). */
  private readonly awaiting = new Map<string, RegistryEntry>();
  /** The fleet's bitfield bytes per torrent, as last seen. */
  private readonly bits = new Map<string, Uint8Array>();
  /** Each torrent's bitfield as read from those bytes. */
  private readonly read = new Map<string, BitsRead>();
  private readonly wanted = new Map<string, Wanted>();
  /** Bytes verified per file, for the bitfield bytes they were counted from. */
  private readonly perFile = new Map<string, { from: Uint8Array | undefined; bytes: number[] }>();
  /** Entries paused, registered or awaiting (kept as entries change: it is read every tick). */
  private paused = 0;

  /** A registry change; throws when the entry's torrent cannot be parsed (it is then not kept). */
  setEntry(hex: string, e: RegistryEntry | undefined): void {
    const before = this.entryOf(hex);
    try {
      if (!e || awaitingMetadata(e)) {
        if (e) this.awaiting.set(hex, e);
        else this.awaiting.delete(hex);
        this.registry.delete(hex);
        this.read.delete(hex);
        this.wanted.delete(hex);
        this.perFile.delete(hex);
        return;
      }
      this.awaiting.delete(hex);
      this.registry.set(hex, { entry: e, meta: this.registry.get(hex)?.meta ?? parseMetainfo(e.torrentFile) });
    } finally {
      if (before?.desired === 'paused') this.paused--;
      if (this.entryOf(hex)?.desired === 'paused') this.paused++;
    }
  }

  private entryOf(hex: string): RegistryEntry | undefined {
    return this.registry.get(hex)?.entry ?? this.awaiting.get(hex);
  }

  /** Magnet links whose metadata is not in yet. */
  awaitingMetadata(): IterableIterator<RegistryEntry> {
    return this.awaiting.values();
  }

  get awaitingCount(): number {
    return this.awaiting.size;
  }

  setBits(hex: string, bytes: Uint8Array | undefined): void {
    if (bytes) this.bits.set(hex, bytes);
    else this.bits.delete(hex);
    this.read.delete(hex);
  }

  get(hex: string): Registered | undefined {
    return this.registry.get(hex);
  }

  has(hex: string): boolean {
    return this.registry.has(hex);
  }

  entries(): IterableIterator<[string, Registered]> {
    return this.registry.entries();
  }

  keys(): IterableIterator<string> {
    return this.registry.keys();
  }

  get size(): number {
    return this.registry.size;
  }

  /** The fleet's bitfield bytes as last seen (what a check may trust). */
  bitBytes(hex: string): Uint8Array | undefined {
    return this.bits.get(hex);
  }

  /** The fleet's bitfield, read once per change of its bytes: shared, so not to be changed. */
  bitfield(hex: string, meta: Metainfo): Bitfield {
    const from = this.bits.get(hex);
    const cached = this.read.get(hex);
    if (cached && cached.from === from && cached.pieceCount === meta.pieceCount) return cached.bits;
    const bits = readBitfield(from, meta.pieceCount);
    this.read.set(hex, { from, pieceCount: meta.pieceCount, bits });
    return bits;
  }

  /** Every piece is verified. */
  isComplete(hex: string, meta: Metainfo): boolean {
    return this.bitfield(hex, meta).isComplete;
  }

  /** Every wanted piece is verified (all of them, when no file is skipped): nothing left to download. */
  isDone(hex: string, entry: RegistryEntry, meta: Metainfo): boolean {
    const bits = this.bitfield(hex, meta);
    if (bits.isComplete) return true;
    const priorities = entry.settings.filePriorities;
    if (priorities.length !== meta.files.length) return false;
    const key = priorities.join(',');
    let w = this.wanted.get(hex);
    if (!w || w.key !== key) {
      w = { key, pieces: piecePriorities(new PieceGeometry(meta), meta.files, priorities, false) };
      this.wanted.set(hex, w);
    }
    const from = this.bits.get(hex);
    if (w.done !== undefined && w.doneFrom === from) return w.done;
    let done = true;
    for (let i = 0; i < meta.pieceCount; i++) {
      if (w.pieces[i]! > 0 && !bits.has(i)) {
        done = false;
        break;
      }
    }
    w.doneFrom = from;
    w.done = done;
    return done;
  }

  /** isDone for a registered torrent, looked up by hash; undefined for one not registered. */
  done(hex: string): boolean | undefined {
    const r = this.registry.get(hex);
    return r ? this.isDone(hex, r.entry, r.meta) : undefined;
  }

  /** Bytes verified, as the fleet's bitfield says. */
  doneBytes(hex: string): number | undefined {
    const r = this.registry.get(hex);
    if (!r) return undefined;
    const bits = this.bitfield(hex, r.meta);
    const last = r.meta.pieceCount - 1;
    const lastSize = r.meta.totalLength - last * r.meta.pieceLength;
    return bits.count * r.meta.pieceLength - (bits.has(last) ? r.meta.pieceLength - lastSize : 0);
  }

  /**
   * Bytes of each file (one per entry of `meta.files`) in verified
   * pieces. Counted when asked, O(pieces), and kept until the bitfield
   * changes (every change brings new bytes), so a list of many torrents
   * costs nothing for those that did not move.
   */
  fileDone(hex: string): number[] | undefined {
    const r = this.registry.get(hex);
    if (!r) return undefined;
    const from = this.bits.get(hex);
    const cached = this.perFile.get(hex);
    if (cached && cached.from === from) return cached.bytes;
    const bytes = new Array<number>(r.meta.files.length).fill(0);
    const bits = this.bitfield(hex, r.meta);
    if (bits.count > 0) {
      const geometry = new PieceGeometry(r.meta);
      for (const p of bits.setIndices()) for (const span of geometry.spans(p)) bytes[span.fileIndex]! += span.length;
    }
    this.perFile.set(hex, { from, bytes });
    return bytes;
  }

  /** Registered torrents paused by the operator (or a seeding rule), magnets awaiting their metadata included. */
  get pausedCount(): number {
    return this.paused;
  }
}
