import { TrackerError, encodeBencode, type AnnounceParams } from '@seedbox/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { httpAnnounce } from '../src/http-tracker.js';
import { goodHttpReply, percentDecode, rawQuery, startHttpStub, type HttpStub } from './support/stub-trackers.js';

const params: AnnounceParams = {
  infoHash: Uint8Array.from({ length: 20 }, (_, i) => 255 - i),
  peerId: Buffer.from('-SB0100-\x00\x01\x02 %&=?abcd', 'latin1'),
  port: 6881,
  uploaded: 1,
  downloaded: 2,
  left: 3,
  event: 'started',
  numWant: 10,
  key: 77,
};

const stubs: HttpStub[] = [];
afterEach(async () => {
  await Promise.all(stubs.splice(0).map((s) => s.close()));
});
const stub = async (handler: Parameters<typeof startHttpStub>[0]): Promise<HttpStub> => {
  const s = await startHttpStub(handler);
  stubs.push(s);
  return s;
};

const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'no error';
  } catch (e) {
    expect(e).toBeInstanceOf(TrackerError);
    return (e as TrackerError).code;
  }
};

describe('httpAnnounce', () => {
  it('sends the raw info hash and peer id, keeps the URL’s query, and reads the reply', async () => {
    const s = await stub((_req, res) => res.end(goodHttpReply([{ host: '10.0.0.1', port: 6881 }], { 'min interval': 60 })));
    const r = await httpAnnounce(s.url('/announce?passkey=secret'), params);
    expect(r).toMatchObject({ interval: 1800, minInterval: 60, peers: [{ host: '10.0.0.1', port: 6881 }] });
    const q = rawQuery(s.requests[0]!);
    expect(percentDecode(q.get('info_hash')!)).toEqual(Buffer.from(params.infoHash));
    expect(percentDecode(q.get('peer_id')!)).toEqual(Buffer.from(params.peerId));
    expect(q.get('passkey')).toBe('secret');
    expect(Object.fromEntries([...q].filter(([k]) => !['info_hash', 'peer_id', 'passkey'].includes(k)))).toEqual({
      port: '6881',
      uploaded: '1',
      downloaded: '2',
      left: '3',
      compact: '1',
      event: 'started',
      numwant: '10',
      key: '0000004d',
    });
  });

  it('answers failure reason as TRACKER_FAILURE, also inside an HTTP error status', async () => {
    const s = await stub((_req, res) => {
      res.statusCode = 403;
      res.end(encodeBencode({ 'failure reason': 'torrent not registered' }));
    });
    const err = await httpAnnounce(s.url(), params).catch((e: TrackerError) => e);
    expect(err).toBeInstanceOf(TrackerError);
    expect((err as TrackerError).code).toBe('TRACKER_FAILURE');
    expect((err as TrackerError).failureReason).toBe('torrent not registered');
  });

  it('names each way a reply can be bad', async () => {
    const garbage = await stub((_req, res) => res.end('<html>nginx</html>'));
    expect(await codeOf(httpAnnounce(garbage.url(), params))).toBe('TRACKER_BAD_RESPONSE');
    const status = await stub((_req, res) => {
      res.statusCode = 502;
      res.end('bad gateway');
    });
    expect(await codeOf(httpAnnounce(status.url(), params))).toBe('TRACKER_HTTP_STATUS');
    const cut = await stub((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('d8:intervali');
      setTimeout(() => res.destroy(), 10);
    });
    expect(await codeOf(httpAnnounce(cut.url(), params))).toBe('TRACKER_NETWORK');
    expect(await codeOf(httpAnnounce('http://127.0.0.1:1/announce', params))).toBe('TRACKER_NETWORK');
  });

  it('gives up at the deadline on a tracker that never answers, or trickles', async () => {
    const silent = await stub(() => {});
    const t0 = Date.now();
    expect(await codeOf(httpAnnounce(silent.url(), params, { timeoutMs: 200 }))).toBe('TRACKER_TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(2000);
    const trickle = await stub((_req, res) => {
      res.write('d');
      const t = setInterval(() => res.write('l'), 50);
      res.on('close', () => clearInterval(t));
    });
    expect(await codeOf(httpAnnounce(trickle.url(), params, { timeoutMs: 300 }))).toBe('TRACKER_TIMEOUT');
  });

  it('stops reading an oversized body, with or without Content-Length', async () => {
    const declared = await stub((_req, res) => {
      res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) });
      res.write(Buffer.alloc(1024));
    });
    expect(await codeOf(httpAnnounce(declared.url(), params))).toBe('TRACKER_TOO_LARGE');
    let sent = 0;
    const chunked = await stub((_req, res) => {
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = (): void => {
        while (sent < 8 * 1024 * 1024 && res.write(chunk)) sent += chunk.length;
        if (sent < 8 * 1024 * 1024 && !res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    expect(await codeOf(httpAnnounce(chunked.url(), params, { maxBytes: 256 * 1024 }))).toBe('TRACKER_TOO_LARGE');
    expect(sent).toBeLessThan(8 * 1024 * 1024); // we hung up rather than read it all
  });

  it('follows a redirect, and refuses to follow forever', async () => {
    const target = await stub((_req, res) => res.end(goodHttpReply([])));
    const redirect = await stub((req, res) => {
      res.writeHead(302, { location: target.url(req.url!.replace('/announce', '/moved')) });
      res.end();
    });
    await expect(httpAnnounce(redirect.url(), params)).resolves.toMatchObject({ interval: 1800 });
    expect(target.requests[0]).toMatch(/^\/moved\?.*info_hash=/);
    const loop = await stub((req, res) => {
      res.writeHead(301, { location: req.url });
      res.end();
    });
    expect(await codeOf(httpAnnounce(loop.url(), params))).toBe('TRACKER_HTTP_STATUS');
  });

  it('is cancelled by its signal', async () => {
    const silent = await stub(() => {});
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    expect(await codeOf(httpAnnounce(silent.url(), params, {}, ac.signal))).toBe('TRACKER_ABORTED');
  });
});
