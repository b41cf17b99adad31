import { describe, expect, it } from 'vitest';
import { StartupError } from '@seedbox/runtime';
import { WebAuth } from '../src/web/web-auth.js';
import { webAuthOf, webHost } from '../src/web/web-settings.js';

const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('WebAuth', () => {
  it('takes the right password and refuses a wrong one or a wrong user', () => {
    const auth = new WebAuth({ username: 'admin', password: 's3cret' });
    expect(auth.required).toBe(true);
    expect(auth.login('admin', 's3cret', '10.213.7.1')).toBe('ok');
    expect(auth.login('admin', 'nope', '10.213.7.1')).toBe('bad');
    expect(auth.login('root', 's3cret', '10.213.7.1')).toBe('bad');
    expect(auth.login('admin', 's3cret ', '10.213.7.1')).toBe('bad');
  });

  it('bans an address after five failures in a row for an hour, even with the right password, and not its neighbours', () => {
    let now = 1_000_000;
    const auth = new WebAuth({ username: 'a', password: 'b' }, { now: () => now });
    for (let i = 0; i < 4; i++) expect(auth.login('a', 'x', '10.213.7.2')).toBe('bad');
    expect(auth.login('a', 'x', '10.213.7.2')).toBe('banned');
    expect(auth.login('a', 'b', '10.213.7.2')).toBe('banned');
    expect(auth.checkBasic(basic('a', 'b'), '10.213.7.2')).toBe('banned');
    expect(auth.login('a', 'b', '10.213.7.3')).toBe('ok');
    now += 3_600_001;
    expect(auth.isBanned('10.213.7.2')).toBe(false);
    expect(auth.login('a', 'b', '10.213.7.2')).toBe('ok');
  });

  it('a success clears the count of failures', () => {
    const auth = new WebAuth({ username: 'a', password: 'b' });
    for (let i = 0; i < 4; i++) auth.login('a', 'x', '10.213.7.4');
    expect(auth.login('a', 'b', '10.213.7.4')).toBe('ok');
    for (let i = 0; i < 4; i++) expect(auth.login('a', 'x', '10.213.7.4')).toBe('bad');
  });

  it('sessions: signed, expiring, renewed past half their life, revocable, and valid on another replica with the same credentials only', () => {
    let now = 5_000_000;
    const a = new WebAuth({ username: 'u', password: 'p' }, { now: () => now, sessionTtlMs: 60_000 });
    const replica = new WebAuth({ username: 'u', password: 'p' }, { now: () => now, sessionTtlMs: 60_000 });
    const other = new WebAuth({ username: 'u', password: 'changed' }, { now: () => now, sessionTtlMs: 60_000 });
    const sid = a.issueSession();
    expect(a.verifySession(sid)).toEqual({ valid: true });
    expect(replica.verifySession(sid)).toEqual({ valid: true });
    expect(other.verifySession(sid).valid).toBe(false);
    expect(a.verifySession(sid.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))).valid).toBe(false);
    expect(a.verifySession('garbage').valid).toBe(false);
    expect(a.verifySession(undefined).valid).toBe(false);
    now += 40_000;
    const later = a.verifySession(sid);
    expect(later.valid).toBe(true);
    expect(later.renewed).toBeDefined();
    now += 30_000;
    expect(a.verifySession(sid).valid).toBe(false);
    expect(a.verifySession(later.renewed).valid).toBe(true);
    a.revoke(later.renewed!);
    expect(a.verifySession(later.renewed).valid).toBe(false);
  });

  it('API keys and Basic auth', () => {
    const auth = new WebAuth({ apiKeys: ['k1', 'k2'] });
    expect(auth.required).toBe(true);
    expect(auth.checkApiKey('k2')).toBe(true);
    expect(auth.checkApiKey('k3')).toBe(false);
    expect(auth.checkApiKey('')).toBe(false);
    // No password configured: no user name and password can log in.
    expect(auth.login('', '', '10.213.7.5')).toBe('bad');
    const withPassword = new WebAuth({ username: 'u', password: 'p:q' });
    expect(withPassword.checkBasic(basic('u', 'p:q'), '10.213.7.6')).toBe('ok');
    expect(withPassword.checkBasic(basic('u', 'p'), '10.213.7.6')).toBe('bad');
    expect(withPassword.checkBasic(undefined, '10.213.7.6')).toBe('missing');
    expect(withPassword.checkBasic('Bearer x', '10.213.7.6')).toBe('missing');
  });

  it('the Transmission session id is the same on every replica with the same credentials, and differs otherwise', () => {
    expect(new WebAuth({ username: 'u', password: 'p' }).transmissionSessionId).toBe(new WebAuth({ username: 'u', password: 'p' }).transmissionSessionId);
    expect(new WebAuth({ username: 'u', password: 'p' }).transmissionSessionId).not.toBe(new WebAuth({ username: 'u', password: 'q' }).transmissionSessionId);
    expect(new WebAuth({}).required).toBe(false);
  });
});

describe('the web APIs start-up rules', () => {
  const cfg = { webPort: 8080 };
  it('listens on loopback without credentials, anywhere with them, and refuses a wide address without them', () => {
    expect(webHost(cfg, webAuthOf(cfg))).toBe('127.0.0.1');
    const withLogin = { ...cfg, webUsername: 'u', webPassword: 'p' };
    expect(webHost(withLogin, webAuthOf(withLogin))).toBe('0.0.0.0');
    expect(webHost({ ...cfg, webHost: '::1' }, webAuthOf(cfg))).toBe('::1');
    expect(() => webHost({ ...cfg, webHost: '0.0.0.0' }, webAuthOf(cfg))).toThrow(StartupError);
    expect(() => webHost({ ...cfg, webHost: '0.0.0.0' }, webAuthOf(cfg))).toThrow(/^SEEDBOX_WEB_HOST \(--web-host\) 0\.0\.0\.0: /);
    const keysOnly = { ...cfg, webHost: '0.0.0.0', webApiKeys: ' k1 , ,k2' };
    expect(webHost(keysOnly, webAuthOf(keysOnly))).toBe('0.0.0.0');
    expect(webAuthOf(keysOnly).checkApiKey('k2')).toBe(true);
  });

  it('a user name without a password (or the reverse) names the missing setting', () => {
    expect(() => webAuthOf({ ...cfg, webUsername: 'u' })).toThrow(/^SEEDBOX_WEB_PASSWORD \(--web-password\) is not set/);
    expect(() => webAuthOf({ ...cfg, webPassword: 'p' })).toThrow(/^SEEDBOX_WEB_USERNAME \(--web-username\) is not set/);
  });
});
