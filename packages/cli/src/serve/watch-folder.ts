import { readdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ControlBackend } from '@seedbox/peer-worker';
import type { Logger } from '@seedbox/runtime';

/**
 * A watch folder, as Transmission's and qBittorrent's: every `.torrent`
 * file (and `.magnet` file holding a magnet URI) put there is added, then
 * renamed `NAME.added`, or `NAME.invalid` with the reason logged.
 *
 * The folder is polled (every second by default) rather than watched with
 * inotify, which misses changes on network filesystems, where watch
 * folders often are. A file is read only once it has kept its size and
 * modification time over one poll, so one still being written is not
 * taken for a broken torrent; one that does not parse is given a few
 * more polls (until it has been still for `settleMs`) before it is
 * declared invalid, for a writer that pauses mid-file.
 */

export interface WatchFolderOptions {
  dir: string;
  backend: Pick<ControlBackend, 'add' | 'addMagnet'>;
  log: Logger;
  pollMs?: number;
  /** A file that does not parse is declared invalid once unchanged this long, ms. Default 10 s. */
  settleMs?: number;
  now?: () => number;
}

interface Seen {
  size: number;
  mtimeMs: number;
  /** When its size and mtime were last seen to change. */
  stillSince: number;
}

export class WatchFolder {
  private readonly o: WatchFolderOptions;
  private readonly now: () => number;
  private readonly seen = new Map<string, Seen>();
  /** Files being added now (reading one, or the store, may take a while). */
  private readonly busy = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(options: WatchFolderOptions) {
    this.o = options;
    this.now = options.now ?? Date.now;
  }

  /** Checks the folder can be read, then polls it. */
  async start(): Promise<void> {
    await readdir(this.o.dir);
    this.timer = setInterval(() => {
      this.polling = this.polling.then(() => this.poll()).catch((e: unknown) => this.o.log.warn('watch folder poll failed', { dir: this.o.dir, error: e as Error }));
    }, this.o.pollMs ?? 1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.polling;
  }

  /** One look at the folder; exported for tests that drive the clock. */
  async poll(): Promise<void> {
    const names = (await readdir(this.o.dir)).filter((n) => /\.(torrent|magnet)$/i.test(n));
    for (const gone of [...this.seen.keys()]) if (!names.includes(gone)) this.seen.delete(gone);
    for (const name of names) {
      if (this.stopped) return;
      if (this.busy.has(name)) continue;
      const path = join(this.o.dir, name);
      let st;
      try {
        st = await stat(path);
      } catch {
        continue; // gone meanwhile
      }
      if (!st.isFile()) continue;
      const before = this.seen.get(name);
      const t = this.now();
      if (!before || before.size !== st.size || before.mtimeMs !== st.mtimeMs) {
        this.seen.set(name, { size: st.size, mtimeMs: st.mtimeMs, stillSince: t });
        continue; // changed since the last look (or new): perhaps still being written
      }
      this.busy.add(name);
      void this.take(name, path, t - before.stillSince).finally(() => this.busy.delete(name));
    }
  }

  private async take(name: string, path: string, stillForMs: number): Promise<void> {
    const { backend, log } = this.o;
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch {
      return;
    }
    try {
      if (/\.magnet$/i.test(name)) {
        const uri = bytes.toString('utf8').trim();
        const { record, created } = await backend.addMagnet(uri, { paused: false });
        log.info('watch folder: added', { file: name, infoHash: record.infoHashHex, created });
      } else {
        const { record, created } = await backend.add(bytes, { paused: false });
        log.info('watch folder: added', { file: name, infoHash: record.infoHashHex, created });
      }
    } catch (e) {
      const invalid = (e as { code?: string }).code === 'invalid-argument';
      // A torrent that does not parse may be one whose writer paused: wait until it has been still a while.
      if (invalid && stillForMs < (this.o.settleMs ?? 10_000)) return;
      if (!invalid) {
        log.warn('watch folder: not added yet, will try again', { file: name, error: e as Error });
        return;
      }
      log.warn('watch folder: invalid', { file: name, reason: (e as Error).message });
      await this.rename(path, `${path}.invalid`);
      return;
    }
    await this.rename(path, `${path}.added`);
  }

  private async rename(from: string, to: string): Promise<void> {
    try {
      await rename(from, to);
      this.seen.delete(from.slice(this.o.dir.length + 1));
    } catch (e) {
      this.o.log.warn('watch folder: cannot rename', { file: from, to, error: e as Error });
    }
  }
}
