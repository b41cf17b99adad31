import { describe, expect, it } from 'vitest';
import { Bitfield, PieceGeometry } from '@seedbox/protocol';
import { checkPriorities, FileSelectionError, FileSelectionState, piecePriorities, PIECE_HIGH, PIECE_NORMAL, PIECE_SKIP, PIECE_TOP } from '../src/file-selection.js';
import { PiecePicker } from '../src/piece-picker.js';

function bits(n: number, set: number[]): Bitfield {
  const b = new Bitfield(n);
  for (const i of set) b.set(i);
  return b;
}

/** Files of 100 bytes each, pieces of 64: file 1 straddles pieces 1-3, pieces 1 and 3 are shared. */
const files = [
  { path: ['a'], length: 100 }, // pieces 0-1
  { path: ['b'], length: 100 }, // pieces 1-3
  { path: ['c'], length: 100 }, // pieces 3-4
];
const geometry = new PieceGeometry({ pieceLength: 64, totalLength: 300, files });

describe('piece priorities from file priorities', () => {
  it('gives a piece the highest priority of the files it overlaps, and 0 only when all are skipped', () => {
    expect([...piecePriorities(geometry, files, ['normal', 'skip', 'normal'], false)]).toEqual([1, 1, PIECE_SKIP, 1, 1]);
    expect([...piecePriorities(geometry, files, ['skip', 'high', 'skip'], false)]).toEqual([0, PIECE_HIGH, PIECE_HIGH, PIECE_HIGH, 0]);
    expect([...piecePriorities(geometry, files, ['skip', 'skip', 'skip'], false)]).toEqual([0, 0, 0, 0, 0]);
    expect([...piecePriorities(geometry, files, ['high', 'normal', 'skip'], false)]).toEqual([2, 2, 1, 1, 0]);
  });

  it('puts the first and last piece of every wanted file on top with firstLastPiece', () => {
    expect([...piecePriorities(geometry, files, ['skip', 'normal', 'skip'], true)]).toEqual([0, PIECE_TOP, PIECE_NORMAL, PIECE_TOP, 0]);
  });

  it('wants a piece of padding only while some file is wanted', () => {
    const padded = [
      { path: ['a'], length: 64 },
      { path: ['.pad', '64'], length: 64, padding: true },
      { path: ['b'], length: 64 },
    ];
    const g = new PieceGeometry({ pieceLength: 64, totalLength: 192, files: padded });
    expect([...piecePriorities(g, padded, ['normal', 'normal', 'skip'], false)]).toEqual([1, 1, 0]);
    expect([...piecePriorities(g, padded, ['skip', 'skip', 'skip'], false)]).toEqual([0, 0, 0]);
  });

  it('refuses a wrong-length array or an unknown value with a typed error naming the rule', () => {
    const length = (() => {
      try {
        checkPriorities(['normal'], 3);
      } catch (e) {
        return e;
      }
    })() as FileSelectionError;
    expect(length).toBeInstanceOf(FileSelectionError);
    expect(length.code).toBe('FILE_PRIORITIES_LENGTH');
    expect(length.message).toMatch(/one entry per file.*3 files, 1 given/);
    expect(() => checkPriorities(['normal', 'urgent', 'skip'], 3)).toThrow(expect.objectContaining({ code: 'FILE_PRIORITY_UNKNOWN', fileIndex: 1 }));
  });

  it('keeps wanted bytes and per-file verified bytes as pieces verify', () => {
    const s = new FileSelectionState(geometry, files, { priorities: ['normal', 'skip', 'skip'] });
    const have = new Bitfield(5);
    s.reset(have);
    expect(s.wanted).toBe(128); // pieces 0 and 1; piece 1 is shared with b
    expect(s.wantedLeft).toBe(128);
    expect(s.left).toBe(300);
    have.set(1);
    s.pieceVerified(1);
    expect(s.wantedLeft).toBe(64);
    expect(s.progress().map((f) => f.verified)).toEqual([36, 28, 0]);
    have.set(0);
    s.pieceVerified(0);
    expect(s.wantedLeft).toBe(0);
    expect(s.progress().map((f) => f.verified)).toEqual([100, 28, 0]);
    s.setPriorities(['normal', 'normal', 'skip'], have);
    expect(s.wantedLeft).toBe(128); // pieces 2 and 3
    // The same figures from scratch.
    const fresh = new FileSelectionState(geometry, files, { priorities: ['normal', 'normal', 'skip'] });
    fresh.reset(have);
    expect(fresh.progress()).toEqual(s.progress());
  });
});

