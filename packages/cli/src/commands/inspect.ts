import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isMagnetUri, parseMagnet, parseMetainfo, ProtocolError, type Metainfo } from '@seedbox/protocol';
import { CliError, UsageError } from '../cli-error.js';
import { formatBytes } from '../format.js';

export const inspectUsage = 'seedbox inspect <file.torrent | magnet-uri> [--json]';

/** What `inspect --json` prints. Fields a magnet URI cannot know are null. */
export interface InspectJson {
  name: string | null;
  infoHash: string;
  pieceLength: number | null;
  pieceCount: number | null;
  totalLength: number | null;
  private: boolean | null;
  announce: string[][];
  files: { path: string; length: number }[] | null;
}

export async function inspect(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}; usage: ${inspectUsage}`);
  }
  const target = parsed.positionals[0];
  if (target === undefined || parsed.positionals.length > 1) throw new UsageError(`usage: ${inspectUsage}`);

  const info = isMagnetUri(target) ? inspectMagnet(target) : await inspectFile(target);
  if (parsed.values.json) {
    out.write(`${JSON.stringify(info)}\n`);
  } else {
    out.write(formatText(info));
  }
  return 0;
}

function inspectMagnet(uri: string): InspectJson {
  try {
    const m = parseMagnet(uri);
    return {
      name: m.displayName ?? null,
      infoHash: m.infoHashHex,
      pieceLength: null,
      pieceCount: null,
      totalLength: null,
      private: null,
      announce: m.trackers.map((t) => [t]),
      files: null,
    };
  } catch (err) {
    if (err instanceof ProtocolError) throw new CliError(`bad magnet URI: ${err.message}`);
    throw err;
  }
}

/** Reads and parses a .torrent file, turning every failure into one clear line. */
export async function loadTorrentFile(path: string): Promise<Metainfo> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new CliError(`${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  try {
    return parseMetainfo(bytes);
  } catch (err) {
    if (err instanceof ProtocolError) throw new CliError(`${path}: ${err.message}`);
    throw err;
  }
}

async function inspectFile(path: string): Promise<InspectJson> {
  const meta = await loadTorrentFile(path);
  return {
    name: meta.name,
    infoHash: meta.infoHashHex,
    pieceLength: meta.pieceLength,
    pieceCount: meta.pieceCount,
    totalLength: meta.totalLength,
    private: meta.private,
    announce: meta.announce,
    files: meta.files.filter((f) => !f.padding).map((f) => ({ path: f.path.join('/'), length: f.length })),
  };
}

function formatText(i: InspectJson): string {
  const lines = [
    `name:          ${i.name ?? '(unknown)'}`,
    `info hash:     ${i.infoHash}`,
  ];
  if (i.totalLength !== null) {
    lines.push(
      `total length:  ${formatBytes(i.totalLength)} (${i.totalLength} bytes)`,
      `piece length:  ${formatBytes(i.pieceLength ?? 0)} (${i.pieceLength} bytes)`,
      `pieces:        ${i.pieceCount}`,
      `private:       ${i.private ? 'yes' : 'no'}`,
    );
  }
  if (i.announce.length === 0) lines.push('trackers:      none');
  i.announce.forEach((tier, n) => lines.push(`${`tier ${n}:`.padEnd(15)}${tier.join(' ')}`));
  if (i.files) {
    lines.push(`files (${i.files.length}):`);
    // Numbered as `seedbox download --only/--skip` takes them.
    const width = String(i.files.length - 1).length;
    i.files.forEach((f, n) => lines.push(`  ${String(n).padStart(width)}  ${f.path}  ${formatBytes(f.length)}`));
  }
  return `${lines.join('\n')}\n`;
}
