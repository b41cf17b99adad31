import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from './log.js';

/**
 * Start-up failures as one line naming the setting, for the services and
 * `seedbox serve`: a port in use is `SEEDBOX_GRPC_PORT (--grpc-port)
 * 50051: cannot listen: address already in use`, not a stack trace.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
  constructor(
    /** The setting at fault, as `SEEDBOX_X (--x)`. */
    readonly setting: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Starts something that listens; a failure becomes a StartupError naming the setting and the reason. */
export async function listenOrExplain<T>(setting: string, value: string | number, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (e) {
    // grpc-js gives no errno code: the cause is inside its message.
    const code = (e as NodeJS.ErrnoException).code ?? /\b(EADDRINUSE|EACCES|EADDRNOTAVAIL)\b/.exec((e as Error).message)?.[1];
    const why =
      code === 'EADDRINUSE' ? 'address already in use' : code === 'EACCES' ? 'permission denied' : code === 'EADDRNOTAVAIL' ? 'no such address here' : (e as Error).message;
    throw new StartupError(setting, `${setting} ${value}: cannot listen: ${why}`, { cause: e });
  }
}

/** Reads a file a setting names (a certificate, a key, a credentials file); a failure is a StartupError naming the setting. */
export async function readSettingFile(setting: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a folder, not a file' : (e as Error).message;
    throw new StartupError(setting, `${setting} ${path}: cannot read: ${why}`, { cause: e });
  }
}

/** grpc-js writes its own lines to stderr (a port in use, twice); they go to the JSON log instead. */
export function routeGrpcLogs(log: Logger): void {
  grpc.setLogger({ error: (...parts: unknown[]) => log.warn('grpc', { message: parts.map(String).join(' ') }) } as unknown as Partial<Console>);
}

/** Makes something from a setting's value; a failure (the value cannot be honoured here) is a StartupError naming the setting. */
export function settingOrExplain<T>(setting: string, value: string | number, make: () => T): T {
  try {
    return make();
  } catch (e) {
    throw new StartupError(setting, `${setting} ${value}: ${(e as Error).message}`, { cause: e });
  }
}
