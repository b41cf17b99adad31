import { describe, expect, it } from 'vitest';
import { TrustedProxies } from '../src/web/trusted-proxies.js';
import { trustedProxiesOf } from '../src/web/web-settings.js';

describe('TrustedProxies', () => {
  const proxies = TrustedProxies.parse('10.213.5.0/24, 10.213.6.9 ,fd00::/8');

  it('ignores X-Forwarded-For from anyone it does not trust', () => {
    expect(proxies.clientAddress('10.213.7.1', '1.2.3.4')).toBe('10.213.7.1');
    expect(TrustedProxies.none.clientAddress('::ffff:10.213.5.1', '1.2.3.4')).toBe('10.213.5.1');
  });

  it('takes the nearest untrusted hop behind trusted proxies, right to left', () => {
    expect(proxies.clientAddress('::ffff:10.213.5.7', '203.0.113.9')).toBe('203.0.113.9');
    // A client that forged a first hop: the hop the proxy appended wins.
    expect(proxies.clientAddress('10.213.5.7', '6.6.6.6, 203.0.113.9, 10.213.6.9')).toBe('203.0.113.9');
    expect(proxies.clientAddress('fd00::1', ['203.0.113.10', '10.213.5.1'])).toBe('203.0.113.10');
    // Only proxies in the chain: the leftmost is the best known.
    expect(proxies.clientAddress('10.213.5.7', '10.213.6.9')).toBe('10.213.6.9');
    // Not an address: the chain is not believed past it.
    expect(proxies.clientAddress('10.213.5.7', 'unknown, 10.213.5.8')).toBe('10.213.5.8');
    expect(proxies.clientAddress('10.213.5.7', undefined)).toBe('10.213.5.7');
  });

  it('refuses an entry that is not an address or a range, naming the setting', () => {
    for (const bad of ['10.0.0.0/33', 'proxy.local', '10.0.0.0/8/1', '10.0.0.0/x', 'fd00::/129']) {
      expect(() => TrustedProxies.parse(bad), bad).toThrow(/is not an address or a CIDR range/);
    }
    expect(() => trustedProxiesOf({ webPort: 8080, webTrustedProxies: 'nope' })).toThrow(/^SEEDBOX_WEB_TRUSTED_PROXIES \(--web-trusted-proxies\): "nope" is not/);
    expect(TrustedProxies.parse(' , ')).toBe(TrustedProxies.none);
  });
});
