/**
 * `seedbox add | ls | pause | resume | watch | rm` as a user runs them: the
 * built CLI in a child process (run `npx tsc -b tsconfig.build.json` first),
 * against a real gRPC control server in this process over the in-memory
 * backend, which ticks every 100 ms. Every failure must be one line on
 * stderr and exit 1; a usage error (a flag's value it cannot take) exits 2.
 * A server that asks for a token, TLS and client certificates (the
 * services' own settings, grpcAccessOf) is reached with --token or
 * SEEDBOX_TOKEN and the --tls flags.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { encodeBencode, parseMetainfo } from '@seedbox/protocol';
import { SeedboxControlService } from '@seedbox/proto';
import { createControlService, type ControlServiceOptions } from '@seedbox/peer-worker';
import { grpcAccessOf, HealthService, startGrpcServer, type GrpcAccessConfig } from '@seedbox/runtime';
import { makeTestPki, type TestPki } from './support/certs.js';
import { MemoryControlBackend } from './support/memory-control-backend.js';
import { cleanupAll, freePort, makeTempDir } from './support/processes.js';
import { needTool, tools } from './support/tools.js';

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

/**
 * The control service over `backend`, counting the calls made of each
 * method; `without` leaves methods out (they answer UNIMPLEMENTED, as a
 * server older than the CLI does).
 */
async function startServer(
  backend: MemoryControlBackend,
  options?: ControlServiceOptions,
  without: string[] = [],
): Promise<{ address: string; stop: () => void; calls: Record<string, number> }> {
  const server = new Server();
  const calls: Record<string, number> = {};
  const service = createControlService(backend, options) as unknown as Record<string, (...a: unknown[]) => unknown>;
  const counted = Object.fromEntries(
    Object.entries(service)
      .filter(([name]) => !without.includes(name))
      .map(([name, f]) => [name, (...a: unknown[]) => ((calls[name] = (calls[name] ?? 0) + 1), f(...a))]),
  );
  server.addService(SeedboxControlService, counted as unknown as ReturnType<typeof createControlService>);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { address: `127.0.0.1:${port}`, stop: () => server.forceShutdown(), calls };
}

function expectOneLineFailure(r: Result, pattern: RegExp): void {
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/^[^\n]+\n$/);
  expect(r.stderr).toMatch(pattern);
  expect(r.stdout).toBe('');
}

