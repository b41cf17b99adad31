/**
 * The figures cost what changed: serve's LocalStatsBoard, the fleet's
 * figures over NATS (FiguresPublisher) and the board every replica sums
 * them on (StatsBoard), with 10,000 torrents of which almost none move.
 * Counted in messages, bytes and listed changes, not in time.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { NatsConnection } from 'nats';
import { WatchTorrentsResponse } from '@seedbox/proto';
import type { StatsTick } from '../src/control/backend.js';
import type { EngineTick } from '../src/engine.js';
import { sumsOf } from '../src/engine-tick.js';
import { FiguresPublisher, FULL_FIGURES_EVERY_TICKS, statsOf } from '../src/fleet/figures.js';
import { LocalStatsBoard } from '../src/fleet/local-stats-board.js';
import { StatsBoard } from '../src/fleet/stats-board.js';
import type { TorrentSnapshot } from '../src/torrent.js';
import { quietSnapshot } from './support/fake-engine.js';

const N = 10_000;
const hexOf = (i: number): string => i.toString(16).padStart(40, '0');

afterEach(() => {
  vi.useRealTimers();
});

function snap(i: number, over: Partial<TorrentSnapshot> = {}): TorrentSnapshot {
  return quietSnapshot({ infoHash: hexOf(i), name: `t${i}`, ...over });
}

/** An engine's ticks, by hand: every torrent's snapshot, and what changed since the last tick. */
class Ticks {
  readonly torrents = new Map<string, TorrentSnapshot>();
  private changed: TorrentSnapshot[] = [];
  private gone: string[] = [];
  time = 1_000_000;

  set(s: TorrentSnapshot): void {
    this.torrents.set(s.infoHash, s);
    this.changed.push(s);
  }

  remove(hex: string): void {
    this.torrents.delete(hex);
    this.gone.push(hex);
  }

  next(): EngineTick {
    const torrents = [...this.torrents.values()];
    const t: EngineTick = { time: (this.time += 1000), changed: this.changed, gone: this.gone, torrents, sums: sumsOf(torrents), connections: { open: 0, handshaking: 0, refused: {} as EngineTick['connections']['refused'] } };
    this.changed = [];
    this.gone = [];
    return t;
  }
}

/** A NATS connection in memory: what is published reaches the subscriptions at once. */
function memoryNats(): { nc: NatsConnection; published: { subject: string; data: Uint8Array }[] } {
  const callbacks: ((err: null, msg: { subject: string; data: Uint8Array }) => void)[] = [];
  const published: { subject: string; data: Uint8Array }[] = [];
  const nc = {
    subscribe: (_subject: string, o: { callback: (typeof callbacks)[number] }) => {
      callbacks.push(o.callback);
      return { unsubscribe: () => callbacks.splice(callbacks.indexOf(o.callback), 1) };
    },
    publish: (subject: string, data: Uint8Array) => {
      published.push({ subject, data });
      for (const cb of [...callbacks]) cb(null, { subject, data });
    },
  };
  return { nc: nc as unknown as NatsConnection, published };
}

function listen(board: { onTick(l: (t: StatsTick) => void): () => void }): StatsTick[] {
  const ticks: StatsTick[] = [];
  board.onTick((t) => ticks.push(t));
  return ticks;
}

describe("serve's LocalStatsBoard", () => {
  it('an idle tick of 10,000 torrents changes no view and tells its listeners nothing changed; a torrent that moves or leaves is told alone', () => {
    const engine = new Ticks();
    for (let i = 0; i < N; i++) engine.set(snap(i));
    const board = new LocalStatsBoard();
    const ticks = listen(board);
    board.record(engine.next());
    expect(ticks[0]!.changed).toHaveLength(N);
    const view = board.get(hexOf(5))!;

    const idle = engine.next();
    board.record(idle);
    expect(ticks[1]).toMatchObject({ changed: [], removed: [], downloadRate: 0, uploadRate: 0 });
    // The same view, shown as of the board's last tick.
    expect(board.get(hexOf(5))).toBe(view);
    expect(view.time).toBe(idle.time);

    engine.set(snap(7, { uploadRate: 300, uploaded: 900, peers: 1 }));
    engine.remove(hexOf(8));
    board.record(engine.next());
    expect(ticks[2]!.changed.map((v) => v.infoHashHex)).toEqual([hexOf(7)]);
    expect(ticks[2]!.removed).toEqual([hexOf(8)]);
    expect(ticks[2]!.uploadRate).toBe(300);
    expect(board.get(hexOf(8))).toBeUndefined();
    expect(board.all()).toHaveLength(N - 1);

    engine.set(snap(7));
    board.record(engine.next());
    expect(ticks[3]!.uploadRate).toBe(0);
  });
});

