import { hostname } from 'node:os';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { ConfigError, configHelp, defineOptions, isHelpRequested, loadConfig, redactConfig, type ConfigRule } from '../src/config.js';
import { commonOptions, diskWriterOptions, peerWorkerOptions, trackerClientOptions, type PeerWorkerConfig } from '../src/service-options.js';

/** The ConfigError loadConfig throws, or a failure when it throws none. */
function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const dataDir = { SEEDBOX_DATA_DIR: '/data' };

describe('loadConfig: the contract defaults', () => {
  it('gives every common default when nothing is set', () => {
    const c = loadConfig(commonOptions, { argv: [], env: {} });
    expect(c).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      metricsHost: '0.0.0.0',
      metricsPort: 9464,
      grpcPort: 50051,
      logLevel: 'info',
      instanceId: hostname(),
      shutdownTimeoutMs: 25000,
    });
  });

  it('gives the per-service defaults', () => {
    const pw = loadConfig(peerWorkerOptions, { env: dataDir });
    expect(pw).toMatchObject({ dataDir: '/data', listenHost: '0.0.0.0', listenPort: 6881, maxPeers: 50, maxPiecesInFlight: 16, torrentMetrics: 'active' });
    expect(pw.announceHost).toBeUndefined();
    expect(pw.announcePort).toBeUndefined();
    expect(loadConfig(diskWriterOptions, { env: dataDir })).toMatchObject({ dataDir: '/data', hashThreads: 0, grpcPort: 50051 });
    expect(loadConfig(trackerClientOptions, { env: {} })).toMatchObject({ workerTimeoutMs: 15000, metricsPort: 9464 });
  });

  it('types the result from the schema', () => {
    const c = loadConfig(peerWorkerOptions, { env: dataDir });
    expectTypeOf(c.listenPort).toEqualTypeOf<number>();
    expectTypeOf(c.dataDir).toEqualTypeOf<string>();
    expectTypeOf(c.logLevel).toEqualTypeOf<'debug' | 'info' | 'warn' | 'error'>();
    expectTypeOf(c.announcePort).toEqualTypeOf<number | undefined>();
    expectTypeOf(c.natsPassword).toEqualTypeOf<string | undefined>();
    expectTypeOf(c.torrentMetrics).toEqualTypeOf<'active' | 'all' | 'none'>();
    expectTypeOf<PeerWorkerConfig>().toEqualTypeOf<typeof c>();

    const schema = defineOptions({
      verbose: { env: 'SEEDBOX_VERBOSE', flag: 'verbose', kind: 'bool', default: false, describe: 'x' },
      name: { env: 'SEEDBOX_NAME', flag: 'name', kind: 'string', required: true, describe: 'x' },
      wait: { env: 'SEEDBOX_WAIT_MS', flag: 'wait-ms', kind: 'duration-ms', describe: 'x' },
    });
    const d = loadConfig(schema, { argv: ['--name', 'n'] });
    expectTypeOf(d).toEqualTypeOf<{ verbose: boolean; name: string; wait?: number }>();
    expect(d).toEqual({ verbose: false, name: 'n' });
  });
});

