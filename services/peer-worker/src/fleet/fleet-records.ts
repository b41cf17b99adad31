import { parseMagnet, parseMetainfo, type Metainfo } from '@seedbox/protocol';
import { shareRatio, ZERO_TOTALS, type RegistryEntry } from '@seedbox/cluster';
import { torrentDir } from '@seedbox/storage';
import type { QueueMove, TorrentRecord, TorrentRecordBase } from '../control/backend.js';
import type { FleetView } from './fleet-backend.js';

/**
 * Registry entries as the control API's records: the parsed metainfo (the
 * runner's, which parsed every torrent it has the entry of; kept here only
 * for a torrent the runner has not seen yet, so a list of N torrents parses
 * each once and a process holds one parse of each), the save
 * folders made absolute, and what this process's runner knows of each
 * (queued, totals, the share ratio). Every cost here is per torrent, once:
 * the queue positions of a list are worked out by one sort of the whole
 * registry (`queuePositions`), never one sort per torrent.
 */
export class FleetRecords {
  private readonly parsed = new Map<string, Metainfo>();

  constructor(
    private readonly fleet: FleetView,
    /** The data folder, as this process sees it. */
    private readonly dataDir: string,
  ) {}

  /**
   * The entry's metainfo, parsed once; throws MetainfoError when its
   * .torrent does not parse. A torrent's .torrent never changes once it has
   * one, so the runner's parse of it is as good as ours: with 10,000
   * torrents, a copy of each here was 15 MiB.
   */
  parse(e: RegistryEntry): Metainfo {
    const shared = this.fleet.metainfo(e.infoHashHex);
    if (shared) {
      this.parsed.delete(e.infoHashHex);
      return shared;
    }
    let meta = this.parsed.get(e.infoHashHex);
    if (!meta) {
      meta = parseMetainfo(e.torrentFile);
      this.parsed.set(e.infoHashHex, meta);
    }
    return meta;
  }

  /** A metainfo parsed already (the file just added), kept for its torrent. */
  remember(meta: Metainfo): void {
    this.parsed.set(meta.infoHashHex, meta);
  }

  forget(infoHashHex: string): void {
    this.parsed.delete(infoHashHex);
  }

  /**
   * Drops what was kept for torrents no longer registered (another replica
   * removed them). Only when more are kept than registered, which a stale
   * one must then be: a pass per list would cost a set of every hash each
   * time, and this way the cache stays within twice the registry.
   */
  keepOnly(entries: readonly RegistryEntry[]): void {
    if (this.parsed.size <= entries.length) return;
    const live = new Set(entries.map((e) => e.infoHashHex));
    for (const hex of this.parsed.keys()) if (!live.has(hex)) this.parsed.delete(hex);
  }

  /**
   * A record; `queuePosition` from `queuePositions` over the whole
   * registry, or 0 when not worked out (an add's answer). Throws when the
   * entry's .torrent does not parse.
   */
  record(e: RegistryEntry, queuePosition: number): TorrentRecord {
    const base = this.base(e, queuePosition);
    if (e.magnet === undefined) return { ...base, torrentFile: e.torrentFile, metainfo: this.parse(e) };
    let name = e.infoHashHex;
    let trackers: string[] = [];
    try {
      const m = parseMagnet(e.magnet);
      name = m.displayName ?? name;
      trackers = [...m.trackers];
    } catch {
      // Checked when added; one stored otherwise shows as its hash.
    }
    return { ...base, metainfo: undefined, magnet: { uri: e.magnet, name, trackers, ...(e.metadataError !== undefined ? { error: e.metadataError } : {}) } };
  }

  private base(e: RegistryEntry, queuePosition: number): TorrentRecordBase {
    const { fleet, dataDir } = this;
    const totals = fleet.totals(e.infoHashHex) ?? ZERO_TOTALS;
    return {
      infoHashHex: e.infoHashHex,
      id: e.id ?? 0,
      desired: e.desired,
      addedAt: e.addedAt,
      settings: e.settings,
      savePath: torrentDir(dataDir, e.infoHashHex, e.settings.savePath),
      ...(e.limitReached ? { limitReached: e.limitReached } : {}),
      ...(e.moveTo !== undefined ? { movingTo: torrentDir(dataDir, e.infoHashHex, e.moveTo) } : {}),
      ...(e.moveError !== undefined ? { moveError: { to: torrentDir(dataDir, e.infoHashHex, e.moveError.to), message: e.moveError.message, at: e.moveError.at } } : {}),
      queued: e.desired === 'running' && fleet.queued(e.infoHashHex),
      queuePosition,
      totals,
      ratio: shareRatio(totals, fleet.doneBytes(e.infoHashHex) ?? 0),
    };
  }
}

/** The queue's order: by queue key, then info hash, so every replica agrees. */
export function queueOrder(entries: readonly RegistryEntry[]): RegistryEntry[] {
  return [...entries].sort((a, b) => a.settings.queueKey - b.settings.queueKey || (a.infoHashHex < b.infoHashHex ? -1 : a.infoHashHex > b.infoHashHex ? 1 : 0));
}

/** Every torrent's 1-based place in the queue order: one sort for the whole registry. */
export function queuePositions(entries: readonly RegistryEntry[]): Map<string, number> {
  const positions = new Map<string, number>();
  queueOrder(entries).forEach((e, i) => positions.set(e.infoHashHex, i + 1));
  return positions;
}

/**
 * The queue keys to write for a move, in the order to write them. `top`
 * and `bottom` give the chosen torrents keys below the smallest or above
 * the largest, keeping their order; `up` and `down` swap each chosen
 * torrent's key with its neighbour's unless the neighbour moves too. Keys
 * are followed as they are swapped, so chosen neighbours move together,
 * in their order.
 */
export function queueMoves(entries: readonly RegistryEntry[], picked: ReadonlySet<string>, move: QueueMove): [string, number][] {
  const order = queueOrder(entries);
  const chosen = order.filter((e) => picked.has(e.infoHashHex));
  if (chosen.length === 0) return [];
  if (move === 'top') {
    const min = order[0]!.settings.queueKey;
    return chosen.map((e, i) => [e.infoHashHex, min - chosen.length + i]);
  }
  if (move === 'bottom') {
    const max = order.at(-1)!.settings.queueKey;
    return chosen.map((e, i) => [e.infoHashHex, max + 1 + i]);
  }
  const key = new Map(order.map((e) => [e.infoHashHex, e.settings.queueKey]));
  const list = order.map((e) => e.infoHashHex);
  if (move === 'down') list.reverse();
  const out: [string, number][] = [];
  for (let i = 1; i < list.length; i++) {
    const e = list[i]!;
    const n = list[i - 1]!;
    if (!picked.has(e) || picked.has(n)) continue;
    const ke = key.get(e)!;
    const kn = key.get(n)!;
    key.set(e, kn);
    key.set(n, ke);
    out.push([e, kn], [n, ke]);
    list[i - 1] = e;
    list[i] = n;
  }
  return out;
}
