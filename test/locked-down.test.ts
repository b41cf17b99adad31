/**
 * The locked-down endpoints as processes run them (issue 21), from the
 * built services and CLI (`npm run build` first):
 *
 * - a fleet whose NATS asks for TLS and client certificates, and whose
 *   gRPC asks for a token, TLS and client certificates: the services get in
 *   with SEEDBOX_NATS_TLS_*, `seedbox` with --token and the --tls flags, and
 *   everyone else is refused (health alone answers without a token);
 * - `seedbox serve --token` beyond loopback: every call needs the token;
 * - the start-up rules: a gRPC address beyond loopback without a token, a
 *   bad token, TLS or NATS files that are missing, half there or not what
 *   they should be: one line naming the setting, exit 1.
 *
 * Everything listens on loopback (serve's gRPC on 0.0.0.0 once, with its
 * token); no network namespaces.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { health } from '@seedbox/proto';
import { makeTestPki, type TestPki } from './support/certs.js';
import { startFleet, startService } from './support/fleet.js';
import { startNatsServer } from './support/nats.js';
import { cleanupAfter, cleanupAll, cleanupMark, makeTempDir, onCleanup, runToExit, spawnProcess, type CommandResult } from './support/processes.js';
import { listTorrents, logLines, startServe } from './support/serve.js';
import { needTools, tools } from './support/tools.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'packages/cli/bin/seedbox.js');
const SINGLE = join(root, 'test/fixtures/torrents/mktorrent-single.torrent');
const TOKEN = 'locked-down-test-token-0123456789';
const need = needTools(tools.openssl, tools.natsServer);

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

/** Runs a command with these variables (and no SEEDBOX_TOKEN or SEEDBOX_SERVER of the caller's). */
function run(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<CommandResult> {
  return runToExit('env', ['-u', 'SEEDBOX_TOKEN', '-u', 'SEEDBOX_SERVER', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, ...args], timeoutMs);
}

function expectOneLine(r: CommandResult, pattern: RegExp): void {
  expect(r.code, r.output).toBe(1);
  expect(r.stderr).toMatch(/^[^\n]+\n$/);
  expect(r.stderr.trim()).toMatch(pattern);
}

function healthCheck(address: string, creds: grpc.ChannelCredentials): Promise<health.HealthCheckResponse> {
  const client = new health.HealthClient(address, creds);
  return new Promise<health.HealthCheckResponse>((resolve, reject) =>
    client.check({ service: '' }, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e, r) => (e ? reject(e) : resolve(r))),
  ).finally(() => client.close());
}

