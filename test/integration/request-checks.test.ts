/**
 * What a request to `beat run --http` may not carry, against the real process (issue 49): a key twice
 * in one JSON object and a `__proto__` key (a kwargs `__proto__` used to be stored and dropped from
 * the message) are refused with 400 naming the path, and nothing is written; entry and task names
 * with a zero-width space or NUL are refused naming the character; two Host headers get 400. A
 * private Redis; beat run as a real process.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir } from '../support/beat-process.js';
import { httpPortOf, startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TOKEN = 'request-checks-token-0123456789';

describe('request checks (beat run --http)', () => {
  let redis: PrivateRedis;
  const dir = new TempDir();
  const fleet = new BeatFleet();

  beforeAll(async () => {
    redis = await startPrivateRedis();
  }, 30_000);

  afterAll(async () => {
    await fleet.killAll();
    await redis.stop();
    dir.remove();
  });

  it('refuses duplicate and __proto__ keys, hidden characters in names, and two Host headers, writing nothing', async () => {
    await fleet.killAll(); // a retry's process must be able to lead
    const file = dir.write('checks.json', { name: 'checks', broker: { url: redis.url(0) }, maxInterval: '200ms', lock: FAST_LOCK });
    const beat = fleet.spawn({ config: file, args: ['--http', '127.0.0.1:0'], env: { BEAT_API_TOKEN: TOKEN } });
    const port = await httpPortOf(beat);
    await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
    const put = async (
      path: string,
      body: string,
    ): Promise<{ status: number; json: { error: string; problems: { path: string; message: string }[] } }> => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body,
      });
      return { status: res.status, json: (await res.json()) as { error: string; problems: { path: string; message: string }[] } };
    };

    const duplicate = await put('/api/entries/dup', '{"task":"a.b","schedule":60,"task":"c.d"}');
    expect(duplicate.status).toBe(400);
    expect(duplicate.json.error).toBe('the body holds the key "task" twice in one object (at $."task"); send each key once');
    const proto = await put('/api/entries/proto', '{"task":"a.b","schedule":60,"kwargs":{"__proto__":{"admin":true}}}');
    expect(proto.status).toBe(400);
    expect(proto.json.error).toContain('the body holds the key "__proto__" (at $."kwargs"."__proto__")');
    const bulk = await put(
      '/api/entries',
      '{"ok":{"task":"a.b","schedule":60},"x":{"task":"a.b","schedule":60,"options":{"queue":"q","queue":"r"}}}',
    );
    expect(bulk.status).toBe(400);
    expect(bulk.json.error).toContain('(at $."x"."options"."queue")');

    const hiddenName = await put(`/api/entries/${encodeURIComponent('nightly\u200b')}`, '{"task":"a.b","schedule":60}');
    expect(hiddenName.status).toBe(400);
    expect(hiddenName.json.problems.map((p) => p.message)).toEqual([
      'an entry name must be a name a person can tell apart: it holds U+200B ZERO WIDTH SPACE at position 8; remove or replace it',
    ]);
    const nulTask = await put('/api/entries/nul-task', '{"task":"a.b\\u0000","schedule":60}');
    expect(nulTask.status).toBe(400);
    expect(JSON.stringify(nulTask.json.problems)).toContain(
      'task must be a name a person can tell apart: it holds U+0000 NULL at position 4',
    );

    const client = redis.client(0);
    await client.connect();
    try {
      expect(await client.keys('*:entries')).toEqual([]);
      const stored = await client.keys('*entries*');
      for (const key of stored) if ((await client.type(key)) === 'hash') expect(await client.hlen(key), key).toBe(0);
    } finally {
      client.disconnect();
    }

    const twoHosts = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      let got = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (got += d));
      socket.on('end', () => resolve(got));
      socket.on('error', reject);
      socket.write('GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n');
    });
    expect(twoHosts).toMatch(/^HTTP\/1\.1 400 /);
    expect(twoHosts).toContain('Host headers; send one');
  }, 60_000);
});