describe('seedbox control commands', () => {
  const backend = new MemoryControlBackend();
  let server: Awaited<ReturnType<typeof startServer>>;
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

  it('add takes many files and links: each answered in the order given, a bad one said on stderr while the rest are added, exit 1', async () => {
    const bad = join(dir, 'bad-many.torrent');
    writeFileSync(bad, 'not a torrent');
    const magnet = `magnet:?xt=urn:btih:${'c'.repeat(40)}&dn=linked&tr=${encodeURIComponent('http://tracker.example/announce')}`;
    const before = { ...server.calls };
    const r = await seedbox(['add', SINGLE, bad, MULTI, join(dir, 'gone.torrent'), magnet, '--paused', '--server', server.address]);
    // The three files that could be read in one AddTorrents call; the magnet in an AddTorrent of its own (it waits for the metadata).
    expect((server.calls.addTorrents ?? 0) - (before.addTorrents ?? 0)).toBe(1);
    expect((server.calls.addTorrent ?? 0) - (before.addTorrent ?? 0)).toBe(1);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^(already )?added: ${SINGLE_HASH} single\\.bin `)),
      expect.stringMatching(new RegExp(`^(already )?added: ${MULTI_HASH} tree `)),
      expect.stringMatching(new RegExp(`^added: ${'c'.repeat(40)} linked `)),
    ]);
    const errors = r.stderr.trimEnd().split('\n');
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(new RegExp(`^seedbox add: ${bad}: `));
    expect(errors[1]).toMatch(/^seedbox add: .*gone\.torrent: no such file$/);
    expect(backend.records.has('c'.repeat(40))).toBe(true);
    backend.records.delete('c'.repeat(40));
  });

  it('ls prints a table with both torrents; --json one Torrent per line', async () => {
    await until(() => backend.figures.has(SINGLE_HASH), 'a tick with figures');
    const r = await seedbox(['ls', '--server', server.address]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^INFO HASH +NAME +STATE +PROGRESS +DOWN +UP +PEERS +RATIO +SIZE +CATEGORY +TAGS$/);
    expect(lines[1]).toMatch(new RegExp(`^${SINGLE_HASH.slice(0, 12)} +single\\.bin +downloading +0\\.0% +0 B/s +0 B/s +0 +0\\.00 +64\\.0 KiB +- +-$`));
    expect(lines[2]).toMatch(new RegExp(`^${MULTI_HASH.slice(0, 12)} +tree +paused +- +- +- +- +0\\.00 +78\\.1 KiB +- +-$`));

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

  it('watch --json prints every torrent at first, then a line only for what changed and for what went away, and exits 0 on SIGINT', async () => {
    backend.setStats(SINGLE_HASH, { downloadRate: 2048, peers: 4, left: 1000, eta: 3 });
    const w = start(['watch', '--json', '--server', server.address]);
    const lines = (): Record<string, unknown>[] =>
      w
        .stdout()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    await until(() => lines().length >= 1, 'the first line from watch');
    expect(lines()[0]).toMatchObject({ infoHash: SINGLE_HASH, downloadRate: 2048, peers: 4, leftBytes: 1000, etaSeconds: 3 });
    // Ticks come every 100 ms with nothing new: no line. Then the figures move, then the torrent is paused (no worker reports it).
    await new Promise((r) => setTimeout(r, 400));
    expect(lines()).toHaveLength(1);
    backend.setStats(SINGLE_HASH, { downloadRate: 4096, peers: 5, left: 500, eta: 1 });
    await until(() => lines().length >= 2, 'a line for the change');
    expect(lines()[1]).toMatchObject({ infoHash: SINGLE_HASH, downloadRate: 4096, peers: 5 });
    backend.records.get(SINGLE_HASH)!.desired = 'paused';
    await until(() => lines().length >= 3, 'a line for the torrent gone');
    backend.records.get(SINGLE_HASH)!.desired = 'running';
    expect(lines()[2]).toEqual({ infoHash: SINGLE_HASH, removed: true });
    w.child.kill('SIGINT');
    const r = await w.result;
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    await until(() => backend.listeners.size === 0, 'the server to drop the cancelled watch');
  });

  it('watch with an info hash prints text lines for that torrent only (at first, then on a change), and exits 0 on SIGTERM', async () => {
    await seedbox(['resume', MULTI_HASH, '--server', server.address]);
    const w = start(['watch', MULTI_HASH, '--server', server.address]);
    await until(() => w.stdout().split('\n').length > 1, 'a line from watch');
    backend.setStats(MULTI_HASH, { downloadRate: 1024, peers: 1 });
    await until(() => w.stdout().split('\n').length > 2, 'a second line from watch');
    w.child.kill('SIGTERM');
    const r = await w.result;
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    const line = (down: string, peers: number): RegExp =>
      new RegExp(`^\\d\\d:\\d\\d:\\d\\d  ${MULTI_HASH.slice(0, 12)}  tree  downloading  0\\.0%  down ${down}  up 0 B/s  peers ${peers}  ratio 0\\.00  ETA --:--$`);
    expect(lines).toEqual([expect.stringMatching(line('0 B/s', 0)), expect.stringMatching(line('1\\.00 KiB/s', 1))]);
  });

  it('ls pages, filters and sorts on the server: --limit, --offset, --filter, --category, --tag, --sort, --reverse', async () => {
    const run = (...args: string[]): Promise<Result> => seedbox(['ls', ...args, '--server', server.address]);
    const hashes = (r: Result): string[] => r.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { infoHash: string }).infoHash);
    // SINGLE was added first; MULTI is running with figures from the watch above.
    const page = await run('--limit', '1', '--offset', '1');
    expect(page.stderr).toBe('');
    const lines = page.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(new RegExp(`^${MULTI_HASH.slice(0, 12)} +tree `));
    // A page says which part of the matches it is.
    expect(lines[2]).toBe('2-2 of 2');
    expect(hashes(await run('--json', '--limit', '1'))).toEqual([SINGLE_HASH]);
    expect(hashes(await run('--json', '--sort', 'name', '--reverse'))).toEqual([MULTI_HASH, SINGLE_HASH]);
    backend.records.get(SINGLE_HASH)!.desired = 'paused';
    try {
      expect(hashes(await run('--json', '--filter', 'paused'))).toEqual([SINGLE_HASH]);
      expect(hashes(await run('--json', '--filter', 'running'))).toEqual([MULTI_HASH]);
    } finally {
      backend.records.get(SINGLE_HASH)!.desired = 'running';
    }
    backend.records.get(MULTI_HASH)!.settings.tags = ['keep'];
    expect(hashes(await run('--json', '--tag', 'keep'))).toEqual([MULTI_HASH]);
    expect(hashes(await run('--json', '--category', ''))).toEqual([SINGLE_HASH, MULTI_HASH]);
    // Nothing matches: the table's header, and no footer (nothing was left out).
    expect((await run('--category', 'films')).stdout).toMatch(/^INFO HASH +NAME[^\n]*\n$/);
    const none = await run('--offset', '5');
    expect(none.stdout.trimEnd().split('\n').at(-1)).toBe('none of 2');
    // The table asks for no files; --json and --long do.
    expect(JSON.parse((await run('--json', '--limit', '1')).stdout).files).toHaveLength(1);

    expectUsageError(await run('--filter', 'sleeping'), /^seedbox ls: --filter takes all, downloading, seeding, .* \(got "sleeping"\)\n$/);
    expectUsageError(await run('--sort', 'speed'), /^seedbox ls: --sort takes added, name, size, progress, queue, ratio, down, up \(got "speed"\)\n$/);
    expectUsageError(await run('--limit', '-1'), /^seedbox ls: /);
    expectUsageError(await run('--offset', 'x'), /^seedbox ls: --offset takes a whole number, 0 or more \(got "x"\)\n$/);
    expectUsageError(await run('--limit', '99999999999'), /^seedbox ls: --limit takes a whole number/);
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

describe('seedbox add with many files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'seedbox-cli-batch-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** `n` small torrents of one piece each, written to `dir`. */
  function torrents(n: number, prefix: string): { files: string[]; hashes: string[] } {
    const files: string[] = [];
    const hashes: string[] = [];
    for (let i = 0; i < n; i++) {
      const name = `${prefix}${i}.bin`;
      const bytes = encodeBencode({ announce: 'http://t.example/announce', info: { length: 1, name, 'piece length': 16384, pieces: createHash('sha1').update(name).digest() } });
      const file = join(dir, `${prefix}${i}.torrent`);
      writeFileSync(file, bytes);
      files.push(file);
      hashes.push(parseMetainfo(bytes).infoHashHex);
    }
    return { files, hashes };
  }

  it('sends 250 files in AddTorrents calls of at most 100, answering each in order', async () => {
    const backend = new MemoryControlBackend();
    const server = await startServer(backend);
    try {
      const { files, hashes } = torrents(250, 'batch');
      const r = await seedbox(['add', ...files, '--server', server.address]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout.trimEnd().split('\n')).toEqual(hashes.map((h, i) => `added: ${h} batch${i}.bin (downloading)`));
      expect(server.calls).toEqual({ addTorrents: 3 });
      expect(backend.records.size).toBe(250);
    } finally {
      server.stop();
    }
  });

  it('falls back to one AddTorrent per file against a server without AddTorrents (older than the CLI)', async () => {
    const backend = new MemoryControlBackend();
    const server = await startServer(backend, undefined, ['addTorrents']);
    try {
      const { files, hashes } = torrents(12, 'old');
      const bad = join(dir, 'old-bad.torrent');
      writeFileSync(bad, 'd4:infoi1ee');
      const r = await seedbox(['add', bad, ...files, '--json', '--server', server.address]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^seedbox add: ${bad}: .*info: is not a dictionary\n$`));
      expect(r.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { torrent: { infoHash: string } }).torrent.infoHash)).toEqual(hashes);
      expect(server.calls.addTorrent).toBe(13);
    } finally {
      server.stop();
    }
  });
});

