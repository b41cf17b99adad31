import type { Msg, NatsConnection } from 'nats';

/**
 * Requests to the disk-writers, the only services that change the shared
 * volume: delete a torrent's content, move it to another save folder.
 * JSON bodies; the answer is `ok` or `error: <why>`. A bare info hash is
 * still taken as a delete of a torrent in its own folder (the request
 * before save folders existed).
 */

export interface DeleteRequest {
  infoHash: string;
  name?: string | undefined;
  savePath?: string | undefined;
}

export interface MoveRequest {
  infoHash: string;
  name: string;
  from?: string | undefined;
  to: string;
}

/** Sends one and waits for its answer; throws with the writer's reason. */
export async function storageRequest(nc: NatsConnection, subject: string, body: DeleteRequest | MoveRequest, timeoutMs = 120_000): Promise<void> {
  const reply = await nc.request(subject, new TextEncoder().encode(JSON.stringify(body)), { timeout: timeoutMs });
  const answer = new TextDecoder().decode(reply.data);
  if (answer !== 'ok') throw new Error(answer.replace(/^error: /, ''));
}

export class StorageRequestError extends Error {
  override readonly name = 'StorageRequestError';
}

const HEX40 = /^[0-9a-f]{40}$/;

const optionalString = (v: unknown, field: string): string | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new StorageRequestError(`${field} must be a string`);
  return v;
};

/** Reads a delete request (JSON, or a bare info hash); StorageRequestError names what is wrong. */
export function parseDeleteRequest(data: Uint8Array): DeleteRequest {
  const text = new TextDecoder().decode(data).trim();
  if (HEX40.test(text.toLowerCase())) return { infoHash: text.toLowerCase() };
  const o = parseObject(text);
  const infoHash = infoHashOf(o.infoHash);
  const name = optionalString(o.name, 'name');
  const savePath = optionalString(o.savePath, 'savePath');
  if (savePath !== undefined && name === undefined) throw new StorageRequestError('a delete in a save folder needs the torrent\'s name');
  return { infoHash, name, savePath };
}

export function parseMoveRequest(data: Uint8Array): MoveRequest {
  const o = parseObject(new TextDecoder().decode(data));
  const name = optionalString(o.name, 'name');
  const to = optionalString(o.to, 'to');
  if (name === undefined || to === undefined) throw new StorageRequestError('a move needs the torrent\'s name and the folder to move to');
  return { infoHash: infoHashOf(o.infoHash), name, from: optionalString(o.from, 'from'), to };
}

function parseObject(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new StorageRequestError(`'${text.slice(0, 60)}' is neither an info hash nor JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new StorageRequestError('the request must be a JSON object');
  return v as Record<string, unknown>;
}

function infoHashOf(v: unknown): string {
  if (typeof v !== 'string' || !HEX40.test(v.toLowerCase())) throw new StorageRequestError(`'${String(v).slice(0, 60)}' is not an info hash`);
  return v.toLowerCase();
}

/** Answers a request with `ok` or `error: <message>`. */
export function answerStorageRequest(msg: Msg, error?: Error): void {
  msg.respond(new TextEncoder().encode(error ? `error: ${error.message}` : 'ok'));
}
