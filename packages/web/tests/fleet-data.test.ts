import { describe, expect, it } from 'vitest';
import { axisRate, cellsOf, chartColumns, countMembers, healthOf, historySpan, latestRates, readFleet } from '../src/app/fleet/fleet-data.js';
import type { FleetMember } from '../src/app/types.js';

const NOW = 1_700_000_100_000;

const member = (over: Partial<FleetMember>): FleetMember => ({
  kind: 'peer-worker',
  instance: 'pw1',
  version: '0.1.0',
  status: 'live',
  left: false,
  ready: true,
  startedAt: NOW - 60_000,
  lastSeen: NOW - 1000,
  uptimeSeconds: 60,
  figures: {},
  ...over,
});

describe('reading the fleet answer', () => {
  it('keeps the members that fit and drops the rest, and cuts the history to whole, ordered points', () => {
    const answer = readFleet({
      now: NOW,
      members: [member({}), { kind: 'disk-writer' }, 'junk', { ...member({ instance: 'dw1', kind: 'disk-writer' }), figures: { bytesPerSecond: 10, bad: 'x', inf: null } }],
      history: { t: [10, 11, 11, 12, 13], down: [1, 2, 3, -4], up: [5, 6, 7, 8, 9] },
    });
    expect(answer.now).toBe(NOW);
    expect(answer.members.map((m) => m.instance)).toEqual(['pw1', 'dw1']);
    expect(answer.members[1]!.figures).toEqual({ bytesPerSecond: 10 });
    // The columns cut to the shortest (4), the repeated second skipped, a negative rate read as 0.
    expect(answer.history).toEqual({ t: [10, 11, 12], down: [1, 2, 0], up: [5, 6, 8] });
  });

  it('reads anything else as an empty fleet rather than failing the page', () => {
    for (const junk of [null, 'x', [], { members: 'no', history: { t: 'no' } }]) {
      const a = readFleet(junk);
      expect(a.members).toEqual([]);
      expect(a.history).toEqual({ t: [], down: [], up: [] });
    }
  });
});

describe('a member as the table shows it', () => {
  it('says its health: ready, not ready and why, stopped, lost', () => {
    expect(healthOf(member({}), NOW)).toEqual({ label: 'Ready', tone: 'ok' });
    expect(healthOf(member({ ready: 'not connected to NATS' }), NOW)).toEqual({ label: 'Not ready: not connected to NATS', tone: 'warn' });
    expect(healthOf(member({ status: 'lost', left: true, lastSeen: NOW - 12_000 }), NOW)).toEqual({ label: 'Stopped 12s ago', tone: 'muted' });
    expect(healthOf(member({ status: 'lost', lastSeen: NOW - 95_000 }), NOW)).toEqual({ label: 'Lost: last seen 1m 35s ago', tone: 'error' });
  });

  it('shows the figures its kind sends, and a dash for those it has not', () => {
    expect(cellsOf(member({ figures: { torrents: 3, downloadRate: 2048, uploadRate: 0, peers: 1 } }))).toEqual({ torrents: '3 running · 1 peer', down: '2.00 KiB/s', up: '0 B/s', disk: '–' });
    expect(cellsOf(member({ kind: 'disk-writer', figures: { bytesPerSecond: 1048576, piecesPerSecond: 4, piecesInProgress: 2, failedPieces: 1 } }))).toEqual({
      torrents: '–',
      down: '–',
      up: '–',
      disk: '1.00 MiB/s (4.0 pieces/s) · 2 in progress · 1 failure',
    });
    expect(cellsOf(member({ kind: 'tracker-client', figures: { torrentsAnnounced: 5, announcers: 10 } })).torrents).toBe('5 announced');
    expect(cellsOf(member({ kind: 'tracker-client', figures: { torrentsAnnounced: 5, announcers: 10, dhtNodes: 1 } })).torrents).toBe('5 announced · 1 DHT node');
    const serve = cellsOf(member({ kind: 'serve', figures: { torrents: 1, peers: 2, downloadRate: 0, uploadRate: 0, bytesPerSecond: 0, piecesPerSecond: 0, piecesInProgress: 0, failedPieces: 0, torrentsAnnounced: 1 } }));
    expect(serve.torrents).toBe('1 running · 2 peers · 1 announced');
    expect(serve.disk).toBe('0 B/s (0.0 pieces/s) · 0 in progress');
  });

  it('counts live and lost members', () => {
    expect(countMembers([member({}), member({ status: 'lost' }), member({})])).toEqual({ live: 2, lost: 1 });
  });
});

describe('the chart’s data', () => {
  it('gives uPlot its columns, the newest rates, and says how far back the history goes', () => {
    const h = { t: [100, 101, 102], down: [1, 2, 3], up: [4, 5, 6] };
    expect(chartColumns(h)).toEqual([h.t, h.down, h.up]);
    expect(latestRates(h)).toEqual({ down: 3, up: 6 });
    expect(latestRates({ t: [], down: [], up: [] })).toBeUndefined();
    expect(historySpan({ t: [], down: [], up: [] })).toMatch(/No rates yet/);
    expect(historySpan({ t: [0, 200], down: [0, 0], up: [0, 0] })).toBe('The last 3m 20s: the replica answering keeps the rates since it started.');
    expect(historySpan({ t: [0, 599], down: [0, 0], up: [0, 0] })).toBe('The last 10 minutes.');
    expect(axisRate(2048)).toBe('2 KiB/s');
    expect(axisRate(1536)).toBe('1.50 KiB/s');
  });
});