function expectUsageError(r: Result, pattern: RegExp): void {
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/^[^\n]+\n$/);
  expect(r.stderr).toMatch(pattern);
  expect(r.stdout).toBe('');
}

describe('seedbox settings commands', () => {
  const backend = new MemoryControlBackend('/srv/data');
  let server: { address: string; stop: () => void };
  let s: string[];
  const run = (...args: string[]): Promise<Result> => seedbox([...args, ...s]);

  beforeAll(async () => {
    server = await startServer(backend);
    s = ['--server', server.address];
  });
  afterAll(() => server.stop());

  it('category add, edit, ls and rm', async () => {
    const a = await run('category', 'add', 'tv', 'media/tv');
    expect(a.stderr).toBe('');
    expect(a.stdout).toMatch(/^CATEGORY +SAVE FOLDER\ntv +media\/tv\n$/);
    expect((await run('category', 'add', 'movies', '/srv/data/films')).status).toBe(0);
    expect((await run('category', 'edit', 'movies', 'media/movies')).status).toBe(0);
    const ls = await run('category', 'ls', '--json');
    expect(ls.stdout.trimEnd().split('\n').map((l) => JSON.parse(l))).toEqual([
      { name: 'movies', savePath: 'media/movies' },
      { name: 'tv', savePath: 'media/tv' },
    ]);
    expectOneLineFailure(await run('category', 'add', 'tv', 'x'), /^seedbox category: category-exists: the category "tv" exists already\n$/);
    expectOneLineFailure(await run('category', 'add', 'out', '/etc'), /^seedbox category: save-path: the save folder \/etc is outside the data folder \/srv\/data\n$/);
    expectUsageError(await run('category', 'add', 'onlyname'), /^seedbox category: usage: seedbox category ls/);
    await run('category', 'add', 'gone', 'x');
    expect((await run('category', 'rm', 'gone')).stdout).not.toMatch(/gone/);
  });

  it('add takes a category, tags, limits and file priorities', async () => {
    const r = await run('add', MULTI, '--category', 'tv', '--tags', 'a, b', '--upload-limit', '20M', '--ratio-limit', '2', '--sequential', '--high', '0', '--json');
    expect(r.stderr).toBe('');
    const t = JSON.parse(r.stdout).torrent;
    expect(t).toMatchObject({ category: 'tv', tags: ['a', 'b'], uploadLimit: 20 * 1024 * 1024, ratioLimit: 2, sequential: true, firstLastPiece: false, savePath: '/srv/data/media/tv' });
    expect(t.files[0].priority).toBe('FILE_PRIORITY_HIGH');
    expectOneLineFailure(await run('add', SINGLE, '--category', 'nope'), /^seedbox add: unknown-category: there is no category "nope"; create it first\n$/);
    expectOneLineFailure(await run('add', SINGLE, '--save-path', '../x'), /^seedbox add: save-path: the save folder \.\.\/x is outside the data folder \/srv\/data\n$/);
    expectUsageError(await run('add', SINGLE, '--download-limit', 'fast'), /^seedbox add: --download-limit takes bytes per second.*"fast"\)\n$/);
    expect(backend.records.has(SINGLE_HASH)).toBe(false);
  });

  it('set changes settings by a short hash and prints the torrent; get and ls --long show everything', async () => {
    const r = await run('set', MULTI_HASH.slice(0, 8), '--add-tags', 'c', '--remove-tags', 'a', '--download-limit', '512k', '--seeding-time-limit', 'none', '--force-start', 'on', '--sequential', 'off', '--skip', '1-2');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^info hash +838e96e6/m);
    const settings = backend.records.get(MULTI_HASH)!.settings;
    expect(settings).toMatchObject({ tags: ['b', 'c'], limits: { download: 512 * 1024, upload: 20 * 1024 * 1024 }, forceStart: true, sequential: false });
    expect(settings.share.seedingMinutes).toBe(-1);

    const g = await run('get', MULTI_HASH);
    expect(g.status).toBe(0);
    expect(g.stdout).toMatch(/^save folder +\/srv\/data\/media\/tv$/m);
    expect(g.stdout).toMatch(/^category +tv$/m);
    expect(g.stdout).toMatch(/^tags +b,c$/m);
    expect(g.stdout).toMatch(/^ratio +0\.00 \(limit 2\.00\)$/m);
    expect(g.stdout).toMatch(/^seeding time +00:00:00 \(limit none, inactive limit global\)$/m);
    expect(g.stdout).toMatch(/^download limit +512\.0 KiB\/s$/m);
    expect(g.stdout).toMatch(/^queue position +1$/m);
    expect(g.stdout).toMatch(/^force start +on$/m);
    expect(g.stdout).toMatch(/^files:\n +# +PRIORITY +DONE +SIZE +PATH\n +0 +high +- /m);
    expect(g.stdout).toMatch(/^ +1 +skip +- /m);
    const long = await run('ls', '--long');
    expect(long.stdout).toBe(g.stdout);
  });

  it('set refuses bad values in one line: usage errors exit 2, the server\'s rules exit 1', async () => {
    expectUsageError(await run('set', MULTI_HASH, '--ratio-limit', '-1'), /^seedbox set: Option '--ratio-limit' argument is ambiguous\..*; usage: seedbox set/);
    expectUsageError(await run('set', MULTI_HASH, '--ratio-limit', 'lots'), /^seedbox set: --ratio-limit takes a ratio \(0 or more\), none or global \(got "lots"\)\n$/);
    expectUsageError(await run('set', MULTI_HASH, '--sequential', 'yes'), /^seedbox set: --sequential takes on or off \(got "yes"\)\n$/);
    expectUsageError(await run('set', MULTI_HASH, '--skip', '3-1'), /^seedbox set: --skip takes file numbers/);
    expectUsageError(await run('set', MULTI_HASH, '--tags', 'x', '--add-tags', 'y'), /^seedbox set: --tags replaces the tags/);
    expectUsageError(await run('set', MULTI_HASH), /^seedbox set: nothing to change/);
    expectOneLineFailure(await run('set', MULTI_HASH, '--category', 'nope'), /^seedbox set: unknown-category: there is no category "nope"; create it first\n$/);
    expectOneLineFailure(await run('set', MULTI_HASH, '--high', '99'), /^seedbox set: file-index: file 99 does not exist: the torrent has files 0 to \d+\n$/);
    expectOneLineFailure(await run('set', MULTI_HASH, '--add-tags', 'a\u0001b'), /^seedbox set: tag: /);
  });

  it('move sends the folder; one outside the data folder is one line', async () => {
    const r = await run('move', MULTI_HASH, 'done');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`moving ${MULTI_HASH} to done\n`);
    expect(backend.moved.at(-1)).toEqual({ infoHashHex: MULTI_HASH, savePath: '/srv/data/done' });
    expectOneLineFailure(await run('move', MULTI_HASH, '/elsewhere'), /^seedbox move: save-path: the save folder \/elsewhere is outside the data folder \/srv\/data\n$/);
    expectUsageError(await run('move', MULTI_HASH), /^seedbox move: usage: /);
  });

  it('queue moves torrents in the queue order', async () => {
    await run('add', SINGLE);
    const r = await run('queue', 'top', SINGLE_HASH);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`moved top in the queue: ${SINGLE_HASH}\n`);
    expect(backend.records.get(SINGLE_HASH)!.queuePosition).toBe(1);
    await run('queue', 'down', SINGLE_HASH);
    expect(backend.records.get(MULTI_HASH)!.queuePosition).toBe(1);
    expectUsageError(await run('queue', 'sideways', SINGLE_HASH), /^seedbox queue: usage: seedbox queue top\|bottom\|up\|down/);
  });

  it('config prints the config, and changes it with flags', async () => {
    const r = await run('config');
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^download limit +none$/m);
    expect(r.stdout).toMatch(/^queueing +off$/m);
    expect(r.stdout).toMatch(/^categories +movies, tv$/m);
    const c = await run('config', '--download-limit', '20M', '--alt-upload-limit', '1k', '--alt-speed', 'on', '--queueing', 'on', '--max-active-downloads', 'none', '--max-active-torrents', '8', '--ratio-limit', '1.5', '--seeding-time-limit', '60', '--share-action', 'remove-with-data', '--json');
    expect(c.stderr).toBe('');
    expect(JSON.parse(c.stdout)).toMatchObject({
      downloadLimit: 20 * 1024 * 1024,
      altUploadLimit: 1024,
      altSpeedEnabled: true,
      queueingEnabled: true,
      maxActiveDownloads: -1,
      maxActiveTorrents: 8,
      ratioLimit: 1.5,
      seedingTimeLimit: 60,
      shareAction: 'SHARE_ACTION_REMOVE_WITH_DATA',
    });
    expect(backend.fleetConfig.queue.enabled).toBe(true);
    expectUsageError(await run('config', '--share-action', 'delete'), /^seedbox config: --share-action takes pause, remove or remove-with-data \(got "delete"\)\n$/);
    expectUsageError(await run('config', '--ratio-limit', 'global'), /^seedbox config: --ratio-limit takes a ratio \(0 or more\), none \(got "global"\)\n$/);
    expectUsageError(await run('config', '--upload-limit', '-5'), /^seedbox config: /);
    // Seed replicas: how many peer-workers seed each complete torrent.
    expect((await run('config')).stdout).toMatch(/^seed replicas +2\nprivate seed replicas +1$/m);
    const s = await run('config', '--seed-replicas', 'all', '--private-seed-replicas', '3', '--json');
    expect(JSON.parse(s.stdout)).toMatchObject({ seedReplicas: 0, privateSeedReplicas: 3 });
    expect(backend.fleetConfig).toMatchObject({ seedReplicas: 0, privateSeedReplicas: 3 });
    expect((await run('config')).stdout).toMatch(/^seed replicas +all$/m);
    expectUsageError(await run('config', '--seed-replicas', '0'), /^seedbox config: --seed-replicas takes a number of peer-workers \(1 or more\) or all \(got "0"\)\n$/);
  });

  it('ls shows queued and stalled torrents, ratio, category and tags', async () => {
    backend.records.get(SINGLE_HASH)!.queued = true;
    backend.records.get(MULTI_HASH)!.ratio = 1.25;
    backend.setStats(MULTI_HASH, { state: 'downloading', downloadRate: 0 });
    const lines = (await run('ls')).stdout.trimEnd().split('\n');
    // Oldest first: the multi-file torrent was added first.
    expect(lines[2]).toMatch(new RegExp(`^${SINGLE_HASH.slice(0, 12)} +single\\.bin +queued .* 0\\.00 +64\\.0 KiB +- +-$`));
    expect(lines[1]).toMatch(new RegExp(`^${MULTI_HASH.slice(0, 12)} +tree +stalled .* 1\\.25 +\\S+ KiB +tv +b,c$`));
  });
});

