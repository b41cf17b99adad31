import { useEffect, useRef, useState } from 'preact/hooks';
import type { Api } from '../api.js';
import { formatPercent } from '../format.js';
import { pieceColumns, piecesDone } from './piece-map.js';
import { usePoll } from './use-poll.js';

/**
 * The Pieces tab: torrents/pieceStates drawn on a canvas, one column a
 * piece (or a shaded group of them when there are more pieces than
 * pixels), in the theme's colours.
 */

function draw(canvas: HTMLCanvasElement, states: number[]): void {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.floor(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.floor(canvas.clientHeight * ratio));
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const g = canvas.getContext('2d');
  if (!g) return;
  const css = getComputedStyle(canvas);
  const colour = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  g.globalAlpha = 1;
  g.fillStyle = colour('--piece-empty', '#ddd');
  g.fillRect(0, 0, width, height);
  const columns = pieceColumns(states, width);
  const done = colour('--piece-done', '#2a7');
  const busy = colour('--piece-busy', '#e90');
  columns.forEach((c, i) => {
    const x0 = Math.floor((i * width) / columns.length);
    const x1 = Math.floor(((i + 1) * width) / columns.length);
    if (c.downloading) {
      g.globalAlpha = 1;
      g.fillStyle = busy;
      g.fillRect(x0, 0, Math.max(1, x1 - x0), height);
    }
    if (c.done > 0) {
      g.globalAlpha = c.done;
      g.fillStyle = done;
      g.fillRect(x0, 0, Math.max(1, x1 - x0), height);
    }
  });
  g.globalAlpha = 1;
}

export function PiecesTab(props: { api: Api; hash: string }) {
  const { api, hash } = props;
  const { data: states, error } = usePoll(() => api.pieceStates(hash), [hash], 2000);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(0);

  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const observer = new ResizeObserver(() => setWidth(c.clientWidth));
    observer.observe(c);
    return () => observer.disconnect();
  }, [states === undefined]);

  useEffect(() => {
    if (canvas.current && states) draw(canvas.current, states);
  }, [states, width]);

  if (error) return <p class="tab-error">{error}</p>;
  if (!states) return <p class="muted">Loading…</p>;
  const done = piecesDone(states);
  return (
    <div class="pieces">
      <p>
        {done} of {states.length} pieces ({formatPercent(states.length > 0 ? done / states.length : 0)})
        <span class="legend">
          <span class="swatch swatch-done" /> downloaded <span class="swatch swatch-busy" /> downloading <span class="swatch swatch-empty" /> missing
        </span>
      </p>
      <canvas ref={canvas} class="piece-map" role="img" aria-label={`Piece map: ${done} of ${states.length} pieces downloaded`} />
    </div>
  );
}
