/**
 * What a request may not carry (issue 49): a key twice in one JSON object or a `__proto__`,
 * `constructor` or `prototype` key at any depth (400 naming the path), several Host headers (400),
 * and what /readyz tells a client that may not read the schedule (the verdict and cause, no hosts
 * or keys). A real HTTP server with stub handlers.
 */
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drain } from '../support/scans.js';
import { jsonKeyScan } from '../../src/base/json-keys.js';
import { silentLogger } from '../../src/base/log.js';
import { readJsonBody } from '../../src/http/request-body.js';
import { startHttpServer } from '../../src/http/server.js';
import { BeatMetrics } from '../../src/observe/metrics.js';

/** The scan of the whole text at once. */
const jsonKeyProblem = (text: string) => drain(jsonKeyScan(text, Number.POSITIVE_INFINITY));

describe('jsonKeyProblem', () => {
  it('finds a duplicate key at any depth, compared decoded, with its path', () => {
    expect(jsonKeyProblem('{"task":"a","task":"b"}')).toEqual({ kind: 'duplicate', path: '$."task"', key: 'task' });
    expect(jsonKeyProblem('{"entries":{"n":{"kwargs":{"a":1, "\\u0061" : 2}}}}')).toEqual({
      kind: 'duplicate',
      path: '$."entries"."n"."kwargs"."a"',
      key: 'a',
    });
    expect(jsonKeyProblem('[{"a":1},{"b":[1,{"c":1,"c":2}]}]')).toMatchObject({ path: '$[1]."b"[1]."c"' });
  });

  it('finds __proto__, constructor and prototype keys, also escaped', () => {
    expect(jsonKeyProblem('{"task":"a","kwargs":{"__proto__":{"x":1}}}')).toEqual({
      kind: 'forbidden',
      path: '$."kwargs"."__proto__"',
      key: '__proto__',
    });
    expect(jsonKeyProblem('{"a":[{"constructor":1}]}')).toMatchObject({ kind: 'forbidden', key: 'constructor' });
    expect(jsonKeyProblem('{"\\u005f_proto__":1}')).toMatchObject({ kind: 'forbidden', key: '__proto__' });
  });

  it('takes the same key in different objects, and such words as values', () => {
    expect(jsonKeyProblem('{"a":{"x":1},"b":{"x":1},"c":["__proto__","x","x"],"d":"constructor"}')).toBeUndefined();
    expect(jsonKeyProblem('{"a\\"b":1,"a":2,"s":"}{\\"a\\":1"}')).toBeUndefined();
  });
});

function request(body: string, type = 'application/json'): IncomingMessage {
  const stream = new PassThrough();
  stream.end(body);
  return Object.assign(stream, { headers: { 'content-type': type } }) as unknown as IncomingMessage;
}

describe('readJsonBody', () => {
  it('refuses a duplicate key and a __proto__ key with a 400 naming the path', async () => {
    await expect(readJsonBody(request('{"task":"a","schedule":1,"task":"b"}'), 1000, 10)).rejects.toMatchObject({
      code: 'API_BAD_REQUEST',
      message: 'the body holds the key "task" twice in one object (at $."task"); send each key once',
    });
    await expect(readJsonBody(request('{"kwargs":{"__proto__":{"admin":true}}}'), 1000, 10)).rejects.toMatchObject({
      message: expect.stringContaining('the body holds the key "__proto__" (at $."kwargs"."__proto__")'),
    });
    await expect(readJsonBody(request('{"task":"a","kwargs":{"x":{"y":1}}}'), 1000, 10)).resolves.toEqual({
      task: 'a',
      kwargs: { x: { y: 1 } },
    });
  });

  it('scans a 3.7 MB body in slices, turning the event loop over between them, and still finds a problem at its end (issue 66)', async () => {
    const entries = Object.fromEntries(
      Array.from({ length: 9000 }, (_, i) => [`new-${i}`, { task: 't.bulk', schedule: 3600, kwargs: { pad: 'x'.repeat(350) } }]),
    );
    const body = JSON.stringify(entries);
    expect(body.length).toBeGreaterThan(3_600_000);
    // Timers run once per turn of the loop: a scan in one piece (80-130 ms on an idle core, seconds on
    // a loaded one) let them run only between the scans and the parse, a few times in all.
    let turns = 0;
    const ticker = setInterval(() => (turns += 1), 0);
    try {
      await expect(readJsonBody(request(body), 4 * 1024 * 1024, 36)).resolves.toEqual(entries);
    } finally {
      clearInterval(ticker);
    }
    // Two scans of 14 slices each at BODY_SCAN_SLICE_CHARS (256 KiB, http/request-body.ts).
    expect(turns).toBeGreaterThanOrEqual(20);
    // What a slice leaves off, the next goes on with: a duplicate key and a depth past the limit at the end.
    await expect(readJsonBody(request(`${body.slice(0, -1)},"new-0":{}}`), 4 * 1024 * 1024, 36)).rejects.toMatchObject({
      message: expect.stringContaining('the body holds the key "new-0" twice in one object (at $."new-0")'),
    });
    await expect(
      readJsonBody(request(`${body.slice(0, -1)},"deep":${'['.repeat(40)}${']'.repeat(40)}}`), 4 * 1024 * 1024, 36),
    ).rejects.toMatchObject({
      message: expect.stringContaining(`the body nests more than 36 levels of arrays and objects (at $."deep"${'[0]'.repeat(35)})`),
    });
  });
});

describe('the HTTP server', () => {
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  const TOKEN = 'request-checks-token-0123456789';
  const reason = "the lock key tsbeat:{d}:lock on 10.1.2.3:6379 db 0 has no expiry: redis-cli -h 10.1.2.3 DEL 'tsbeat:{d}:lock'";

  beforeAll(async () => {
    server = await startHttpServer(
      { host: '127.0.0.1', port: 0 },
      {
        metrics: new BeatMetrics({ processMetrics: false }),
        health: () => ({ ok: true, reason: 'leading' }),
        ready: async () => ({ ok: false, reason, brief: 'no replica can take the lock' }),
        status: async () => ({}),
        // This client stands for one beyond loopback (a proxy on this host forwards others' requests).
        access: { token: TOKEN, notLoopback: ['127.0.0.1'] },
      },
      silentLogger,
    );
  });

  afterAll(async () => {
    await server.close();
  });

  const get = async (path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> => {
    const res = await fetch(`http://127.0.0.1:${server.address.port}${path}`, { headers });
    return { status: res.status, body: await res.text() };
  };

  it('/readyz tells a client without a token the verdict and cause, and no host or key', async () => {
    const open = await get('/readyz');
    expect(open).toEqual({ status: 503, body: 'not ok: no replica can take the lock\n' });
    const detailed = await get('/readyz', { authorization: `Bearer ${TOKEN}` });
    expect(detailed).toEqual({ status: 503, body: `not ok: ${reason}\n` });
  });

  it('answers 400 to a request with two Host headers', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: server.address.port });
      let got = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (got += d));
      socket.on('end', () => resolve(got));
      socket.on('error', reject);
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n');
    });
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).toContain('the request has 2 Host headers; send one (RFC 9112 §3.2)');
    expect((await get('/healthz')).status).toBe(200);
  });
});
