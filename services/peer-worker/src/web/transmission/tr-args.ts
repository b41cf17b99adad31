import { SettingsError } from '@seedbox/cluster';
import { ControlError } from '../../control/backend.js';
import { WebRequestError } from '../web-request.js';

/**
 * The arguments of one Transmission RPC request, read with their types
 * checked, and the sentence a refusal puts in the answer's `result`.
 *
 * Transmission itself skips an argument of the wrong type without a word;
 * here it is refused, naming the argument and what it must be, so a client
 * that sends `"downloadLimit": "100"` learns why nothing changed.
 */

/** What a refusal is about: the rule broken, for logs and tests; the message is what the client reads. */
export type TrRule =
  /** An argument of the wrong type or out of its range. */
  | 'argument'
  /** A request without `method`, or not JSON at all. */
  | 'request'
  /** `ids` names torrents in a form Transmission does not have. */
  | 'ids'
  /** The request asks for something seedbox does not do (DHT, a blocklist, renaming files...). */
  | 'unsupported';

export class TrRpcError extends Error {
  override readonly name = 'TrRpcError';
  constructor(
    readonly rule: TrRule,
    message: string,
  ) {
    super(message);
  }
}

export type TrArgs = Readonly<Record<string, unknown>>;

function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}...` : s;
}

function wrongType(key: string, what: string, v: unknown): TrRpcError {
  return new TrRpcError('argument', `argument "${key}" must be ${what} (got ${shown(v)})`);
}

/** A boolean; Transmission's own parser takes 0 and 1 for one as well. */
export function optBool(args: TrArgs, key: string): boolean | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 0 || v === 1) return v === 1;
  throw wrongType(key, 'true or false', v);
}

export function optInt(args: TrArgs, key: string): number | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  throw wrongType(key, 'a whole number', v);
}

export function optNumber(args: TrArgs, key: string): number | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  throw wrongType(key, 'a number', v);
}

export function optString(args: TrArgs, key: string): string | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  throw wrongType(key, 'a string', v);
}

export function optIntList(args: TrArgs, key: string): number[] | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isSafeInteger(x))) return v as number[];
  throw wrongType(key, 'a list of whole numbers', v);
}

export function optStringList(args: TrArgs, key: string): string[] | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw wrongType(key, 'a list of strings', v);
}

/** The settings rule behind a refusal, if one is: the error itself or what caused it (the backend wraps it in a ControlError). */
function settingsRule(error: unknown): SettingsError | undefined {
  if (error instanceof SettingsError) return error;
  if (error instanceof ControlError && error.cause instanceof SettingsError) return error.cause;
  return undefined;
}

/**
 * The `result` sentence for a failure a client caused or should know of,
 * or undefined for an unexpected one (a bug, or the fleet unreachable),
 * which the caller logs before answering its message. A settings rule is
 * named first ("speed-limit: ..."), as the gRPC API does.
 */
export function refusalText(error: unknown): string | undefined {
  const rule = settingsRule(error);
  if (rule) return `${rule.rule}: ${rule.message}`;
  if (error instanceof TrRpcError || error instanceof ControlError || error instanceof WebRequestError) return error.message;
  return undefined;
}