describe('PiecePicker with priorities', () => {
  const n = 10;
  const picker = (priorities: number[], o: { sequential?: boolean; have?: number[] } = {}) =>
    new PiecePicker(bits(n, o.have ?? []), { randomFirstPieces: 0, priorities: Uint8Array.from(priorities), sequential: o.sequential ?? false });

  it('never starts a priority-0 piece, and counts only wanted pieces as left to start', () => {
    const p = picker([0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(p.unstartedCount).toBe(2);
    expect(p.missingCount).toBe(2);
    const picked = new Set<number>();
    for (let i = 0; i < 5; i++) {
      const x = p.pick('all');
      if (x !== undefined) {
        picked.add(x);
        p.markBusy(x);
      }
    }
    expect([...picked].sort()).toEqual([1, 3]);
    expect(p.unstartedCount).toBe(0);
    p.markHave(1);
    p.markHave(3);
    expect(p.missingCount).toBe(0);
  });

  it('starts higher priorities first, rarest first within one', () => {
    const p = picker([1, 1, 2, 2, 1, 1, 1, 1, 1, 1]);
    p.addPeer(bits(n, [2, 3, 4]));
    p.addPeer(bits(n, [2, 4]));
    // 3 is the rarest of the high ones; 0..9 normal come after both highs.
    expect(p.pick('all')).toBe(3);
    p.markBusy(3);
    expect(p.pick('all')).toBe(2);
    p.markBusy(2);
    // A peer without the high pieces gets normal ones; rarest (0 peers counted) before 4 (2 peers).
    expect(p.pick(bits(n, [4, 5]))).toBe(5);
  });

  it('picks in index order when sequential, highest priority first, and after a failed piece goes back to it', () => {
    const p = picker([1, 0, 1, 1, 1, 1, 1, 2, 1, 1], { sequential: true, have: [0] });
    p.addPeer(bits(n, [9]));
    const order: number[] = [];
    for (let x = p.pick('all'); x !== undefined; x = p.pick('all')) {
      order.push(x);
      p.markBusy(x);
    }
    expect(order).toEqual([7, 2, 3, 4, 5, 6, 8, 9]);
    p.markIdle(3); // failed its hash
    expect(p.pick('all')).toBe(3);
    expect(p.pick(bits(n, [0, 1, 2]))).toBeUndefined();
  });

  it('takes the first and last piece of a wanted file before the rest, and switches modes at run time', () => {
    const fl = piecePriorities(geometry, files, ['skip', 'normal', 'skip'], true);
    const p = new PiecePicker(new Bitfield(5), { randomFirstPieces: 0, priorities: fl, sequential: true });
    expect(p.pick('all')).toBe(1);
    p.markBusy(1);
    expect(p.pick('all')).toBe(3);
    p.markBusy(3);
    expect(p.pick('all')).toBe(2);
    p.setPriorities(piecePriorities(geometry, files, ['normal', 'normal', 'normal'], false));
    p.setSequential(false);
    expect(p.unstartedCount).toBe(3); // 0, 2, 4: 1 and 3 are under way
    expect(new Set([p.pick('all'), p.pick('all')]).has(1)).toBe(false);
  });

  it('the random first pieces stay within the highest priority', () => {
    for (let run = 0; run < 50; run++) {
      const p = new PiecePicker(new Bitfield(n), { randomFirstPieces: 4, priorities: Uint8Array.from([1, 1, 1, 2, 1, 2, 1, 0, 1, 1]) });
      expect([3, 5]).toContain(p.pick('all'));
    }
  });

  it('keeps pick() to about a millisecond for 100k pieces', () => {
    const count = 100_000;
    const pri = new Uint8Array(count).fill(1);
    for (let i = 0; i < count; i += 3) pri[i] = 0;
    for (const sequential of [false, true]) {
      const p = new PiecePicker(new Bitfield(count), { randomFirstPieces: 0, priorities: pri, sequential });
      const started = performance.now();
      for (let i = 0; i < 200; i++) p.markBusy(p.pick('all')!);
      const perPick = (performance.now() - started) / 200;
      expect(perPick, `${sequential ? 'sequential' : 'rarest first'}: ${perPick.toFixed(3)} ms per pick`).toBeLessThan(5);
    }
  });
});
