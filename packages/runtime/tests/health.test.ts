import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { health } from '@seedbox/proto';
import { HealthService, startGrpcServer, type RunningGrpcServer } from '../src/health.js';

const { SERVING, NOT_SERVING, SERVICE_UNKNOWN } = health.HealthCheckResponse_ServingStatus;

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function serve(healthService = new HealthService()): Promise<{ healthService: HealthService; running: RunningGrpcServer; client: health.HealthClient }> {
  const running = await startGrpcServer({ host: '127.0.0.1', port: 0, services: [healthService] });
  cleanup.push(() => running.close(100));
  const client = new health.HealthClient(`127.0.0.1:${running.port}`, grpc.credentials.createInsecure());
  cleanup.push(() => client.close());
  return { healthService, running, client };
}

function check(client: health.HealthClient, service: string): Promise<health.HealthCheckResponse> {
  return new Promise((resolve, reject) => client.check({ service }, (err, res) => (err ? reject(err) : resolve(res))));
}

/** Collects Watch messages; next() waits for the next one. */
function watch(client: health.HealthClient, service: string) {
  const call = client.watch({ service });
  const seen: health.HealthCheckResponse_ServingStatus[] = [];
  const waiting: (() => void)[] = [];
  let ended = false;
  call.on('data', (msg: health.HealthCheckResponse) => {
    seen.push(msg.status);
    waiting.splice(0).forEach((w) => w());
  });
  call.on('end', () => {
    ended = true;
    waiting.splice(0).forEach((w) => w());
  });
  call.on('error', () => {});
  return {
    call,
    seen,
    get ended() {
      return ended;
    },
    async waitFor(count: number) {
      while (seen.length < count) await new Promise<void>((r) => waiting.push(r));
      return seen.slice();
    },
    async waitEnd() {
      while (!ended) await new Promise<void>((r) => waiting.push(r));
    },
  };
}

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
};

describe('HealthService over a real gRPC server', () => {
  it('binds port 0 to a real port', async () => {
    const { running } = await serve();
    expect(running.port).toBeGreaterThan(0);
  });

  it('Check: overall SERVING by default, then what setStatus said', async () => {
    const { client, healthService } = await serve();
    expect((await check(client, '')).status).toBe(SERVING);
    healthService.setStatus('', 'NOT_SERVING');
    healthService.setStatus('seedbox.v1.Control', 'SERVING');
    expect((await check(client, '')).status).toBe(NOT_SERVING);
    expect((await check(client, 'seedbox.v1.Control')).status).toBe(SERVING);
    expect(healthService.getStatus('seedbox.v1.Control')).toBe('SERVING');
  });

  it('Check: NOT_FOUND with a sentence for an unknown service', async () => {
    const { client } = await serve(new HealthService({}));
    await expect(check(client, 'nope')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND, details: 'Health status unknown for service nope' });
    await expect(check(client, '')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it('Watch: the current status, then every change (and not a repeat)', async () => {
    const { client, healthService } = await serve();
    const w = watch(client, '');
    expect(await w.waitFor(1)).toEqual([SERVING]);
    healthService.setStatus('', 'SERVING'); // no change, no message
    healthService.setStatus('', 'NOT_SERVING');
    healthService.setStatus('', 'SERVING');
    expect(await w.waitFor(3)).toEqual([SERVING, NOT_SERVING, SERVING]);
    w.call.cancel();
  });

  it('Watch: SERVICE_UNKNOWN first for an unknown service, then its status once set', async () => {
    const { client, healthService } = await serve();
    const w = watch(client, 'later');
    expect(await w.waitFor(1)).toEqual([SERVICE_UNKNOWN]);
    healthService.setStatus('later', 'SERVING');
    expect(await w.waitFor(2)).toEqual([SERVICE_UNKNOWN, SERVING]);
    w.call.cancel();
  });

  it('Watch: a cancelled call is forgotten', async () => {
    const { client, healthService } = await serve();
    const w = watch(client, '');
    await w.waitFor(1);
    expect(healthService.watcherCount).toBe(1);
    w.call.cancel();
    await until(() => healthService.watcherCount === 0);
    healthService.setStatus('', 'NOT_SERVING'); // must not write to the gone call
  });

  it('shutdown(): every service NOT_SERVING for good, and the Watch streams end', async () => {
    const { client, healthService, running } = await serve(new HealthService({ '': 'SERVING', a: 'SERVING' }));
    const w = watch(client, 'a');
    await w.waitFor(1);
    healthService.shutdown();
    await w.waitEnd();
    expect(w.seen).toEqual([SERVING, NOT_SERVING]);
    healthService.setStatus('a', 'SERVING');
    expect((await check(client, 'a')).status).toBe(NOT_SERVING);
    expect((await check(client, '')).status).toBe(NOT_SERVING);
    // With no stream left open, a graceful close is quick.
    const t0 = performance.now();
    await running.close(5000);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('close(graceMs) cuts a stream that outlives the grace period', async () => {
    const { client, running } = await serve();
    const w = watch(client, '');
    await w.waitFor(1);
    const t0 = performance.now();
    await running.close(100);
    expect(performance.now() - t0).toBeLessThan(1000);
    await expect(check(client, '')).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });
});
