import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { UsageError } from '../src/cli-error.js';
import { download } from '../src/commands/download.js';
import { seed } from '../src/commands/seed.js';
import { parseRateLimit } from '../src/rate-limit.js';

describe('--download-limit / --upload-limit', () => {
  it('takes whole bytes per second, or a number with KiB, MiB or GiB; 0 is no limit', () => {
    expect(parseRateLimit('--download-limit', '20971520')).toBe(20 * 1024 * 1024);
    expect(parseRateLimit('--download-limit', '20MiB')).toBe(20 * 1024 * 1024);
    expect(parseRateLimit('--download-limit', '20mib')).toBe(20 * 1024 * 1024);
    expect(parseRateLimit('--download-limit', '1.5MiB')).toBe(1.5 * 1024 * 1024);
    expect(parseRateLimit('--upload-limit', '512KiB')).toBe(512 * 1024);
    expect(parseRateLimit('--upload-limit', '1GiB')).toBe(1024 ** 3);
    expect(parseRateLimit('--upload-limit', '0')).toBe(0);
  });

  it('refuses anything else in one line that names the flag, decimal units included', () => {
    for (const bad of ['20MB', '20M', '20Mbit', '-1', '1.5', 'fast', '', 'MiB', '1e9']) {
      expect(() => parseRateLimit('--upload-limit', bad)).toThrow(UsageError);
      expect(() => parseRateLimit('--upload-limit', bad)).toThrow(/^--upload-limit '.*' is not a rate/);
    }
  });

  it('download and seed refuse a bad limit before doing anything', async () => {
    const out = new PassThrough();
    await expect(download(['x.torrent', '--out', '/nonexistent', '--download-limit', '20MB'], out, out)).rejects.toThrow(/--download-limit '20MB'/);
    await expect(seed(['x.torrent', '--data', '/nonexistent', '--upload-limit', 'lots'], out, out)).rejects.toThrow(/--upload-limit 'lots'/);
  });
});
