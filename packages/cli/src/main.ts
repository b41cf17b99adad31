import { CliError, UsageError } from './cli-error.js';
import { CONNECTION_HELP } from './control-client.js';
import { add, addUsage } from './commands/add.js';
import { ls, lsUsage, pause, pauseUsage, recheck, recheckUsage, resume, resumeUsage, rm, rmUsage, watch, watchUsage } from './commands/control.js';
import { download, downloadUsage } from './commands/download.js';
import { category, categoryUsage, config, configUsage, get, getUsage, move, moveUsage, queue, queueUsage, set, setUsage } from './commands/settings.js';
import { inspect, inspectUsage } from './commands/inspect.js';
import { seed, seedUsage } from './commands/seed.js';
import { serviceCommand } from './commands/service.js';

type Command = (argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream) => Promise<number>;

const COMMANDS: Record<string, { run: Command; usage: string; summary: string }> = {
  inspect: { run: inspect, usage: inspectUsage, summary: 'print what a torrent file or magnet URI holds' },
  download: { run: download, usage: downloadUsage, summary: 'download a torrent in this process (embedded mode)' },
  seed: { run: seed, usage: seedUsage, summary: 'check data on disk and seed it until stopped' },
  serve: { run: (argv, out) => import('./serve/serve.js').then((m) => m.serve(argv, out)), usage: 'seedbox serve --data DIR [--watch-dir DIR] [--help for every option]', summary: 'the one-machine seedbox: a daemon driven by the control API' },
  // A daemon (serve) or the fleet, over the gRPC control API (--server, else SEEDBOX_SERVER, else 127.0.0.1:50051; --token, TLS: CONNECTION_HELP).
  add: { run: add, usage: addUsage, summary: 'add torrents to the fleet (many files in batches)' },
  ls: { run: ls, usage: lsUsage, summary: "list the fleet's torrents (--long: everything about each)" },
  get: { run: get, usage: getUsage, summary: 'print everything about one torrent: settings, limits, files' },
  set: { run: set, usage: setUsage, summary: "change a torrent's settings: category, tags, limits, file priorities..." },
  move: { run: move, usage: moveUsage, summary: "move a torrent's data to another folder in the data folder" },
  queue: { run: queue, usage: queueUsage, summary: 'move torrents in the queue order' },
  config: { run: config, usage: configUsage, summary: "print or change the fleet's config: speed limits, queueing, share limits" },
  category: { run: category, usage: categoryUsage, summary: 'list, add, edit or remove categories' },
  rm: { run: rm, usage: rmUsage, summary: 'remove a torrent from the fleet' },
  pause: { run: pause, usage: pauseUsage, summary: 'pause a torrent' },
  resume: { run: resume, usage: resumeUsage, summary: 'resume a paused torrent' },
  recheck: { run: recheck, usage: recheckUsage, summary: 'check a torrent\'s data again, hashing every piece' },
  watch: { run: watch, usage: watchUsage, summary: "print the fleet's statistics every tick until stopped" },
  // The services of the distributed mode (as `node services/<name>/dist/main.js`); --help lists their options.
  'peer-worker': { run: serviceCommand('peer-worker'), usage: 'seedbox peer-worker [--help] [options]', summary: 'run a peer-worker (distributed mode)' },
  'disk-writer': { run: serviceCommand('disk-writer'), usage: 'seedbox disk-writer [--help] [options]', summary: 'run a disk-writer (distributed mode)' },
  'tracker-client': { run: serviceCommand('tracker-client'), usage: 'seedbox tracker-client [--help] [options]', summary: 'run the tracker-client (distributed mode)' },
};

function usage(): string {
  const lines = ['usage: seedbox <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(14)} ${c.summary}`);
  lines.push('', ...Object.values(COMMANDS).map((c) => `  ${c.usage}`));
  lines.push('', CONNECTION_HELP);
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
    (name === undefined ? err : out).write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    err.write(`seedbox: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest, out, err);
  } catch (e) {
    if (e instanceof CliError) {
      err.write(`seedbox ${name}: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
}

export { CliError, UsageError };
