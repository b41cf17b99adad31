import { parseArgs, type ParseArgsConfig } from 'node:util';
import { status as Status } from '@grpc/grpc-js';
import { TorrentFilter, TorrentSort, TorrentState, type ListTorrentsRequest, type Torrent, type TorrentStats, type WatchTorrentsResponse } from '@seedbox/proto';
import { CliError, UsageError } from '../cli-error.js';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, ControlClient, resolveTarget, stateName, toCallError, torrentJson, withControlClient } from '../control-client.js';
import { onStopSignal } from '../embedded.js';
import { formatDuration, formatRate } from '../format.js';
import { clip, formatRatio, formatTable, formatTorrentLong, printable, progress, SHORT } from '../torrent-view.js';

/**
 * The commands that drive a running fleet over the gRPC control API (any
 * peer-worker answers): ls, rm, pause, resume, recheck, watch (add is in
 * add.ts). They hold no state of their own; each is one call (watch: one
 * stream) to --server.
 */

export const SERVER = CONNECTION_USAGE;
export const lsUsage = `seedbox ls [--long] [--filter STATE] [--category NAME] [--tag TAG] [--sort KEY [--reverse]] [--offset N] [--limit N] ${SERVER} [--json]`;
export const rmUsage = `seedbox rm <infohash> [--delete-data] ${SERVER}`;
export const pauseUsage = `seedbox pause <infohash> ${SERVER}`;
export const resumeUsage = `seedbox resume <infohash> ${SERVER}`;
export const recheckUsage = `seedbox recheck <infohash> ${SERVER}`;
export const watchUsage = `seedbox watch [infohash ...] ${SERVER} [--json]`;

type Options = NonNullable<ParseArgsConfig['options']>;

type ParseConfig<O extends Options> = { args: string[]; options: O & typeof CONNECTION_OPTIONS; allowPositionals: true; strict: true };

/** parseArgs with --server, --token and the TLS flags, any failure a usage error that shows the usage. */
export function parse<O extends Options>(argv: string[], usage: string, options: O): ReturnType<typeof parseArgs<ParseConfig<O>>> {
  try {
    return parseArgs({ args: argv, options: { ...options, ...CONNECTION_OPTIONS } as O & typeof CONNECTION_OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    // parseArgs explains some refusals over several lines; the CLI reports in one.
    throw new UsageError(`${(e as Error).message.replace(/\s*\n\s*/g, ' ')}; usage: ${usage}`);
  }
}

const FULL_HASH = /^[0-9a-f]{40}$/i;
/** Long enough that a typo rarely matches; `ls` shows 12. */
const HASH_PREFIX = /^[0-9a-f]{6,39}$/i;

/**
 * The info hash to send for what the user typed. A prefix (as `ls` shows)
 * is looked up in the list; anything else goes to the server as is, which
 * checks it and names the rule it breaks.
 */
export async function resolveInfoHash(client: ControlClient, arg: string): Promise<string> {
  if (FULL_HASH.test(arg) || !HASH_PREFIX.test(arg)) return arg;
  const prefix = arg.toLowerCase();
  const matches = (await client.list({ omitFiles: true })).torrents.filter((t) => t.infoHash.startsWith(prefix));
  if (matches.length === 1) return matches[0]!.infoHash;
  if (matches.length === 0) throw new CliError(`no torrent ${arg}`);
  throw new CliError(`${arg} matches ${matches.length} torrents (${matches.map((t) => t.infoHash).join(', ')}); give more of the info hash`);
}

/** `ls --filter` names, as qBittorrent's filters (stopped and resumed are its 4.x names). */
export const FILTERS: Record<string, TorrentFilter> = {
  all: TorrentFilter.TORRENT_FILTER_ALL,
  downloading: TorrentFilter.TORRENT_FILTER_DOWNLOADING,
  seeding: TorrentFilter.TORRENT_FILTER_SEEDING,
  completed: TorrentFilter.TORRENT_FILTER_COMPLETED,
  paused: TorrentFilter.TORRENT_FILTER_PAUSED,
  stopped: TorrentFilter.TORRENT_FILTER_PAUSED,
  running: TorrentFilter.TORRENT_FILTER_RUNNING,
  resumed: TorrentFilter.TORRENT_FILTER_RUNNING,
  active: TorrentFilter.TORRENT_FILTER_ACTIVE,
  inactive: TorrentFilter.TORRENT_FILTER_INACTIVE,
  stalled: TorrentFilter.TORRENT_FILTER_STALLED,
  checking: TorrentFilter.TORRENT_FILTER_CHECKING,
  errored: TorrentFilter.TORRENT_FILTER_ERRORED,
  queued: TorrentFilter.TORRENT_FILTER_QUEUED,
  metadata: TorrentFilter.TORRENT_FILTER_METADATA,
  moving: TorrentFilter.TORRENT_FILTER_MOVING,
};

/** `ls --sort` keys. */
export const SORTS: Record<string, TorrentSort> = {
  added: TorrentSort.TORRENT_SORT_ADDED,
  name: TorrentSort.TORRENT_SORT_NAME,
  size: TorrentSort.TORRENT_SORT_SIZE,
  progress: TorrentSort.TORRENT_SORT_PROGRESS,
  queue: TorrentSort.TORRENT_SORT_QUEUE_POSITION,
  ratio: TorrentSort.TORRENT_SORT_RATIO,
  down: TorrentSort.TORRENT_SORT_DOWNLOAD_RATE,
  up: TorrentSort.TORRENT_SORT_UPLOAD_RATE,
};

function choice<T>(table: Record<string, T>, text: string | undefined, flag: string): T | undefined {
  if (text === undefined) return undefined;
  const v = Object.hasOwn(table, text) ? table[text] : undefined;
  if (v === undefined) throw new UsageError(`${flag} takes ${Object.keys(table).join(', ')} (got ${JSON.stringify(text)})`);
  return v;
}

function whole(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d{1,10}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n <= 0xffffffff)) throw new UsageError(`${flag} takes a whole number, 0 or more (got ${JSON.stringify(text)})`);
  return n;
}

