/**
 * The piece map's columns: torrents/pieceStates gives each piece 0 (not
 * downloaded), 1 (downloading) or 2 (downloaded). With more pieces than
 * pixel columns, a column stands for several pieces and is shaded by the
 * share of them downloaded. Pure.
 */

export interface PieceColumn {
  /** Share of the column's pieces downloaded, 0..1. */
  done: number;
  /** Whether any of them is being downloaded. */
  downloading: boolean;
}

export function pieceColumns(states: readonly number[], width: number): PieceColumn[] {
  const n = states.length;
  const count = Math.max(0, Math.min(n, Math.floor(width)));
  const out: PieceColumn[] = [];
  for (let c = 0; c < count; c++) {
    const from = Math.floor((c * n) / count);
    const to = Math.max(from + 1, Math.floor(((c + 1) * n) / count));
    let done = 0;
    let downloading = false;
    for (let i = from; i < to; i++) {
      if (states[i] === 2) done++;
      else if (states[i] === 1) downloading = true;
    }
    out.push({ done: done / (to - from), downloading });
  }
  return out;
}

/** Pieces downloaded, of all. */
export function piecesDone(states: readonly number[]): number {
  let n = 0;
  for (const s of states) if (s === 2) n++;
  return n;
}
