import { CliError, UsageError } from './cli-error.js';
import type * as ControlCommands from './commands/control.js';
import type * as SettingsCommands from './commands/settings.js';

type Command = (argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream) => Promise<number>;
type Loaded = { run: Command; usage: string };

/**
 * Each command's module is loaded when the command runs, not at start:
 * `download` needs the engine, not gRPC, NATS or the metrics (loading
 * every command took 0.3 s before the first byte of a download).
 */
const COMMANDS: Record<string, { load: () => Promise<Loaded>; summary: string }> = {
  inspect: { load: () => import('./commands/inspect.js').then((m) => ({ run: m.inspect, usage: m.inspectUsage })), summary: 'print what a torrent file or magnet URI holds' },
  download: { load: () => import('./commands/download.js').then((m) => ({ run: m.download, usage: m.downloadUsage })), summary: 'download a torrent in this process (embedded mode)' },
  seed: { load: () => import('./commands/seed.js').then((m) => ({ run: m.seed, usage: m.seedUsage })), summary: 'check data on disk and seed it until stopped' },
  serve: {
    load: async () => ({ run: (argv, out) => import('./serve/serve.js').then((m) => m.serve(argv, out)), usage: 'seedbox serve --data DIR [--watch-dir DIR] [--help for every option]' }),
    summary: 'the one-machine seedbox: a daemon driven by the control API',
  },
  // A daemon (serve) or the fleet, over the gRPC control API (--server, else SEEDBOX_SERVER, else 127.0.0.1:50051; --token, TLS: CONNECTION_HELP).
  add: { load: () => import('./commands/add.js').then((m) => ({ run: m.add, usage: m.addUsage })), summary: 'add torrents to the fleet (many files in batches)' },
  ls: { load: () => control((m) => ({ run: m.ls, usage: m.lsUsage })), summary: "list the fleet's torrents (--long: everything about each)" },
  get: { load: () => settings((m) => ({ run: m.get, usage: m.getUsage })), summary: 'print everything about one torrent: settings, limits, files' },
  set: { load: () => settings((m) => ({ run: m.set, usage: m.setUsage })), summary: "change a torrent's settings: category, tags, limits, file priorities..." },
  move: { load: () => settings((m) => ({ run: m.move, usage: m.moveUsage })), summary: "move a torrent's data to another folder in the data folder" },
  queue: { load: () => settings((m) => ({ run: m.queue, usage: m.queueUsage })), summary: 'move torrents in the queue order' },
  config: { load: () => settings((m) => ({ run: m.config, usage: m.configUsage })), summary: "print or change the fleet's config: speed limits, queueing, share limits" },
  category: { load: () => settings((m) => ({ run: m.category, usage: m.categoryUsage })), summary: 'list, add, edit or remove categories' },
  rm: { load: () => control((m) => ({ run: m.rm, usage: m.rmUsage })), summary: 'remove a torrent from the fleet' },
  pause: { load: () => control((m) => ({ run: m.pause, usage: m.pauseUsage })), summary: 'pause a torrent' },
  resume: { load: () => control((m) => ({ run: m.resume, usage: m.resumeUsage })), summary: 'resume a paused torrent' },
  recheck: { load: () => control((m) => ({ run: m.recheck, usage: m.recheckUsage })), summary: "check a torrent's data again, hashing every piece" },
  watch: { load: () => control((m) => ({ run: m.watch, usage: m.watchUsage })), summary: "print the fleet's statistics every tick until stopped" },
  // The services of the distributed mode (as `node services/<name>/dist/main.js`); --help lists their options.
  'peer-worker': { load: () => service('peer-worker', 'seedbox peer-worker [--help] [options]'), summary: 'run a peer-worker (distributed mode)' },
  'disk-writer': { load: () => service('disk-writer', 'seedbox disk-writer [--help] [options]'), summary: 'run a disk-writer (distributed mode)' },
  'tracker-client': { load: () => service('tracker-client', 'seedbox tracker-client [--help] [options]'), summary: 'run the tracker-client (distributed mode)' },
};

function control(pick: (m: typeof ControlCommands) => Loaded): Promise<Loaded> {
  return import('./commands/control.js').then(pick);
}

function settings(pick: (m: typeof SettingsCommands) => Loaded): Promise<Loaded> {
  return import('./commands/settings.js').then(pick);
}

function service(name: 'peer-worker' | 'disk-writer' | 'tracker-client', usage: string): Promise<Loaded> {
  return import('./commands/service.js').then((m) => ({ run: m.serviceCommand(name), usage }));
}

/** The whole usage: every command's module is loaded for it (help is not on any hot path). */
async function usage(): Promise<string> {
  const lines = ['usage: seedbox <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(14)} ${c.summary}`);
  const loaded = await Promise.all(Object.values(COMMANDS).map((c) => c.load()));
  lines.push('', ...loaded.map((c) => `  ${c.usage}`));
  lines.push('', (await import('./control-client.js')).CONNECTION_HELP);
  return `${lines.join('\n')}\n`;
}

/**
 * Runs the CLI and answers the exit code. Every expected failure becomes one
 * line on stderr; only bugs escape as exceptions.
 */
export async function main(
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? err : out).write(await usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    err.write(`seedbox: unknown command '${name}'\n${await usage()}`);
    return 2;
  }
  try {
    return await (await command.load()).run(rest, out, err);
  } catch (e) {
    if (e instanceof CliError) {
      err.write(`seedbox ${name}: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
}

export { CliError, UsageError };
