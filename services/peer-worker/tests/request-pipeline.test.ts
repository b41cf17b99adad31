import { describe, expect, it } from 'vitest';
import { BLOCK_LENGTH } from '@seedbox/protocol';
import { RequestPipeline } from '../src/request-pipeline.js';

describe('RequestPipeline', () => {
  it('grows by two blocks per block received during slow start: three times the queue each round trip', () => {
    const p = new RequestPipeline({ initial: 4, ceiling: 1000 });
    // A round trip answers the whole queue.
    for (const expected of [12, 36, 108, 324, 972]) {
      for (let i = p.size; i > 0; i--) p.onBlock();
      expect(p.size).toBe(expected);
    }
    expect(p.inSlowStart).toBe(true);
    for (let i = 0; i < 100; i++) p.onBlock();
    expect(p.size).toBe(1000); // the ceiling
  });

  it('grows by slowStartStep when given (1: libtorrent\'s doubling)', () => {
    const p = new RequestPipeline({ initial: 4, slowStartStep: 1 });
    for (let i = 0; i < 10; i++) p.onBlock();
    expect(p.size).toBe(14);
  });

  it('leaves slow start when the rate stops growing, then follows the bandwidth-delay product', () => {
    const p = new RequestPipeline({ initial: 4, ceiling: 1000 });
    p.onTick(0); // handshaking: says nothing
    expect(p.inSlowStart).toBe(true);
    p.onTick(10 * BLOCK_LENGTH);
    p.onTick(40 * BLOCK_LENGTH);
    expect(p.inSlowStart).toBe(true);
    p.onTick(41 * BLOCK_LENGTH); // < 10% growth
    expect(p.inSlowStart).toBe(false);
    expect(p.size).toBe(41); // 41 blocks/s x 1 s
    p.onTick(200 * BLOCK_LENGTH);
    expect(p.size).toBe(200);
  });

  it('stays between the floor and the ceiling, and under the peer reqq', () => {
    const p = new RequestPipeline({ initial: 4, floor: 4, ceiling: 300 });
    p.onTick(1);
    p.onTick(1); // no growth: slow start ends
    expect(p.size).toBe(4);
    p.onTick(1e12);
    expect(p.size).toBe(300);
    p.limitTo(250);
    expect(p.size).toBe(250);
  });

  it('halves on a timeout, and keeps one request outstanding while snubbed (libtorrent)', () => {
    const p = new RequestPipeline({ initial: 64 });
    p.onTimeout();
    expect(p.snubbed).toBe(true);
    expect(p.size).toBe(1);
    expect(p.inSlowStart).toBe(false);
    p.onTick(1e9);
    expect(p.size).toBe(1);
    // A block answered in time lifts the snub; the target is back.
    p.onBlock();
    expect(p.snubbed).toBe(false);
    expect(p.size).toBe(1000);
  });

  it('keeps one request when pipelining is off', () => {
    const p = new RequestPipeline({ disabled: true });
    for (let i = 0; i < 10; i++) p.onBlock();
    p.onTick(1e9);
    expect(p.size).toBe(1);
  });
});
