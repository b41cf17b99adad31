/**
 * Who may call a gRPC server (grpc-access.ts), against real servers on
 * loopback: the token interceptor (every call but grpc.health.v1, before the
 * handler runs), TLS and client certificates from throwaway certificates
 * made with openssl, and the start-up rules, each a StartupError naming its
 * setting.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { health } from '@seedbox/proto';
import { bearerTokenInterceptor, grpcAccessOf } from '../src/grpc-access.js';
import { HealthService, startGrpcServer } from '../src/health.js';
import { loadConfig } from '../src/config.js';
import { peerWorkerOptions, serveOptions, type GrpcAccessConfig } from '../src/service-options.js';
import { StartupError } from '../src/startup.js';
import { makeTestPki, type TestPki } from '../../../test/support/certs.js';
import { cleanupAll, makeTempDir } from '../../../test/support/processes.js';
import { needTool, tools } from '../../../test/support/tools.js';

const TOKEN = 'a-token-of-some-length-0123456789';

/** A service that is not health: one unary and one server-streaming method over raw bytes. */
const passthrough = { requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
const echoService = {
  say: { path: '/test.Echo/Say', requestStream: false, responseStream: false, originalName: 'say', ...passthrough },
  repeat: { path: '/test.Echo/Repeat', requestStream: false, responseStream: true, originalName: 'repeat', ...passthrough },
} as grpc.ServiceDefinition;
const EchoClient = grpc.makeGenericClientConstructor(echoService, 'Echo');
type Echo = InstanceType<typeof EchoClient> & {
  say(req: Buffer, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Buffer) => void): void;
  repeat(req: Buffer, md: grpc.Metadata, opts: grpc.CallOptions): grpc.ClientReadableStream<Buffer>;
};

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
afterAll(cleanupAll);

/** A server with health and the echo service under these settings; `handled` counts the echo handler's runs. */
async function serve(config: GrpcAccessConfig): Promise<{ port: number; handled: () => number }> {
  const access = await grpcAccessOf({ grpcHost: '127.0.0.1', ...config });
  let handled = 0;
  const running = await startGrpcServer({
    host: access.host,
    port: 0,
    credentials: access.credentials,
    options: { interceptors: access.interceptors },
    services: [
      new HealthService(),
      {
        definition: echoService,
        implementation: {
          say: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
            handled++;
            cb(null, call.request);
          },
          repeat: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
            handled++;
            call.write(call.request);
            call.write(call.request);
            call.end();
          },
        },
      },
    ],
  });
  cleanup.push(() => running.close(100));
  return { port: running.port, handled: () => handled };
}

function echoClient(port: number, o: { token?: string; creds?: grpc.ChannelCredentials } = {}): Echo {
  const client = new EchoClient(`127.0.0.1:${port}`, o.creds ?? grpc.credentials.createInsecure(), o.token ? { interceptors: [bearerTokenInterceptor(o.token)] } : {}) as Echo;
  cleanup.push(() => client.close());
  return client;
}

function say(client: Echo, metadata = new grpc.Metadata()): Promise<string> {
  return new Promise((resolve, reject) =>
    client.say(Buffer.from('hello'), metadata, { deadline: Date.now() + 5000 }, (e, r) => (e ? reject(e) : resolve(r!.toString()))),
  );
}

function repeat(client: Echo): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const got: string[] = [];
    const call = client.repeat(Buffer.from('hi'), new grpc.Metadata(), { deadline: Date.now() + 5000 });
    call.on('data', (b: Buffer) => got.push(b.toString()));
    call.on('error', reject);
    call.on('end', () => resolve(got));
  });
}

function checkHealth(port: number, creds = grpc.credentials.createInsecure()): Promise<health.HealthCheckResponse> {
  const client = new health.HealthClient(`127.0.0.1:${port}`, creds);
  cleanup.push(() => client.close());
  return new Promise((resolve, reject) => client.check({ service: '' }, (e, r) => (e ? reject(e) : resolve(r))));
}

async function refusal(p: Promise<unknown>): Promise<grpc.ServiceError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err as grpc.ServiceError,
  );
  if (e === undefined) throw new Error('the call was answered');
  return e;
}

const withAuth = (value: string): grpc.Metadata => {
  const m = new grpc.Metadata();
  m.set('authorization', value);
  return m;
};

