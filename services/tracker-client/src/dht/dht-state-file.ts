import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { normalizeHost } from '@seedbox/protocol';
import { DhtStateFileError } from './dht-errors.js';
import { idFromHex, idToHex, type NodeContact } from './node-id.js';

/**
 * The routing table between runs: our node id and the nodes we knew, so a
 * restarted node rejoins through them instead of the public bootstrap
 * routers (which may be down, and which everyone leans on too much).
 *
 * The id is kept because the table is only meaningful around it: a node
 * coming back under a new id would have a table of the wrong shape, and the
 * peers announced to it would be stored under the wrong part of the space.
 *
 * JSON, one small file, written atomically (a temporary file in the same
 * directory, fsynced, then renamed over the old one) so a crash mid-write
 * leaves the previous table, never half of one.
 */

export interface SavedDhtState {
  nodeId: Uint8Array;
  nodes: NodeContact[];
}

const VERSION = 1;
/** A table holds at most 160 × 8 live nodes per family; anything beyond is not ours. */
const MAX_SAVED_NODES = 2 * 160 * 8;

type SavedNode = [idHex: string, host: string, port: number];

/** The saved state, or undefined when there is no file. Throws DhtStateFileError when the file cannot be used. */
export async function loadDhtState(path: string): Promise<SavedDhtState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DhtStateFileError(path, `cannot be read (${(e as Error).message})`, e);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new DhtStateFileError(path, 'is not JSON', e);
  }
  if (typeof doc !== 'object' || doc === null) throw new DhtStateFileError(path, 'is not a JSON object');
  const { version, nodeId, nodes } = doc as Record<string, unknown>;
  if (version !== VERSION) throw new DhtStateFileError(path, `has version ${String(version)}, expected ${VERSION}`);
  const id = typeof nodeId === 'string' ? idFromHex(nodeId) : undefined;
  if (!id) throw new DhtStateFileError(path, 'has no valid nodeId (40 hex digits)');
  if (!Array.isArray(nodes)) throw new DhtStateFileError(path, "has no 'nodes' list");
  // One bad entry does not cost the others: entries are skipped, not the file.
  const out: NodeContact[] = [];
  for (const n of nodes.slice(0, MAX_SAVED_NODES)) {
    const contact = readNode(n);
    if (contact) out.push(contact);
  }
  return { nodeId: id, nodes: out };
}

function readNode(n: unknown): NodeContact | undefined {
  if (!Array.isArray(n) || n.length !== 3) return undefined;
  const [idHex, host, port] = n as unknown[];
  const id = typeof idHex === 'string' ? idFromHex(idHex) : undefined;
  const h = typeof host === 'string' ? normalizeHost(host) : undefined;
  // Only IP literals: a saved node is an address we talked to, never a name.
  if (!id || !h || !(/^[0-9.]+$/.test(h) || h.includes(':'))) return undefined;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { id, host: h, port };
}

/** Writes the state atomically (temporary file + rename). */
export async function saveDhtState(path: string, state: SavedDhtState): Promise<void> {
  const doc = {
    version: VERSION,
    nodeId: idToHex(state.nodeId),
    nodes: state.nodes.slice(0, MAX_SAVED_NODES).map((n): SavedNode => [idToHex(n.id), n.host, n.port]),
  };
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(`${JSON.stringify(doc)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
