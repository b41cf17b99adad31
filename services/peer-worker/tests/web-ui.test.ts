import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@seedbox/runtime';
import { createWebUi } from '../src/web/web-ui.js';
import { text } from '../src/web/web-request.js';
import { startWebServer, type WebServer } from '../src/web/web-server.js';

let root: string;
let server: WebServer | undefined;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'web-ui-'));
  mkdirSync(join(root, 'dist'));
  writeFileSync(join(root, 'dist', 'index.html'), '<!doctype html><title>seedbox</title>');
  writeFileSync(join(root, 'dist', 'app-ABCD1234.js'), 'console.log(1)');
  writeFileSync(join(root, 'secret.txt'), 'secret');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The server as start-web-api.ts builds it: the APIs first, the UI last. */
async function start(dir = join(root, 'dist')): Promise<string> {
  server = await startWebServer({ host: '127.0.0.1', port: 0, log: silentLogger, apis: [{ prefix: '/api/v2/', handle: async () => text(403, 'Forbidden') }, createWebUi({ dir })] });
  return `http://127.0.0.1:${server.port}`;
}

/** A raw request, for paths fetch() would normalize before sending. */
function raw(base: string, method: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the web UI files on the web port', () => {
  it('serves the page at / (no-cache) and hashed files as immutable, with their types, without a login', async () => {
    const base = await start();
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await index.text()).toContain('<title>seedbox</title>');
    const js = await fetch(`${base}/app-ABCD1234.js?v=1`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await js.text()).toBe('console.log(1)');
    // The API keeps its own paths, and its login.
    expect((await fetch(`${base}/api/v2/sync/maindata`)).status).toBe(403);
  });

  it('answers HEAD with the headers only, other methods with 405', async () => {
    const base = await start();
    const head = await raw(base, 'HEAD', '/');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String('<!doctype html><title>seedbox</title>'.length));
    expect(head.body).toBe('');
    const post = await fetch(`${base}/`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers 404 for unknown files and 400 for paths that try to leave the folder', async () => {
    const base = await start();
    expect((await fetch(`${base}/nope.js`)).status).toBe(404);
    expect((await fetch(`${base}/transmission/web/`)).status).toBe(404);
    for (const p of ['/..%2fsecret.txt', '/%2e%2e%2fsecret.txt', '/..%5csecret.txt', '/a%00']) {
      const r = await raw(base, 'GET', p);
      expect(r.status, p).toBe(400);
      expect(r.body).not.toContain('secret');
    }
    // Plain dot segments are resolved by the URL parser before the UI sees the path: still inside.
    const dots = await raw(base, 'GET', '/../../secret.txt');
    expect(dots.status).toBe(404);
  });

  it('says how to build the page when the bundle is missing', async () => {
    const base = await start(join(root, 'missing'));
    const r = await fetch(`${base}/`);
    expect(r.status).toBe(404);
    expect(await r.text()).toContain('npm run build');
  });
});
