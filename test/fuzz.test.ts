/**
 * The short run of the fuzzer (`npm run fuzz` runs a million cases per
 * target; see docs/FUZZING.md): every target for a few thousand cases
 * with a fixed seed, in this process. A crash fails the test with the
 * command that replays it.
 *
 * The first block checks the checker: a decoder that throws something
 * other than its typed error, one that is slow on some input and one that
 * allocates without bound are each reported, with the case that did it.
 */
import { describe, expect, it } from 'vitest';
import { makeCase, runRange, type Crash } from '../fuzz/engine.js';
import type { FuzzTarget } from '../fuzz/target.js';
import { TARGETS } from '../fuzz/targets/index.js';

const SEED = 20_250_101;
const CASES = 3000;

class TypedError extends Error {}

function toy(run: (input: Uint8Array) => string | void): FuzzTarget {
  return { name: 'toy', covers: 'a decoder with a planted bug', seeds: () => [Uint8Array.of(1, 2, 3), new Uint8Array(40)], run, isTypedError: (e) => e instanceof TypedError };
}

function replay(c: Crash): string {
  return `${c.target} case ${c.index} (${c.kind}): ${c.message.split('\n')[0]}; replay: npm run fuzz -- --target ${c.target} --seed ${c.seed} --case ${c.index}`;
}

describe('the fuzz harness', () => {
  it('counts typed errors as answers and anything else thrown as a crash', async () => {
    const r = await runRange(
      toy((input) => {
        if (input.length === 0) throw new TypedError('empty');
        if (input[0] === 0xff) throw new RangeError('planted');
        return 'ok';
      }),
      { seed: 1, start: 0, count: 3000 },
    );
    expect(r.outcomes['TypedError'] ?? r.outcomes['Error']).toBeGreaterThan(0);
    expect(r.crashes.length).toBeGreaterThan(0);
    expect(r.crashes.every((c) => c.kind === 'exception' && c.message === 'RangeError: planted')).toBe(true);
    // The report is enough to rebuild the input.
    const c = r.crashes[0]!;
    expect(Buffer.from(makeCase(toy(() => undefined), c.seed, c.index)).toString('base64')).toBe(c.inputBase64);
  });

  it('reports a case over the time bound, and one that grows the heap past the memory bound', async () => {
    const slow = await runRange(
      toy((input) => {
        if (input.length !== 17) return;
        const until = performance.now() + 30;
        while (performance.now() < until);
      }),
      { seed: 1, start: 0, count: 400, timeLimitMs: 20 },
    );
    expect(slow.crashes.length).toBeGreaterThan(0);
    expect(slow.crashes.every((c) => c.kind === 'slow')).toBe(true);

    let sink: Uint8Array | undefined;
    const hungry = await runRange(
      toy((input) => {
        sink = input.length === 17 ? new Uint8Array(8 * 1024 * 1024) : undefined;
      }),
      { seed: 1, start: 0, count: 400, memoryLimitBytes: 4 * 1024 * 1024 },
    );
    expect(sink?.length ?? 0).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(hungry.crashes.length).toBeGreaterThan(0);
    expect(hungry.crashes.every((c) => c.kind === 'memory')).toBe(true);
  });

  it('makes the same case from the same (seed, target, index), and different ones otherwise', () => {
    const target = TARGETS.find((t) => t.name === 'wire')!;
    expect(makeCase(target, 7, 1234)).toEqual(makeCase(target, 7, 1234));
    expect(makeCase(target, 7, 1234)).not.toEqual(makeCase(target, 8, 1234));
  });
});

describe.each(TARGETS.map((t) => [t.name, t] as const))('fuzz %s', (_name, target) => {
  it(`answers a value or its typed error within the bounds, ${CASES} cases`, async () => {
    const r = await runRange(target, { seed: SEED, start: 0, count: CASES });
    expect(r.crashes.map(replay)).toEqual([]);
    expect(r.count).toBe(CASES);
  });
});
