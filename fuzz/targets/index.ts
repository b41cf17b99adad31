import type { FuzzTarget } from '../target.js';
import { krpc } from './krpc.js';
import { mse } from './mse.js';
import { natsWire, pieceDataFrame } from './piece-bus.js';
import { PROTOCOL_TARGETS } from './protocol.js';
import { WEB_TARGETS } from './web.js';

/**
 * Every decoder `npm run fuzz` runs, in the order it runs them. A new
 * decoder of outside bytes (the MSE handshake, KRPC for the DHT) is one
 * more entry here: a FuzzTarget with its seeds, the function to call and
 * its typed error; see target.ts, and targets/protocol.ts for examples.
 */
export const TARGETS: readonly FuzzTarget[] = [...PROTOCOL_TARGETS, mse, krpc, natsWire, pieceDataFrame, ...WEB_TARGETS];

export function findTargets(names: readonly string[] | undefined): FuzzTarget[] {
  if (!names || names.length === 0) return [...TARGETS];
  return names.map((n) => {
    const t = TARGETS.find((x) => x.name === n);
    if (!t) throw new Error(`no fuzz target '${n}'; the targets are: ${TARGETS.map((x) => x.name).join(', ')}`);
    return t;
  });
}
