import type { RefusedConnection } from './peer-listener.js';
import type { TorrentSnapshot } from './torrent-snapshot.js';

/**
 * What the engine's clock tells its listeners once a second, and how it
 * keeps the cost of a tick to what changed: a seedbox of 10,000 torrents
 * without peers has almost nothing to say each second, and every consumer
 * (the fleet runner, the figures, the metrics) works from `changed` and
 * `gone` rather than from every torrent again.
 */

export interface EngineTick {
  /** Unix time in ms at the end of the tick. */
  time: number;
  /**
   * The snapshots that are not the same objects as at the last tick: the
   * torrents new since then, and those whose figures changed. A torrent
   * missing here has the very snapshot it had (snapshots are never
   * changed). A consumer may be handed one it has seen already (a
   * FleetRunner's early tick, Engine.snapshot(), shows changes the next
   * tick shows again) and must take it again without harm.
   */
  changed: TorrentSnapshot[];
  /**
   * Torrents removed since the last tick, by info hash. One added again
   * meanwhile is in `changed` too: take `gone` first.
   */
  gone: string[];
  /**
   * Every torrent's figures, as of this tick, for the readers that need
   * them all (a full list of figures now and then). In no particular
   * order. The same array as the last tick's while nothing changed; a
   * copy with the changes otherwise. Never changed once handed out.
   */
  torrents: readonly TorrentSnapshot[];
  /** Counts and sums over every torrent, kept up to date from the changes. */
  sums: TorrentSums;
  connections: ConnectionFigures;
}

/** Every torrent of the engine, counted by what it does, and its rates and peers summed. */
export interface TorrentSums {
  paused: number;
  /** Every piece verified (seeding), paused ones aside. */
  complete: number;
  /** The others: checking, downloading, in error. */
  incomplete: number;
  downloadRate: number;
  uploadRate: number;
  peers: number;
}

/** The process's peer connections at a tick, and what the listener refused. */
export interface ConnectionFigures {
  /** Every torrent's sessions and those handshaking: what `maxConnections` caps. */
  open: number;
  /** Incoming connections the listener holds until their handshake: what `maxHandshaking` caps. */
  handshaking: number;
  /** Incoming connections refused since start, by reason; every reason, 0 included. */
  refused: Record<RefusedConnection, number>;
}

/** The counts and sums of a list of snapshots, worked out whole. */
export function sumsOf(torrents: Iterable<TorrentSnapshot>): TorrentSums {
  const sums = zeroSums();
  for (const s of torrents) {
    count(sums, s, 1);
    sums.downloadRate += s.downloadRate;
    sums.uploadRate += s.uploadRate;
    sums.peers += s.peers;
  }
  return sums;
}

function zeroSums(): TorrentSums {
  return { paused: 0, complete: 0, incomplete: 0, downloadRate: 0, uploadRate: 0, peers: 0 };
}

function count(sums: Pick<TorrentSums, 'paused' | 'complete' | 'incomplete'>, s: TorrentSnapshot, n: number): void {
  if (s.state === 'paused') sums.paused += n;
  else if (s.complete) sums.complete += n;
  else sums.incomplete += n;
}

/**
 * Ticks run one after another, told as one: the changes of all, in order
 * (a torrent gone and added again is gone, then changed), with the last
 * one's time and figures. For a consumer that skipped some (FleetRunner
 * drops a tick whose figures were overtaken by a later one's) and must
 * miss none of their changes.
 */
export function mergeTicks(ticks: readonly EngineTick[]): EngineTick {
  const last = ticks[ticks.length - 1];
  if (!last) throw new RangeError('mergeTicks needs a tick');
  if (ticks.length === 1) return last;
  const changed = new Map<string, TorrentSnapshot>();
  const gone = new Set<string>();
  for (const t of ticks) {
    for (const hex of t.gone) {
      changed.delete(hex);
      gone.add(hex);
    }
    for (const s of t.changed) changed.set(s.infoHash, s);
  }
  return { ...last, changed: [...changed.values()], gone: [...gone] };
}

/** What the ledger needs of a torrent. */
export interface TickedTorrent {
  snapshot(): TorrentSnapshot;
  /** Whether ticks can stop until it says otherwise (Torrent.dormant, 'wake'). */
  readonly dormant: boolean;
}

/** One torrent as the ledger keeps it: the engine's entry. */
export interface LedgerEntry {
  readonly torrent: TickedTorrent;
  /** Its snapshot at the last tick; undefined before its first. */
  last: TorrentSnapshot | undefined;
}

