/**
 * What a connection closed with a command unanswered leaves behind: ioredis 5 kept a socketTimeout
 * timer that later destroyed the reconnected connection (redis/ioredis#2147, fixed in 6), and
 * without autoResendUnfulfilledCommands it drops the unanswered commands without settling them
 * unless it fails its queue, which the broker transport has it do at every close (no retries per
 * request). Against a loopback server speaking just enough RESP to count connections: it hangs up
 * on the first connection's first PING instead of answering.
 */
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisTransport } from '../../src/kombu/redis-transport.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { silentLogger } from '../../src/base/log.js';
import { createRedisClient } from '../../src/redis/connect.js';
import { sleep } from '../support/beat-process.js';
import { startFakeRedis } from '../support/fake-redis.js';
import type { FakeRedis } from '../support/fake-redis.js';

/** A fake Redis that, on its first connection, hangs up on the first PING instead of answering. */
function startFlakyServer(): Promise<FakeRedis> {
  let hungUp = false;
  return startFakeRedis((args, connection, socket) => {
    if ((args[0] ?? '').toLowerCase() !== 'ping' || connection !== 1 || hungUp) return false;
    hungUp = true;
    setTimeout(() => socket.destroy(), 20);
    return true;
  });
}

function untilReady(client: Redis): Promise<void> {
  return client.status === 'ready' ? Promise.resolve() : new Promise((resolve) => client.once('ready', () => resolve()));
}

/** Connects, sends the PING the server hangs up on, and waits until the client is ready again. */
async function hangUpOnFirstPing(client: Redis): Promise<{ firstPing: Promise<string>; errors: string[] }> {
  const errors: string[] = [];
  client.on('error', (error: Error) => errors.push(error.message));
  await client.connect();
  const firstPing = client.ping().catch((error: Error) => `rejected: ${error.message}`);
  await new Promise((resolve) => client.once('close', resolve));
  await untilReady(client);
  return { firstPing, errors };
}

/** Resolves to the value, or to 'pending' if it has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'pending'> {
  return Promise.race([promise, sleep(ms).then(() => 'pending' as const)]);
}

describe('ioredis after a connection closed with a command unanswered', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function flakyServer(): Promise<FakeRedis> {
    const server = await startFlakyServer();
    cleanups.push(() => server.close());
    return server;
  }

  function plainClient(port: number, options: RedisOptions = {}): Redis {
    const client = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      enableReadyCheck: false,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 20,
      ...options,
    });
    cleanups.push(() => client.disconnect());
    return client;
  }

  it("socketTimeout: the old connection's timer is cleared when it closes, and the reconnected connection stays", async () => {
    const server = await flakyServer();
    const { firstPing, errors } = await hangUpOnFirstPing(plainClient(server.port, { socketTimeout: 300 }));
    expect(await firstPing).toBe('PONG'); // resent on the new connection, as ioredis does by default
    await sleep(500); // past the first PING's 300 ms deadline
    expect(errors.filter((e) => e.startsWith('Socket timeout'))).toEqual([]);
    expect(server.connections()).toBe(2);
  });

  describe('autoResendUnfulfilledCommands: false', () => {
    it('with a retry per request ioredis never settles the command (why the broker transport has none)', async () => {
      const server = await flakyServer();
      const client = plainClient(server.port, { autoResendUnfulfilledCommands: false });
      const { firstPing } = await hangUpOnFirstPing(client);
      expect(await client.ping()).toBe('PONG');
      expect(await within(firstPing, 300)).toBe('pending');
    });

    it('with no retries per request it rejects the command when the connection closes, and the client goes on', async () => {
      const server = await flakyServer();
      const client = plainClient(server.port, { autoResendUnfulfilledCommands: false, maxRetriesPerRequest: 0 });
      const { firstPing } = await hangUpOnFirstPing(client);
      expect(await within(firstPing, 0)).toMatch(/^rejected: Reached the max retries per request limit/);
      expect(await client.ping()).toBe('PONG');
      expect(server.connections()).toBe(2);
    });
  });

  it('the clients tsbeat makes: state, lock and pub/sub resend; the broker transport rejects', async () => {
    const [stateServer, brokerServer] = await Promise.all([flakyServer(), flakyServer()]);
    const state = createRedisClient(`redis://127.0.0.1:${stateServer.port}/0`, {}, 'state', silentLogger);
    const transport = new RedisTransport({ url: `redis://127.0.0.1:${brokerServer.port}/0`, transportOptions: {}, logger: silentLogger });
    cleanups.push(
      () => state.disconnect(),
      () => transport.client.disconnect(),
    );
    const [fromState, fromBroker] = await Promise.all([hangUpOnFirstPing(state), hangUpOnFirstPing(transport.client)]);
    expect(await fromState.firstPing).toBe('PONG');
    expect(await within(fromBroker.firstPing, 0)).toMatch(/^rejected: Reached the max retries per request limit/);
    await sleep(DEFAULTS.redisSocketTimeoutMs + 500); // past the socket timeout the first PINGs armed
    expect([stateServer.connections(), brokerServer.connections()]).toEqual([2, 2]);
    expect([await state.ping(), await transport.client.ping()]).toEqual(['PONG', 'PONG']);
  }, 20_000);
});
