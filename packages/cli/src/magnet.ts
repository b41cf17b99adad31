import { parseMagnet, ProtocolError, type Magnet } from '@seedbox/protocol';
import { CliError } from './cli-error.js';

/**
 * A magnet URI from the command line, or one line naming what is wrong
 * with it. Fetching its metadata is the engine's (the one resolver the
 * fleet uses too: see the peer-worker's magnet-resolver.ts).
 */
export function parseMagnetArg(uri: string): Magnet {
  try {
    return parseMagnet(uri);
  } catch (err) {
    if (err instanceof ProtocolError) throw new CliError(`bad magnet URI: ${err.message}`);
    throw err;
  }
}