describe('the token', () => {
  it('refuses a call without it, with a malformed header or a wrong token: UNAUTHENTICATED with a sentence, before the handler runs', async () => {
    const server = await serve({ token: TOKEN });
    const client = echoClient(server.port);
    const cases: [grpc.Metadata, string][] = [
      [new grpc.Metadata(), 'no token: this server wants `authorization: Bearer <token>` on every call (seedbox --token, or SEEDBOX_TOKEN)'],
      [withAuth(TOKEN), 'the authorization metadata is not one `Bearer <token>`'],
      [withAuth(`Basic ${TOKEN}`), 'the authorization metadata is not one `Bearer <token>`'],
      [withAuth(`Bearer ${TOKEN}x`), 'wrong token'],
      [withAuth(`Bearer ${TOKEN.slice(0, -1)}`), 'wrong token'],
      [withAuth(`Bearer ${TOKEN} ${TOKEN}`), 'the authorization metadata is not one `Bearer <token>`'],
    ];
    for (const [metadata, details] of cases) {
      const e = await refusal(say(client, metadata));
      expect(e.code, details).toBe(grpc.status.UNAUTHENTICATED);
      expect(e.details).toBe(details);
    }
    // Two of them: refused too (by HTTP/2 itself, before the interceptor).
    const twice = withAuth(`Bearer ${TOKEN}`);
    twice.add('authorization', `Bearer ${TOKEN}`);
    await refusal(say(client, twice));
    expect(server.handled()).toBe(0);
  });

  it('answers a call that carries it, unary and streaming, in any case of "Bearer"; a stream without it is refused', async () => {
    const server = await serve({ token: TOKEN });
    expect(await say(echoClient(server.port, { token: TOKEN }))).toBe('hello');
    expect(await repeat(echoClient(server.port, { token: TOKEN }))).toEqual(['hi', 'hi']);
    expect(await say(echoClient(server.port), withAuth(`bearer ${TOKEN}`))).toBe('hello');
    const e = await refusal(repeat(echoClient(server.port)));
    expect(e.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(server.handled()).toBe(3);
  });

  it('lets grpc.health.v1 answer without it: probes send no metadata, and it tells only serving or not', async () => {
    const server = await serve({ token: TOKEN });
    expect((await checkHealth(server.port)).status).toBe(health.HealthCheckResponse_ServingStatus.SERVING);
  });

  it('is not asked for when none is set (a loopback server)', async () => {
    const server = await serve({});
    expect(await say(echoClient(server.port))).toBe('hello');
  });
});

const openssl = needTool(tools.openssl);

describe.skipIf(!openssl.available)('TLS and client certificates', () => {
  let pki: TestPki;
  const read = (f: string): Buffer => readFileSync(f);
  const trusting = (cert?: { cert: string; key: string }): grpc.ChannelCredentials =>
    grpc.credentials.createSsl(read(pki.ca), cert ? read(cert.key) : null, cert ? read(cert.cert) : null);

  it('makes its certificates', () => {
    pki = makeTestPki(makeTempDir('grpc-pki'));
  });

  it('serves TLS only: a plaintext client and one that does not trust the CA cannot call; one that does can, with the token', async () => {
    const server = await serve({ token: TOKEN, grpcTlsCert: pki.server.cert, grpcTlsKey: pki.server.key });
    expect((await refusal(say(echoClient(server.port, { token: TOKEN })))).code).toBe(grpc.status.UNAVAILABLE);
    const untrusting = grpc.credentials.createSsl(read(pki.strangerCa));
    expect((await refusal(say(echoClient(server.port, { token: TOKEN, creds: untrusting })))).code).toBe(grpc.status.UNAVAILABLE);
    expect(await say(echoClient(server.port, { token: TOKEN, creds: trusting() }))).toBe('hello');
    // TLS does not replace the token.
    expect((await refusal(say(echoClient(server.port, { creds: trusting() })))).code).toBe(grpc.status.UNAUTHENTICATED);
    expect(server.handled()).toBe(1);
  });

  it('with a client CA: refuses a client without a certificate and one with a stranger\'s; answers one the CA signed, health included', async () => {
    const server = await serve({ grpcTlsCert: pki.server.cert, grpcTlsKey: pki.server.key, grpcTlsClientCa: pki.ca });
    expect((await refusal(say(echoClient(server.port, { creds: trusting() })))).code).toBe(grpc.status.UNAVAILABLE);
    expect((await refusal(say(echoClient(server.port, { creds: trusting(pki.stranger) })))).code).toBe(grpc.status.UNAVAILABLE);
    expect((await refusal(checkHealth(server.port, trusting()))).code).toBe(grpc.status.UNAVAILABLE);
    expect(await say(echoClient(server.port, { creds: trusting(pki.client) }))).toBe('hello');
    expect((await checkHealth(server.port, trusting(pki.client))).status).toBe(health.HealthCheckResponse_ServingStatus.SERVING);
    expect(server.handled()).toBe(1);
  });

  it('names the setting of a TLS file that is missing, unreadable, not PEM, or a key that is not the certificate\'s', async () => {
    const dir = makeTempDir('grpc-bad-pem');
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    const cases: [GrpcAccessConfig, RegExp][] = [
      [{ grpcTlsCert: join(dir, 'none.crt'), grpcTlsKey: pki.server.key }, /^SEEDBOX_GRPC_TLS_CERT \(--grpc-tls-cert\) \S+none\.crt: cannot read: no such file$/],
      [{ grpcTlsCert: dir, grpcTlsKey: pki.server.key }, /^SEEDBOX_GRPC_TLS_CERT \(--grpc-tls-cert\) \S+: cannot read: a folder, not a file$/],
      [{ grpcTlsCert: junk, grpcTlsKey: pki.server.key }, /^SEEDBOX_GRPC_TLS_CERT \(--grpc-tls-cert\) \S+junk\.pem: not a PEM certificate/],
      [{ grpcTlsCert: pki.server.cert, grpcTlsKey: junk }, /^SEEDBOX_GRPC_TLS_KEY \(--grpc-tls-key\) \S+junk\.pem: not a PEM private key/],
      [{ grpcTlsCert: pki.server.cert, grpcTlsKey: pki.client.key }, /^SEEDBOX_GRPC_TLS_KEY \(--grpc-tls-key\) \S+client\.key: not the private key of \S+server\.crt/],
      [{ grpcTlsCert: pki.server.cert, grpcTlsKey: pki.server.key, grpcTlsClientCa: junk }, /^SEEDBOX_GRPC_TLS_CLIENT_CA \(--grpc-tls-client-ca\) \S+junk\.pem: not a PEM CA certificate/],
    ];
    for (const [config, message] of cases) {
      const e = await grpcAccessOf(config).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e, JSON.stringify(config)).toBeInstanceOf(StartupError);
      expect((e as StartupError).message).toMatch(message);
      expect((e as StartupError).message).not.toContain('\n');
    }
  });
});