describe('loadConfig: sources', () => {
  it('reads the environment', () => {
    const c = loadConfig(peerWorkerOptions, {
      env: { ...dataDir, SEEDBOX_LISTEN_PORT: '7000', SEEDBOX_LOG_LEVEL: 'debug', SEEDBOX_NATS_URL: 'nats://a:4222, tls://b:4443' },
    });
    expect(c.listenPort).toBe(7000);
    expect(c.logLevel).toBe('debug');
    expect(c.natsUrl).toBe('nats://a:4222,tls://b:4443');
  });

  it('lets flags, in both forms, override the environment', () => {
    const c = loadConfig(peerWorkerOptions, {
      argv: ['--listen-port', '7001', '--max-peers=9', '--data-dir', '/flag'],
      env: { ...dataDir, SEEDBOX_LISTEN_PORT: '7000', SEEDBOX_MAX_PEERS: '3' },
    });
    expect(c).toMatchObject({ listenPort: 7001, maxPeers: 9, dataDir: '/flag' });
  });

  it('does not look at an environment value a flag replaced', () => {
    const c = loadConfig(commonOptions, { argv: ['--metrics-port=1'], env: { SEEDBOX_METRICS_PORT: 'nonsense' } });
    expect(c.metricsPort).toBe(1);
  });

  it('treats an empty variable as unset', () => {
    const c = loadConfig(peerWorkerOptions, { env: { ...dataDir, SEEDBOX_LISTEN_PORT: '', SEEDBOX_ANNOUNCE_HOST: '' } });
    expect(c.listenPort).toBe(6881);
    expect(c.announceHost).toBeUndefined();
    const e = configError(() => loadConfig(diskWriterOptions, { env: { SEEDBOX_DATA_DIR: '' } }));
    expect(e.rule).toBe('required');
  });

  it('reads bare and explicit boolean flags, and boolean words from the environment', () => {
    const schema = defineOptions({
      verbose: { env: 'SEEDBOX_VERBOSE', flag: 'verbose', kind: 'bool', default: false, describe: 'x' },
    });
    expect(loadConfig(schema, { argv: ['--verbose'] }).verbose).toBe(true);
    expect(loadConfig(schema, { argv: ['--verbose=false'], env: { SEEDBOX_VERBOSE: 'yes' } }).verbose).toBe(false);
    expect(loadConfig(schema, { env: { SEEDBOX_VERBOSE: 'ON' } }).verbose).toBe(true);
    expect(configError(() => loadConfig(schema, { env: { SEEDBOX_VERBOSE: 'maybe' } })).rule).toBe('not-a-bool');
    // A bare boolean flag never takes the next argument.
    expect(configError(() => loadConfig(schema, { argv: ['--verbose', 'false'] })).rule).toBe('unexpected-argument');
  });
});

