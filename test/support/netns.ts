/**
 * Network namespaces as test hosts: one veth pair between the host and a
 * fresh namespace, so a peer in the namespace has a real, non-loopback
 * address. Transmission needs this (it refuses peers on 127.0.0.0/8), and it
 * is how a test puts a peer "on another machine".
 *
 *   host  10.213.N.1/24  <-- veth -->  10.213.N.2/24  namespace sbx-xxxxxx
 *
 * Rules (see /work/shared/ENVIRONMENT.md): only 10.213.1.0 - 10.213.254.255,
 * one /24 per test file, never the machine's own eth0 network (ENVIRONMENT.md names it).
 * Creating checks `ip route` for a clash first. The namespace, the veth and
 * every process inside (`ip netns pids`) are removed by `destroy()` or by
 * `cleanupAll()`. Needs root.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { onCleanup, sleep, spawnProcess, type ManagedProcess, type SpawnOptions } from './processes.js';

export interface NetnsOptions {
  /** The first three octets, e.g. '10.213.10'. */
  subnet: string;
  /** More addresses on the namespace side (`<subnet>.3` on), for several peers each with an address of its own. */
  extraAddresses?: number;
}

export interface Netns {
  /** Namespace name, `sbx-<random>`. */
  name: string;
  subnet: string;
  /** Host side of the veth: `<subnet>.1`. */
  hostIp: string;
  /** Namespace side of the veth: `<subnet>.2`. */
  nsIp: string;
  /** nsIp, then the extra addresses. */
  nsIps: string[];
  hostIf: string;
  nsIf: string;
  /** Starts a process inside the namespace (`ip netns exec`), registered for cleanup. */
  spawn(cmd: string, args: string[], opts: SpawnOptions): ManagedProcess;
  /** Runs a short command inside the namespace and answers its stdout. */
  exec(cmd: string, args: string[]): string;
  /** Stops its processes, deletes the veth and the namespace. Idempotent. */
  destroy(): Promise<void>;
}

function ip(...args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

function ipQuiet(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    // already gone
  }
}

function parseIpv4(s: string): number {
  const parts = s.split('.').map(Number);
  while (parts.length < 4) parts.push(0);
  return parts.reduce((acc, p) => (acc << 8) + p, 0) >>> 0;
}

/** Does `cidr` (a route destination like 10.0.0.0/8 or 10.213.9.7) overlap our /24? */
function overlaps(cidr: string, subnet: string): boolean {
  const [addr, lenText] = cidr.split('/');
  const len = lenText === undefined ? 32 : Number(lenText);
  const common = Math.min(len, 24);
  if (common === 0) return true;
  const mask = (0xffffffff << (32 - common)) >>> 0;
  return ((parseIpv4(addr!) & mask) >>> 0) === ((parseIpv4(`${subnet}.0`) & mask) >>> 0);
}

function checkSubnet(subnet: string): void {
  const m = /^10\.213\.(\d{1,3})$/.exec(subnet);
  const third = m ? Number(m[1]) : NaN;
  if (!(third >= 1 && third <= 254)) {
    throw new Error(`subnet ${subnet} is not allowed: test namespaces use 10.213.1 .. 10.213.254 (one /24 per test file)`);
  }
  for (const line of ip('-4', 'route', 'show', 'table', 'all').split('\n')) {
    const dest = line.trim().split(/\s+/)[0];
    if (!dest || dest === 'default' || !/^\d/.test(dest)) continue;
    if (dest.startsWith('127.') || /\btable local\b/.test(line)) continue;
    if (overlaps(dest, subnet)) {
      const ours = /\bdev sbx([0-9a-f]{6})h\b/.exec(line);
      const remedy = ours
        ? `It belongs to namespace sbx-${ours[1]}: another run of this test file, or debris of a killed one ` +
          `(see: ip netns pids sbx-${ours[1]}; remove: ip netns del sbx-${ours[1]}).`
        : 'Another test or service uses it: pick another /24 for this test file.';
      throw new Error(`subnet ${subnet}.0/24 clashes with the route "${line.trim()}". ${remedy}`);
    }
  }
}

/** Creates a namespace with a veth pair into it; see the file comment. */
export async function createNetns(opts: NetnsOptions): Promise<Netns> {
  const { subnet } = opts;
  checkSubnet(subnet);
  const id = randomBytes(3).toString('hex');
  const name = `sbx-${id}`;
  // Interface names are limited to 15 characters.
  const hostIf = `sbx${id}h`;
  const nsIf = `sbx${id}n`;
  const hostIp = `${subnet}.1`;
  const nsIp = `${subnet}.2`;
  const extra = opts.extraAddresses ?? 0;
  if (!Number.isInteger(extra) || extra < 0 || extra > 200) throw new Error(`extraAddresses ${extra} is not 0..200`);
  const nsIps = [nsIp, ...Array.from({ length: extra }, (_, i) => `${subnet}.${i + 3}`)];
  const processes: ManagedProcess[] = [];

  const pidsInside = (): number[] => {
    try {
      return ip('netns', 'pids', name)
        .split('\n')
        .map((s) => Number(s.trim()))
        .filter((n) => n > 0);
    } catch {
      return [];
    }
  };
  const killInside = (sig: NodeJS.Signals) => {
    for (const pid of pidsInside()) {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  const removeSync = () => {
    killInside('SIGKILL');
    ipQuiet('link', 'del', hostIf);
    ipQuiet('netns', 'del', name);
  };
  const removeAsync = async () => {
    for (const p of processes) await p.stop();
    killInside('SIGTERM');
    for (let i = 0; i < 20 && pidsInside().length > 0; i++) await sleep(100);
    removeSync();
  };
  const cleanup = onCleanup(`delete netns ${name} (${subnet}.0/24)`, removeAsync, removeSync);

  try {
    ip('netns', 'add', name);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', name);
    ip('addr', 'add', `${hostIp}/24`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    for (const a of nsIps) ip('-n', name, 'addr', 'add', `${a}/24`, 'dev', nsIf);
    ip('-n', name, 'link', 'set', nsIf, 'up');
    ip('-n', name, 'link', 'set', 'lo', 'up');
  } catch (err) {
    await cleanup.run();
    throw err;
  }

  return {
    name,
    subnet,
    hostIp,
    nsIp,
    nsIps,
    hostIf,
    nsIf,
    spawn(cmd, args, spawnOpts) {
      const p = spawnProcess('ip', ['netns', 'exec', name, cmd, ...args], {
        ...spawnOpts,
        name: spawnOpts.name ?? `${basename(cmd)}@${name}`,
      });
      processes.push(p);
      return p;
    },
    exec(cmd, args) {
      return execFileSync('ip', ['netns', 'exec', name, cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    },
    destroy: () => cleanup.run(),
  };
}
