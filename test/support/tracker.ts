/**
 * A real tracker for tests that announce: opentracker (HTTP and UDP on one
 * port). Debian builds it with a whitelist, so it only serves the info
 * hashes it is given; any other announce answers "not authorized".
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Netns } from './netns.js';
import { tcpReachable } from './peers.js';
import { freePort, makeTempDir, spawnProcess, waitFor, type ManagedProcess } from './processes.js';

export interface OpentrackerOptions {
  /** Hex info hashes it will serve. */
  infoHashes: string[];
  /** 127.0.0.1 by default; `netns.nsIp` in a namespace. */
  host?: string;
  port?: number;
  netns?: Netns;
  workDir?: string;
}

export interface RunningTracker {
  host: string;
  port: number;
  /** `http://host:port/announce` */
  announceUrl: string;
  /** `udp://host:port/announce` (same port) */
  udpAnnounceUrl: string;
  log: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * The trackers started here, by host:port. opentracker binds with SO_REUSEPORT:
 * a second one on a port still held by the first starts without complaint, and
 * the kernel then splits the announces between two trackers that know
 * different peers. So a new tracker on a port replaces the old one.
 */
const running = new Map<string, RunningTracker>();

export async function startOpentracker(opts: OpentrackerOptions): Promise<RunningTracker> {
  const host = opts.host ?? opts.netns?.nsIp ?? '127.0.0.1';
  const port = opts.port ?? (await freePort());
  const key = `${opts.netns?.name ?? ''}/${host}:${port}`;
  await running.get(key)?.stop();
  const workDir = opts.workDir ?? makeTempDir('opentracker');
  // opentracker chroots into -d and drops to user nobody: the whitelist path
  // is relative to that folder, which must be readable by nobody.
  const root = join(workDir, `opentracker-${port}`);
  mkdirSync(root, { recursive: true });
  chmodSync(root, 0o755);
  writeFileSync(join(root, 'whitelist'), opts.infoHashes.map((h) => h.toLowerCase() + '\n').join(''), { mode: 0o644 });
  const args = ['-i', host, '-p', String(port), '-P', String(port), '-d', root, '-w', 'whitelist'];
  const spawn = opts.netns ? opts.netns.spawn : spawnProcess;
  const proc = spawn('opentracker', args, { name: 'opentracker', logFile: join(workDir, `opentracker-${port}.log`) });
  await waitFor(() => tcpReachable(host, port), 10_000, `opentracker on ${host}:${port}`, { watch: [proc] });
  // Its whitelist is read on a thread of its own after the port accepts; until then every announce
  // is "not authorized". A `stopped` announce asks without adding a peer.
  const first = opts.infoHashes[0];
  if (first !== undefined) {
    const probe = `http://${host}:${port}/announce?info_hash=${escape(Buffer.from(first, 'hex').toString('latin1'))}&peer_id=-SB0100-readinessprb&port=1&uploaded=0&downloaded=0&left=0&event=stopped&compact=1`;
    await waitFor(
      async () => {
        const body = await fetch(probe).then((r) => r.text(), () => '');
        return body !== '' && !body.includes('not authorized');
      },
      10_000,
      `opentracker on ${host}:${port} to take its whitelist`,
      { watch: [proc] },
    );
  }
  const tracker: RunningTracker = {
    host,
    port,
    announceUrl: `http://${host}:${port}/announce`,
    udpAnnounceUrl: `udp://${host}:${port}/announce`,
    log: proc.logFile,
    process: proc,
    stop: async () => {
      if (running.get(key) === tracker) running.delete(key);
      await proc.stop();
    },
  };
  running.set(key, tracker);
  return tracker;
}