/** The control API behind the services' own access rules (a token, TLS, client certificates). */
async function startLockedServer(backend: MemoryControlBackend, config: GrpcAccessConfig): Promise<{ address: string; stop: () => Promise<void> }> {
  const access = await grpcAccessOf({ grpcHost: '127.0.0.1', ...config });
  const running = await startGrpcServer({
    host: access.host,
    port: 0,
    credentials: access.credentials,
    options: { interceptors: access.interceptors },
    services: [new HealthService(), { definition: SeedboxControlService, implementation: createControlService(backend) }],
  });
  return { address: `127.0.0.1:${running.port}`, stop: () => running.close(100) };
}

describe('seedbox control commands against a locked-down server', () => {
  const TOKEN = 'cli-test-token-0123456789abcdef';
  const backend = new MemoryControlBackend();
  const stops: (() => Promise<void>)[] = [];

  beforeAll(() => {
    backend.startTicking(100);
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    backend.stopTicking();
    for (const stop of stops) await stop();
    await cleanupAll();
  });

  it('--token or SEEDBOX_TOKEN gets in; none or a wrong one is one line, UNAUTHENTICATED, exit 1', async () => {
    const server = await startLockedServer(backend, { token: TOKEN });
    stops.push(server.stop);
    const added = await seedbox(['add', SINGLE, '--server', server.address, '--token', TOKEN]);
    expect(added.stderr).toBe('');
    expect(added.stdout).toMatch(new RegExp(`^added: ${SINGLE_HASH} single\\.bin`));
    const listed = await seedbox(['ls', '--json', '--server', server.address], { SEEDBOX_TOKEN: TOKEN });
    expect(listed.status).toBe(0);
    expect(JSON.parse(listed.stdout).infoHash).toBe(SINGLE_HASH);
    // The flag wins over the variable.
    expect((await seedbox(['get', SINGLE_HASH.slice(0, 8), '--server', server.address, '--token', TOKEN], { SEEDBOX_TOKEN: 'stale-token-0000000000000' })).status).toBe(0);
    // A watch stream carries it too.
    const w = start(['watch', '--json', '--server', server.address], { SEEDBOX_TOKEN: TOKEN });
    await until(() => w.stdout().includes(SINGLE_HASH), 'a watch line');
    w.child.kill('SIGINT');
    expect((await w.result).status).toBe(0);

    const none = await seedbox(['ls', '--server', server.address]);
    expectOneLineFailure(none, new RegExp(`^seedbox ls: ${server.address} refused the call: no token: this server wants \`authorization: Bearer <token>\` on every call \\(seedbox --token, or SEEDBOX_TOKEN\\) \\(UNAUTHENTICATED\\)\\n$`));
    expectOneLineFailure(await seedbox(['pause', SINGLE_HASH, '--server', server.address], { SEEDBOX_TOKEN: 'wrong-token-0123456789abcdef' }), /^seedbox pause: 127\.0\.0\.1:\d+ refused the call: wrong token \(UNAUTHENTICATED\)\n$/);
    expectOneLineFailure(await seedbox(['watch', '--server', server.address]), /^seedbox watch: .* refused the call: no token.*\(UNAUTHENTICATED\)\n$/);
    // The refused pause did nothing.
    expect(backend.records.get(SINGLE_HASH)?.desired).toBe('running');
    // A token the metadata cannot carry is a usage error, before any call.
    const bad = await seedbox(['ls', '--server', server.address, '--token', 'with space']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('seedbox ls: --token: a token is printable ASCII without spaces\n');
  });

  const openssl = needTool(tools.openssl);
  describe.skipIf(!openssl.available)('over TLS', () => {
    let pki: TestPki;
    beforeAll(() => {
      pki = makeTestPki(makeTempDir('cli-pki'));
    });

    it('--tls-ca checks the server; --tls-cert/--tls-key present a client certificate; SEEDBOX_TLS_* do the same', async () => {
      const server = await startLockedServer(backend, { token: TOKEN, grpcTlsCert: pki.server.cert, grpcTlsKey: pki.server.key, grpcTlsClientCa: pki.ca });
      stops.push(server.stop);
      const ok = await seedbox(['ls', '--json', '--server', server.address, '--token', TOKEN, '--tls-ca', pki.ca, '--tls-cert', pki.client.cert, '--tls-key', pki.client.key]);
      expect(ok.stderr).toBe('');
      expect(ok.status).toBe(0);
      const byEnv = await seedbox(['ls', '--json', '--server', server.address], { SEEDBOX_TOKEN: TOKEN, SEEDBOX_TLS_CA: pki.ca, SEEDBOX_TLS_CERT: pki.client.cert, SEEDBOX_TLS_KEY: pki.client.key });
      const hashes = (r: Result): string[] => r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { infoHash: string }).infoHash);
      expect(hashes(ok)).toEqual([SINGLE_HASH]);
      expect(hashes(byEnv)).toEqual([SINGLE_HASH]);
      // A certificate for the Service's name, reached through an address it does not name (a port-forward): --tls-server-name.
      const forwarded = makeTestPki(makeTempDir('cli-pki-named'), ['DNS:sbx-peer-worker']);
      const behind = await startLockedServer(backend, { token: TOKEN, grpcTlsCert: forwarded.server.cert, grpcTlsKey: forwarded.server.key });
      stops.push(behind.stop);
      const tls = ['--server', behind.address, '--token', TOKEN, '--tls-ca', forwarded.ca];
      expect(hashes(await seedbox(['ls', '--json', ...tls, '--tls-server-name', 'sbx-peer-worker']))).toEqual([SINGLE_HASH]);
      expectOneLineFailure(await seedbox(['ls', ...tls]), /^seedbox ls: cannot reach 127\.0\.0\.1:\d+ \(UNAVAILABLE: .*\)\n$/);

      // Refused in the handshake: no client certificate, a stranger's, plaintext; a server the CA did not sign.
      const refused = /^seedbox ls: cannot reach 127\.0\.0\.1:\d+ \(UNAVAILABLE: .*\)\n$/;
      expectOneLineFailure(await seedbox(['ls', '--server', server.address, '--token', TOKEN, '--tls-ca', pki.ca]), refused);
      expectOneLineFailure(await seedbox(['ls', '--server', server.address, '--token', TOKEN, '--tls-ca', pki.ca, '--tls-cert', pki.stranger.cert, '--tls-key', pki.stranger.key]), refused);
      expectOneLineFailure(await seedbox(['ls', '--server', server.address, '--token', TOKEN]), refused);
      expectOneLineFailure(await seedbox(['ls', '--server', server.address, '--token', TOKEN, '--tls-ca', pki.strangerCa, '--tls-cert', pki.client.cert, '--tls-key', pki.client.key]), refused);
      // The certificate does not replace the token.
      expectOneLineFailure(await seedbox(['ls', '--server', server.address, '--tls-ca', pki.ca, '--tls-cert', pki.client.cert, '--tls-key', pki.client.key]), /refused the call: no token.*\(UNAUTHENTICATED\)\n$/);

      // Flags that cannot work are said so.
      const half = await seedbox(['ls', '--server', server.address, '--tls-cert', pki.client.cert]);
      expect(half.status).toBe(2);
      expect(half.stderr).toBe('seedbox ls: --tls-cert needs --tls-key (SEEDBOX_TLS_KEY) too\n');
      expectOneLineFailure(await seedbox(['ls', '--server', server.address, '--tls-ca', '/nonexistent/ca.crt']), /^seedbox ls: --tls-ca \/nonexistent\/ca\.crt: no such file\n$/);
    });
  });
});
