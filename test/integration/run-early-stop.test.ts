/**
 * SIGTERM (and SIGINT) at any moment of `beat run`'s start: a clean stop with exit 0, never the
 * process ended by the signal. Before the service has started it stops starting, takes and
 * releases nothing, and logs `beat.stop.before_start`; once it campaigns, it stops as any replica
 * does, and leaves no lock held. Real processes (the built CLI) against a private redis-server.
 *
 * The earliest moments are reached deterministically, not by sleeping: a JS config that signals its
 * own process while it is being loaded, and a preload (`--import`) that signals it as soon as the
 * process first listens for SIGTERM. Nothing can be earlier than that: until a listener is
 * installed, Node's own handling ends the process by the signal.
 *
 * "Nothing connected" counts the connections of the beat process alone: its Redis URL is a proxy
 * (on a port of the OS's choice) in front of the private Redis. The server's own count
 * (total_connections_received) also counted others: a file running beside this one probes the
 * private-Redis ports 6381–6389 for a free one (portOpen), and a client left reconnecting by an
 * earlier file may reach the same port, which once made it 3 where the beat process had opened none.
 */
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/base/defaults.js';
import { EVENTS } from '../../src/base/log-events.js';
import { silentLogger } from '../../src/base/log.js';
import { connectWithRetry, createRedisClient } from '../../src/redis/connect.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { Leadership, newInstanceId } from '../../src/redis/leadership.js';
import { FAST_LOCK, waitUntil } from '../support/beat-process.js';
import type { BeatProcess, SpawnOptions } from '../support/beat-process.js';
import { beatSuite } from '../support/beat-suite.js';
import { closedRedisPort, uniqueName } from '../support/ops.js';
import { freePort } from '../support/redis-server.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const suite = beatSuite();
const { fleet, dir } = suite;

/** The proxies of this test: each carries one beat process's connections, and counts them. */
const proxies: TcpProxy[] = [];

afterEach(async () => {
  await fleet.killAll();
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});

/** A proxy to the private Redis (DB 0) for one beat process: its URL, and the count of what it accepted. */
async function countingProxy(): Promise<{ url: string; proxy: TcpProxy }> {
  const proxy = new TcpProxy(await freePort(), suite.redis.port);
  await proxy.start();
  proxies.push(proxy);
  return { url: `redis://127.0.0.1:${proxy.port}/0`, proxy };
}

/** The config as a JS module; `before` runs as it is loaded. */
function moduleConfig(name: string, url: string, before = ''): string {
  const config = { name, broker: { url }, lock: FAST_LOCK, beatSchedule: { tick: { task: 'tsbeat_test.tick', schedule: 1 } } };
  return dir.write(`${name}.mjs`, `${before}\nexport default ${JSON.stringify(config)};\n`);
}

async function expectCleanExit(beat: BeatProcess): Promise<void> {
  expect(await beat.waitForExit(15_000), beat.tail()).toEqual({ code: 0, signal: null });
}

/** Started nothing: one `beat.stop.before_start` with the signal, no connection to Redis (through its proxy), no key written. */
async function expectNothingStarted(beat: BeatProcess, signal: NodeJS.Signals, proxy: TcpProxy): Promise<void> {
  await expectCleanExit(beat);
  expect(beat.events(EVENTS.stopBeforeStart).map((l) => l['reason'])).toEqual([signal]);
  expect(beat.events(EVENTS.start), beat.tail()).toEqual([]);
  expect(proxy.connections, beat.tail()).toBe(0);
  expect(await suite.client.dbsize()).toBe(0);
}

describe('a stop signal before the service has started', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} while the config loads: exit 0, nothing connected or written`, async () => {
      await suite.client.flushdb();
      const name = uniqueName('early-config');
      const { url, proxy } = await countingProxy();
      const file = moduleConfig(name, url, `process.kill(process.pid, '${signal}');`);
      const beat = fleet.spawn({ config: file });
      await expectNothingStarted(beat, signal, proxy);
      expect(beat.events(EVENTS.stopBeforeStart)[0]).toMatchObject({ stage: 'config', deployment: name });
    });
  }

  it('SIGTERM as soon as the process first listens for it (before the commands have loaded): exit 0, nothing started', async () => {
    await suite.client.flushdb();
    const name = uniqueName('early-listen');
    const preload = dir.write(
      `${name}-preload.mjs`,
      [
        '// Sends SIGTERM right after the first SIGTERM listener is added: the earliest moment the process can hear it.',
        'let sent = false;',
        "process.on('newListener', (event) => {",
        "  if (event !== 'SIGTERM' || sent) return;",
        '  sent = true;',
        "  setImmediate(() => process.kill(process.pid, 'SIGTERM'));",
        '});',
        '',
      ].join('\n'),
    );
    const { url, proxy } = await countingProxy();
    const options: SpawnOptions = { config: moduleConfig(name, url), nodeArgs: ['--import', preload] };
    await expectNothingStarted(fleet.spawn(options), 'SIGTERM', proxy);
  });

  it('SIGTERM while connecting to a Redis that does not answer: exit 0 at once, not after connecting', async () => {
    const name = uniqueName('early-connect');
    const beat = fleet.spawn({ config: moduleConfig(name, `redis://127.0.0.1:${await closedRedisPort()}/0`) });
    await beat.waitForLog('the first connection error', (l) => l.event === EVENTS.redisDown || l.event === EVENTS.brokerError, 15_000);
    beat.signal('SIGTERM');
    await expectCleanExit(beat);
    expect(beat.events(EVENTS.stopBeforeStart)).toMatchObject([{ reason: 'SIGTERM', stage: 'start' }]);
  });
});

