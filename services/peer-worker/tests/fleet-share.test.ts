import { describe, expect, it } from 'vitest';
import { FLOOR_SHARE, shareLimit, type WorkerDemand } from '../src/bandwidth/fleet-share.js';

const MiB = 1024 * 1024;
const total = 20 * MiB;

function shares(demands: WorkerDemand[]): Record<string, number> {
  return Object.fromEntries(demands.map((d) => [d.workerId, shareLimit(total, demands, d.workerId)]));
}

const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

describe('shareLimit', () => {
  it('no fleet limit is no worker limit', () => {
    expect(shareLimit(0, [{ workerId: 'a', rate: 5, wanting: true }], 'a')).toBe(0);
  });

  it('splits among wanting workers by their share of the demand, and the shares sum to the total', () => {
    const s = shares([
      { workerId: 'a', rate: 12 * MiB, wanting: true },
      { workerId: 'b', rate: 4 * MiB, wanting: true },
    ]);
    expect(s.a).toBeGreaterThan(s.b!);
    // Floor plus the proportional part: a has 3/4 of the demand.
    expect(s.a).toBeCloseTo(total * FLOOR_SHARE / 2 + total * (1 - FLOOR_SHARE) * 0.75, -1);
    expect(Math.abs(sum(s) - total)).toBeLessThanOrEqual(2);
  });

  it('a worker that starts wanting gets a floor at once, and shares converge to equal among workers that all want more', () => {
    let demands: WorkerDemand[] = [
      { workerId: 'a', rate: 10 * MiB, wanting: true },
      { workerId: 'b', rate: 10 * MiB, wanting: true },
    ];
    const newcomer = shareLimit(total, demands, 'c');
    expect(newcomer).toBeGreaterThanOrEqual(Math.floor((total * FLOOR_SHARE) / 3));
    demands.push({ workerId: 'c', rate: 0, wanting: true });
    // Each worker uses all it is given, tick after tick.
    for (let tick = 0; tick < 40; tick++) {
      const s = shares(demands);
      demands = demands.map((d) => ({ ...d, rate: s[d.workerId]! }));
    }
    for (const d of demands) expect(Math.abs(d.rate - total / 3) / (total / 3)).toBeLessThan(0.02);
  });

  it('what a worker does not use goes to those that want it; idle workers keep a floor', () => {
    const demands: WorkerDemand[] = [
      { workerId: 'light', rate: 1 * MiB, wanting: false },
      { workerId: 'heavy', rate: 15 * MiB, wanting: true },
      { workerId: 'idle', rate: 0, wanting: false },
    ];
    const s = shares(demands);
    expect(s.light).toBe(Math.floor(Math.max((total * FLOOR_SHARE) / 2, 1.25 * MiB)));
    // The idle one is not active (it is not self in others' view): heavy gets the rest.
    expect(s.heavy).toBeGreaterThan(total - s.light! - 2);
    // The idle worker's own view: it counts itself and gets a floor.
    expect(s.idle).toBeGreaterThanOrEqual(Math.floor((total * FLOOR_SHARE) / 3));
  });

  it('with nobody held back, the total is spread as headroom, never left unused', () => {
    const s = shares([
      { workerId: 'a', rate: 1 * MiB, wanting: false },
      { workerId: 'b', rate: 2 * MiB, wanting: false },
    ]);
    expect(Math.abs(sum(s) - total)).toBeLessThanOrEqual(2);
    expect(s.b).toBeGreaterThan(s.a!);
  });

  it('scales down when workers not held back claim more than the total; odd inputs are safe', () => {
    const s = shares([
      { workerId: 'a', rate: 30 * MiB, wanting: false },
      { workerId: 'b', rate: 10 * MiB, wanting: true },
    ]);
    expect(sum(s)).toBeLessThanOrEqual(total);
    expect(s.b).toBeGreaterThan(0);
    expect(shareLimit(total, [{ workerId: 'x', rate: Number.NaN, wanting: true }, { workerId: 'x', rate: -5, wanting: true }], 'x')).toBe(total);
    expect(shareLimit(100, [{ workerId: 'a', rate: 1e9, wanting: false }, { workerId: 'b', rate: 1e9, wanting: false }], 'b')).toBeGreaterThanOrEqual(1);
  });
});
