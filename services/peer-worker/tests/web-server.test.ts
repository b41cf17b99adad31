import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@seedbox/runtime';
import { startWebServer, type WebServer } from '../src/web/web-server.js';
import { json, text, WebRequestError, type WebRequest } from '../src/web/web-request.js';

let server: WebServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(handle: (req: WebRequest) => Promise<ReturnType<typeof text>>): Promise<string> {
  server = await startWebServer({ host: '127.0.0.1', port: 0, log: silentLogger, apis: [{ prefix: '/api/v2/', handle }, { prefix: '/transmission/rpc', handle: async () => text(200, 'rpc') }] });
  return `http://127.0.0.1:${server.port}`;
}

describe('the web server', () => {
  it('hands each request to the API of its prefix, and answers 404 elsewhere', async () => {
    const base = await start(async (req) => json(200, { path: req.path, q: req.query.get('x'), from: req.remoteAddress }));
    expect(await (await fetch(`${base}/api/v2/app/version?x=1`)).json()).toEqual({ path: '/api/v2/app/version', q: '1', from: '127.0.0.1' });
    expect(await (await fetch(`${base}/transmission/rpc`)).text()).toBe('rpc');
    expect((await fetch(`${base}/transmission/rpcx`)).status).toBe(404);
    expect((await fetch(`${base}/api/v3/x`)).status).toBe(404);
    expect((await fetch(`${base}/`)).status).toBe(404);
  });

  it('reads urlencoded and multipart forms, with the query fields first, files as bytes', async () => {
    const base = await start(async (req) => {
      const f = await req.form();
      return json(200, { a: f.text('a'), b: f.text('b'), names: f.names(), files: f.files('torrents').map((x) => [x.filename, Buffer.from(x.data).toString('hex')]) });
    });
    const urlencoded = await fetch(`${base}/api/v2/x?a=q`, { method: 'POST', body: new URLSearchParams({ b: 'two words&more' }) });
    expect(await urlencoded.json()).toEqual({ a: 'q', b: 'two words&more', names: ['a', 'b'], files: [] });
    const form = new FormData();
    form.append('b', 'text');
    form.append('torrents', new Blob([Uint8Array.from([0, 255, 10, 13])]), 'one.torrent');
    form.append('torrents', new Blob([Uint8Array.from([1])]), 'two.torrent');
    const multipart = await fetch(`${base}/api/v2/x`, { method: 'POST', body: form });
    expect(await multipart.json()).toEqual({ b: 'text', names: ['b', 'torrents'], files: [['one.torrent', '00ff0a0d'], ['two.torrent', '01']] });
  });

  it('a malformed multipart body is 400, a body over the limit 413, and a handler that throws 500: the server answers on', async () => {
    const base = await start(async (req) => {
      if (req.path.endsWith('/boom')) throw new Error('kaboom');
      await req.form();
      return text(200, 'Ok.');
    });
    const bad = await fetch(`${base}/api/v2/form`, { method: 'POST', headers: { 'Content-Type': 'multipart/form-data; boundary=xyz' }, body: 'not a multipart body' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/multipart/);
    const huge = await fetch(`${base}/api/v2/form`, { method: 'POST', headers: { 'Content-Length': String(65 * 1024 * 1024) }, body: 'x'.repeat(10), duplex: 'half' } as RequestInit).catch((e: Error) => e);
    // The server refuses on the declared length; the client may see the 413 or a closed socket.
    if (!(huge instanceof Error)) expect(huge.status).toBe(413);
    const boom = await fetch(`${base}/api/v2/boom`);
    expect(boom.status).toBe(500);
    expect(await boom.text()).toBe('kaboom');
    expect((await fetch(`${base}/api/v2/form`, { method: 'POST', body: 'a=1' })).status).toBe(200);
  });

  it('a WebRequestError is answered with its status and message', async () => {
    const base = await start(async () => {
      throw new WebRequestError(409, 'conflict here');
    });
    const r = await fetch(`${base}/api/v2/x`);
    expect(r.status).toBe(409);
    expect(await r.text()).toBe('conflict here');
  });
});
