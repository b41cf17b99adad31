import { describe, expect, it } from 'vitest';
// Through index.ts: these are part of the package's public surface.
import { formatPeerAddress, parseHostPort, peerKey, type PeerAddress } from '../src/index.js';

describe('formatPeerAddress', () => {
  it('writes IPv4 and DNS names as host:port', () => {
    expect(formatPeerAddress('10.213.9.7', 6881)).toBe('10.213.9.7:6881');
    expect(formatPeerAddress('peer.example', 51413)).toBe('peer.example:51413');
  });

  it('brackets IPv6 addresses', () => {
    expect(formatPeerAddress('::1', 6881)).toBe('[::1]:6881');
    expect(formatPeerAddress('2001:db8::2', 80)).toBe('[2001:db8::2]:80');
  });

  it('is what peerKey is', () => {
    expect(peerKey).toBe(formatPeerAddress);
  });

  it('round-trips through parseHostPort', () => {
    const peers: PeerAddress[] = [
      { host: '10.213.9.7', port: 6881 },
      { host: '::1', port: 1 },
      { host: '2001:db8::ff00:42:8329', port: 65535 },
      { host: 'peer.example', port: 51413 },
    ];
    for (const peer of peers) {
      const text = formatPeerAddress(peer.host, peer.port);
      expect(parseHostPort(text)).toEqual(peer);
      const back = parseHostPort(text)!;
      expect(formatPeerAddress(back.host, back.port)).toBe(text);
    }
  });

  it('parseHostPort refuses an unbracketed IPv6 address and port 0', () => {
    expect(parseHostPort('::1:6881')).toBeUndefined();
    expect(parseHostPort('10.213.9.7:0')).toBeUndefined();
  });
});
