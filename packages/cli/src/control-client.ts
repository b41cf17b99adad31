import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { credentials, Metadata, status as Status, type CallOptions, type ChannelCredentials, type ClientOptions, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import {
  filePriorityToJSON,
  SeedboxControlClient,
  shareActionToJSON,
  shareLimitReachedToJSON,
  torrentStateToJSON,
  type AddTorrentRequest,
  type AddTorrentResponse,
  type AddTorrentResult,
  type ListTorrentsRequest,
  type ListTorrentsResponse,
  type Category,
  type CategoryMode,
  type FleetConfig,
  type FleetConfigPatch,
  type QueueDirection,
  type Torrent,
  type TorrentSettingsPatch,
  type TorrentState,
  type WatchTorrentsResponse,
} from '@seedbox/proto';
import { bearerTokenInterceptor } from '@seedbox/runtime';
import { CliError, UsageError } from './cli-error.js';

/**
 * The CLI's side of `seedbox.v1.SeedboxControl`: where the server is, unary
 * calls as promises with a deadline, and every gRPC failure turned into one
 * sentence (a ControlCallError, which main() prints as one line, exit 1).
 */

export const DEFAULT_SERVER = '127.0.0.1:50051';
/** Every unary call gives up after this long, so a hung server cannot hang a script. */
export const CALL_DEADLINE_MS = 10_000;
export const MAGNET_ADD_DEADLINE_MS = 150_000;
/** A batch of adds gets this much more per torrent in it, so a slow fleet answers a batch of 100 before its deadline. */
export const BATCH_ADD_MS_PER_TORRENT = 500;
/**
 * The largest answer the CLI takes (grpc-js's default is 4 MiB): a list of
 * 10,000 torrents weighs 2-3 MiB without their files and more with them.
 * The server is the user's own; this only stops a runaway answer.
 */
export const MAX_ANSWER_BYTES = 256 * 1024 * 1024;

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/;

/** --server, else SEEDBOX_SERVER, else 127.0.0.1:50051; always HOST:PORT, since gRPC would otherwise guess port 443. */
export function resolveServer(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const server = flag ?? (env.SEEDBOX_SERVER || DEFAULT_SERVER);
  const m = HOST_PORT.exec(server);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) {
    const from = flag === undefined ? 'SEEDBOX_SERVER' : '--server';
    throw new UsageError(`${from} takes HOST:PORT (e.g. 127.0.0.1:50051 or [::1]:50051), got ${JSON.stringify(server)}`);
  }
  return server;
}

/**
 * How to reach and log in to the control API: the flags every command that
 * calls it takes (parseArgs options), each with a SEEDBOX_ variable. TLS is
 * on with --tls or any TLS file; --tls-ca replaces the system's CAs,
 * --tls-cert/--tls-key present a client certificate, --tls-server-name is the
 * name to expect in the server's certificate when the address is another
 * (a port-forward to 127.0.0.1).
 */
export const CONNECTION_OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  tls: { type: 'boolean' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-server-name': { type: 'string' },
} as const;

