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
 */

export interface Registered {
  entry: RegistryEntry;
  meta: Metainfo;
}

export class FleetPicture {
  private readonly registry = new Map<string, Registered>();
  /** Entries whose metadata is not in yet (see RegistryEntry.magnet). */
  private readonly awaiting = new Map<string, RegistryEntry>();
  /** The fleet's bitfield bytes per torrent, as last seen. */
  private readonly bits = new Map<string, Uint8Array>();
  /** Each torrent's wanted pieces (priority above skip), for the file priorities they were made from. */
  private readonly wanted = new Map<string, { key: string; pieces: Uint8Array }>();
  /** Bytes verified per file, for the bitfield bytes they were counted from. */
  private readonly perFile = new Map<string, { from: Uint8Array | undefined; bytes: number[] }>();

  /** A registry change; throws when the entry's torrent cannot be parsed (it is then not kept). */
  setEntry(hex: string, e: RegistryEntry | undefined): void {
    if (!e || awaitingMetadata(e)) {
      if (e) this.awaiting.set(hex, e);
      else this.awaiting.delete(hex);
      this.registry.delete(hex);
      this.wanted.delete(hex);
      this.perFile.delete(hex);
      return;
    }
    this.awaiting.delete(hex);
    this.registry.set(hex, { entry: e, meta: this.registry.get(hex)?.meta ?? parseMetainfo(e.torrentFile) });
  }

  /** Magnet links whose metadata is not in yet. */
  awaitingMetadata(): IterableIterator<RegistryEntry> {
    return this.awaiting.values();
  }

  setBits(hex: string, bytes: Uint8Array | undefined): void {
    if (bytes) this.bits.set(hex, bytes);
    else this.bits.delete(hex);
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

  /** The fleet's bitfield bytes as last seen (what a check may trust). */
  bitBytes(hex: string): Uint8Array | undefined {
    return this.bits.get(hex);
  }

  bitfield(hex: string, meta: Metainfo): Bitfield {
    return readBitfield(this.bits.get(hex), meta.pieceCount);
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
    for (let i = 0; i < meta.pieceCount; i++) if (w.pieces[i]! > 0 && !bits.has(i)) return false;
    return true;
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
    let n = 0;
    for (const { entry } of this.registry.values()) if (entry.desired === 'paused') n++;
    for (const entry of this.awaiting.values()) if (entry.desired === 'paused') n++;
    return n;
  }
}
