import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssetPathError, assetName, cacheControl, contentType, loadAsset, webDistDir } from '../src/assets.js';

let root: string;
let dir: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'web-assets-'));
  dir = join(root, 'dist');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), '<!doctype html>');
  writeFileSync(join(dir, 'app-ABCD1234.js'), 'export {}');
  writeFileSync(join(dir, 'app-ABCD1234.css'), 'body{}');
  writeFileSync(join(dir, 'icon.svg'), '<svg/>');
  writeFileSync(join(dir, 'sub', 'x.txt'), 'x');
  // A file beside the bundle's folder, which no URL may reach.
  writeFileSync(join(root, 'secret.txt'), 'secret');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the web UI files', () => {
  it('serves / as index.html and each file with its type and cache policy', async () => {
    expect(await loadAsset('/', dir)).toMatchObject({ name: 'index.html', contentType: 'text/html; charset=utf-8', cacheControl: 'no-cache' });
    const js = await loadAsset('/app-ABCD1234.js', dir);
    expect(js).toMatchObject({ contentType: 'text/javascript; charset=utf-8', cacheControl: 'public, max-age=31536000, immutable' });
    expect(js!.body.toString()).toBe('export {}');
    expect(await loadAsset('/app-ABCD1234.css', dir)).toMatchObject({ contentType: 'text/css; charset=utf-8' });
    expect(await loadAsset('/icon.svg', dir)).toMatchObject({ contentType: 'image/svg+xml', cacheControl: 'no-cache' });
    expect(await loadAsset('/sub/x.txt', dir)).toMatchObject({ name: 'sub/x.txt', contentType: 'text/plain; charset=utf-8' });
    expect(contentType('a.bin')).toBe('application/octet-stream');
    expect(cacheControl('index.html')).toBe('no-cache');
  });

  it('answers nothing for a missing file or a folder', async () => {
    expect(await loadAsset('/nope.js', dir)).toBeUndefined();
    expect(await loadAsset('/sub', dir)).toBeUndefined();
    expect(await loadAsset('/sub/', dir)).toBeUndefined();
    expect(await loadAsset('/nope/', dir)).toBeUndefined();
    expect(await loadAsset('/index.html/x', dir)).toBeUndefined();
    expect(await loadAsset('/', join(root, 'not-built'))).toBeUndefined();
  });

  it('refuses every way out of the folder, escaped or not', async () => {
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/sub/../../secret.txt', '/sub/..%5c..%5csecret.txt', '/.%2e/secret.txt', '//etc/passwd', '/a%00.js', '/%zz', '/./index.html']) {
      await expect(loadAsset(p, dir), p).rejects.toBeInstanceOf(AssetPathError);
    }
    expect(() => assetName('relative')).toThrow(AssetPathError);
  });

  it('finds the bundle beside its own folder', () => {
    expect(webDistDir()).toMatch(/packages[/\\]web[/\\]dist[/\\]?$/);
  });
});