export type ConnectionFlags = { [K in keyof typeof CONNECTION_OPTIONS]?: (typeof CONNECTION_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

/** For the usage lines; main's usage lists the TLS flags. */
export const CONNECTION_USAGE = '[--server HOST:PORT] [--token TOKEN] [--tls ...]';

export const CONNECTION_HELP = [
  'control API commands reach --server (SEEDBOX_SERVER, else 127.0.0.1:50051) and take:',
  '  --token TOKEN          (SEEDBOX_TOKEN) sent as `authorization: Bearer TOKEN`; prefer the variable: flags show in `ps`',
  '  --tls                  (SEEDBOX_TLS=1) speak TLS, checking the server against the system CAs',
  '  --tls-ca FILE          (SEEDBOX_TLS_CA) PEM CA bundle to check the server against instead (implies --tls)',
  '  --tls-cert FILE --tls-key FILE  (SEEDBOX_TLS_CERT, SEEDBOX_TLS_KEY) a client certificate (implies --tls)',
  '  --tls-server-name NAME (SEEDBOX_TLS_SERVER_NAME) the name in the server certificate, when --server is another (a port-forward)',
].join('\n');

export interface ControlTarget {
  /** HOST:PORT. */
  server: string;
  token?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; serverName?: string };
}

const TOKEN = /^[\x21-\x7e]+$/;
const BOOL: Record<string, boolean> = { '1': true, true: true, yes: true, on: true, '0': false, false: false, no: false, off: false };

/** The flags, else their SEEDBOX_ variables (an empty variable is unset), as a ControlTarget with the files read. */
export async function resolveTarget(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Promise<ControlTarget> {
  const server = resolveServer(flags.server, env);
  const pick = (flag: keyof ConnectionFlags, name: string): { value: string; from: string } | undefined => {
    const f = flags[flag];
    if (typeof f === 'string') return { value: f, from: `--${flag}` };
    const v = env[name];
    return v ? { value: v, from: name } : undefined;
  };
  const token = pick('token', 'SEEDBOX_TOKEN');
  if (token && !TOKEN.test(token.value)) throw new UsageError(`${token.from}: a token is printable ASCII without spaces`);
  let tlsOn = flags.tls;
  if (tlsOn === undefined && env.SEEDBOX_TLS) {
    tlsOn = BOOL[env.SEEDBOX_TLS.toLowerCase()];
    if (tlsOn === undefined) throw new UsageError(`SEEDBOX_TLS=${env.SEEDBOX_TLS}: not a boolean (1, 0, true, false, yes, no, on, off)`);
  }
  const ca = pick('tls-ca', 'SEEDBOX_TLS_CA');
  const cert = pick('tls-cert', 'SEEDBOX_TLS_CERT');
  const key = pick('tls-key', 'SEEDBOX_TLS_KEY');
  const serverName = pick('tls-server-name', 'SEEDBOX_TLS_SERVER_NAME');
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError(cert === undefined ? `${key!.from} needs --tls-cert (SEEDBOX_TLS_CERT) too` : `${cert.from} needs --tls-key (SEEDBOX_TLS_KEY) too`);
  }
  const target: ControlTarget = { server, ...(token ? { token: token.value } : {}) };
  if (tlsOn || ca || cert || serverName) {
    target.tls = {
      ...(ca ? { ca: await readPem(ca) } : {}),
      ...(cert ? { cert: await readPem(cert) } : {}),
      ...(key ? { key: await readPem(key) } : {}),
      ...(serverName ? { serverName: serverName.value } : {}),
    };
  }
  return target;
}

async function readPem(file: { value: string; from: string }): Promise<Buffer> {
  try {
    return await readFile(file.value);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`${file.from} ${file.value}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

/** A call the server refused or could not be made; `code` is the gRPC status. */
export class ControlCallError extends CliError {
  override name = 'ControlCallError';
  constructor(
    message: string,
    readonly code: Status,
    readonly details: string,
  ) {
    super(message);
  }
}

/**
 * grpc-js's own words when there was no connection at all, as opposed to an
 * UNAVAILABLE the server sent (its registry lost NATS, say), which names the
 * server's problem and must not read as "cannot reach".
 */
function connectionFailure(details: string): string | undefined {
  if (details.startsWith('Name resolution failed')) return 'name resolution failed';
  const m = /^No connection established\. Last error: (?:Error: )?(.*?)\.?(?: Resolution note:.*)?$/s.exec(details);
  if (m) return tlsFailure(m[1]!) ?? (m[1]!.replace(/\s*\n\s*/g, ' ') || 'no connection');
  if (/^(?:Connection dropped|Failed to connect)/.test(details)) return details;
  return undefined;
}

/**
 * OpenSSL's error for a refused handshake (several lines, with a source
 * path) as its reason alone: "TLS: tlsv13 alert certificate required" when
 * the server wants a client certificate. Node's own words (a certificate
 * that does not verify or name the host) are one line already.
 */
function tlsFailure(error: string): string | undefined {
  const reason = /SSL routines:[^:]*:([^:]+):/.exec(error)?.[1];
  return reason === undefined ? undefined : `TLS: ${reason}`;
}

/** One line for a failed call, e.g. "no torrent 0123…" or "cannot reach 127.0.0.1:50051 (UNAVAILABLE: connect ECONNREFUSED …)". */
export function describeFailure(error: Pick<ServiceError, 'code' | 'details'>, server: string): string {
  const name = Status[error.code] ?? `status ${error.code}`;
  const details = error.details || 'no details';
  switch (error.code) {
    case Status.UNAVAILABLE: {
      const cause = connectionFailure(details);
      return cause === undefined ? `${server}: ${details} (UNAVAILABLE)` : `cannot reach ${server} (UNAVAILABLE: ${cause})`;
    }
    case Status.DEADLINE_EXCEEDED:
      return `no answer from ${server} in time (DEADLINE_EXCEEDED)`;
    case Status.UNAUTHENTICATED:
      return `${server} refused the call: ${details} (UNAUTHENTICATED)`;
    // The server's sentence says it all ("no torrent …", "info_hash must be …").
    case Status.NOT_FOUND:
    case Status.INVALID_ARGUMENT:
    case Status.ALREADY_EXISTS:
      return details;
    default:
      return `${details} (${name})`;
  }
}

export function toCallError(error: Pick<ServiceError, 'code' | 'details'>, server: string): ControlCallError {
  return new ControlCallError(describeFailure(error, server), error.code, error.details);
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => unknown;

export class ControlClient {
  private readonly client: SeedboxControlClient;
  readonly server: string;

  constructor(target: ControlTarget) {
    this.server = target.server;
    const tls = target.tls;
    const channel: ChannelCredentials = tls ? credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null) : credentials.createInsecure();
    if (tls && tls.serverName === undefined && isIP(hostOf(target.server)) !== 0) quietIpServerNameWarning();
    const options: ClientOptions = {
      'grpc.max_receive_message_length': MAX_ANSWER_BYTES,
      ...(target.token !== undefined ? { interceptors: [bearerTokenInterceptor(target.token)] } : {}),
      ...(tls?.serverName !== undefined ? { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName } : {}),
    };
    this.client = new SeedboxControlClient(target.server, channel, options);
  }

  private unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, deadlineMs = CALL_DEADLINE_MS): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(this.client, request, new Metadata(), { deadline: Date.now() + deadlineMs }, (error, response) =>
        error ? reject(toCallError(error, this.server)) : resolve(response),
      );
    });
  }

  /** A magnet add answers once the fleet has fetched the metadata: it gets minutes, not seconds. */
  add(request: AddTorrentRequest): Promise<AddTorrentResponse> {
    return this.unary(this.client.addTorrent, request, request.magnetUri ? MAGNET_ADD_DEADLINE_MS : CALL_DEADLINE_MS);
  }

  /** One answer per item, in order; a server without AddTorrents (older than the CLI) fails the call with UNIMPLEMENTED. */
  async addMany(torrents: AddTorrentRequest[]): Promise<AddTorrentResult[]> {
    const { results } = await this.unary(this.client.addTorrents, { torrents }, CALL_DEADLINE_MS + BATCH_ADD_MS_PER_TORRENT * torrents.length);
    if (results.length !== torrents.length) throw new CliError(`${this.server} answered AddTorrents with ${results.length} results for ${torrents.length} torrents`);
    return results;
  }

  async get(infoHash: string): Promise<Torrent> {
    const t = (await this.unary(this.client.getTorrent, { infoHash })).torrent;
    if (!t) throw new CliError(`${this.server} answered GetTorrent without a torrent`);
    return t;
  }

  async set(infoHash: string, patch: TorrentSettingsPatch): Promise<Torrent> {
    const t = (await this.unary(this.client.setTorrent, { infoHash, patch })).torrent;
    if (!t) throw new CliError(`${this.server} answered SetTorrent without a torrent`);
    return t;
  }

  async move(infoHash: string, savePath: string): Promise<void> {
    await this.unary(this.client.moveTorrent, { infoHash, savePath });
  }

  async moveInQueue(infoHashes: string[], direction: QueueDirection): Promise<void> {
    await this.unary(this.client.moveInQueue, { infoHashes, direction });
  }

  async config(): Promise<FleetConfig> {
    const c = (await this.unary(this.client.getConfig, {})).config;
    if (!c) throw new CliError(`${this.server} answered GetConfig without a config`);
    return c;
  }

  async setConfig(patch: FleetConfigPatch): Promise<FleetConfig> {
    const c = (await this.unary(this.client.setConfig, { patch })).config;
    if (!c) throw new CliError(`${this.server} answered SetConfig without a config`);
    return c;
  }

  async categories(): Promise<Category[]> {
    return (await this.unary(this.client.listCategories, {})).categories;
  }

  async putCategory(name: string, savePath: string, mode: CategoryMode): Promise<Category[]> {
    return (await this.unary(this.client.putCategory, { name, savePath, mode })).categories;
  }

  async removeCategories(names: string[]): Promise<Category[]> {
    return (await this.unary(this.client.removeCategories, { names })).categories;
  }

  /** Every torrent, or the page, filter and order asked for; `total` is how many match before paging. */
  list(request: ListTorrentsRequest = {}): Promise<ListTorrentsResponse> {
    return this.unary(this.client.listTorrents, request);
  }

  async remove(infoHash: string, deleteData: boolean): Promise<void> {
    await this.unary(this.client.removeTorrent, { infoHash, deleteData });
  }

  async pause(infoHash: string): Promise<void> {
    await this.unary(this.client.pauseTorrent, { infoHash });
  }

  async resume(infoHash: string): Promise<void> {
    await this.unary(this.client.resumeTorrent, { infoHash });
  }

  async recheck(infoHash: string): Promise<void> {
    await this.unary(this.client.recheckTorrent, { infoHash });
  }

  /**
   * No deadline: a watch runs until the user stops it. Changes only: every
   * torrent's figures first, then those that changed (see WatchTorrentsRequest).
   */
  watch(infoHashes: string[]): ClientReadableStream<WatchTorrentsResponse> {
    return this.client.watchTorrents({ infoHashes, changesOnly: true });
  }

  close(): void {
    this.client.close();
  }
}

function hostOf(server: string): string {
  const host = server.slice(0, server.lastIndexOf(':'));
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

let quieted = false;

/**
 * grpc-js gives an IP address as the TLS server name (SNI), which Node
 * warns about (DEP0123) on stderr, a second line after every command's
 * answer. The certificate is checked against the address all the same (an
 * IP subjectAltName); only that one warning is dropped.
 */
function quietIpServerNameWarning(): void {
  if (quieted) return;
  quieted = true;
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((...args: unknown[]) => {
    const code = typeof args[1] === 'object' && args[1] !== null ? (args[1] as { code?: string }).code : args[2];
    if (code !== 'DEP0123') emit(...args);
  }) as typeof process.emitWarning;
}

/** Runs `fn` with a client and closes the channel afterwards, so the process can exit. */
export async function withControlClient<T>(target: ControlTarget, fn: (client: ControlClient) => Promise<T>): Promise<T> {
  const client = new ControlClient(target);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** "downloading", "seeding", "paused", … */
export function stateName(state: TorrentState): string {
  return torrentStateToJSON(state).replace(/^TORRENT_STATE_/, '').toLowerCase();
}

/**
 * A Torrent as `--json` prints it: the proto3 JSON form (lowerCamelCase
 * names, the state by its enum name) with every field present, defaults
 * included, so a script can read `.private` or `.stats` without guessing
 * what an absent key means. stats is null until a worker has reported.
 */
export function torrentJson(t: Torrent): Record<string, unknown> {
  return {
    infoHash: t.infoHash,
    name: t.name,
    state: torrentStateToJSON(t.state),
    totalLength: t.totalLength,
    pieceLength: t.pieceLength,
    pieceCount: t.pieceCount,
    private: t.private,
    files: t.files.map((f) => ({ path: f.path, length: f.length, priority: filePriorityToJSON(f.priority), bytesDone: f.bytesDone ?? null })),
    stats: t.stats ?? null,
    error: t.error,
    addedAt: t.addedAt,
    category: t.category,
    tags: t.tags,
    savePath: t.savePath,
    downloadLimit: t.downloadLimit,
    uploadLimit: t.uploadLimit,
    ratioLimit: t.ratioLimit,
    seedingTimeLimit: t.seedingTimeLimit,
    inactiveSeedingTimeLimit: t.inactiveSeedingTimeLimit,
    queuePosition: t.queuePosition,
    forceStart: t.forceStart,
    sequential: t.sequential,
    firstLastPiece: t.firstLastPiece,
    limitReached: shareLimitReachedToJSON(t.limitReached),
    movingTo: t.movingTo,
    ...(t.moveError !== '' ? { moveError: { to: t.moveErrorTo, message: t.moveError } } : {}),
    ratio: t.ratio,
    seedingSeconds: t.seedingSeconds,
    activeSeconds: t.activeSeconds,
    uploadedTotal: t.uploadedTotal,
    downloadedTotal: t.downloadedTotal,
  };
}

/** The fleet's config as `config --json` prints it: every field, the share action by its enum name. */
export function configJson(c: FleetConfig): Record<string, unknown> {
  return { ...c, shareAction: shareActionToJSON(c.shareAction), categories: c.categories.map((x) => ({ name: x.name, savePath: x.savePath })) };
}
