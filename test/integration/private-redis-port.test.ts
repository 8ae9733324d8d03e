/**
 * A private redis-server is the test's own (test/support/redis-server.ts): two files that find one
 * port free at the same moment both start a server there, and the one that loses the bind must not
 * take the winner's answer as its own. It once did (PING answered by the other file's server), and
 * two files shared one server: one's Celery workers wrote into the other's DB 0, and the first lost
 * its Redis when the second stopped it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { PrivateRedis, freePort } from '../support/redis-server.js';

const servers: PrivateRedis[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

describe('two private redis-servers started on one port at once', () => {
  it('one starts; the other fails (its process could not bind), never answered by the first', async () => {
    const port = await freePort();
    // The second execs its server 0.5 s late: all that while the first's answers it its checks, as
    // in CI, where the loser's process started after the winner's was up.
    const late = ['/bin/sh', '-c', 'sleep 0.5; exec "$0" "$@"'];
    const pair = [new PrivateRedis(port), new PrivateRedis(port, { launcher: late })];
    servers.push(...pair);
    const settled = await Promise.allSettled(pair.map((s) => s.start()));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected']);
    expect(String((settled[1] as PromiseRejectedResult).reason)).toMatch(/exited/);
    const winner = pair[0] as PrivateRedis;
    const client = winner.client();
    try {
      await client.connect();
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });
});
