import { describe, expect, it } from 'vitest';
import { createLogger, type LogLevel, type LogStream } from '../src/log.js';

class Capture implements LogStream {
  chunks: string[] = [];
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }
  get lines(): Record<string, unknown>[] {
    return this.chunks.map((c) => {
      expect(c.endsWith('\n')).toBe(true);
      expect(c.slice(0, -1)).not.toContain('\n');
      return JSON.parse(c) as Record<string, unknown>;
    });
  }
}

function setup(level: LogLevel = 'info') {
  const out = new Capture();
  const logger = createLogger({ service: 'disk-writer', level, stream: out, instance: 'dw-0' });
  return { out, logger };
}

describe('createLogger', () => {
  it('writes one JSON object per line with the fixed keys first', () => {
    const { out, logger } = setup();
    logger.info('piece written', { infoHash: 'ab', piece: 3 });
    expect(out.chunks).toHaveLength(1);
    const line = out.lines[0]!;
    expect(Object.keys(line)).toEqual(['time', 'level', 'service', 'instance', 'msg', 'infoHash', 'piece']);
    expect(line).toMatchObject({ level: 'info', service: 'disk-writer', instance: 'dw-0', msg: 'piece written', infoHash: 'ab', piece: 3 });
    expect(new Date(line.time as string).toISOString()).toBe(line.time);
  });

  it('drops levels below the configured one', () => {
    const { out, logger } = setup('warn');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(out.lines.map((l) => l.level)).toEqual(['warn', 'error']);
    expect(logger.isLevelEnabled('info')).toBe(false);
    expect(logger.isLevelEnabled('error')).toBe(true);
  });

  it('does not even read the fields of a dropped line', () => {
    const { out, logger } = setup('info');
    let read = false;
    const fields = {
      get expensive() {
        read = true;
        return 1;
      },
    };
    logger.debug('skipped', fields);
    expect(read).toBe(false);
    expect(out.chunks).toHaveLength(0);
  });

  it('child loggers add their fields to every line, nested children accumulate', () => {
    const { out, logger } = setup();
    const child = logger.child({ infoHash: 'ab' }).child({ peer: '1.2.3.4:6881' });
    child.warn('choked', { after: 5 });
    logger.info('parent');
    const [a, b] = out.lines;
    expect(a).toMatchObject({ infoHash: 'ab', peer: '1.2.3.4:6881', after: 5, service: 'disk-writer', level: 'warn' });
    expect(b).not.toHaveProperty('infoHash');
  });

  it('serialises errors as name, message and code, the stack only at debug', () => {
    const err = Object.assign(new Error('disk full', { cause: new RangeError('inner') }), { code: 'ENOSPC' });
    const info = setup('info');
    info.logger.error('write failed', { err, nested: { errors: [err] } });
    const line = info.out.lines[0]!;
    expect(line.err).toEqual({ name: 'Error', message: 'disk full', code: 'ENOSPC', cause: { name: 'RangeError', message: 'inner' } });
    expect((line.nested as { errors: unknown[] }).errors[0]).toEqual(line.err);

    const debug = setup('debug');
    debug.logger.error('write failed', { err });
    const withStack = debug.out.lines[0]!.err as { stack?: string };
    expect(withStack.stack).toContain('disk full');
    expect(withStack.stack).toContain('log.test.ts');
  });

  it('never throws: cycles, BigInt, throwing getters and toJSON become strings', () => {
    const { out, logger } = setup();
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    const badGetter = Object.defineProperty({}, 'x', {
      enumerable: true,
      get() {
        throw new Error('nope');
      },
    });
    const badToJSON = {
      toJSON() {
        throw new Error('no json');
      },
    };
    expect(() =>
      logger.info('odd fields', { cycle, big: 2n ** 70n, badGetter, badToJSON, fn: () => 1, undef: undefined, ok: true }),
    ).not.toThrow();
    const line = out.lines[0]!;
    expect(line.cycle).toMatch(/^\[unserializable: TypeError: Converting circular structure/);
    expect(line.big).toBe('1180591620717411303424');
    expect(line.badGetter).toBe('[unserializable: Error: nope]');
    expect(line.badToJSON).toBe('[unserializable: Error: no json]');
    expect(line).not.toHaveProperty('fn');
    expect(line).not.toHaveProperty('undef');
    expect(line.ok).toBe(true);
  });

  it('survives a fields object whose keys cannot be read and a stream that throws', () => {
    const { out, logger } = setup();
    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no keys');
        },
      },
    );
    expect(() => logger.info('hostile', hostile)).not.toThrow();
    expect(out.lines[0]!.msg).toBe('hostile');

    const broken = createLogger({
      service: 's',
      stream: {
        write() {
          throw new Error('EPIPE');
        },
      },
    });
    expect(() => broken.error('lost')).not.toThrow();
  });

  it('keeps the fixed keys when a field has the same name', () => {
    const { out, logger } = setup();
    logger.info('real message', { msg: 'field', level: 'nonsense', service: 'x' });
    const line = out.lines[0]!;
    expect(line).toMatchObject({ msg: 'real message', level: 'info', service: 'disk-writer', field_msg: 'field', field_level: 'nonsense', field_service: 'x' });
  });

  it('escapes messages so a line stays one line', () => {
    const { out, logger } = setup();
    logger.info('two\nlines "quoted"');
    expect(out.lines[0]!.msg).toBe('two\nlines "quoted"');
  });
});
