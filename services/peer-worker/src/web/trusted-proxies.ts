import { BlockList, isIP } from 'node:net';
import { plainAddress } from './web-request.js';

/**
 * The client behind a reverse proxy. Behind an Ingress controller every
 * request comes from the controller's address, so failed logins counted
 * per socket address would let five wrong passwords from anyone ban
 * everyone. From a proxy the operator names as trusted, the client is the
 * nearest address in X-Forwarded-For that is not itself a trusted proxy
 * (read right to left, as each proxy appends the address it saw); from
 * anyone else the header is ignored, since a client can write anything
 * in it.
 */
export class TrustedProxies {
  private constructor(
    private readonly list: BlockList,
    readonly size: number,
  ) {}

  static readonly none = new TrustedProxies(new BlockList(), 0);

  /** Addresses and CIDR ranges, comma-separated; throws naming the entry that is neither. */
  static parse(text: string | undefined): TrustedProxies {
    const list = new BlockList();
    let size = 0;
    for (const raw of (text ?? '').split(',')) {
      const entry = raw.trim();
      if (entry === '') continue;
      const [address, prefix, extra] = entry.split('/');
      const family = isIP(address ?? '');
      const bits = prefix === undefined ? undefined : Number(prefix);
      const max = family === 6 ? 128 : 32;
      if (family === 0 || extra !== undefined || (bits !== undefined && !(Number.isInteger(bits) && bits >= 0 && bits <= max && /^\d+$/.test(prefix!)))) {
        throw new Error(`${JSON.stringify(entry)} is not an address or a CIDR range (such as 10.0.0.0/8 or fd00::/8)`);
      }
      const type = family === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) list.addAddress(address!, type);
      else list.addSubnet(address!, bits, type);
      size++;
    }
    return size === 0 ? TrustedProxies.none : new TrustedProxies(list, size);
  }

  private trusts(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }

  /** The address failed logins are counted against. */
  clientAddress(socketAddress: string, forwardedFor: string | string[] | undefined): string {
    let client = plainAddress(socketAddress);
    if (this.size === 0 || !this.trusts(client) || forwardedFor === undefined) return client;
    const hops = [forwardedFor]
      .flat()
      .join(',')
      .split(',')
      .map((h) => plainAddress(h.trim()))
      .filter((h) => h !== '');
    for (let i = hops.length - 1; i >= 0; i--) {
      // A hop that is not an address is where the chain stops being believable.
      if (isIP(hops[i]!) === 0) return client;
      client = hops[i]!;
      if (!this.trusts(client)) return client;
    }
    return client;
  }
}