describe('a stop signal at each step of the start', () => {
  // Each is where the process had got when the test read the line; the signal arrives a moment
  // later, wherever the start is by then: every moment must end the same way.
  const moments: readonly [string, string][] = [
    ['the first log line', EVENTS.start],
    ['the first connection', EVENTS.redisConnect],
    ['campaigning', EVENTS.standby],
    ['the lock acquired', EVENTS.lockAcquired],
  ];
  for (const [moment, event] of moments) {
    it(`SIGTERM right after ${moment}: exit 0, and no lock left held`, async () => {
      const name = uniqueName('early-step');
      const beat = fleet.spawn({ config: moduleConfig(name, suite.redis.url(0)) });
      await beat.waitForEvent(event, 15_000);
      beat.signal('SIGTERM');
      await expectCleanExit(beat);
      const stopped = beat.events(EVENTS.stopBeforeStart).length + beat.events(EVENTS.stop).length;
      expect(stopped, beat.tail()).toBeGreaterThan(0);
      expect(await suite.client.exists(schedulerKeys(DEFAULTS.statePrefix, name).lock)).toBe(0);
    });
  }
});

describe('stopping while an attempt at the lock is in flight', () => {
  function leadershipOf(name: string, state: Redis, subscriber: Redis, mayLead?: () => Promise<undefined>): Leadership {
    return new Leadership({
      instanceId: newInstanceId('early-stop-test', process.pid),
      keys: schedulerKeys(DEFAULTS.statePrefix, name),
      ttlMs: 30_000,
      renewEveryMs: 5_000,
      retryEveryMs: 200,
      lockClients: [state],
      state,
      subscriber,
      logger: silentLogger,
      ...(mayLead ? { mayLead } : {}),
    });
  }

  it('gives back the lock the attempt wins before the connections close: none left held until it expires', async () => {
    const name = uniqueName('attempt-in-flight');
    const state = createRedisClient(suite.redis.url(0), {}, 'state', silentLogger);
    const subscriber = createRedisClient(suite.redis.url(0), {}, 'subscriber', silentLogger);
    const signal = AbortSignal.timeout(10_000);
    await Promise.all([connectWithRetry(state, signal), connectWithRetry(subscriber, signal)]);
    try {
      // One that leads and stops first, so that the server knows the lock's scripts: the attempt
      // below then takes the lock in one command (none sent after its connection began to close).
      const first = leadershipOf(`${name}-first`, state, subscriber);
      const led = new Promise<void>((resolve) => void first.start({ onLead: () => resolve(), onLose: () => undefined }));
      await led;
      await first.stop();

      let stopping: Promise<void> | undefined;
      // The attempt has begun: the server holds its lock script back for a moment (writes paused),
      // and the service stops meanwhile, then closes its connections, as `beat run` does.
      const leadership: Leadership = leadershipOf(name, state, subscriber, async () => {
        await suite.client.call('CLIENT', 'PAUSE', '300', 'WRITE');
        stopping ??= leadership.stop();
        return undefined;
      });
      await leadership.start({ onLead: () => undefined, onLose: () => undefined });
      await waitUntil('the stop, begun during the attempt', () => (stopping === undefined ? undefined : true), 10_000);
      await stopping;
      // QUIT answers after every command sent before it on that connection: the attempt's, too.
      await Promise.allSettled([state.quit(), subscriber.quit()]);
      expect(await suite.client.exists(schedulerKeys(DEFAULTS.statePrefix, name).lock)).toBe(0);
    } finally {
      state.disconnect();
      subscriber.disconnect();
    }
  });
});
