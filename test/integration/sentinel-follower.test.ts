/**
 * How a Sentinel client follows an announced failover (src/redis/sentinel-failover.ts), against
 * loopback servers speaking just enough RESP: two primaries and a sentinel that answers
 * `get-master-addr-by-name` with whatever primary the test says and pushes `+switch-master` when
 * told. Its clock is the test's, so the one case a real topology shows only by chance is staged:
 * the sentinel a client asks has not switched yet when another announces the switch.
 * (test/integration/sentinel-failover.test.ts runs the whole of it on real redis-servers.)
 */
import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/base/log.js';
import { createRedisClient } from '../../src/redis/connect.js';
import { waitUntil } from '../support/beat-process.js';
import { startFakeRedis } from '../support/fake-redis.js';
import type { FakeRedis } from '../support/fake-redis.js';

const MASTER = 'follower-test';
const CHANNEL = '+switch-master';

const bulk = (text: string): string => `$${Buffer.byteLength(text)}\r\n${text}\r\n`;

interface FakeSentinel extends FakeRedis {
  /** The primary `get-master-addr-by-name` answers with. */
  answer: number;
  /** Pushes `+switch-master` to every subscriber. */
  announce(fromPort: number, toPort: number): void;
  subscribers(): number;
}

async function startFakeSentinel(answer: number): Promise<FakeSentinel> {
  const subscribed = new Set<Socket>();
  const sentinel = {} as FakeSentinel;
  const server = await startFakeRedis((args, _connection, socket) => {
    const command = (args[0] ?? '').toLowerCase();
    if (command === 'sentinel' && (args[1] ?? '').toLowerCase() === 'get-master-addr-by-name') {
      socket.write(`*2\r\n${bulk('127.0.0.1')}${bulk(String(sentinel.answer))}`);
      return true;
    }
    if (command === 'sentinel') {
      socket.write('*0\r\n'); // no other sentinels to add
      return true;
    }
    if (command === 'subscribe') {
      subscribed.add(socket);
      socket.on('close', () => subscribed.delete(socket));
      socket.write(`*3\r\n${bulk('subscribe')}${bulk(CHANNEL)}:1\r\n`);
      return true;
    }
    return false;
  });
  return Object.assign(sentinel, server, {
    answer,
    announce: (fromPort: number, toPort: number) => {
      const text = `${MASTER} 127.0.0.1 ${fromPort} 127.0.0.1 ${toPort}`;
      for (const socket of subscribed) socket.write(`*3\r\n${bulk('message')}${bulk(CHANNEL)}${bulk(text)}`);
    },
    subscribers: () => subscribed.size,
  });
}

describe('a Sentinel client after +switch-master', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function topology(): Promise<{ old: FakeRedis; next: FakeRedis; sentinel: FakeSentinel; client: Redis }> {
    const [old, next] = await Promise.all([startFakeRedis(), startFakeRedis()]);
    const sentinel = await startFakeSentinel(old.port);
    const client = createRedisClient(`sentinel://127.0.0.1:${sentinel.port}/0`, { masterName: MASTER }, 'state', silentLogger);
    cleanups.push(
      () => old.close(),
      () => next.close(),
      () => sentinel.close(),
      () => client.disconnect(),
    );
    await client.connect();
    await waitUntil('the follower to subscribe', () => (sentinel.subscribers() === 1 ? true : undefined), 5000);
    return { old, next, sentinel, client };
  }

  const connectedPort = (client: Redis): number | undefined => (client.status === 'ready' ? client.stream.remotePort : undefined);

  it('moves to the announced primary at once, while the old one still answers', async () => {
    const { old, next, sentinel, client } = await topology();
    expect(connectedPort(client)).toBe(old.port);
    sentinel.answer = next.port;
    sentinel.announce(old.port, next.port);
    await waitUntil('the client on the new primary', () => (connectedPort(client) === next.port ? true : undefined), 5000);
    // Subscribed again on the new connection (the old connection's subscriptions closed with it).
    await waitUntil('one subscription', () => (sentinel.subscribers() === 1 ? true : undefined), 5000);
  });

  it('asks again when the sentinel it asks still names the old primary, until it names the new one', async () => {
    const { old, next, sentinel, client } = await topology();
    // Another sentinel switched and announced; the one this client asks has not switched yet.
    sentinel.announce(old.port, next.port);
    const connectionsToOld = old.connections();
    await waitUntil('a reconnection to the old primary', () => (old.connections() > connectionsToOld + 1 ? true : undefined), 5000);
    expect(connectedPort(client)).not.toBe(next.port);
    sentinel.answer = next.port; // it switches
    await waitUntil('the client on the new primary', () => (connectedPort(client) === next.port ? true : undefined), 5000);
  });

  it('leaves no subscription open once the client is closed, reconnecting or not', async () => {
    const { old, sentinel, client } = await topology();
    await old.close(); // the primary goes away: the client reconnects, and is closed meanwhile
    await waitUntil('the client to reconnect', () => (client.status === 'reconnecting' ? true : undefined), 5000);
    client.disconnect();
    await waitUntil('no subscription', () => (sentinel.subscribers() === 0 ? true : undefined), 5000);
  });
});
