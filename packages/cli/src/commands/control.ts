import { readFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { status as Status } from '@grpc/grpc-js';
import { isMagnetUri } from '@seedbox/protocol';
import type { AddTorrentRequest, Torrent, TorrentStats } from '@seedbox/proto';
import { CliError, UsageError } from '../cli-error.js';
import { ControlCallError, ControlClient, resolveServer, stateName, toCallError, torrentJson, withControlClient } from '../control-client.js';
import { onStopSignal } from '../embedded.js';
import { formatBytes, formatDuration, formatRate } from '../format.js';

/**
 * The commands that drive a running fleet over the gRPC control API (any
 * peer-worker answers): add, ls, rm, pause, resume, recheck, watch. They hold no
 * state of their own; each is one call (watch: one stream) to --server.
 */

const SERVER = '[--server HOST:PORT]';
export const addUsage = `seedbox add <file.torrent | magnet-uri> [--paused] ${SERVER} [--json]`;
export const lsUsage = `seedbox ls ${SERVER} [--json]`;
export const rmUsage = `seedbox rm <infohash> [--delete-data] ${SERVER}`;
export const pauseUsage = `seedbox pause <infohash> ${SERVER}`;
export const resumeUsage = `seedbox resume <infohash> ${SERVER}`;
export const recheckUsage = `seedbox recheck <infohash> ${SERVER}`;
export const watchUsage = `seedbox watch [infohash ...] ${SERVER} [--json]`;

type Options = NonNullable<ParseArgsConfig['options']>;

function parse<O extends Options>(argv: string[], usage: string, options: O) {
  try {
    return parseArgs({ args: argv, options: { ...options, server: { type: 'string' } } as O & { server: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}; usage: ${usage}`);
  }
}

const FULL_HASH = /^[0-9a-f]{40}$/i;
/** Long enough that a typo rarely matches; `ls` shows 12. */
const HASH_PREFIX = /^[0-9a-f]{6,39}$/i;
const SHORT = 12;

/**
 * The info hash to send for what the user typed. A prefix (as `ls` shows)
 * is looked up in the list; anything else goes to the server as is, which
 * checks it and names the rule it breaks.
 */
async function resolveInfoHash(client: ControlClient, arg: string): Promise<string> {
  if (FULL_HASH.test(arg) || !HASH_PREFIX.test(arg)) return arg;
  const prefix = arg.toLowerCase();
  const matches = (await client.list()).filter((t) => t.infoHash.startsWith(prefix));
  if (matches.length === 1) return matches[0]!.infoHash;
  if (matches.length === 0) throw new CliError(`no torrent ${arg}`);
  throw new CliError(`${arg} matches ${matches.length} torrents (${matches.map((t) => t.infoHash).join(', ')}); give more of the info hash`);
}

/** Torrent names come from the file: keep control characters off the terminal. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

function clip(s: string, width: number): string {
  return s.length <= width ? s : `${s.slice(0, width - 1)}…`;
}

function progress(totalLength: number, stats: TorrentStats | undefined): string {
  if (!stats) return '-';
  const fraction = totalLength > 0 ? (totalLength - stats.leftBytes) / totalLength : 1;
  return `${(fraction * 100).toFixed(1)}%`;
}

export async function add(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const parsed = parse(argv, addUsage, { paused: { type: 'boolean' }, json: { type: 'boolean' } });
  const [target, ...extra] = parsed.positionals;
  if (target === undefined || extra.length > 0) throw new UsageError(`usage: ${addUsage}`);
  const server = resolveServer(parsed.values.server);
  const paused = parsed.values.paused ?? false;

  let request: AddTorrentRequest;
  if (isMagnetUri(target)) {
    request = { magnetUri: target, paused, category: '', tags: [] };
  } else {
    let bytes: Buffer;
    try {
      bytes = await readFile(target);
    } catch (e) {
      throw new CliError(`${target}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    request = { torrentFile: bytes, paused, category: '', tags: [] };
  }
  let response;
  try {
    response = await withControlClient(server, (c) => c.add(request));
  } catch (e) {
    // The server checks the file; say which file it refused.
    if (e instanceof ControlCallError && e.code === Status.INVALID_ARGUMENT && request.torrentFile) throw new CliError(`${target}: ${e.message}`);
    throw e;
  }
  const t = response.torrent;
  if (!t) throw new CliError(`${server} answered AddTorrent without a torrent`);
  if (parsed.values.json) {
    out.write(`${JSON.stringify({ created: response.created, torrent: torrentJson(t) })}\n`);
  } else {
    const what = response.created ? 'added' : 'already added';
    out.write(`${what}: ${t.infoHash} ${printable(t.name)} (${stateName(t.state)})\n`);
  }
  return 0;
}

export async function ls(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const parsed = parse(argv, lsUsage, { json: { type: 'boolean' } });
  if (parsed.positionals.length > 0) throw new UsageError(`usage: ${lsUsage}`);
  const server = resolveServer(parsed.values.server);
  const torrents = await withControlClient(server, (c) => c.list());
  if (parsed.values.json) {
    for (const t of torrents) out.write(`${JSON.stringify(torrentJson(t))}\n`);
    return 0;
  }
  out.write(formatTable(torrents));
  return 0;
}

const COLUMNS = ['INFO HASH', 'NAME', 'STATE', 'PROGRESS', 'DOWN', 'UP', 'PEERS', 'SIZE'];
const RIGHT = [false, false, false, true, true, true, true, true];

export function formatTable(torrents: Torrent[]): string {
  const rows = torrents.map((t) => [
    t.infoHash.slice(0, SHORT),
    clip(printable(t.name), 40),
    stateName(t.state),
    progress(t.totalLength, t.stats),
    t.stats ? formatRate(t.stats.downloadRate) : '-',
    t.stats ? formatRate(t.stats.uploadRate) : '-',
    t.stats ? String(t.stats.peers) : '-',
    formatBytes(t.totalLength),
  ]);
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (RIGHT[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const lines = [line(COLUMNS), ...rows.map(line)];
  // A torrent in error says why below the table, where a long sentence fits.
  for (const t of torrents) if (t.error) lines.push(`${t.infoHash.slice(0, SHORT)}: ${printable(t.error)}`);
  return `${lines.join('\n')}\n`;
}

export async function rm(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const parsed = parse(argv, rmUsage, { 'delete-data': { type: 'boolean' } });
  const [arg, ...extra] = parsed.positionals;
  if (arg === undefined || extra.length > 0) throw new UsageError(`usage: ${rmUsage}`);
  const server = resolveServer(parsed.values.server);
  const deleteData = parsed.values['delete-data'] ?? false;
  const hash = await withControlClient(server, async (c) => {
    const h = await resolveInfoHash(c, arg);
    await c.remove(h, deleteData);
    return h.toLowerCase();
  });
  out.write(`removed ${hash}${deleteData ? ' and its data' : ''}\n`);
  return 0;
}

/** One call per verb on one torrent: pause, resume, recheck. */
function onTorrent(verb: 'pause' | 'resume' | 'recheck', usage: string) {
  return async (argv: string[], out: NodeJS.WritableStream): Promise<number> => {
    const parsed = parse(argv, usage, {});
    const [arg, ...extra] = parsed.positionals;
    if (arg === undefined || extra.length > 0) throw new UsageError(`usage: ${usage}`);
    const server = resolveServer(parsed.values.server);
    const hash = await withControlClient(server, async (c) => {
      const h = await resolveInfoHash(c, arg);
      await (verb === 'pause' ? c.pause(h) : verb === 'resume' ? c.resume(h) : c.recheck(h));
      return h.toLowerCase();
    });
    out.write(`${verb === 'pause' ? 'paused' : verb === 'resume' ? 'resumed' : 'checking again'} ${hash}\n`);
    return 0;
  };
}

export const pause = onTorrent('pause', pauseUsage);
export const resume = onTorrent('resume', resumeUsage);
export const recheck = onTorrent('recheck', recheckUsage);

/**
 * One line per torrent per tick until SIGINT/SIGTERM (exit 0). A stream that
 * ends with an error status (the server went away, the fleet stopped
 * ticking) is one line and exit 1, so a supervisor can restart the watch.
 */
export async function watch(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const parsed = parse(argv, watchUsage, { json: { type: 'boolean' } });
  const server = resolveServer(parsed.values.server);
  const json = parsed.values.json ?? false;
  const client = new ControlClient(server);

  let stopped = false;
  let stop = (): void => {
    stopped = true;
  };
  const unsignal = onStopSignal(() => stop());
  try {
    const hashes = await Promise.all(parsed.positionals.map((a) => resolveInfoHash(client, a)));
    // The stats carry no name or size; text lines take them from the list.
    const known = new Map<string, Torrent>();
    const asked = new Set<string>();
    const learn = (): Promise<void> =>
      client.list().then((ts) => {
        for (const t of ts) known.set(t.infoHash, t);
      });
    if (!json) await learn();
    if (stopped) return 0;

    const render = (s: TorrentStats): string => {
      if (json) return JSON.stringify(s);
      const t = known.get(s.infoHash);
      if (!t && !asked.has(s.infoHash)) {
        // Added since the watch began: ask once, and print what we have meanwhile.
        asked.add(s.infoHash);
        learn().catch(() => {});
      }
      const time = new Date(s.tickTimeMs).toTimeString().slice(0, 8);
      const name = t ? clip(printable(t.name), 30) : '?';
      const eta = s.etaSeconds > 0 ? formatDuration(s.etaSeconds) : '--:--';
      return `${time}  ${s.infoHash.slice(0, SHORT)}  ${name}  ${t ? progress(t.totalLength, s) : '-'}  down ${formatRate(s.downloadRate)}  up ${formatRate(
        s.uploadRate,
      )}  peers ${s.peers}  ETA ${eta}`;
    };

    return await new Promise<number>((resolve, reject) => {
      const stream = client.watch(hashes);
      stop = () => {
        stopped = true;
        stream.cancel();
      };
      stream.on('data', (m: { stats: TorrentStats[] }) => {
        for (const s of m.stats) out.write(`${render(s)}\n`);
      });
      // Every end, error or not, arrives as the final 'status', handled there.
      stream.on('error', () => {});
      stream.on('status', (st: { code: Status; details: string }) => {
        if (st.code === Status.OK || (stopped && st.code === Status.CANCELLED)) resolve(0);
        else reject(toCallError(st, server));
      });
    });
  } finally {
    unsignal();
    client.close();
  }
}
