/**
 * Small and failing filesystems for tests, made by the test itself (root
 * only: `needTool(tools.mounts)`), and unmounted by the cleanup registry
 * (processes.ts) even when the test fails: anything started after the
 * mount is stopped before it is unmounted, since cleanups run newest first.
 *
 * - `mountTmpfs(dir, '4m')`: a size-limited tmpfs, which answers ENOSPC
 *   once full; `remount('size=64m')` frees space under open files.
 * - `mountExt4(dir, 64)`: a loop-mounted ext4 image with
 *   `errors=remount-ro`; `failReadOnly()` makes the kernel turn it
 *   read-only as on a disk error (writes then answer EROFS). A tmpfs
 *   cannot be remounted read-only under a process that has files open for
 *   writing (EBUSY), and neither can ext4 by hand: this is how a real
 *   volume turns read-only under a running download. The kernel refuses
 *   `remount,rw` after that; `mountAgain()` unmounts (which needs every
 *   file on it closed) and mounts the image again.
 * - `bindReadOnly(src, dst)`: `src` seen read-only at `dst`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { makeTempDir, onCleanup, sleep } from './processes.js';

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
  }
}

function mounted(dir: string): boolean {
  try {
    execFileSync('mountpoint', ['-q', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Unmounts, waiting up to `waitMs` for the files on it to be closed; then
 * throws, or with `lazy` detaches it anyway (cleanup: no test leaves a
 * mount behind).
 */
async function unmount(dir: string, waitMs: number, lazy: boolean): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (mounted(dir)) {
    try {
      run('umount', [dir]);
    } catch (e) {
      if (Date.now() < deadline) {
        await sleep(200);
        continue;
      }
      if (!lazy) throw e;
      console.warn(`${(e as Error).message}; detaching it lazily`);
      run('umount', ['-l', dir]);
    }
  }
}

function unmountSync(dir: string): void {
  if (mounted(dir)) execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
}

export interface TestMount {
  dir: string;
  /** `mount -o remount,<options>`. */
  remount(options: string): void;
  /** Unmounts now (waiting for files on it to be closed); the cleanup then has nothing to do. */
  unmount(): Promise<void>;
}

function testMount(dir: string): TestMount {
  const cleanup = onCleanup(`unmount ${dir}`, () => unmount(dir, 5000, true), () => unmountSync(dir));
  return {
    dir,
    remount: (options) => void run('mount', ['-o', `remount,${options}`, dir]),
    unmount: () => cleanup.run(),
  };
}

/** A tmpfs of `size` (mount's syntax: '4m') at `dir`, made if missing. */
export function mountTmpfs(dir: string, size: string): TestMount {
  mkdirSync(dir, { recursive: true });
  run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return testMount(dir);
}

export interface Ext4Mount extends TestMount {
  image: string;
  /** Turns the volume read-only as the kernel does on a disk error (errors=remount-ro); what it had not committed is lost. */
  failReadOnly(): void;
  /** Unmounts (waiting up to `waitMs` for every file on it to be closed) and mounts the image again, read-write. */
  mountAgain(waitMs?: number): Promise<void>;
}

/** An ext4 image of `sizeMiB` MiB (in a temp dir of its own), loop-mounted at `dir` with errors=remount-ro. */
export function mountExt4(dir: string, sizeMiB: number): Ext4Mount {
  mkdirSync(dir, { recursive: true });
  const image = join(makeTempDir('ext4-image'), 'volume.img');
  run('truncate', ['-s', `${sizeMiB}M`, image]);
  run('mkfs.ext4', ['-q', '-F', image]);
  const mount = (): void => void run('mount', ['-o', 'loop,errors=remount-ro', image, dir]);
  mount();
  const m = testMount(dir);
  return {
    ...m,
    image,
    failReadOnly() {
      // Commit first, as the journal does every few seconds: the error then loses only the last moments.
      run('sync', ['-f', dir]);
      const device = basename(run('findmnt', ['-n', '-o', 'SOURCE', dir]).trim());
      execFileSync('sh', ['-c', `echo 1 > /sys/fs/ext4/${device}/trigger_fs_error`]);
    },
    async mountAgain(waitMs = 10_000) {
      await unmount(dir, waitMs, false);
      mount();
    },
  };
}

/** `src` seen read-only at `dst` (a bind mount). */
export function bindReadOnly(src: string, dst: string): TestMount {
  mkdirSync(dst, { recursive: true });
  run('mount', ['--bind', src, dst]);
  const m = testMount(dst);
  m.remount('bind,ro');
  return m;
}