describe.skipIf(!need.available)('locked-down endpoints', () => {
  let pki: TestPki;

  beforeAll(() => {
    for (const kind of ['peer-worker', 'disk-writer']) {
      if (!existsSync(join(root, 'services', kind, 'dist', 'main.js'))) throw new Error(`services/${kind} is not built: run \`npm run build\` first`);
    }
    pki = makeTestPki(makeTempDir('locked-pki'));
  });

  it('a fleet on NATS over TLS with client certificates; its gRPC with a token, TLS and client certificates', async () => {
    const nats = await startNatsServer({ tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca, verify: true } });
    onCleanup('stop nats-server', () => nats.stop());
    const fleet = await startFleet({
      natsUrl: nats.url,
      trackerClient: false,
      env: {
        SEEDBOX_NATS_TLS_CA: pki.ca,
        SEEDBOX_NATS_TLS_CERT: pki.client.cert,
        SEEDBOX_NATS_TLS_KEY: pki.client.key,
        SEEDBOX_TOKEN: TOKEN,
        SEEDBOX_GRPC_TLS_CERT: pki.server.cert,
        SEEDBOX_GRPC_TLS_KEY: pki.server.key,
        SEEDBOX_GRPC_TLS_CLIENT_CA: pki.ca,
      },
    });
    onCleanup('stop the fleet', () => fleet.stop());
    for (const p of fleet.all()) {
      expect(logLines(p.process, 'ready')[0], p.id).toMatchObject({ grpcHost: '127.0.0.1', grpcAccess: { token: true, tls: true, clientCertificates: true } });
    }
    const server = `127.0.0.1:${fleet.peerWorkers[0]!.grpcPort}`;
    const tls = ['--tls-ca', pki.ca, '--tls-cert', pki.client.cert, '--tls-key', pki.client.key];

    // In with everything: the add goes through the fleet's state on NATS.
    const added = await run([cli, 'add', SINGLE, '--paused', '--json', '--server', server, ...tls], { SEEDBOX_TOKEN: TOKEN });
    expect(added.code, added.output).toBe(0);
    expect(added.jsonLines[0]).toMatchObject({ created: true, torrent: { name: 'single.bin' } });
    const listed = await run([cli, 'ls', '--json', '--server', server, '--token', TOKEN, ...tls]);
    expect(listed.jsonLines.map((t) => t.name)).toEqual(['single.bin']);

    // Out without any one of them.
    expectOneLine(await run([cli, 'ls', '--server', server, ...tls]), /^seedbox ls: 127\.0\.0\.1:\d+ refused the call: no token: .*\(UNAUTHENTICATED\)$/);
    expectOneLine(await run([cli, 'ls', '--server', server, ...tls], { SEEDBOX_TOKEN: `${TOKEN}-not` }), /refused the call: wrong token \(UNAUTHENTICATED\)$/);
    expectOneLine(await run([cli, 'ls', '--server', server, '--tls-ca', pki.ca], { SEEDBOX_TOKEN: TOKEN }), /^seedbox ls: cannot reach 127\.0\.0\.1:\d+ \(UNAVAILABLE: TLS: .*certificate required\)$/);
    expectOneLine(await run([cli, 'ls', '--server', server], { SEEDBOX_TOKEN: TOKEN }), /^seedbox ls: cannot reach 127\.0\.0\.1:\d+ \(UNAVAILABLE: /);

    // Health answers with a client certificate and no token, on every service; not without the certificate.
    const withCert = grpc.credentials.createSsl(readFileSync(pki.ca), readFileSync(pki.client.key), readFileSync(pki.client.cert));
    for (const p of fleet.all()) expect((await healthCheck(`127.0.0.1:${p.grpcPort}`, withCert)).status, p.id).toBe(health.HealthCheckResponse_ServingStatus.SERVING);
    await expect(healthCheck(`127.0.0.1:${fleet.diskWriters[0]!.grpcPort}`, grpc.credentials.createSsl(readFileSync(pki.ca)))).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  }, 90_000);

  it('seedbox serve --token listens beyond loopback, and every call but health needs the token', async () => {
    const data = join(makeTempDir('locked-serve'), 'data');
    mkdirSync(data);
    const s = await startServe(data, ['--token', TOKEN, '--grpc-host', '0.0.0.0']);
    onCleanup('stop serve', () => s.stop());
    expect(logLines(s.process, 'ready')[0]).toMatchObject({ grpcHost: '0.0.0.0', grpcAccess: { token: true, tls: false, clientCertificates: false } });
    expect(logLines(s.process, 'starting')[0]).toMatchObject({ config: { token: '<redacted>' } });
    expect(s.process.text()).not.toContain(TOKEN);
    // The helper's client carries the token.
    expect(await listTorrents(s)).toEqual([]);
    const server = `127.0.0.1:${s.grpcPort}`;
    const added = await run([cli, 'add', SINGLE, '--paused', '--server', server], { SEEDBOX_TOKEN: TOKEN });
    expect(added.code, added.output).toBe(0);
    expectOneLine(await run([cli, 'rm', 'deadbeefdeadbeef', '--server', server]), /refused the call: no token: .*\(UNAUTHENTICATED\)$/);
    expect((await listTorrents(s)).map((t) => t.name)).toEqual(['single.bin']);
    expect((await healthCheck(server, grpc.credentials.createInsecure())).status).toBe(health.HealthCheckResponse_ServingStatus.SERVING);
  }, 60_000);

  it('start-up rules: one line naming the setting, exit 1, before anything listens', async () => {
    const dir = makeTempDir('locked-rules');
    const junk = join(dir, 'junk');
    writeFileSync(junk, 'not what it should be\n');
    const base = { SEEDBOX_DATA_DIR: dir, SEEDBOX_METRICS_HOST: '127.0.0.1', SEEDBOX_METRICS_PORT: '0', SEEDBOX_GRPC_PORT: '0', SEEDBOX_LISTEN_HOST: '127.0.0.1', SEEDBOX_LISTEN_PORT: '0', SEEDBOX_WEB_PORT: '0', SEEDBOX_NATS_URL: 'nats://127.0.0.1:1' };
    const main = (kind: string) => join(root, 'services', kind, 'dist', 'main.js');
    const open = /SEEDBOX_GRPC_HOST \(--grpc-host\) 0\.0\.0\.0: the gRPC control API would answer anyone there; set SEEDBOX_TOKEN \(or client certificates: SEEDBOX_GRPC_TLS_CLIENT_CA\), or listen on 127\.0\.0\.1$/;
    const cases: [string, Record<string, string>, RegExp][] = [
      ['peer-worker', { SEEDBOX_GRPC_HOST: '0.0.0.0' }, open],
      ['disk-writer', { SEEDBOX_GRPC_HOST: '0.0.0.0' }, open],
      ['tracker-client', { SEEDBOX_GRPC_HOST: '0.0.0.0' }, open],
      ['peer-worker', { SEEDBOX_TOKEN: 'short' }, /SEEDBOX_TOKEN \(--token\): a token must be 16 to 512 printable ASCII characters without spaces \(got 5 characters\)/],
      ['peer-worker', { SEEDBOX_TOKEN: TOKEN, SEEDBOX_GRPC_TLS_CERT: pki.server.cert }, /SEEDBOX_GRPC_TLS_KEY \(--grpc-tls-key\) is not set: TLS needs both a certificate and its private key$/],
      ['disk-writer', { SEEDBOX_GRPC_TLS_CERT: join(dir, 'none.crt'), SEEDBOX_GRPC_TLS_KEY: pki.server.key }, /SEEDBOX_GRPC_TLS_CERT \(--grpc-tls-cert\) \S+none\.crt: cannot read: no such file$/],
      ['tracker-client', { SEEDBOX_GRPC_TLS_CERT: pki.server.cert, SEEDBOX_GRPC_TLS_KEY: pki.client.key }, /SEEDBOX_GRPC_TLS_KEY \(--grpc-tls-key\) \S+client\.key: not the private key of /],
      ['disk-writer', { SEEDBOX_NATS_TLS_CERT: pki.client.cert }, /SEEDBOX_NATS_TLS_KEY \(--nats-tls-key\) is not set: a NATS client certificate needs both/],
      ['disk-writer', { SEEDBOX_NATS_TLS_CA: join(dir, 'none-ca.crt') }, /SEEDBOX_NATS_TLS_CA \(--nats-tls-ca\) \S+none-ca\.crt: cannot read: no such file$/],
      ['peer-worker', { SEEDBOX_NATS_CREDS: junk }, /SEEDBOX_NATS_CREDS \(--nats-creds\) \S+junk: not a NATS credentials file \(a user JWT and an NKey seed\)$/],
    ];
    for (const [kind, env, line] of cases) {
      const r = await run([main(kind)], { ...base, ...env }, 20_000);
      expect(r.code, `${kind} ${JSON.stringify(env)}: ${r.output}`).toBe(1);
      expect(r.stderr.trim()).toMatch(new RegExp(`^seedbox ${kind}: ${line.source}`));
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).not.toMatch(/"msg":"(metrics listening|connected to NATS)"/);
    }
    const serve = await run([cli, 'serve', '--data', dir, '--grpc-host', '0.0.0.0', '--grpc-port', '0', '--metrics-port', '0', '--listen-port', '0', '--web-port', '0']);
    expectOneLine(serve, new RegExp(`^seedbox serve: ${open.source}`));
  }, 90_000);

  it('a NATS server that asks for a user and password: a service with SEEDBOX_NATS_USER and _PASSWORD gets in, one with a wrong password is refused and says so', async () => {
    const nats = await startNatsServer({ auth: { user: 'seedbox', password: 'nats-password-for-the-test' } });
    const dataDir = makeTempDir('nats-auth');
    // Waits for its "ready" line: connected, its buckets made.
    await startService('tracker-client', { natsUrl: nats.url, dataDir, id: 'tc-auth', env: { SEEDBOX_NATS_USER: 'seedbox', SEEDBOX_NATS_PASSWORD: 'nats-password-for-the-test' } });
    const workDir = makeTempDir('nats-auth-wrong');
    const wrong = spawnProcess(process.execPath, [join(root, 'services/tracker-client/dist/main.js')], {
      name: 'tracker-client with a wrong NATS password',
      logFile: join(workDir, 'tc.log'),
      env: {
        ...(process.env as Record<string, string>),
        SEEDBOX_NATS_URL: nats.url,
        SEEDBOX_NATS_USER: 'seedbox',
        SEEDBOX_NATS_PASSWORD: 'not-the-password',
        SEEDBOX_METRICS_HOST: '127.0.0.1',
        SEEDBOX_METRICS_PORT: '0',
        SEEDBOX_GRPC_PORT: '0',
        SEEDBOX_DHT: 'false',
        SEEDBOX_INSTANCE_ID: 'tc-wrong',
      },
    });
    await wrong.waitForLine(/[Aa]uthori[sz]ation/, 15_000, 'the refusal to be logged');
    expect(readFileSync(wrong.logFile, 'utf8')).not.toMatch(/"msg":"ready"/);
  }, 60_000);
});
