/**
 * A Redis DB number the server does not have. ioredis sends SELECT when it connects and, when it
 * fails, only emits 'error' and goes on to 'ready' on DB 0: tsbeat then published the queue and all
 * its keys into DB 0, and `status` read DB 0 and exited 0. Every connection tsbeat makes must refuse
 * to run anything after a failed SELECT, also after a reconnect, and the commands exit 2 naming the
 * URL, the DB and the fix.
 * Redis: the shared server's DB 99 (it has 16), checking that DB 0 never gets this file's keys
 * (unique names; DB 0 is never flushed); private redis-servers for the reconnect cases.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import { parseConfig } from '../../src/config/load.js';
import { ErrorCode } from '../../src/base/errors.js';
import { EVENTS } from '../../src/base/log-events.js';
import { createLogger } from '../../src/base/log.js';
import { connectWithRetry, createRedisClient } from '../../src/redis/connect.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import { PrivateRedis } from '../support/redis-server.js';
import { killCliChildren, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import { dueRunOf, leadingPublisher } from '../support/leading-publisher.js';
import { ENV, config, entry } from '../support/messages.js';

const MISSING_DB_URL = 'redis://127.0.0.1:6379/99';

describe('a Redis DB the server does not have', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  const db0 = new Redis('redis://127.0.0.1:6379/0', { lazyConnect: true });
  const servers: PrivateRedis[] = [];

  afterEach(async () => {
    await fleet.killAll();
    killCliChildren();
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });

  afterAll(() => {
    db0.disconnect();
    dir.remove();
  });

  /** This deployment's keys and queue in DB 0 of the shared server: there must be none. */
  async function keysInDb0(name: string, queue: string): Promise<string[]> {
    return [...(await db0.keys(`*${name}*`)), ...((await db0.exists(queue)) === 1 ? [queue] : [])];
  }

  it('beat run exits 2 naming the URL, the DB and the fix, and writes nothing into DB 0', async () => {
    const name = uniqueName('wrongdb');
    const queue = `q-${name}`;
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: MISSING_DB_URL },
      taskDefaultQueue: queue,
      lock: FAST_LOCK,
      beatSchedule: { tick: { task: 't.tick', schedule: 1 } },
    });
    const beat = fleet.spawn({ config: file });
    const exit = await beat.waitForExit(15_000);
    expect(exit.code, beat.tail()).toBe(2);
    const said = beat.text.join('\n');
    expect(said).toContain(MISSING_DB_URL);
    expect(said).toContain('no DB 99');
    expect(said).toContain('`databases`');
    const refused = beat.events(EVENTS.redisRefused);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]).toMatchObject({ code: ErrorCode.RedisDbOutOfRange, fatal: true });
    expect(beat.events(EVENTS.redisConnect)).toEqual([]);
    expect(beat.events(EVENTS.lockAcquired)).toEqual([]);
    expect(await keysInDb0(name, queue)).toEqual([]);
  });

  it.each([['status'], ['trigger', 'tick'], ['pause', 'tick'], ['resume', 'tick']])(
    'beat %s exits 2 naming the URL with its password masked, the DB and the fix',
    async (...argv) => {
      const server = await startPrivateRedis({ password: 'hunter2' });
      servers.push(server);
      const name = uniqueName('wrongdb-cli');
      const url = `redis://:hunter2@127.0.0.1:${server.port}/99`;
      const file = dir.write(`${name}.json`, { name, broker: { url }, beatSchedule: { tick: { task: 't.tick', schedule: 1 } } });
      const r = await runBeatCli([...argv, '--config', file], { timeoutMs: 20_000 });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`Redis at redis://:***@127.0.0.1:${server.port}/99: the server has no DB 99`);
      expect(r.stderr).toContain("raise `databases` in the server's redis.conf");
      expect(r.stderr).not.toContain('hunter2');
      const admin = server.client(0);
      await admin.connect();
      expect(await admin.dbsize()).toBe(0);
      admin.disconnect();
    },
  );

  /**
   * A server that comes back with fewer DBs than before: a connection that was ready on DB 5
   * reconnects, its SELECT fails, and ioredis would go on to 'ready' on DB 0. `write` is called
   * every 50 ms for 3 s after the restart (the client keeps reconnecting meanwhile); resolves with
   * the number of keys DB 0 then holds.
   */
  async function restartWithFewerDbs(first: PrivateRedis, write: () => Promise<unknown>): Promise<number> {
    await first.kill();
    const second = new PrivateRedis(first.port, { args: ['--databases', '2'] });
    servers.push(second);
    await second.start();
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline) {
      await write().catch(() => undefined);
      await sleep(50);
    }
    const admin = second.client(0);
    await admin.connect();
    try {
      return await admin.dbsize();
    } finally {
      admin.disconnect();
    }
  }

  async function privateServer(): Promise<PrivateRedis> {
    const server = await startPrivateRedis();
    servers.push(server);
    return server;
  }

  it('a state connection whose SELECT fails after a reconnect runs nothing on DB 0', async () => {
    const first = await privateServer();
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(line) } });
    const client = createRedisClient(first.url(5), {}, 'state', logger);
    try {
      await connectWithRetry(client, AbortSignal.timeout(5_000));
      await client.set('before', '1');
      expect(await restartWithFewerDbs(first, () => client.set('after', '1'))).toBe(0);
      expect(client.status).not.toBe('ready');
      const refused = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['event'] === EVENTS.redisRefused);
      expect(refused[0]).toMatchObject({ code: ErrorCode.RedisDbOutOfRange, fatal: false, role: 'state' });
    } finally {
      client.disconnect();
    }
  });

  it('the broker connection whose SELECT fails after a reconnect pushes nothing to DB 0', async () => {
    const first = await privateServer();
    const logger = createLogger({ level: 'silent' });
    // Sent as `beat run` sends it: the fenced dispatcher, under the lock won on DB 5.
    const publisher = await leadingPublisher(
      parseConfig({ name: 'wrong-db', broker: { url: first.url(5) } }, 'redis-wrong-db.test'),
      logger,
    );
    // A later slot each time, so no run is stale.
    let slotMs = Date.now();
    const run = (id: string) => {
      slotMs += 1;
      return dueRunOf(renderTaskMessage(compileMessageTemplate(entry(), config(), ENV), { taskId: id, slotMs, nowMs: slotMs }), slotMs);
    };
    try {
      expect(await publisher.dispatch([run('before')], slotMs)).toEqual({ fenced: false, outcomes: ['published'] });
      expect(await restartWithFewerDbs(first, () => publisher.dispatch([run(`after-${Date.now()}`)], slotMs))).toBe(0);
    } finally {
      await publisher.close();
    }
  });

  it('a client refused before it was ever ready is ended: connectWithRetry rejects at once with the refusal', async () => {
    const client = createRedisClient(MISSING_DB_URL, {}, 'state', createLogger({ level: 'silent' }));
    try {
      await expect(connectWithRetry(client, AbortSignal.timeout(10_000))).rejects.toMatchObject({ code: ErrorCode.RedisDbOutOfRange });
      await waitUntil('the client to end', () => (client.status === 'end' ? true : undefined), 2_000);
      await expect(connectWithRetry(client, AbortSignal.timeout(1_000))).rejects.toMatchObject({ code: ErrorCode.RedisDbOutOfRange });
    } finally {
      client.disconnect();
    }
  });
});