/**
 * The engine's bookkeeping between ticks: which torrents are awake (the
 * only ones ticked), each one's snapshot at the last tick, the torrents
 * removed since, and the counts by state, so that a tick costs what is
 * awake rather than every torrent.
 *
 * A torrent is awake from when it is added until, right after a tick, it
 * is `dormant` (no peers, nothing counted, not checking or downloading,
 * no piece at the sink); it wakes again on its 'wake' event, which the
 * engine passes to `wake`. A dormant torrent's rates and peers are 0, so
 * the sums over the awake ones are the sums over all. The full list is
 * kept too, each entry at a place of its own: the last tick's array is
 * handed out, so a tick that changes something copies it first (a copy of
 * pointers, not a snapshot of every torrent), and one that changes
 * nothing hands the same array again.
 */
export class TickLedger<E extends LedgerEntry> {
  private readonly awake = new Set<E>();
  private gone: string[] = [];
  /** Removed since the last tick: their snapshots leave `all` then. */
  private leaving: E[] = [];
  /** The counts by state over every entry's `last`; rates and peers are summed at each tick. */
  private readonly counts = { paused: 0, complete: 0, incomplete: 0 };
  /** Every entry's `last` (the last tick's `torrents`), the entry at each place, and each entry's place. */
  private all: TorrentSnapshot[] = [];
  private readonly owners: E[] = [];
  private readonly places = new Map<E, number>();

  constructor(
    /** Every entry the engine holds, in the order the full list is built. */
    private readonly entries: () => Iterable<E>,
  ) {}

  /** Torrents ticked at the last tick or due at the next: what an idle seedbox keeps near zero. */
  get awakeCount(): number {
    return this.awake.size;
  }

  /** A new entry: awake until its first ticks show it dormant. */
  added(e: E): void {
    this.awake.add(e);
  }

  /** Whether the entry is ticked (not dormant). */
  isAwake(e: E): boolean {
    return this.awake.has(e);
  }

  /** Its torrent said its snapshot may change: ticked again. */
  wake(e: E): void {
    this.awake.add(e);
  }

  /** The entry left the engine: the next tick names it in `gone`. */
  removed(e: E, infoHashHex: string): void {
    this.awake.delete(e);
    if (e.last) count(this.counts, e.last, -1);
    e.last = undefined;
    this.gone.push(infoHashHex);
    this.leaving.push(e);
  }

  /**
   * One tick: `visit` moves each awake torrent's clock, then its snapshot
   * is compared with the last, and it leaves the awake set if dormant.
   */
  tick(visit: (e: E) => void, end: () => Pick<EngineTick, 'time' | 'connections'>): EngineTick {
    const changed: TorrentSnapshot[] = [];
    let downloadRate = 0;
    let uploadRate = 0;
    let peers = 0;
    let all = this.all;
    let copied = false;
    const writable = (): TorrentSnapshot[] => {
      if (!copied) all = all.slice();
      copied = true;
      return all;
    };
    for (const e of this.leaving) this.unplace(e, writable);
    this.leaving = [];
    for (const e of this.awake) {
      visit(e);
      const s = e.torrent.snapshot();
      if (s !== e.last) {
        if (e.last) count(this.counts, e.last, -1);
        count(this.counts, s, 1);
        e.last = s;
        changed.push(s);
        this.place(e, s, writable());
      }
      downloadRate += s.downloadRate;
      uploadRate += s.uploadRate;
      peers += s.peers;
      if (e.torrent.dormant) this.awake.delete(e);
    }
    const gone = this.gone;
    this.gone = [];
    this.all = all;
    return { ...end(), changed, gone, torrents: all, sums: { ...this.counts, downloadRate, uploadRate, peers } };
  }

  /**
   * Every torrent's snapshot now, changing nothing: `changed` holds those
   * that differ from the last tick's (the next tick has them again), and
   * `gone` is empty (the next tick says which left).
   */
  snapshot(now: Pick<EngineTick, 'time' | 'connections'>): EngineTick {
    const torrents: TorrentSnapshot[] = [];
    const changed: TorrentSnapshot[] = [];
    for (const e of this.entries()) {
      const s = e.torrent.snapshot();
      torrents.push(s);
      if (s !== e.last) changed.push(s);
    }
    return { ...now, changed, gone: [], torrents, sums: sumsOf(torrents) };
  }

  /** The entry's snapshot in `all`: at its place, or a new one at the end. */
  private place(e: E, s: TorrentSnapshot, all: TorrentSnapshot[]): void {
    const at = this.places.get(e);
    if (at !== undefined) {
      all[at] = s;
      return;
    }
    this.places.set(e, all.length);
    all.push(s);
    this.owners.push(e);
  }

  /** The entry's snapshot out of `all`: the last one takes its place. */
  private unplace(e: E, writable: () => TorrentSnapshot[]): void {
    const at = this.places.get(e);
    if (at === undefined) return;
    this.places.delete(e);
    const all = writable();
    const lastSnap = all.pop()!;
    const lastOwner = this.owners.pop()!;
    if (at === all.length) return;
    all[at] = lastSnap;
    this.owners[at] = lastOwner;
    this.places.set(lastOwner, at);
  }
}
