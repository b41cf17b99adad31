import { describe, expect, it } from 'vitest';
import { formatBytes, formatDate, formatDuration, formatEta, formatLimit, formatPercent, formatRate, formatRatio, formatSwarm, linksOf, parseKiBps, stateLabel, stateTone, toKiBps } from '../src/app/format.js';
import { MAX_ETA } from '../src/app/types.js';

describe('formatting', () => {
  it('sizes in binary units, unknown as a dash', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.00 KiB');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(10 * 1024 * 1024 + 1)).toBe('10.0 MiB');
    expect(formatBytes(700 * 1024 ** 3)).toBe('700 GiB');
    expect(formatBytes(3 * 1024 ** 4)).toBe('3.00 TiB');
    expect(formatBytes(-1)).toBe('–');
    expect(formatBytes(Number.NaN)).toBe('–');
  });

  it('rates per second, limits with ∞ for none', () => {
    expect(formatRate(2048)).toBe('2.00 KiB/s');
    expect(formatRate(0)).toBe('0 B/s');
    expect(formatRate(0, true)).toBe('');
    expect(formatLimit(0)).toBe('∞');
    expect(formatLimit(-1)).toBe('∞');
    expect(formatLimit(1024 * 1024)).toBe('1.00 MiB/s');
  });

  it('ETA in its two largest units, qBittorrent’s 8640000 as ∞', () => {
    expect(formatEta(MAX_ETA)).toBe('∞');
    expect(formatEta(8_640_000)).toBe('∞');
    expect(formatEta(9_000_000)).toBe('∞');
    expect(formatEta(0)).toBe('0s');
    expect(formatEta(59)).toBe('59s');
    expect(formatEta(61)).toBe('1m 1s');
    expect(formatEta(3600 + 120 + 5)).toBe('1h 2m');
    expect(formatEta(2 * 86_400 + 3 * 3600 + 59)).toBe('2d 3h');
    expect(formatDuration(-1)).toBe('–');
  });

  it('percentages never reach 100% early; ratios with ∞ for unknown', () => {
    expect(formatPercent(0)).toBe('0.0%');
    expect(formatPercent(0.4567)).toBe('45.6%');
    expect(formatPercent(0.99999)).toBe('99.9%');
    expect(formatPercent(1)).toBe('100%');
    expect(formatRatio(1.234)).toBe('1.23');
    expect(formatRatio(-1)).toBe('∞');
    expect(formatRatio(9999)).toBe('∞');
  });

  it('dates, swarm counts, state names and tones', () => {
    expect(formatDate(-1)).toBe('–');
    expect(formatDate(0)).toBe('–');
    expect(formatDate(1_700_000_000)).toMatch(/^2023-11-1[45] \d\d:\d\d$/);
    expect(formatSwarm(3, 10)).toBe('3 (10)');
    expect(formatSwarm(3, 3)).toBe('3');
    expect(stateLabel('stalledUP')).toBe('Seeding');
    expect(stateLabel('stoppedDL')).toBe('Stopped');
    expect(stateLabel('pausedUP')).toBe('Completed');
    expect(stateLabel('somethingNew')).toBe('somethingNew');
    expect(stateTone('error')).toBe('error');
    expect(stateTone('downloading')).toBe('active');
    expect(stateTone('stoppedUP')).toBe('done');
    expect(stateTone('queuedDL')).toBe('waiting');
  });

  it('limit fields in KiB/s: empty is none, bad text refused', () => {
    expect(parseKiBps('')).toBe(0);
    expect(parseKiBps(' 100 ')).toBe(102_400);
    expect(parseKiBps('1.5')).toBe(1536);
    expect(parseKiBps('-1')).toBeUndefined();
    expect(parseKiBps('fast')).toBeUndefined();
    expect(toKiBps(0)).toBe('');
    expect(toKiBps(-1)).toBe('');
    expect(toKiBps(102_400)).toBe('100');
  });

  it('links from the add box: one a line, blank lines dropped', () => {
    expect(linksOf('magnet:?xt=urn:btih:aa\r\n\n  http://x/y.torrent  \n')).toEqual(['magnet:?xt=urn:btih:aa', 'http://x/y.torrent']);
    expect(linksOf('  \n')).toEqual([]);
  });
});
