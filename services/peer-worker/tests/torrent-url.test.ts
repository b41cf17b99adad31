import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchTorrentFile } from '../src/web/torrent-url.js';
import { WebRequestError } from '../src/web/web-request.js';

let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/a.torrent') res.end('d4:infod4:name1:xee');
    else if (req.url === '/redirect') res.writeHead(302, { Location: '/a.torrent' }).end();
    else if (req.url === '/to-magnet') res.writeHead(301, { Location: 'magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=x' }).end();
    else if (req.url === '/loop') res.writeHead(302, { Location: '/loop' }).end();
    else if (req.url === '/to-file') res.writeHead(302, { Location: 'file:///etc/passwd' }).end();
    else if (req.url === '/big') {
      res.write(Buffer.alloc(600));
      res.end(Buffer.alloc(600));
    } else if (req.url === '/slow') setTimeout(() => res.end('late'), 2000);
    else res.writeHead(404).end('no');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('fetchTorrentFile', () => {
  it('downloads the file, following redirects, and hands back a magnet link an indexer redirects to', async () => {
    const bytes = async (url: string) => {
      const f = await fetchTorrentFile(url);
      if (f.kind !== 'torrent') throw new Error(`not a file: ${f.uri}`);
      return Buffer.from(f.bytes).toString();
    };
    expect(await bytes(`${base}/a.torrent`)).toBe('d4:infod4:name1:xee');
    expect(await bytes(`${base}/redirect`)).toBe('d4:infod4:name1:xee');
    expect(await fetchTorrentFile(`${base}/to-magnet`)).toEqual({ kind: 'magnet', uri: 'magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=x' });
  });

  it('refuses other schemes, HTTP errors, files over the cap and servers past the deadline, each a 400 with the reason', async () => {
    const refusal = async (p: Promise<unknown>): Promise<WebRequestError> => {
      const e = await p.then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(WebRequestError);
      expect((e as WebRequestError).status).toBe(400);
      return e as WebRequestError;
    };
    expect((await refusal(fetchTorrentFile('file:///etc/passwd'))).message).toMatch(/only http and https/);
    expect((await refusal(fetchTorrentFile('not a url'))).message).toMatch(/not a URL/);
    expect((await refusal(fetchTorrentFile(`${base}/missing`))).message).toMatch(/HTTP 404/);
    expect((await refusal(fetchTorrentFile(`${base}/loop`))).message).toMatch(/more than 5 redirects/);
    expect((await refusal(fetchTorrentFile(`${base}/to-file`))).message).toMatch(/redirects to file:/);
    expect((await refusal(fetchTorrentFile(`${base}/big`, { maxBytes: 1000 }))).message).toMatch(/over 1000 bytes/);
    expect((await refusal(fetchTorrentFile(`${base}/slow`, { timeoutMs: 200 }))).message).toMatch(/failed/);
  });
});
