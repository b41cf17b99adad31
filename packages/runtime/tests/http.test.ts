import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Counter, Registry } from 'prom-client';
import { startObservabilityServer, type ObservabilityServer } from '../src/http.js';

const servers: ObservabilityServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(checks: Parameters<typeof startObservabilityServer>[0]['checks']) {
  const registry = new Registry();
  const counter = new Counter({ name: 'test_things_total', help: 'things', registers: [registry] });
  const server = await startObservabilityServer({ host: '127.0.0.1', port: 0, registry, checks });
  servers.push(server);
  const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;
  return { server, registry, counter, url };
}

describe('startObservabilityServer', () => {
  it('serves the registry on /metrics with its content type', async () => {
    const { server, registry, counter, url } = await start({ ready: () => true });
    expect(server.port).toBeGreaterThan(0);
    counter.inc(3);
    const res = await fetch(url('/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(registry.contentType);
    expect(await res.text()).toContain('test_things_total 3');
  });

  it('answers /healthz and /readyz from the checks, with the reason on 503', async () => {
    let live: true | string = true;
    let ready: true | string = 'NATS not connected';
    const { url } = await start({ live: () => live, ready: () => ready });

    let res = await fetch(url('/healthz'));
    expect([res.status, await res.text()]).toEqual([200, 'ok\n']);
    res = await fetch(url('/readyz'));
    expect([res.status, await res.text()]).toEqual([503, 'NATS not connected\n']);

    ready = true;
    live = 'event loop stalled';
    res = await fetch(url('/readyz?verbose=1'));
    expect([res.status, await res.text()]).toEqual([200, 'ready\n']);
    res = await fetch(url('/healthz'));
    expect([res.status, await res.text()]).toEqual([503, 'event loop stalled\n']);
  });

  it('is live without a live check, and turns a throwing check into a 503', async () => {
    const { url } = await start({
      ready: () => {
        throw new Error('boom');
      },
    });
    expect((await fetch(url('/healthz'))).status).toBe(200);
    const res = await fetch(url('/readyz'));
    expect([res.status, await res.text()]).toEqual([503, 'check failed: boom\n']);
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    const { url } = await start({ ready: () => true });
    expect((await fetch(url('/'))).status).toBe(404);
    expect((await fetch(url('/metrics/extra'))).status).toBe(404);
    const post = await fetch(url('/metrics'), { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers HEAD without a body', async () => {
    const { url } = await start({ ready: () => 'not yet' });
    const res = await fetch(url('/readyz'), { method: 'HEAD' });
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('');
  });

  it('closes promptly even with a keep-alive connection open', async () => {
    const { server, url } = await start({ ready: () => true });
    await (await fetch(url('/metrics'), { headers: { connection: 'keep-alive' } })).text();
    const t0 = performance.now();
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    expect(performance.now() - t0).toBeLessThan(1000);
    await expect(fetch(url('/healthz'))).rejects.toThrow();
  });

  it('rejects when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(startObservabilityServer({ host: '127.0.0.1', port, registry: new Registry(), checks: { ready: () => true } })).rejects.toMatchObject({
        code: 'EADDRINUSE',
      });
    } finally {
      blocker.close();
    }
  });
});
