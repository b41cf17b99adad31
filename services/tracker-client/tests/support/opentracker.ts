import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** True when `cmd` is an executable on PATH. */
export function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not in this one
    }
  }
  return false;
}

export async function freeTcpPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const port = socket.address().port;
  await new Promise<void>((r) => socket.close(() => r()));
  return port;
}

export interface RunningOpentracker {
  httpUrl: string;
  udpUrl: string;
  pid: number;
  log(): string;
  stop(): Promise<void>;
}

/** Pids we started, killed on exit if the test's afterAll never ran. */
const started = new Set<number>();
process.on('exit', () => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * Starts opentracker on free ports of 127.0.0.1 with a whitelist of the given
 * info hashes (Debian builds it in whitelist mode: without `-w` it refuses
 * every torrent). It chroots to its directory (`-d`) and drops to `nobody`,
 * so the directory must be world-readable.
 */
export async function startOpentracker(
  infoHashesHex: string[],
  ports: { tcp?: number; udp?: number } = {},
): Promise<RunningOpentracker> {
  const dir = mkdtempSync(join(tmpdir(), 'seedbox-opentracker-'));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'whitelist.txt'), infoHashesHex.map((h) => `${h}\n`).join(''), { mode: 0o644 });
  const tcp = ports.tcp ?? (await freeTcpPort());
  const udp = ports.udp ?? (await freeUdpPort());
  let output = '';
  const child: ChildProcess = spawn('opentracker', ['-i', '127.0.0.1', '-p', String(tcp), '-P', String(udp), '-w', 'whitelist.txt', '-d', dir], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('opentracker did not start');
  started.add(pid);
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      started.delete(pid);
      resolve();
    }),
  );
  const stop = async (): Promise<void> => {
    if (!exited) {
      process.kill(pid, 'SIGTERM');
      const killed = await Promise.race([exit.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))]);
      if (!killed && !exited) {
        process.kill(pid, 'SIGKILL');
        await exit;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready when its TCP port accepts; the UDP port is bound before that.
  const until = Date.now() + 10_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`opentracker exited at start:\n${output}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(tcp, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > until) {
      await stop();
      throw new Error(`opentracker did not listen on 127.0.0.1:${tcp} within 10 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // The whitelist is read by a thread of its own, after the port accepts: until then every
  // announce is "not authorized" (CI saw it). A `stopped` announce asks without adding a peer.
  if (infoHashesHex[0] !== undefined) {
    const infoHash = Buffer.from(infoHashesHex[0], 'hex').toString('latin1');
    const probe = `http://127.0.0.1:${tcp}/announce?info_hash=${escape(infoHash)}&peer_id=-SB0100-readinessprb&port=1&uploaded=0&downloaded=0&left=0&event=stopped&compact=1`;
    for (;;) {
      const body = await fetch(probe).then((r) => r.text(), () => '');
      if (body !== '' && !body.includes('not authorized')) break;
      if (Date.now() > until) {
        await stop();
        throw new Error(`opentracker did not take its whitelist within 10 s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    httpUrl: `http://127.0.0.1:${tcp}/announce`,
    udpUrl: `udp://127.0.0.1:${udp}/announce`,
    pid,
    log: () => output,
    stop,
  };
}
