import { lookup as dnsLookup } from 'node:dns/promises';
import { normalizeHost } from '@seedbox/protocol';
import type { DhtLog } from './dht-rpc.js';
import { addressFamily, addressKey } from './node-id.js';
import type { LookupContact } from './lookup.js';

/**
 * Bootstrap routers (router.bittorrent.com:6881 and the like) as contacts:
 * names are resolved once when the node starts. A name that does not
 * resolve is a warning, not a failure: the saved table or the other
 * routers may be enough, and a DHT node that refuses to start because one
 * router's name is gone would be worse than one that starts empty.
 */

export interface BootstrapAddress {
  host: string;
  port: number;
}

export type HostResolver = (host: string) => Promise<{ address: string; family: number }[]>;

/** Addresses kept per name: routers publish a few, and a few are enough. */
const MAX_ADDRESSES_PER_NAME = 4;

export const defaultResolver: HostResolver = (host) => dnsLookup(host, { all: true, verbatim: true });

export async function resolveBootstrap(
  routers: readonly BootstrapAddress[],
  families: readonly (4 | 6)[],
  resolve: HostResolver,
  log?: DhtLog,
): Promise<LookupContact[]> {
  const out = new Map<string, LookupContact>();
  await Promise.all(
    routers.map(async (r) => {
      if (!Number.isInteger(r.port) || r.port < 1 || r.port > 65535) {
        log?.warn('dht bootstrap router has no valid port', { host: r.host, port: r.port });
        return;
      }
      const literal = normalizeHost(r.host);
      let addresses: string[];
      if (literal && (literal.includes(':') || /^[0-9.]+$/.test(literal))) {
        addresses = [literal];
      } else {
        try {
          addresses = (await resolve(r.host)).map((a) => a.address).slice(0, MAX_ADDRESSES_PER_NAME);
        } catch (e) {
          log?.warn('dht bootstrap router name does not resolve', { host: r.host, error: (e as Error).message });
          return;
        }
      }
      for (const a of addresses) {
        const host = normalizeHost(a) ?? a;
        if (families.includes(addressFamily(host))) out.set(addressKey(host, r.port), { host, port: r.port });
      }
    }),
  );
  return [...out.values()];
}