describe('loadConfig: rules', () => {
  const cases: [string, Record<string, string>, string[], ConfigRule, string][] = [
    ['port above 65535', { SEEDBOX_LISTEN_PORT: '70000' }, [], 'not-a-port', 'SEEDBOX_LISTEN_PORT=70000: not a port (0..65535)'],
    ['negative port', { SEEDBOX_LISTEN_PORT: '-1' }, [], 'not-a-port', 'SEEDBOX_LISTEN_PORT=-1: not a port (0..65535)'],
    ['fractional port', {}, ['--metrics-port', '80.5'], 'not-a-port', '--metrics-port=80.5: not a port (0..65535)'],
    ['announce port 0', { SEEDBOX_ANNOUNCE_PORT: '0' }, [], 'out-of-range', 'SEEDBOX_ANNOUNCE_PORT=0: out of range (1..65535)'],
    ['int with letters', { SEEDBOX_MAX_PEERS: '12abc' }, [], 'not-an-integer', 'SEEDBOX_MAX_PEERS=12abc: not an integer'],
    ['int below min', { SEEDBOX_MAX_PEERS: '0' }, [], 'out-of-range', 'SEEDBOX_MAX_PEERS=0: out of range (at least 1)'],
    ['duration with a unit', { SEEDBOX_SHUTDOWN_TIMEOUT_MS: '25s' }, [], 'not-a-duration', 'SEEDBOX_SHUTDOWN_TIMEOUT_MS=25s: not a duration (a whole number of milliseconds)'],
    ['unknown log level', { SEEDBOX_LOG_LEVEL: 'verbose' }, [], 'not-one-of', 'SEEDBOX_LOG_LEVEL=verbose: not one of debug, info, warn, error'],
    ['unknown torrent metrics mode', {}, ['--torrent-metrics', 'some'], 'not-one-of', '--torrent-metrics=some: not one of active, all, none'],
    ['http url for NATS', { SEEDBOX_NATS_URL: 'http://nats:4222' }, [], 'unsupported-scheme', 'SEEDBOX_NATS_URL=http://nats:4222: http://nats:4222: scheme must be nats://, tls://, ws:// or wss://'],
    ['url without a scheme', { SEEDBOX_NATS_URL: 'nats://a:4222,:4222' }, [], 'not-a-url', 'SEEDBOX_NATS_URL=nats://a:4222,:4222: not a URL: :4222'],
    ['empty url list entry', { SEEDBOX_NATS_URL: 'nats://a:4222,' }, [], 'not-a-url', 'SEEDBOX_NATS_URL=nats://a:4222,: empty entry in the URL list'],
    ['host with a port', { SEEDBOX_LISTEN_HOST: '0.0.0.0:6881' }, [], 'not-a-host', 'SEEDBOX_LISTEN_HOST=0.0.0.0:6881: not a host (an IPv4 or IPv6 address, or a DNS name)'],
    ['malformed IPv4', { SEEDBOX_ANNOUNCE_HOST: '256.1.1.1' }, [], 'not-a-host', 'SEEDBOX_ANNOUNCE_HOST=256.1.1.1: not a host (an IPv4 or IPv6 address, or a DNS name)'],
    ['host with underscore', { SEEDBOX_GRPC_HOST: 'my_host' }, [], 'not-a-host', 'SEEDBOX_GRPC_HOST=my_host: not a host (an IPv4 or IPv6 address, or a DNS name)'],
    ['unknown flag', {}, ['--listen-prot', '1'], 'unknown-flag', '--listen-prot: unknown flag'],
    ['single-dash flag', {}, ['-p', '1'], 'unknown-flag', '-p: unknown flag (flags are --name)'],
    ['stray positional', {}, ['start'], 'unexpected-argument', 'unexpected argument "start": every setting is a --flag or a SEEDBOX_ variable'],
    ['flag without a value', {}, ['--listen-port'], 'missing-value', '--listen-port: missing value (port)'],
    ['flag followed by a flag', {}, ['--listen-port', '--max-peers', '3'], 'missing-value', '--listen-port: missing value (port)'],
    ['explicit empty flag value', {}, ['--listen-host='], 'empty', '--listen-host=: empty value (host)'],
  ];
  it.each(cases)('rejects %s', (_what, env, argv, rule, message) => {
    const e = configError(() => loadConfig(peerWorkerOptions, { argv, env: { ...dataDir, ...env } }));
    expect(e.rule).toBe(rule);
    expect(e.message).toBe(message);
    expect(e.name).toBe('ConfigError');
    expect(e.message).not.toContain('\n');
  });

  it('names the option and the source', () => {
    const fromEnv = configError(() => loadConfig(peerWorkerOptions, { env: { ...dataDir, SEEDBOX_LISTEN_PORT: '70000' } }));
    expect(fromEnv).toMatchObject({ option: 'SEEDBOX_LISTEN_PORT', source: 'env SEEDBOX_LISTEN_PORT', rule: 'not-a-port' });
    const fromFlag = configError(() => loadConfig(peerWorkerOptions, { argv: ['--max-peers', 'x'], env: dataDir }));
    expect(fromFlag).toMatchObject({ option: 'SEEDBOX_MAX_PEERS', source: 'flag --max-peers', rule: 'not-an-integer' });
    const unknown = configError(() => loadConfig(peerWorkerOptions, { argv: ['--nope'], env: dataDir }));
    expect(unknown).toMatchObject({ option: undefined, source: 'flag --nope', rule: 'unknown-flag' });
  });

  it('requires a required option', () => {
    const e = configError(() => loadConfig(peerWorkerOptions, { env: {} }));
    expect(e).toMatchObject({ option: 'SEEDBOX_DATA_DIR', rule: 'required' });
    expect(e.message).toMatch(/^SEEDBOX_DATA_DIR \(or --data-dir\) is required/);
  });

  it('honours max on an int', () => {
    const e = configError(() => loadConfig(diskWriterOptions, { env: { ...dataDir, SEEDBOX_HASH_THREADS: '65' } }));
    expect(e.message).toBe('SEEDBOX_HASH_THREADS=65: out of range (0..64)');
    expect(loadConfig(diskWriterOptions, { env: { ...dataDir, SEEDBOX_HASH_THREADS: '64' } }).hashThreads).toBe(64);
  });

  it('accepts IPv4, IPv6 and DNS names as hosts', () => {
    for (const [given, expected] of [
      ['10.0.0.7', '10.0.0.7'],
      ['::', '::'],
      ['[::1]', '::1'],
      ['fe80::1', 'fe80::1'],
      ['seedbox-peer-worker-0.seedbox.svc.cluster.local', 'seedbox-peer-worker-0.seedbox.svc.cluster.local'],
      ['localhost', 'localhost'],
      ['example.com.', 'example.com.'],
    ]) {
      expect(loadConfig(peerWorkerOptions, { env: { ...dataDir, SEEDBOX_ANNOUNCE_HOST: given } }).announceHost).toBe(expected);
    }
  });

  it('accepts every NATS URL scheme', () => {
    const urls = 'nats://u:p@a:4222,tls://b:4443,ws://c:8080,wss://d';
    expect(loadConfig(commonOptions, { env: { SEEDBOX_NATS_URL: urls } }).natsUrl).toBe(urls);
  });

  it('never prints a secret value', () => {
    const schema = defineOptions({
      key: { env: 'SEEDBOX_KEY', flag: 'key', kind: 'int', secret: true, describe: 'x' },
    });
    const e = configError(() => loadConfig(schema, { env: { SEEDBOX_KEY: 'hunter2' } }));
    expect(e.message).toBe('SEEDBOX_KEY=<secret>: not an integer');
    const c = loadConfig(commonOptions, { argv: ['--nats-password', 'hunter2', '--nats-user', 'me'] });
    expect(redactConfig(commonOptions, c)).toMatchObject({ natsPassword: '<redacted>', natsUser: 'me' });
    expect(JSON.stringify(redactConfig(commonOptions, c))).not.toContain('hunter2');
  });

  it('lets the last occurrence of a flag win', () => {
    expect(loadConfig(commonOptions, { argv: ['--grpc-port=1', '--grpc-port=2'] }).grpcPort).toBe(2);
  });
});