/**
 * The torrents, filtered, sorted and paged by the server: with no flag,
 * every one, oldest first. The table shows no files, so it asks for none
 * (a much smaller answer at thousands of torrents); --long and --json do.
 */
export async function ls(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const parsed = parse(argv, lsUsage, {
    json: { type: 'boolean' },
    long: { type: 'boolean' },
    filter: { type: 'string' },
    category: { type: 'string' },
    tag: { type: 'string' },
    sort: { type: 'string' },
    reverse: { type: 'boolean' },
    offset: { type: 'string' },
    limit: { type: 'string' },
  });
  if (parsed.positionals.length > 0) throw new UsageError(`usage: ${lsUsage}`);
  const v = parsed.values;
  const request: ListTorrentsRequest = {
    filter: choice(FILTERS, v.filter, '--filter'),
    category: v.category,
    tag: v.tag,
    sort: choice(SORTS, v.sort, '--sort'),
    reverse: v.reverse,
    offset: whole(v.offset, '--offset'),
    limit: whole(v.limit, '--limit'),
    omitFiles: !v.long && !v.json,
  };
  const target = await resolveTarget(v);
  const { torrents, total } = await withControlClient(target, (c) => c.list(request));
  if (v.json) {
    for (const t of torrents) out.write(`${JSON.stringify(torrentJson(t))}\n`);
    return 0;
  }
  out.write(v.long ? torrents.map(formatTorrentLong).join('\n') : formatTable(torrents));
  // A page of the matches says which: the table alone would read as all there is.
  const offset = request.offset ?? 0;
  if (torrents.length < total) out.write(`${torrents.length === 0 ? 'none' : `${offset + 1}-${offset + torrents.length}`} of ${total}\n`);
  return 0;
}

