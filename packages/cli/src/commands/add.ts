import { readFile } from 'node:fs/promises';
import { status as Status } from '@grpc/grpc-js';
import { isMagnetUri } from '@seedbox/protocol';
import type { AddTorrentRequest, AddTorrentResponse, AddTorrentResult } from '@seedbox/proto';
import { CliError, UsageError } from '../cli-error.js';
import { ControlCallError, resolveTarget, stateName, toCallError, torrentJson, withControlClient, type ControlClient } from '../control-client.js';
import { isEmptyPatch, torrentOptions, torrentPatchFromFlags } from '../settings-flags.js';
import { printable } from '../torrent-view.js';
import { parse, SERVER } from './control.js';

/**
 * `seedbox add`: .torrent files and magnet links, one or thousands. Files
 * go in batches (AddTorrents: up to BATCH_SIZE a call, added a few at a
 * time on the server), so 10,000 files are a hundred calls rather than
 * 10,000; each magnet is its own AddTorrent, which waits for the metadata
 * as a single add does. Every file or link is answered in the order given,
 * as soon as it and those before it are; one that fails is said on stderr
 * and the rest are added (exit 1 at the end), as a shell loop would.
 */

export const addUsage =
  `seedbox add <file.torrent | magnet-uri>... [--paused] [--category NAME] [--tags a,b] [--save-path FOLDER] [--download-limit RATE] [--upload-limit RATE] ` +
  `[--ratio-limit R|none|global] [--seeding-time-limit MIN|none|global] [--inactive-time-limit MIN|none|global] [--sequential] [--first-last-piece] [--force-start] ` +
  `[--skip FILES] [--normal FILES] [--high FILES] ${SERVER} [--json]`;

/** Files per AddTorrents call: a call answers within seconds even on a slow fleet, and 10,000 files are 100 calls. */
export const BATCH_SIZE = 100;
/** .torrent bytes per AddTorrents call, well under the server's 20 MiB per message; a larger file goes alone. */
export const BATCH_BYTES = 8 * 1024 * 1024;
/** Batches in flight at once: one being added while the next is read and sent. */
const BATCHES_IN_FLIGHT = 2;
/** Single adds (magnets, or files on a server without AddTorrents) in flight at once: enough to hide the round trips. */
const ADD_CONCURRENCY = 8;

interface Item {
  target: string;
  request: AddTorrentRequest;
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
  const json = parsed.values.json ?? false;

  const magnetItem = (target: string): Item => ({ target, request: { magnetUri: target, paused, savePath, settings } });
  const fileItem = async (target: string): Promise<Item> => {
    try {
      return { target, request: { torrentFile: await readFile(target), paused, savePath, settings } };
    } catch (e) {
      throw new CliError(`${target}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
  };
  const line = (response: AddTorrentResponse): string => {
    const t = response.torrent;
    if (!t) throw new CliError(`${control.server} answered AddTorrent without a torrent`);
    if (json) return `${JSON.stringify({ created: response.created, torrent: torrentJson(t) })}\n`;
    return `${response.created ? 'added' : 'already added'}: ${t.infoHash} ${printable(t.name)} (${stateName(t.state)})\n`;
  };

  if (targets.length === 1) {
    const target = targets[0]!;
    const item = isMagnetUri(target) ? magnetItem(target) : await fileItem(target);
    out.write(await withControlClient(control, async (c) => line(await addOne(c, item))));
    return 0;
  }

  // Each answer in its slot; printed as soon as it and every one before it are in.
  const slots: (string | Error | undefined)[] = targets.map(() => undefined);
  let printed = 0;
  let failed = 0;
  const settle = (i: number, answer: string | Error): void => {
    slots[i] = answer;
    for (; printed < slots.length && slots[printed] !== undefined; printed++) {
      const a = slots[printed]!;
      if (a instanceof Error) {
        failed++;
        err.write(`seedbox add: ${a.message}\n`);
      } else {
        out.write(a);
      }
    }
  };
  const answer = (c: ControlClient, i: number, item: Item): Promise<void> =>
    addOne(c, item).then(
      (r) => settle(i, line(r)),
      (e: unknown) => settle(i, asError(e)),
    );

  await withControlClient(control, async (c) => {
    const singles = new Pool(ADD_CONCURRENCY);
    const batches = new Pool(BATCHES_IN_FLIGHT);
    let batchable = true;
    let batch: { i: number; item: Item }[] = [];
    let bytes = 0;

    const send = async (): Promise<void> => {
      const items = batch;
      batch = [];
      bytes = 0;
      if (items.length === 0) return;
      await batches.admit(async () => {
        let results: AddTorrentResult[] | undefined;
        if (batchable) {
          try {
            results = await c.addMany(items.map((x) => x.item.request));
          } catch (e) {
            // A server older than the CLI: one call per file, as before AddTorrents.
            if (e instanceof ControlCallError && e.code === Status.UNIMPLEMENTED) batchable = false;
            else return items.forEach(({ i }) => settle(i, asError(e)));
          }
        }
        if (!results) {
          await Promise.all(items.map(({ i, item }) => singles.admit(() => answer(c, i, item))));
          return;
        }
        results.forEach((r, k) => {
          const { i, item } = items[k]!;
          if (r.added) settle(i, lineOrError(() => line(r.added!)));
          else settle(i, refusal(item, toCallError({ code: r.failure?.code ?? Status.UNKNOWN, details: r.failure?.message ?? '' }, control.server)));
        });
      });
    };

    for (const [i, target] of targets.entries()) {
      if (isMagnetUri(target)) {
        await singles.admit(() => answer(c, i, magnetItem(target)));
        continue;
      }
      let item: Item;
      try {
        item = await fileItem(target);
      } catch (e) {
        settle(i, asError(e));
        continue;
      }
      const size = item.request.torrentFile!.length;
      if (batch.length >= BATCH_SIZE || (batch.length > 0 && bytes + size > BATCH_BYTES)) await send();
      batch.push({ i, item });
      bytes += size;
    }
    await send();
    // Batches first: one whose server lacks AddTorrents hands its files to the single adds.
    await batches.idle();
    await singles.idle();
  });
  return failed === 0 ? 0 : 1;
}

/** One AddTorrent call (a magnet waits for its metadata); a refusal names the file it was about. */
async function addOne(c: ControlClient, item: Item): Promise<AddTorrentResponse> {
  try {
    return await c.add(item.request);
  } catch (e) {
    throw e instanceof ControlCallError ? refusal(item, e) : e;
  }
}

/** The server checks the file; say which file it refused (a settings rule names itself: "unknown-category: ..."). */
function refusal(item: Item, e: ControlCallError): Error {
  if (e.code === Status.INVALID_ARGUMENT && item.request.torrentFile && !/^[a-z-]+: /.test(e.details)) return new CliError(`${item.target}: ${e.message}`);
  return e;
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function lineOrError(f: () => string): string | Error {
  try {
    return f();
  } catch (e) {
    return asError(e);
  }
}

/** At most `size` tasks running at once; `admit` waits for room, then starts the task. A task answers its own failures: it never rejects. */
class Pool {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly size: number) {}

  async admit(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.size) await Promise.race(this.running);
    const p = task().finally(() => this.running.delete(p));
    this.running.add(p);
  }

  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.race(this.running);
  }
}
