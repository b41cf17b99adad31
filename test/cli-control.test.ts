/**
 * `seedbox add | ls | pause | resume | watch | rm` as a user runs them: the
 * built CLI in a child process (run `npx tsc -b tsconfig.build.json` first),
 * against a real gRPC control server in this process over the in-memory
 * backend, which ticks every 100 ms. Every failure must be one line on
 * stderr and exit 1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { parseMetainfo } from '@seedbox/protocol';
import { SeedboxControlService } from '@seedbox/proto';
import { createControlService, type ControlServiceOptions } from '@seedbox/peer-worker';
import { MemoryControlBackend } from './support/memory-control-backend.js';
import { freePort } from './support/processes.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'packages/cli/bin/seedbox.js');
const fixtures = join(root, 'test/fixtures/torrents');
const SINGLE = join(fixtures, 'mktorrent-single.torrent');
const MULTI = join(fixtures, 'transmission-multi.torrent');
const SINGLE_HASH = parseMetainfo(readFileSync(SINGLE)).infoHashHex;
const MULTI_HASH = parseMetainfo(readFileSync(MULTI)).infoHashHex;

interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

/** Spawns the CLI; the server lives in this process, so nothing here may block the event loop. */
function start(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; result: Promise<Result>; stdout: () => string } {
  const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, SEEDBOX_SERVER: '', ...env } });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const result = new Promise<Result>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      children.delete(child);
      resolve({ status, signal, stdout, stderr });
    });
  });
  return { child, result, stdout: () => stdout };
}

const seedbox = (args: string[], env?: NodeJS.ProcessEnv): Promise<Result> => start(args, env).result;

async function until(pred: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function startServer(backend: MemoryControlBackend, options?: ControlServiceOptions): Promise<{ address: string; stop: () => void }> {
  const server = new Server();
  server.addService(SeedboxControlService, createControlService(backend, options));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { address: `127.0.0.1:${port}`, stop: () => server.forceShutdown() };
}

function expectOneLineFailure(r: Result, pattern: RegExp): void {
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/^[^\n]+\n$/);
  expect(r.stderr).toMatch(pattern);
  expect(r.stdout).toBe('');
}

