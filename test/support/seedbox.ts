/**
 * Our own client, as a user runs it, for interop tests: the built `seedbox`
 * CLI in a child process (like test/cli-inspect.test.ts, it uses dist/, which
 * `npm test` builds first), with the same logging and cleanup as the other
 * peers.
 *
 *   const dl = startSeedboxDownload({ torrentPath, outDir, peers: [seed] });
 *   await dl.waitExit(30_000); // rejects with the log tail unless it exits 0
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Netns } from './netns.js';
import type { PeerAddress } from './peers.js';
import { makeTempDir, spawnProcess, type ManagedProcess } from './processes.js';

const ROOT = join(import.meta.dirname, '..', '..');
export const SEEDBOX_BIN = join(ROOT, 'packages/cli/bin/seedbox.js');

export interface SeedboxDownloadOptions {
  torrentPath: string;
  /** --out: the download lands in `outDir/<name>`. */
  outDir: string;
  peers: PeerAddress[];
  /** More CLI flags, e.g. ['--json'] or ['--listen', '0.0.0.0:7000']. */
  args?: string[];
  netns?: Netns;
  workDir?: string;
}

export interface SeedboxDownload {
  process: ManagedProcess;
  log: string;
  /** Resolves when it exits 0; rejects on another exit or timeout, with the log tail. */
  waitExit(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export function startSeedboxDownload(opts: SeedboxDownloadOptions): SeedboxDownload {
  if (!existsSync(join(ROOT, 'packages/cli/dist/main.js'))) {
    throw new Error('the seedbox CLI is not built: run `npm run build` first');
  }
  const workDir = opts.workDir ?? makeTempDir('seedbox');
  const args = [SEEDBOX_BIN, 'download', opts.torrentPath, '--out', opts.outDir];
  for (const p of opts.peers) args.push('--peer', p.host.includes(':') ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`);
  args.push(...(opts.args ?? []));
  const spawn = opts.netns ? opts.netns.spawn : spawnProcess;
  const proc = spawn(process.execPath, args, { name: 'seedbox download', logFile: join(workDir, `seedbox-${Date.now()}.log`) });
  return {
    process: proc,
    log: proc.logFile,
    stop: () => proc.stop(),
    async waitExit(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const exit = await Promise.race([proc.exited, timeout]).finally(() => clearTimeout(timer));
      if (exit === 'timeout') {
        throw new Error(`seedbox download still running after ${timeoutMs} ms; last lines of ${proc.logFile}:\n${proc.tail()}`);
      }
      if (exit.code !== 0) throw proc.exitedError('a successful download');
    },
  };
}