export async function rm(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const parsed = parse(argv, rmUsage, { 'delete-data': { type: 'boolean' } });
  const [arg, ...extra] = parsed.positionals;
  if (arg === undefined || extra.length > 0) throw new UsageError(`usage: ${rmUsage}`);
  const target = await resolveTarget(parsed.values);
  const deleteData = parsed.values['delete-data'] ?? false;
  const hash = await withControlClient(target, async (c) => {
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
    const target = await resolveTarget(parsed.values);
    const hash = await withControlClient(target, async (c) => {
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
 * A line for every torrent at first, then each tick one for every torrent
 * whose figures changed and one for every torrent that went away (paused
 * or removed: no worker reports it), until SIGINT/SIGTERM (exit 0). The
 * stream sends only that (WatchTorrents with changes_only), so a fleet of
 * 10,000 idle torrents sends next to nothing. A stream that ends with an
 * error status (the server went away, the fleet stopped ticking) is one
 * line and exit 1, so a supervisor can restart the watch.
 */
export async function watch(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const parsed = parse(argv, watchUsage, { json: { type: 'boolean' } });
  const target = await resolveTarget(parsed.values);
  const json = parsed.values.json ?? false;
  const client = new ControlClient(target);

  let stopped = false;
  let stop = (): void => {
    stopped = true;
  };
  const unsignal = onStopSignal(() => stop());
  try {
    const hashes = await Promise.all(parsed.positionals.map((a) => resolveInfoHash(client, a)));
    // The stats carry no name or size, nor the fleet's state (queued, stalled...) and ratio: text lines take them from the list.
    const known = new Map<string, Torrent>();
    const learn = (infoHashes: string[]): Promise<void> =>
      client.list({ hashes: infoHashes.length > 0 ? { infoHashes } : undefined, omitFiles: true }).then(({ torrents }) => {
        for (const t of torrents) known.set(t.infoHash, t);
      });
    // A failure here (a bad info hash, no server) is the stream's to say, in the stream's words.
    if (!json) await learn(hashes).catch(() => {});
    if (stopped) return 0;

    // Torrents whose line was printed since the list was last asked: their state and ratio are asked for next.
    const stale = new Set<string>();
    let listing = false;
    const refresh = (): void => {
      // One list in flight at most, of what changed: a slow server gets fewer refreshes, not a pile of them.
      if (listing || stale.size === 0) return;
      const wanted = [...stale];
      stale.clear();
      listing = true;
      learn(wanted)
        .catch(() => {})
        .finally(() => {
          listing = false;
          refresh();
        });
    };

    const clock = (ms: number): string => new Date(ms).toTimeString().slice(0, 8);
    const render = (s: TorrentStats): string => {
      if (json) return JSON.stringify(s);
      const t = known.get(s.infoHash);
      stale.add(s.infoHash);
      const name = t ? clip(printable(t.name), 30) : '?';
      const eta = s.etaSeconds > 0 ? formatDuration(s.etaSeconds) : '--:--';
      const state = t ? stateName(t.state) : s.state === TorrentState.TORRENT_STATE_UNSPECIFIED ? '?' : stateName(s.state);
      return `${clock(s.tickTimeMs)}  ${s.infoHash.slice(0, SHORT)}  ${name}  ${state}  ${t ? progress(t.totalLength, s) : '-'}  down ${formatRate(s.downloadRate)}  up ${formatRate(
        s.uploadRate,
      )}  peers ${s.peers}  ratio ${t ? formatRatio(t.ratio) : '-'}  ETA ${eta}`;
    };
    const gone = (hash: string): string => {
      if (json) return JSON.stringify({ infoHash: hash, removed: true });
      const t = known.get(hash);
      return `${clock(Date.now())}  ${hash.slice(0, SHORT)}  ${t ? clip(printable(t.name), 30) : '?'}  gone (paused or removed)`;
    };

    return await new Promise<number>((resolve, reject) => {
      const stream = client.watch(hashes);
      stop = () => {
        stopped = true;
        stream.cancel();
      };
      stream.on('data', (m: WatchTorrentsResponse) => {
        for (const s of m.stats) out.write(`${render(s)}\n`);
        for (const h of m.removed) out.write(`${gone(h)}\n`);
        if (!json) refresh();
      });
      // Every end, error or not, arrives as the final 'status', handled there.
      stream.on('error', () => {});
      stream.on('status', (st: { code: Status; details: string }) => {
        if (st.code === Status.OK || (stopped && st.code === Status.CANCELLED)) resolve(0);
        else reject(toCallError(st, target.server));
      });
    });
  } finally {
    unsignal();
    client.close();
  }
}