describe('configHelp', () => {
  const help = configHelp(peerWorkerOptions);

  it('lists every option with its flag, variable, default and description', () => {
    for (const spec of Object.values(peerWorkerOptions)) {
      expect(help).toContain(`--${spec.flag}`);
      expect(help).toContain(`(env ${spec.env})`);
      expect(help).toContain(spec.describe);
    }
    expect(help).toContain('--listen-port <port>  (env SEEDBOX_LISTEN_PORT)');
    expect(help).toContain('[default: 6881]');
    expect(help).toContain('--log-level <debug|info|warn|error>');
    expect(help).toContain('default: the host name');
    expect(help).toContain('the shared volume (read for seeding) [required]');
  });

  it('spots --help before loadConfig would reject it', () => {
    expect(isHelpRequested(['--data-dir', '/d', '--help'])).toBe(true);
    expect(isHelpRequested(['--data-dir', '/d'])).toBe(false);
    expect(configError(() => loadConfig(peerWorkerOptions, { argv: ['--help'], env: dataDir })).rule).toBe('unknown-flag');
  });
});

describe('the contract tables', () => {
  it('every service schema includes the common options', () => {
    for (const schema of [peerWorkerOptions, diskWriterOptions, trackerClientOptions]) {
      for (const [key, spec] of Object.entries(commonOptions)) expect(schema[key as keyof typeof schema]).toBe(spec);
    }
  });

  it('every variable is SEEDBOX_ prefixed and matches its flag', () => {
    for (const schema of [peerWorkerOptions, diskWriterOptions, trackerClientOptions]) {
      for (const spec of Object.values(schema)) {
        expect(spec.env).toBe(`SEEDBOX_${spec.flag.toUpperCase().replaceAll('-', '_')}`);
      }
    }
  });
});
