import { createHash, createPrivateKey, timingSafeEqual, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { GrpcAccessConfig } from './service-options.js';
import { readSettingFile, StartupError } from './startup.js';

/**
 * Who may call a gRPC server: the control API adds, removes and deletes
 * torrents and their data, so anyone who reaches its port must not be
 * able to. Three locks, set by grpcAccessOptions:
 *
 * - a token (SEEDBOX_TOKEN), checked on every call by a server
 *   interceptor: metadata `authorization: Bearer <token>`, compared in
 *   constant time, else UNAUTHENTICATED;
 * - TLS (SEEDBOX_GRPC_TLS_CERT and _KEY), so the token and the torrents do
 *   not cross the network in clear;
 * - client certificates (SEEDBOX_GRPC_TLS_CLIENT_CA): the TLS handshake
 *   refuses a client without one that CA signed.
 *
 * With neither a token nor client certificates the server stays on
 * loopback, and another address is a start-up error naming the setting.
 * grpc.health.v1 answers without a token: it tells only "serving or not",
 * and Kubernetes' gRPC probes and grpc-health-probe send no metadata.
 */

const SETTING = {
  host: 'SEEDBOX_GRPC_HOST (--grpc-host)',
  token: 'SEEDBOX_TOKEN (--token)',
  cert: 'SEEDBOX_GRPC_TLS_CERT (--grpc-tls-cert)',
  key: 'SEEDBOX_GRPC_TLS_KEY (--grpc-tls-key)',
  clientCa: 'SEEDBOX_GRPC_TLS_CLIENT_CA (--grpc-tls-client-ca)',
} as const;

/** Methods under these paths answer without a token. */
const OPEN_PATHS = ['/grpc.health.v1.Health/'];

/** Printable ASCII without spaces: what a gRPC metadata value carries as is, and what a shell or a Secret holds without quoting. */
const TOKEN_RULE = /^[\x21-\x7e]{16,512}$/;

export interface GrpcAccess {
  /** The address to listen on. */
  host: string;
  credentials: grpc.ServerCredentials;
  /** For grpc.ServerOptions.interceptors. */
  interceptors: grpc.ServerInterceptor[];
  /** What a caller must bring, for the start-up log line. */
  summary: { token: boolean; tls: boolean; clientCertificates: boolean };
}

/** The settings as a server's address, credentials and interceptors; a setting that breaks a rule is a StartupError naming it. */
export async function grpcAccessOf(config: GrpcAccessConfig): Promise<GrpcAccess> {
  if (config.token !== undefined && !TOKEN_RULE.test(config.token)) {
    throw new StartupError(
      SETTING.token,
      `${SETTING.token}: a token must be 16 to 512 printable ASCII characters without spaces (got ${config.token.length} characters); e.g. \`openssl rand -hex 32\``,
    );
  }
  const token = config.token !== undefined;
  const clientCertificates = config.grpcTlsClientCa !== undefined;
  // The address first: a refusal there says what to set, before any file is read.
  const host = hostOf(config.grpcHost, token || clientCertificates);
  const tls = await tlsOf(config);
  return {
    host,
    credentials: tls === undefined ? grpc.ServerCredentials.createInsecure() : grpc.ServerCredentials.createSsl(tls.clientCa ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], clientCertificates),
    interceptors: config.token === undefined ? [] : [tokenInterceptor(config.token)],
    summary: { token, tls: tls !== undefined, clientCertificates },
  };
}

function hostOf(host: string | undefined, authenticated: boolean): string {
  if (host === undefined) return authenticated ? '0.0.0.0' : '127.0.0.1';
  if (!authenticated && !isLoopback(host)) {
    throw new StartupError(
      SETTING.host,
      `${SETTING.host} ${host}: the gRPC control API would answer anyone there; set SEEDBOX_TOKEN (or client certificates: SEEDBOX_GRPC_TLS_CLIENT_CA), or listen on 127.0.0.1`,
    );
  }
  return host;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.') || host.startsWith('::ffff:127.');
}

interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  clientCa?: Buffer;
}

async function tlsOf(config: GrpcAccessConfig): Promise<TlsFiles | undefined> {
  const { grpcTlsCert: certPath, grpcTlsKey: keyPath, grpcTlsClientCa: caPath } = config;
  if (certPath === undefined && keyPath === undefined) {
    if (caPath !== undefined) {
      throw new StartupError(SETTING.cert, `${SETTING.cert} is not set: client certificates (${SETTING.clientCa}) need the server to speak TLS, with SEEDBOX_GRPC_TLS_CERT and SEEDBOX_GRPC_TLS_KEY`);
    }
    return undefined;
  }
  if (certPath === undefined || keyPath === undefined) {
    const missing = certPath === undefined ? SETTING.cert : SETTING.key;
    throw new StartupError(missing, `${missing} is not set: TLS needs both a certificate and its private key`);
  }
  const cert = await readSettingFile(SETTING.cert, certPath);
  const key = await readSettingFile(SETTING.key, keyPath);
  const clientCa = caPath === undefined ? undefined : await readSettingFile(SETTING.clientCa, caPath);
  // Checked here so that a wrong file is named at start, not in every handshake.
  parse(SETTING.cert, certPath, 'a PEM certificate', () => new X509Certificate(cert));
  parse(SETTING.key, keyPath, 'a PEM private key', () => createPrivateKey(key));
  parse(SETTING.key, keyPath, `the private key of ${certPath}`, () => createSecureContext({ cert, key }));
  if (clientCa !== undefined && caPath !== undefined) parse(SETTING.clientCa, caPath, 'a PEM CA certificate', () => new X509Certificate(clientCa));
  return { cert, key, ...(clientCa !== undefined ? { clientCa } : {}) };
}

function parse(setting: string, path: string, what: string, check: () => unknown): void {
  try {
    check();
  } catch (e) {
    throw new StartupError(setting, `${setting} ${path}: not ${what} (${(e as Error).message})`, { cause: e });
  }
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Refuses every call whose metadata lacks `authorization: Bearer <token>`
 * with UNAUTHENTICATED, before the handler runs. The comparison is of
 * SHA-256 digests with timingSafeEqual: equal lengths whatever was sent,
 * and no early exit that would time the matching prefix.
 */
export function tokenInterceptor(token: string): grpc.ServerInterceptor {
  const expected = digest(token);
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, pass) => {
            const refusal = OPEN_PATHS.some((p) => method.path.startsWith(p)) ? undefined : refusalOf(metadata, expected);
            if (refusal === undefined) pass(metadata);
            else call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: refusal });
          },
        }),
    });
}

function refusalOf(metadata: grpc.Metadata, expected: Buffer): string | undefined {
  const values = metadata.get('authorization');
  if (values.length === 0) return 'no token: this server wants `authorization: Bearer <token>` on every call (seedbox --token, or SEEDBOX_TOKEN)';
  const bearer = values.length === 1 && typeof values[0] === 'string' ? /^Bearer +(\S+) *$/i.exec(values[0]) : null;
  if (bearer === null) return 'the authorization metadata is not one `Bearer <token>`';
  return timingSafeEqual(digest(bearer[1]!), expected) ? undefined : 'wrong token';
}

/** The client's side: `authorization: Bearer <token>` on every call of a client built with it (ClientOptions.interceptors). */
export function bearerTokenInterceptor(token: string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        metadata.set('authorization', `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}
