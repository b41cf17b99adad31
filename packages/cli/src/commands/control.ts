import { readFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { status as Status } from '@grpc/grpc-js';
import { isMagnetUri } from '@seedbox/protocol';
import { TorrentState, type AddTorrentRequest, type Torrent, type TorrentStats } from '@seedbox/proto';
import { CliError, UsageError } from '../cli-error.js';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, ControlCallError, ControlClient, resolveTarget, stateName, toCallError, torrentJson, withControlClient } from '../control-client.js';
import { onStopSignal } from '../embedded.js';
import { formatDuration, formatRate } from '../format.js';
import { isEmptyPatch, torrentOptions, torrentPatchFromFlags } from '../settings-flags.js';
import { clip, formatRatio, formatTable, formatTorrentLong, printable, progress, SHORT } from '../torrent-view.js';

/**
 * The commands that drive a running fleet over the gRPC control API (any
 * peer-worker answers): add, ls, rm, pause, resume, recheck, watch. They hold no
 * state of their own; each is one call (watch: one stream) to --server.
 */

export const SERVER = CONNECTION_USAGE;
export const addUsage =
  `seedbox add <file.torrent | magnet-uri>... [--paused] [--category NAME] [--tags a,b] [--save-path FOLDER] [--download-limit RATE] [--upload-limit RATE] ` +
  `[--ratio-limit R|none|global] [--seeding-time-limit MIN|none|global] [--inactive-time-limit MIN|none|global] [--sequential] [--first-last-piece] [--force-start] ` +
  `[--skip FILES] [--normal FILES] [--high FILES] ${SERVER} [--json]`;
export const lsUsage = `seedbox ls [--long] ${SERVER} [--json]`;
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
  const matches = (await client.list()).filter((t) => t.infoHash.startsWith(prefix));
  if (matches.length === 1) return matches[0]!.infoHash;
  if (matches.length === 0) throw new CliError(`no torrent ${arg}`);
  throw new CliError(`${arg} matches ${matches.length} torrents (${matches.map((t) => t.infoHash).join(', ')}); give more of the info hash`);
}

export async function add(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const parsed = parse(argv, addUsage, { paused: { type: 'boolean' }, json: { type: 'boolean' }, 'save-path': { type: 'string' }, ...torrentOptions('boolean') });
  const targets = parsed.positionals;
  if (targets.length === 0) throw new UsageError(`usage: ${addUsage}`);
  const control = await resolveTarget(parsed.values);
  const paused = parsed.values.paused ?? false;
  const patch = torrentPatchFromFlags(parsed.values);
  const settings = isEmptyPatch(patch) ? undefined : patch;
  const savePath = parsed.values['save-path'];

  /** One file or link, added; its line, or why it was not. */
  const addOne = async (c: ControlClient, target: string): Promise<string> => {
    let request: AddTorrentRequest;
    if (isMagnetUri(target)) {
      request = { magnetUri: target, paused, savePath, settings };
    } else {
      let bytes: Buffer;
      try {
        bytes = await readFile(target);
      } catch (e) {
        throw new CliError(`${target}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
      }
      request = { torrentFile: bytes, paused, savePath, settings };
    }
    let response;
    try {
      response = await c.add(request);
    } catch (e) {
      // The server checks the file; say which file it refused (a settings rule names itself: "unknown-category: ...").
      if (e instanceof ControlCallError && e.code === Status.INVALID_ARGUMENT && request.torrentFile && !/^[a-z-]+: /.test(e.details)) throw new CliError(`${target}: ${e.message}`);
      throw e;
    }
    const t = response.torrent;
    if (!t) throw new CliError(`${control.server} answered AddTorrent without a torrent`);
    if (parsed.values.json) return `${JSON.stringify({ created: response.created, torrent: torrentJson(t) })}\n`;
    return `${response.created ? 'added' : 'already added'}: ${t.infoHash} ${printable(t.name)} (${stateName(t.state)})\n`;
  };

  if (targets.length === 1) {
    out.write(await withControlClient(control, (c) => addOne(c, targets[0]!)));
    return 0;
  }
  // Many: a few at a time over one connection, each answered in the order given; one that fails is
  // said on stderr and the others are still added (exit 1 at the end), as a shell loop would.
  let failed = 0;
  await withControlClient(control, async (c) => {
    const results: Promise<string | Error>[] = [];
    let next = 0;
    const inFlight = new Set<Promise<unknown>>();
    while (next < targets.length) {
      const target = targets[next++]!;
      const p = addOne(c, target).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
      results.push(p);
      inFlight.add(p);
      void p.then(() => inFlight.delete(p));
      if (inFlight.size >= ADD_CONCURRENCY) await Promise.race(inFlight);
    }
    for (const r of results) {
      const line = await r;
      if (line instanceof Error) {
        failed++;
        err.write(`seedbox add: ${line.message}\n`);
      } else {
        out.write(line);
      }
    }
  });
  return failed === 0 ? 0 : 1;
}

/** Adds in flight at once for `add` with many files: enough to hide the round trips, few enough for any server. */
const ADD_CONCURRENCY = 8;

export async function ls(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const parsed = parse(argv, lsUsage, { json: { type: 'boolean' }, long: { type: 'boolean' } });
  if (parsed.positionals.length > 0) throw new UsageError(`usage: ${lsUsage}`);
  const target = await resolveTarget(parsed.values);
  const torrents = await withControlClient(target, (c) => c.list());
  if (parsed.values.json) {
    for (const t of torrents) out.write(`${JSON.stringify(torrentJson(t))}\n`);
    return 0;
  }
  out.write(parsed.values.long ? torrents.map(formatTorrentLong).join('\n') : formatTable(torrents));
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
 * One line per torrent per tick until SIGINT/SIGTERM (exit 0). A stream that
 * ends with an error status (the server went away, the fleet stopped
 * ticking) is one line and exit 1, so a supervisor can restart the watch.
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
      // The state and ratio are the fleet's (queued, stalled...), from the list, which is asked again every tick.
      const state = t ? stateName(t.state) : s.state === TorrentState.TORRENT_STATE_UNSPECIFIED ? '?' : stateName(s.state);
      return `${time}  ${s.infoHash.slice(0, SHORT)}  ${name}  ${state}  ${t ? progress(t.totalLength, s) : '-'}  down ${formatRate(s.downloadRate)}  up ${formatRate(
        s.uploadRate,
      )}  peers ${s.peers}  ratio ${t ? formatRatio(t.ratio) : '-'}  ETA ${eta}`;
    };

    return await new Promise<number>((resolve, reject) => {
      const stream = client.watch(hashes);
      stop = () => {
        stopped = true;
        stream.cancel();
      };
      let listing = false;
      stream.on('data', (m: { stats: TorrentStats[] }) => {
        for (const s of m.stats) out.write(`${render(s)}\n`);
        if (!json && !listing) {
          // One list in flight at most: a slow server gets fewer refreshes, not a pile of them.
          listing = true;
          learn()
            .catch(() => {})
            .finally(() => (listing = false));
        }
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