describe('seedbox control commands', () => {
  const backend = new MemoryControlBackend();
  let server: { address: string; stop: () => void };
  let dir: string;

  beforeAll(async () => {
    if (!existsSync(join(root, 'packages/cli/dist/commands/control.js'))) {
      throw new Error('the seedbox CLI is not built with the control commands: run `npx tsc -b tsconfig.build.json` first');
    }
    server = await startServer(backend);
    backend.startTicking(100);
    dir = mkdtempSync(join(tmpdir(), 'seedbox-cli-control-'));
  });
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    backend.stopTicking();
    server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('add sends the torrent file; adding it again says so', async () => {
    const r = await seedbox(['add', SINGLE, '--server', server.address]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`added: ${SINGLE_HASH} single.bin (downloading)\n`);
    expect(backend.records.has(SINGLE_HASH)).toBe(true);

    const again = await seedbox(['add', SINGLE, '--server', server.address]);
    expect(again.status).toBe(0);
    expect(again.stdout).toBe(`already added: ${SINGLE_HASH} single.bin (downloading)\n`);
    expect(backend.records.size).toBe(1);
  });

  it('add --paused --json prints the answer as JSON, and SEEDBOX_SERVER names the server', async () => {
    const r = await seedbox(['add', MULTI, '--paused', '--json'], { SEEDBOX_SERVER: server.address });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.created).toBe(true);
    expect(j.torrent).toMatchObject({ infoHash: MULTI_HASH, name: 'tree', state: 'TORRENT_STATE_PAUSED', private: false, stats: null, error: '' });
    expect(j.torrent.files.length).toBeGreaterThan(1);
  });

  it('add refuses a malformed torrent in one line naming the file and the rule', async () => {
    const bad = join(dir, 'bad.torrent');
    writeFileSync(bad, 'd4:infoi1ee');
    const r = await seedbox(['add', bad, '--server', server.address]);
    expectOneLineFailure(r, new RegExp(`^seedbox add: ${bad}: .*info: is not a dictionary\\n$`));
    expectOneLineFailure(await seedbox(['add', join(dir, 'missing.torrent'), '--server', server.address]), /^seedbox add: .*missing\.torrent: no such file\n$/);
  });

  it('ls prints a table with both torrents; --json one Torrent per line', async () => {
    await until(() => backend.figures.has(SINGLE_HASH), 'a tick with figures');
    const r = await seedbox(['ls', '--server', server.address]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^INFO HASH +NAME +STATE +PROGRESS +DOWN +UP +PEERS +SIZE$/);
    expect(lines[1]).toMatch(new RegExp(`^${SINGLE_HASH.slice(0, 12)} +single\\.bin +downloading +0\\.0% +0 B/s +0 B/s +0 +64\\.0 KiB$`));
    expect(lines[2]).toMatch(new RegExp(`^${MULTI_HASH.slice(0, 12)} +tree +paused +- +- +- +- +78\\.1 KiB$`));

    const j = await seedbox(['ls', '--json', '--server', server.address]);
    expect(j.status).toBe(0);
    const torrents = j.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(torrents.map((t) => [t.infoHash, t.state])).toEqual([
      [SINGLE_HASH, 'TORRENT_STATE_DOWNLOADING'],
      [MULTI_HASH, 'TORRENT_STATE_PAUSED'],
    ]);
    expect(torrents[0].stats).toMatchObject({ infoHash: SINGLE_HASH, leftBytes: 65537 });
  });

  it('pause (by the short hash ls shows) and resume change what ls shows', async () => {
    const p = await seedbox(['pause', SINGLE_HASH.slice(0, 12), '--server', server.address]);
    expect(p.stderr).toBe('');
    expect(p.stdout).toBe(`paused ${SINGLE_HASH}\n`);
    const paused = JSON.parse((await seedbox(['ls', '--json', '--server', server.address])).stdout.split('\n')[0]!);
    expect(paused.state).toBe('TORRENT_STATE_PAUSED');

    const r = await seedbox(['resume', SINGLE_HASH.toUpperCase(), '--server', server.address]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`resumed ${SINGLE_HASH}\n`);
    const resumed = JSON.parse((await seedbox(['ls', '--json', '--server', server.address])).stdout.split('\n')[0]!);
    expect(resumed.state).toBe('TORRENT_STATE_DOWNLOADING');
  });

  it('watch --json prints a line per torrent per tick, and exits 0 on SIGINT', async () => {
    backend.setStats(SINGLE_HASH, { downloadRate: 2048, peers: 4, left: 1000, eta: 3 });
    const w = start(['watch', '--json', '--server', server.address]);
    const ticks = (): Set<number> => {
      const lines = w.stdout().split('\n').filter((l) => l !== '');
      return new Set(lines.map((l) => JSON.parse(l).tickTimeMs as number));
    };
    await until(() => ticks().size >= 2, 'two ticks from watch');
    w.child.kill('SIGINT');
    const r = await w.result;
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const first = JSON.parse(r.stdout.split('\n')[0]!);
    expect(first).toMatchObject({ infoHash: SINGLE_HASH, downloadRate: 2048, peers: 4, leftBytes: 1000, etaSeconds: 3 });
    await until(() => backend.listeners.size === 0, 'the server to drop the cancelled watch');
  });

  it('watch with an info hash prints text lines for that torrent only, and exits 0 on SIGTERM', async () => {
    await seedbox(['resume', MULTI_HASH, '--server', server.address]);
    const w = start(['watch', MULTI_HASH, '--server', server.address]);
    await until(() => w.stdout().split('\n').length > 2, 'two lines from watch');
    w.child.kill('SIGTERM');
    const r = await w.result;
    expect(r.status).toBe(0);
    for (const line of r.stdout.trimEnd().split('\n')) {
      expect(line).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d  ${MULTI_HASH.slice(0, 12)}  tree  0\\.0%  down 0 B/s  up 0 B/s  peers 0  ETA --:--$`));
    }
  });

  it('rm removes; rm again exits 1 with one line', async () => {
    const r = await seedbox(['rm', MULTI_HASH, '--delete-data', '--server', server.address]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`removed ${MULTI_HASH} and its data\n`);
    expect(backend.removed).toEqual([{ infoHashHex: MULTI_HASH, deleteData: true }]);
    expectOneLineFailure(await seedbox(['rm', MULTI_HASH, '--server', server.address]), new RegExp(`^seedbox rm: no torrent ${MULTI_HASH}\\n$`));
  });

  it('a bad info hash is one line with the rule', async () => {
    expectOneLineFailure(await seedbox(['pause', 'xyz', '--server', server.address]), /^seedbox pause: info_hash must be 40 hexadecimal characters.*"xyz"\n$/);
    expectOneLineFailure(await seedbox(['watch', 'nope', '--server', server.address]), /^seedbox watch: info_hashes\[0\] must be 40 hexadecimal characters/);
  });

  it('an unreachable server is exit 1 and one line', async () => {
    const port = await freePort();
    expectOneLineFailure(await seedbox(['ls', '--server', `127.0.0.1:${port}`]), new RegExp(`^seedbox ls: cannot reach 127\\.0\\.0\\.1:${port} \\(UNAVAILABLE[:)]`));
    expectOneLineFailure(await seedbox(['watch', '--json'], { SEEDBOX_SERVER: `127.0.0.1:${port}` }), /^seedbox watch: cannot reach 127\.0\.0\.1:\d+ \(UNAVAILABLE/);
  });

  it('a --server that is not HOST:PORT is a usage error (exit 2)', async () => {
    const r = await seedbox(['ls', '--server', 'localhost']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^seedbox ls: --server takes HOST:PORT.*"localhost"\n$/);
  });

  it('watch exits 1 with one line when the stream ends with an error', async () => {
    // A fleet that never ticks: the server ends the watch with UNAVAILABLE.
    const silent = await startServer(new MemoryControlBackend(), { tickTimeoutMs: 300 });
    try {
      const r = await seedbox(['watch', '--json', '--server', silent.address]);
      expectOneLineFailure(r, new RegExp(`^seedbox watch: ${silent.address}: no statistics from the fleet for 300 ms \\(UNAVAILABLE\\)\\n$`));
    } finally {
      silent.stop();
    }
  });
});
