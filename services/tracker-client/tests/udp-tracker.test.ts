import dgram from 'node:dgram';
import { TrackerError, UDP_PROTOCOL_ID, type AnnounceParams } from '@seedbox/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { UdpTrackerClient, type UdpTrackerOptions } from '../src/udp-tracker.js';
import { startUdpStub, type UdpBehaviour } from './support/stub-trackers.js';

const params: AnnounceParams = {
  infoHash: new Uint8Array(20).fill(9),
  peerId: new Uint8Array(20).fill(8),
  port: 6881,
  uploaded: 1,
  downloaded: 2,
  left: 3,
  event: 'started',
  key: 5,
};

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((f) => f()));
});

async function setup(behaviour: UdpBehaviour, options: UdpTrackerOptions = {}, peers: { host: string; port: number }[] = []) {
  const stub = await startUdpStub(behaviour, peers);
  const client = new UdpTrackerClient({ retransmitBaseMs: 40, maxRetransmits: 2, ...options });
  cleanup.push(() => stub.close(), () => client.close());
  return { stub, client };
}

const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'no error';
  } catch (e) {
    expect(e).toBeInstanceOf(TrackerError);
    return (e as TrackerError).code;
  }
};

describe('UdpTrackerClient', () => {
  it('connects, then announces with the connection id it was given, and reads the peers', async () => {
    const { stub, client } = await setup('good', {}, [{ host: '10.0.0.3', port: 51413 }]);
    const r = await client.announce(stub.url, params);
    expect(r).toEqual({ interval: 1800, complete: 1, incomplete: 1, peers: [{ host: '10.0.0.3', port: 51413 }], invalidPeers: 0 });
    const [connect, announce] = stub.received;
    expect(connect!.action).toBe(0);
    expect(connect!.packet.readBigUInt64BE(0)).toBe(UDP_PROTOCOL_ID);
    expect(announce!.action).toBe(1);
    expect(announce!.packet.readBigUInt64BE(0)).toBe(0x1000n); // the stub's first connection id
    expect(announce!.packet.readUInt32BE(80)).toBe(2); // started
    expect(announce!.packet.length).toBe(98); // `/announce` is not worth BEP 41 options
  });

  it('reuses a connection id for its lifetime, then connects again', async () => {
    const { stub, client } = await setup('good', { connectionIdTtlMs: 150 });
    await client.announce(stub.url, params);
    await client.announce(stub.url, { ...params, event: 'none' });
    expect(stub.connects()).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    await client.announce(stub.url, { ...params, event: 'none' });
    expect(stub.connects()).toBe(2);
    expect(stub.received.filter((p) => p.action === 1).map((p) => p.packet.readBigUInt64BE(0))).toEqual([0x1000n, 0x1000n, 0x1001n]);
  });

  it('shares one connect between announces that need it at the same time', async () => {
    const { stub, client } = await setup('good');
    await Promise.all([client.announce(stub.url, params), client.announce(stub.url, { ...params, port: 6882 })]);
    expect(stub.connects()).toBe(1);
  });

  it('retransmits the same packet after 15·2^n (base scaled), then succeeds', async () => {
    const { stub, client } = await setup('good', { retransmitBaseMs: 50, maxRetransmits: 3 });
    stub.dropNext = 2; // the first connect and its first retransmit are lost
    await client.announce(stub.url, params);
    const connects = stub.received.filter((p) => p.action === 0);
    expect(connects).toHaveLength(3);
    expect(connects[1]!.packet).toEqual(connects[0]!.packet); // same transaction id
    const gaps = [connects[1]!.at - connects[0]!.at, connects[2]!.at - connects[1]!.at];
    expect(gaps[0]).toBeGreaterThanOrEqual(45);
    expect(gaps[1]).toBeGreaterThanOrEqual(95); // doubled
    expect(gaps[1]).toBeGreaterThan(gaps[0]!);
  });

  it('gives up with TRACKER_TIMEOUT after the last retransmit', async () => {
    const { stub, client } = await setup('silent', { retransmitBaseMs: 20, maxRetransmits: 2 });
    const t0 = Date.now();
    const err = (await client.announce(stub.url, params).catch((e: unknown) => e)) as TrackerError;
    expect(err.code).toBe('TRACKER_TIMEOUT');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(20 + 40 + 80 - 5);
    expect(stub.received).toHaveLength(3); // 1 + 2 retransmits
  });

  it('refuses a truncated reply with our transaction id at once', async () => {
    for (const b of ['truncated-connect', 'truncated-announce'] as const) {
      const { stub, client } = await setup(b, { retransmitBaseMs: 5000 });
      const t0 = Date.now();
      expect(await codeOf(client.announce(stub.url, params))).toBe('TRACKER_BAD_LENGTH');
      expect(Date.now() - t0).toBeLessThan(2000); // no waiting for retransmits
    }
  });

  it('ignores replies with a wrong transaction id, and says so when nothing else came', async () => {
    const { stub, client } = await setup('wrong-transaction');
    const err = (await client.announce(stub.url, params).catch((e: unknown) => e)) as TrackerError;
    expect(err.code).toBe('TRACKER_TRANSACTION_MISMATCH');
    expect(err.message).toMatch(/transaction id \d+, which we did not send/);
    expect(client.strayPackets).toBe(3);
  });

  it('ignores packets too short to route, and says so', async () => {
    const { stub, client } = await setup('short');
    const err = (await client.announce(stub.url, params).catch((e: unknown) => e)) as TrackerError;
    expect(err.code).toBe('TRACKER_BAD_LENGTH');
    expect(err.message).toContain('5-byte packet');
  });

  it('turns an error packet into TRACKER_FAILURE and forgets the connection id', async () => {
    const { stub, client } = await setup('error');
    const err = (await client.announce(stub.url, params).catch((e: unknown) => e)) as TrackerError;
    expect(err.code).toBe('TRACKER_FAILURE');
    expect(err.failureReason).toBe('info_hash not in whitelist');
    stub.behaviour = 'good';
    await client.announce(stub.url, params);
    expect(stub.connects()).toBe(2);
  });

  it('does not take a reply with our transaction id from another address', async () => {
    const { stub, client } = await setup('silent', { retransmitBaseMs: 60, maxRetransmits: 1 });
    const spoofer = dgram.createSocket('udp4');
    cleanup.push(() => new Promise((r) => spoofer.close(() => r())));
    await new Promise<void>((r) => spoofer.bind(0, '127.0.0.1', r));
    const pending = client.announce(stub.url, params).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    // Learn the client's port and transaction id from the stub, and answer from elsewhere.
    const connect = stub.received[0]!.packet;
    const fake = Buffer.alloc(16);
    fake.writeUInt32BE(0, 0);
    fake.writeUInt32BE(connect.readUInt32BE(12), 4);
    const clientPort = (client as unknown as { sockets: { 4: dgram.Socket } }).sockets[4].address().port;
    spoofer.send(fake, clientPort, '127.0.0.1');
    // Not taken as the answer; and not blamed on the tracker either.
    expect(((await pending) as TrackerError).code).toBe('TRACKER_TIMEOUT');
    expect(client.strayPackets).toBe(1);
  });

  it('connects again when the connection id expires while an announce waits', async () => {
    // The id lives 40 ms; the announce is lost and its retransmit is due at
    // 60 ms, when the id is no longer valid: the client must connect again
    // rather than resend a request the tracker will refuse.
    const { stub, client } = await setup('good', { retransmitBaseMs: 60, maxRetransmits: 3, connectionIdTtlMs: 40 });
    let announces = 0;
    stub.dropIf = (action) => action === 1 && ++announces === 1;
    await client.announce(stub.url, params);
    expect(stub.received.map((x) => x.action)).toEqual([0, 1, 0, 1]);
    expect(stub.received[3]!.packet.readBigUInt64BE(0)).toBe(0x1001n); // the new id
  });

  it('is cancelled by its signal and by close()', async () => {
    const { stub, client } = await setup('silent', { retransmitBaseMs: 1000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    expect(await codeOf(client.announce(stub.url, params, ac.signal))).toBe('TRACKER_ABORTED');
    const p = client.announce(stub.url, params);
    setTimeout(() => void client.close(), 30);
    expect(await codeOf(p)).toBe('TRACKER_ABORTED');
  });

  it('refuses URLs it cannot announce to', async () => {
    const client = new UdpTrackerClient();
    cleanup.push(() => client.close());
    expect(await codeOf(client.announce('udp://no-port.example/announce', params))).toBe('TRACKER_BAD_URL');
    expect(await codeOf(client.announce('udp://host.invalid:6969', params))).toBe('TRACKER_NETWORK');
  });
});
