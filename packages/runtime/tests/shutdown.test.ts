import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { installShutdown, type ShutdownOptions, type ShutdownTrigger } from '../src/shutdown.js';

const installed: ShutdownTrigger[] = [];
afterEach(() => {
  for (const t of installed.splice(0)) t.uninstall();
});

function setup(steps: ShutdownOptions['steps'], timeoutMs = 1000) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ service: 'test', stream: { write: (c: string) => lines.push(JSON.parse(c) as Record<string, unknown>) } });
  const exits: number[] = [];
  const source = new EventEmitter();
  const trigger = installShutdown({ logger, timeoutMs, steps, exit: (code) => exits.push(code), source });
  installed.push(trigger);
  return { lines, exits, source, trigger };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('installShutdown', () => {
  it('runs the steps in order on SIGTERM, logs each, then exits 0', async () => {
    const order: string[] = [];
    const step = (name: string) => ({
      name,
      run: async () => {
        await tick();
        order.push(name);
      },
    });
    const { lines, exits, source, trigger } = setup([step('not ready'), step('drain nats'), step('close http')]);
    source.emit('SIGTERM', 'SIGTERM');
    expect(await trigger()).toBe(0);
    expect(order).toEqual(['not ready', 'drain nats', 'close http']);
    expect(exits).toEqual([0]);
    expect(lines[0]).toMatchObject({ msg: 'shutting down', reason: 'SIGTERM' });
    expect(lines.filter((l) => l.msg === 'shutdown step').map((l) => l.step)).toEqual(['not ready', 'drain nats', 'close http']);
    expect(lines.at(-1)).toMatchObject({ msg: 'shutdown complete' });
  });

  it('also listens for SIGINT', async () => {
    const { exits, source, trigger } = setup([]);
    source.emit('SIGINT', 'SIGINT');
    expect(await trigger()).toBe(0);
    expect(exits).toEqual([0]);
  });

  it('logs a failing step and still runs the next ones', async () => {
    const ran: string[] = [];
    const { lines, exits, trigger } = setup([
      {
        name: 'drain nats',
        run: () => Promise.reject(Object.assign(new Error('connection closed'), { code: 'CONNECTION_CLOSED' })),
      },
      { name: 'close http', run: async () => void ran.push('close http') },
    ]);
    expect(await trigger('test')).toBe(0);
    expect(ran).toEqual(['close http']);
    expect(exits).toEqual([0]);
    const failed = lines.find((l) => l.msg === 'shutdown step failed');
    expect(failed).toMatchObject({ level: 'error', step: 'drain nats', err: { name: 'Error', message: 'connection closed', code: 'CONNECTION_CLOSED' } });
  });

  it('exits 1 with a log line naming the step when the timeout passes', async () => {
    const { lines, exits, trigger } = setup([{ name: 'hangs', run: () => new Promise<void>(() => {}) }, { name: 'never', run: async () => {} }], 50);
    expect(await trigger()).toBe(1);
    expect(exits).toEqual([1]);
    expect(lines.at(-1)).toMatchObject({ level: 'error', msg: 'shutdown timed out', step: 'hangs', timeoutMs: 50 });
    expect(lines.some((l) => l.step === 'never')).toBe(false);
  });

  it('exits 1 at once on a second signal', async () => {
    let release = (): void => {};
    const { lines, exits, source, trigger } = setup([{ name: 'slow', run: () => new Promise<void>((r) => (release = r)) }]);
    source.emit('SIGTERM', 'SIGTERM');
    await tick();
    source.emit('SIGINT', 'SIGINT');
    expect(await trigger()).toBe(1);
    expect(exits).toEqual([1]);
    expect(lines.at(-1)).toMatchObject({ level: 'warn', msg: 'second signal during shutdown, exiting now', signal: 'SIGINT', step: 'slow' });
    // The step finishing afterwards must not exit a second time.
    release();
    await tick();
    expect(exits).toEqual([1]);
  });

  it('runs once however often it is triggered programmatically', async () => {
    let runs = 0;
    const { exits, trigger } = setup([{ name: 'count', run: async () => void runs++ }]);
    const [a, b] = await Promise.all([trigger(), trigger()]);
    expect([a, b, runs, exits]).toEqual([0, 0, 1, [0]]);
  });

  it('listens on process by default and uninstall removes the listeners', () => {
    const before = process.listenerCount('SIGTERM');
    const t = installShutdown({ logger: createLogger({ service: 't', stream: { write: () => true } }), timeoutMs: 10, steps: [], exit: () => {} });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    expect(process.listenerCount('SIGINT')).toBeGreaterThan(0);
    t.uninstall();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});
