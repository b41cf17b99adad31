import { formatBytes, formatDuration, formatRate } from '../format.js';
import type { FleetAnswer, FleetMember } from '../types.js';

/**
 * The fleet view's reading of GET /api/seedbox/v1/fleet: the answer
 * checked (a member that does not fit is left out, never shown as
 * nonsense), each member's health and figures as text, and the history
 * as a chart's columns. Pure, no DOM.
 *
 * Figures by kind, as the services send them (service-heartbeat.ts):
 * peer-worker torrents, downloadRate, uploadRate, peers; disk-writer
 * bytesPerSecond, piecesPerSecond, piecesInProgress, failedPieces;
 * tracker-client torrentsAnnounced, announcers; serve all of them.
 */

export const KIND_LABELS: Record<string, string> = {
  serve: 'seedbox serve',
  'peer-worker': 'peer-worker',
  'disk-writer': 'disk-writer',
  'tracker-client': 'tracker-client',
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function readMember(v: unknown): FleetMember | undefined {
  if (!isObject(v)) return undefined;
  const { kind, instance, version, status, ready } = v;
  if (typeof kind !== 'string' || typeof instance !== 'string' || (status !== 'live' && status !== 'lost')) return undefined;
  const figures: Record<string, number> = {};
  if (isObject(v.figures)) for (const [k, x] of Object.entries(v.figures)) if (finite(x)) figures[k] = x;
  return {
    kind,
    instance,
    version: typeof version === 'string' ? version : '',
    status,
    left: v.left === true,
    ready: ready === true ? true : typeof ready === 'string' ? ready : 'unknown',
    startedAt: finite(v.startedAt) ? v.startedAt : 0,
    lastSeen: finite(v.lastSeen) ? v.lastSeen : 0,
    uptimeSeconds: finite(v.uptimeSeconds) ? v.uptimeSeconds : -1,
    figures,
  };
}

/** The history's three columns, cut to the shortest and to points in time order, so a chart never gets ragged or unordered data. */
function readHistory(v: unknown): FleetAnswer['history'] {
  const out: FleetAnswer['history'] = { t: [], down: [], up: [] };
  if (!isObject(v) || !Array.isArray(v.t) || !Array.isArray(v.down) || !Array.isArray(v.up)) return out;
  const n = Math.min(v.t.length, v.down.length, v.up.length);
  for (let i = 0; i < n; i++) {
    const t = v.t[i] as unknown;
    const d = v.down[i] as unknown;
    const u = v.up[i] as unknown;
    if (!finite(t) || !finite(d) || !finite(u)) continue;
    if (out.t.length > 0 && t <= out.t[out.t.length - 1]!) continue;
    out.t.push(t);
    out.down.push(Math.max(0, d));
    out.up.push(Math.max(0, u));
  }
  return out;
}

export function readFleet(v: unknown): FleetAnswer {
  if (!isObject(v)) return { now: Date.now(), members: [], history: { t: [], down: [], up: [] } };
  const members = Array.isArray(v.members) ? v.members.map(readMember).filter((m): m is FleetMember => m !== undefined) : [];
  return { now: finite(v.now) ? v.now : Date.now(), members, history: readHistory(v.history) };
}

export type Tone = 'ok' | 'warn' | 'error' | 'muted';

/** "Ready", "Not ready: why", "Stopped 12s ago", "Lost: last seen 40s ago". */
export function healthOf(m: FleetMember, now: number): { label: string; tone: Tone } {
  const ago = formatDuration(Math.max(0, (now - m.lastSeen) / 1000));
  if (m.status === 'lost') return m.left ? { label: `Stopped ${ago} ago`, tone: 'muted' } : { label: `Lost: last seen ${ago} ago`, tone: 'error' };
  if (m.ready === true) return { label: 'Ready', tone: 'ok' };
  return { label: `Not ready: ${m.ready}`, tone: 'warn' };
}

const has = (m: FleetMember, name: string): boolean => name in m.figures;
const fig = (m: FleetMember, name: string): number => m.figures[name] ?? 0;
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

export interface MemberCells {
  torrents: string;
  down: string;
  up: string;
  disk: string;
}

/** A member's figures as the table's cells; '–' where its kind has no such figure. */
export function cellsOf(m: FleetMember): MemberCells {
  const torrents: string[] = [];
  if (has(m, 'torrents')) torrents.push(`${fig(m, 'torrents')} running`);
  if (has(m, 'peers')) torrents.push(plural(fig(m, 'peers'), 'peer'));
  if (has(m, 'torrentsAnnounced')) torrents.push(`${fig(m, 'torrentsAnnounced')} announced`);
  if (has(m, 'dhtNodes')) torrents.push(plural(fig(m, 'dhtNodes'), 'DHT node'));
  const disk: string[] = [];
  if (has(m, 'bytesPerSecond')) disk.push(`${formatRate(fig(m, 'bytesPerSecond'))} (${fig(m, 'piecesPerSecond').toFixed(1)} pieces/s)`);
  if (has(m, 'piecesInProgress')) disk.push(`${fig(m, 'piecesInProgress')} in progress`);
  if (has(m, 'failedPieces') && fig(m, 'failedPieces') > 0) disk.push(`${plural(fig(m, 'failedPieces'), 'failure')}`);
  return {
    torrents: torrents.join(' · ') || '–',
    down: has(m, 'downloadRate') ? formatRate(fig(m, 'downloadRate')) : '–',
    up: has(m, 'uploadRate') ? formatRate(fig(m, 'uploadRate')) : '–',
    disk: disk.join(' · ') || '–',
  };
}

/** How many members are live and lost, for the heading. */
export function countMembers(members: readonly FleetMember[]): { live: number; lost: number } {
  let live = 0;
  for (const m of members) if (m.status === 'live') live++;
  return { live, lost: members.length - live };
}

/** uPlot's AlignedData: x (Unix seconds), then one column a series. */
export function chartColumns(h: FleetAnswer['history']): [number[], number[], number[]] {
  return [h.t, h.down, h.up];
}

/** What the chart covers: the full ten minutes, or as far back as this replica has seen (it keeps the rates in memory from its start). */
export function historySpan(h: FleetAnswer['history']): string {
  if (h.t.length === 0) return 'No rates yet: the first come within a second.';
  const seconds = h.t[h.t.length - 1]! - h.t[0]!;
  if (seconds >= 590) return 'The last 10 minutes.';
  return `The last ${formatDuration(seconds)}: the replica answering keeps the rates since it started.`;
}

/** The newest point: the fleet's total rates now. */
export function latestRates(h: FleetAnswer['history']): { down: number; up: number } | undefined {
  const i = h.t.length - 1;
  return i < 0 ? undefined : { down: h.down[i]!, up: h.up[i]! };
}

/** The chart's axis: bytes per second, shorter than formatRate (no decimals past 10). */
export function axisRate(v: number): string {
  return `${formatBytes(v).replace(/\.0+ /, ' ')}/s`;
}
