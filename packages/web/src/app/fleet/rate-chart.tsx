import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatRate } from '../format.js';
import type { FleetAnswer } from '../types.js';
import { axisRate, chartColumns } from './fleet-data.js';

/**
 * The fleet's download and upload rate over time, drawn by uPlot on a
 * canvas. uPlot draws with the colours it is given, not with CSS, so
 * they are read from the stylesheet's variables, and the chart is made
 * again when the theme changes (data-theme on <html>, which theme.ts
 * sets for the toggle and for the system's choice). Its width follows its box.
 */

const HEIGHT = 220;

/** Steps for the rate axis in binary units (1, 2, 5, 10, 20, 50… of B, KiB, MiB, GiB), so its labels read 512 KiB/s rather than 488 KiB/s. */
const RATE_STEPS = [0, 1, 2, 3].flatMap((k) => [1, 2, 5, 10, 20, 50, 100, 200, 500].map((m) => m * 1024 ** k));

/** A number that changes whenever the theme may have. */
function useThemeKey(): number {
  const [key, setKey] = useState(0);
  useEffect(() => {
    const bump = () => setKey((k) => k + 1);
    // theme.ts keeps data-theme on <html> for the toggle and the system's choice alike.
    const observer = new MutationObserver(bump);
    observer.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    return () => observer.disconnect();
  }, []);
  return key;
}

function options(box: HTMLElement): uPlot.Options {
  const css = getComputedStyle(box);
  const colour = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  const axis = { stroke: colour('--muted', '#666'), grid: { stroke: colour('--border', '#ddd'), width: 1 }, ticks: { stroke: colour('--border', '#ddd'), width: 1 } };
  const value = (_u: uPlot, v: number | null) => (v === null ? '–' : formatRate(v));
  return {
    width: Math.max(200, box.clientWidth),
    height: HEIGHT,
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1024, max * 1.1)] } },
    series: [
      {},
      { label: 'Download', stroke: colour('--chart-down', '#2563eb'), fill: colour('--chart-down-fill', 'rgba(37, 99, 235, 0.12)'), width: 2, value, points: { show: false } },
      { label: 'Upload', stroke: colour('--chart-up', '#1f8a4c'), fill: colour('--chart-up-fill', 'rgba(31, 138, 76, 0.12)'), width: 2, value, points: { show: false } },
    ],
    axes: [axis, { ...axis, size: 86, incrs: RATE_STEPS, values: (_u, splits) => splits.map(axisRate) }],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
  };
}

export function RateChart(props: { history: FleetAnswer['history']; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | undefined>(undefined);
  const latest = useRef(props.history);
  latest.current = props.history;
  const theme = useThemeKey();

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const u = new uPlot(options(el), chartColumns(latest.current), el);
    chart.current = u;
    const observer = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.destroy();
      chart.current = undefined;
    };
  }, [theme]);

  useEffect(() => {
    chart.current?.setData(chartColumns(props.history));
  }, [props.history]);

  return <div ref={box} class="rate-chart" role="figure" aria-label={props.label} />;
}
