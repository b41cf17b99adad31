import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/cli-error.js';
import { parseRate } from '../src/rate.js';

describe('parseRate', () => {
  it.each([
    ['0', 0],
    ['1000', 1000],
    ['512k', 512 * 1024],
    ['512K', 512 * 1024],
    ['20M', 20 * 1024 ** 2],
    ['1.5m', 1.5 * 1024 ** 2],
    ['2G', 2 * 1024 ** 3],
    ['20MiB/s', 20 * 1024 ** 2],
    ['20MB', 20 * 1024 ** 2],
    ['100B/s', 100],
    [' 7 ', 7],
  ])('%j is %d bytes per second', (text, n) => {
    expect(parseRate(text, '--download-limit')).toBe(n);
  });

  it.each(['', '-1', 'fast', '1T', '1.2.3', '0x10', 'M', '1e3'])('refuses %j as a usage error naming the flag', (text) => {
    expect(() => parseRate(text, '--upload-limit')).toThrow(UsageError);
    expect(() => parseRate(text, '--upload-limit')).toThrow(/^--upload-limit takes bytes per second/);
  });
});