describe('start-up rules', () => {
  const startupError = async (config: GrpcAccessConfig): Promise<StartupError> => {
    const e = await grpcAccessOf(config).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(StartupError);
    return e as StartupError;
  };

  it('listens on loopback without a token, on 0.0.0.0 with one (or with client certificates) unless told otherwise', async () => {
    expect((await grpcAccessOf({})).host).toBe('127.0.0.1');
    expect((await grpcAccessOf({ token: TOKEN })).host).toBe('0.0.0.0');
    expect((await grpcAccessOf({ token: TOKEN, grpcHost: '10.1.2.3' })).host).toBe('10.1.2.3');
    for (const host of ['127.0.0.1', '127.8.9.1', '::1', 'localhost']) expect((await grpcAccessOf({ grpcHost: host })).host).toBe(host);
    expect((await grpcAccessOf({ token: TOKEN })).summary).toEqual({ token: true, tls: false, clientCertificates: false });
    // The services have no default address: the rule above decides. `seedbox serve` stays on loopback even with a token.
    expect(loadConfig(peerWorkerOptions, { env: { SEEDBOX_DATA_DIR: '/d' } }).grpcHost).toBeUndefined();
    expect(loadConfig(serveOptions, { env: { SEEDBOX_DATA_DIR: '/d', SEEDBOX_TOKEN: TOKEN } }).grpcHost).toBe('127.0.0.1');
  });

  it('refuses an address beyond loopback without a token or client certificates, in one line naming SEEDBOX_GRPC_HOST', async () => {
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'seedbox.example.org']) {
      const e = await startupError({ grpcHost: host });
      expect(e.setting).toBe('SEEDBOX_GRPC_HOST (--grpc-host)');
      expect(e.message).toBe(
        `SEEDBOX_GRPC_HOST (--grpc-host) ${host}: the gRPC control API would answer anyone there; set SEEDBOX_TOKEN (or client certificates: SEEDBOX_GRPC_TLS_CLIENT_CA), or listen on 127.0.0.1`,
      );
    }
    // TLS alone does not say who calls.
    const e = await startupError({ grpcHost: '0.0.0.0', grpcTlsCert: '/x.crt', grpcTlsKey: '/x.key' });
    expect(e.setting).toBe('SEEDBOX_GRPC_HOST (--grpc-host)');
  });

  it('refuses a token that is short, long or has spaces, without printing it', async () => {
    for (const token of ['short', 'x'.repeat(15), 'x'.repeat(513), 'sixteen chars with spaces', 'tab\tin-the-middle-of-it', 'nön-ascii-characters']) {
      const e = await startupError({ token });
      expect(e.setting).toBe('SEEDBOX_TOKEN (--token)');
      expect(e.message).toMatch(/^SEEDBOX_TOKEN \(--token\): a token must be 16 to 512 printable ASCII characters without spaces \(got \d+ characters\)/);
      expect(e.message).not.toContain(token);
    }
    expect((await grpcAccessOf({ token: 'x'.repeat(16) })).summary.token).toBe(true);
  });

  it('refuses half a TLS pair, and client certificates without TLS', async () => {
    expect((await startupError({ grpcTlsCert: '/a.crt' })).message).toBe('SEEDBOX_GRPC_TLS_KEY (--grpc-tls-key) is not set: TLS needs both a certificate and its private key');
    expect((await startupError({ grpcTlsKey: '/a.key' })).message).toBe('SEEDBOX_GRPC_TLS_CERT (--grpc-tls-cert) is not set: TLS needs both a certificate and its private key');
    expect((await startupError({ grpcTlsClientCa: '/ca.crt' })).message).toMatch(/^SEEDBOX_GRPC_TLS_CERT \(--grpc-tls-cert\) is not set: client certificates/);
  });
});