describe('the fleet figures over NATS', () => {
  it('go whole at the first tick and every FULL_FIGURES_EVERY_TICKS, and otherwise as a few bytes of changes: the torrents that moved and those gone', () => {
    const { nc, published } = memoryNats();
    const engine = new Ticks();
    for (let i = 0; i < N; i++) engine.set(snap(i));
    const out = new FiguresPublisher(nc, 'w1');
    const sent = (): WatchTorrentsResponse => WatchTorrentsResponse.decode(published[published.length - 1]!.data);

    out.publish(engine.next());
    expect(published[0]!.subject).toBe('seedbox.stats.w1');
    expect(sent()).toMatchObject({ full: true });
    expect(sent().stats).toHaveLength(N);
    const fullBytes = published[0]!.data.length;

    out.publish(engine.next());
    expect(sent()).toEqual({ stats: [], removed: [], full: false });
    expect(published[1]!.data.length).toBeLessThan(8);

    engine.set(snap(3, { uploadRate: 100 }));
    engine.remove(hexOf(4));
    out.publish(engine.next());
    expect(sent().stats.map((s) => s.infoHash)).toEqual([hexOf(3)]);
    expect(sent().removed).toEqual([hexOf(4)]);
    expect(sent().full).toBe(false);

    for (let i = 3; i < FULL_FIGURES_EVERY_TICKS; i++) out.publish(engine.next());
    expect(published.slice(1).every((p) => p.data.length < 200)).toBe(true);
    out.publish(engine.next());
    expect(published).toHaveLength(FULL_FIGURES_EVERY_TICKS + 1);
    expect(sent()).toMatchObject({ full: true });
    expect(sent().stats).toHaveLength(N - 1);
    expect(published[FULL_FIGURES_EVERY_TICKS]!.data.length).toBeGreaterThan(fullBytes / 2);
  });

  it("are summed by StatsBoard from the changes: a torrent that left is dropped, an idle tick tells nothing, and a board that joined late is right at the next full message", () => {
    vi.useFakeTimers();
    const { nc } = memoryNats();
    const engine = new Ticks();
    for (let i = 0; i < N; i++) engine.set(snap(i));
    const board = new StatsBoard(nc);
    const ticks = listen(board);
    const w1 = new FiguresPublisher(nc, 'w1');
    // A second worker seeding torrent 1 too.
    const w2 = new FiguresPublisher(nc, 'w2');
    const other = new Ticks();
    other.set(snap(1, { uploadRate: 50 }));

    w1.publish(engine.next());
    w2.publish(other.next());
    vi.advanceTimersByTime(1000);
    expect(ticks[0]!.changed).toHaveLength(N);
    expect(ticks[0]!.uploadRate).toBe(50);
    expect(board.get(hexOf(1))).toMatchObject({ uploadRate: 50 });
    expect(board.runners(hexOf(1))).toBe(2);

    // A board that starts now has missed the full messages.
    const late = new StatsBoard(nc);

    w1.publish(engine.next());
    w2.publish(other.next());
    vi.advanceTimersByTime(1000);
    expect(ticks[1]).toMatchObject({ changed: [], removed: [] });

    engine.remove(hexOf(2));
    engine.set(snap(3, { downloadRate: 70, state: 'downloading', complete: false, left: 100 }));
    w1.publish(engine.next());
    w2.publish(other.next());
    vi.advanceTimersByTime(1000);
    expect(ticks[2]!.removed).toEqual([hexOf(2)]);
    expect(ticks[2]!.changed.map((v) => v.infoHashHex)).toEqual([hexOf(3)]);
    expect(ticks[2]).toMatchObject({ downloadRate: 70, uploadRate: 50 });
    expect(board.get(hexOf(2))).toBeUndefined();
    expect(board.runners(hexOf(2))).toBe(0);
    expect(board.all()).toHaveLength(N - 1);
    expect(late.get(hexOf(3))).toMatchObject({ downloadRate: 70 });
    expect(late.get(hexOf(9))).toBeUndefined();

    for (let i = 3; i <= FULL_FIGURES_EVERY_TICKS; i++) {
      w1.publish(engine.next());
      w2.publish(other.next());
    }
    expect(late.get(hexOf(9))).toMatchObject({ infoHashHex: hexOf(9), state: 'seeding' });
    expect(late.all()).toHaveLength(N - 1);

    // w2 goes quiet: its figures are dropped, and torrent 1 is w1's alone.
    for (let i = 0; i < 7; i++) {
      w1.publish(engine.next());
      vi.advanceTimersByTime(1000);
    }
    expect(board.get(hexOf(1))).toMatchObject({ uploadRate: 0 });
    expect(ticks.some((t) => t.changed.some((v) => v.infoHashHex === hexOf(1) && v.uploadRate === 0))).toBe(true);
    board.close();
    late.close();
  });

  it('from a worker not yet upgraded (every message whole), tells only the torrents whose figures changed', () => {
    vi.useFakeTimers();
    const { nc } = memoryNats();
    const board = new StatsBoard(nc);
    const ticks = listen(board);
    const engine = new Ticks();
    for (let i = 0; i < 100; i++) engine.set(snap(i));
    // As every worker published before: each tick, every torrent.
    const old = (t: EngineTick): void => nc.publish('seedbox.stats.old', WatchTorrentsResponse.encode({ stats: t.torrents.map((x) => statsOf(x, t.time)), removed: [], full: true }).finish());
    old(engine.next());
    vi.advanceTimersByTime(1000);
    old(engine.next());
    vi.advanceTimersByTime(1000);
    expect(ticks[0]!.changed).toHaveLength(100);
    expect(ticks[1]).toMatchObject({ changed: [], removed: [] });
    engine.remove(hexOf(5));
    old(engine.next());
    vi.advanceTimersByTime(1000);
    expect(ticks[2]).toMatchObject({ changed: [], removed: [hexOf(5)] });
    board.close();
  });
});
