import { isBytes, isInt, isList, utf8OrUndefined, type BDict, type BValue } from './bencode.js';
import { normalizeHost } from './address.js';
import { TrackerError } from './tracker-error.js';
import type { AnnounceParams } from './tracker.js';

/**
 * Checks shared by the tracker codecs (tracker.ts, tracker-http.ts,
 * tracker-udp.ts). Internal to the package: index.ts does not re-export
 * this file.
 */

// ---- what a tracker sends us ----

/** 0.0.0.0 and :: name no host; a peer list entry with one is useless. */
export function isUnspecified(b: Uint8Array, offset: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (b[offset + i] !== 0) return false;
  return true;
}

/** How much of a tracker's text we keep in errors and warnings. */
const MAX_TEXT = 1024;

/**
 * A tracker's text for our logs: decoded as UTF-8 (latin1 when it is not),
 * cut to 1 KiB, control characters replaced, so a hostile tracker cannot
 * forge log lines or fill them.
 */
export function trackerText(bytes: Uint8Array): string {
  const text = utf8OrUndefined(bytes) ?? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > MAX_TEXT ? `${clean.slice(0, MAX_TEXT)}...` : clean;
}

/** How a value looks, for the error that says it has the wrong type. */
export function kindOf(v: BValue): string {
  if (isInt(v)) return `the integer ${v}`;
  if (isBytes(v)) return `a ${v.length}-byte string`;
  if (isList(v)) return 'a list';
  return 'a dictionary';
}

/**
 * The refusal in a bencoded tracker reply (announce or scrape), if it has
 * one: `failure reason` as TRACKER_FAILURE, with BEP 31 `retry in`
 * (minutes, or 'never') when it is well formed.
 */
export function trackerFailure(d: BDict, what: 'announce' | 'scrape'): TrackerError | undefined {
  const failure = d.get('failure reason');
  if (failure === undefined) return undefined;
  if (!isBytes(failure)) return new TrackerError('TRACKER_BAD_RESPONSE', `'failure reason' is ${kindOf(failure)}, not a string`);
  const reason = trackerText(failure);
  const retry = d.get('retry in');
  let retryIn: number | 'never' | undefined;
  if (isInt(retry) && retry >= 0) retryIn = retry;
  else if (isBytes(retry) && Buffer.from(retry).toString('latin1') === 'never') retryIn = 'never';
  return new TrackerError('TRACKER_FAILURE', `tracker refused the ${what}: ${reason}`, {
    failureReason: reason,
    ...(retryIn === undefined ? {} : { retryIn }),
  });
}

// ---- argument checks for our own callers ----

export function checkAnnounceParams(p: AnnounceParams): void {
  checkBytes('infoHash', p.infoHash, 20);
  checkBytes('peerId', p.peerId, 20);
  checkInt('port', p.port, 1, 65535);
  checkInt('uploaded', p.uploaded, 0, Number.MAX_SAFE_INTEGER);
  checkInt('downloaded', p.downloaded, 0, Number.MAX_SAFE_INTEGER);
  checkInt('left', p.left, 0, Number.MAX_SAFE_INTEGER);
  if (p.numWant !== undefined) checkInt('numWant', p.numWant, 0, 0x7fffffff);
  if (p.key !== undefined) checkInt('key', p.key, 0, 0xffffffff);
  if (p.ip !== undefined && normalizeHost(p.ip) === undefined) {
    throw new TrackerError('TRACKER_BAD_FIELD', `ip '${p.ip}' is not an IP address or host name`);
  }
}

function checkBytes(field: string, v: Uint8Array, length: number): void {
  if (!(v instanceof Uint8Array) || v.length !== length) {
    throw new TrackerError('TRACKER_BAD_FIELD', `${field} must be ${length} bytes`);
  }
}

export function checkInt(field: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new TrackerError('TRACKER_BAD_FIELD', `${field} is ${v}, not an integer in ${min}..${max}`);
  }
}
