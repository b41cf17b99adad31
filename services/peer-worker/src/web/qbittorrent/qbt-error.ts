import { SettingsError, type SettingsRule } from '@seedbox/cluster';
import { ControlError } from '../../control/backend.js';
import { WebRequestError } from '../web-request.js';
import type { QbtHandler } from './qbt-context.js';

/**
 * The refusals of the qBittorrent WebAPI, by qBittorrent's own kinds
 * (src/webui/api/apierror.h) and the status each gets in
 * webapplication.cpp, plus `unsupported` for what qBittorrent does and
 * this backend cannot (501, with the reason, rather than a silent 200).
 */
export type QbtErrorKind = 'bad-params' | 'bad-data' | 'not-found' | 'access-denied' | 'conflict' | 'unsupported';

const STATUS: Record<QbtErrorKind, number> = {
  'bad-params': 400,
  'access-denied': 403,
  'not-found': 404,
  conflict: 409,
  'bad-data': 415,
  unsupported: 501,
};

export class QbtError extends Error {
  override readonly name = 'QbtError';
  /** The HTTP status qBittorrent answers this kind with. */
  readonly status: number;
  constructor(
    readonly kind: QbtErrorKind,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.status = STATUS[kind];
  }
}

/** qBittorrent answers these rules with 409 Conflict ("Incorrect category name", "Unable to create category"); every other broken rule is a bad parameter. */
const CONFLICT_RULES: ReadonlySet<SettingsRule> = new Set(['unknown-category', 'category-exists', 'category-name']);

function settingsRuleOf(e: unknown): SettingsRule | undefined {
  if (e instanceof SettingsError) return e.rule;
  if (e instanceof ControlError && e.cause instanceof SettingsError) return e.cause.rule;
  return undefined;
}

/**
 * A backend or settings refusal as the WebAPI answers it (a QbtError, or
 * WebRequestError 503 for a backend that is unavailable), the rule's
 * sentence kept as the body; anything else is rethrown as it is.
 */
export function asQbtError(e: unknown): never {
  if (e instanceof WebRequestError || e instanceof QbtError) throw e;
  const rule = settingsRuleOf(e);
  if (rule !== undefined) throw new QbtError(CONFLICT_RULES.has(rule) ? 'conflict' : 'bad-params', (e as Error).message, { cause: e });
  if (e instanceof ControlError) {
    switch (e.code) {
      case 'invalid-argument':
        throw new QbtError('bad-params', e.message, { cause: e });
      case 'not-found':
        throw new QbtError('not-found', e.message, { cause: e });
      case 'already-exists':
        throw new QbtError('conflict', e.message, { cause: e });
      case 'unimplemented':
        throw new QbtError('unsupported', e.message, { cause: e });
      case 'unavailable':
        throw new WebRequestError(503, e.message, { cause: e });
    }
  }
  throw e;
}

/** Runs a backend call, turning its refusals into WebAPI answers. */
export async function backendCall<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    return asQbtError(e);
  }
}

/** An endpoint qBittorrent has for what this backend cannot do: 501 with the reason, rather than a 200 that did nothing. */
export function unsupported(reason: string): QbtHandler {
  return async () => {
    throw new QbtError('unsupported', reason);
  };
}
