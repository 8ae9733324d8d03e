/**
 * An AMQP URL naming a vhost that does not exist. RabbitMQ closes the connection in place of
 * ConnectionOpenOk, which amqplib reports as "Expected ConnectionOpenOk; got <ConnectionClose
 * channel:0>": tsbeat kept the lock and failed every publish every 2 s. The vhost and the fix must be
 * named; at start it is a config error (exit 2); a leader whose vhost goes away hands over.
 * Broker: the shared RabbitMQ (a vhost of this file's own, created and deleted with rabbitmqctl);
 * state: a private redis-server.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/base/errors.js';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir } from '../support/beat-process.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { startPrivateRedis, uniqueName } from '../support/ops.js';

function rabbitmqctl(...args: string[]): boolean {
  try {
    execFileSync('rabbitmqctl', args, { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

describe('an AMQP vhost that does not exist', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let state: PrivateRedis;
  const vhosts: string[] = [];

  beforeAll(async () => {
    state = await startPrivateRedis();
  });

  afterEach(async () => {
    await fleet.killAll();
    for (const v of vhosts.splice(0)) rabbitmqctl('delete_vhost', v);
  });

  afterAll(async () => {
    await state?.stop();
    dir.remove();
  });

  function configFile(vhost: string): string {
    const name = uniqueName('vhost');
    return dir.write(`${name}.json`, {
      name,
      broker: { url: `amqp://guest:guest@127.0.0.1:5672/${vhost}` },
      state: { url: state.url(0) },
      taskDefaultQueue: `q-${name}`,
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: { tick: { task: 't.tick', schedule: 1 } },
    });
  }

  it('beat run exits 2 at start naming the vhost and how to create it', async () => {
    const vhost = uniqueName('tsbeat-missing');
    const beat = fleet.spawn({ config: configFile(vhost) });
    const exit = await beat.waitForExit(20_000);
    expect(exit.code, beat.tail()).toBe(2);
    const said = beat.text.join('\n');
    expect(said).toContain(`RabbitMQ at amqp://guest:***@127.0.0.1:5672/${vhost} refused to open virtual host "${vhost}"`);
    expect(said).toContain(`rabbitmqctl add_vhost '${vhost}'`);
    expect(beat.events(EVENTS.brokerError)[0]).toMatchObject({ code: ErrorCode.BrokerRefused });
    expect(beat.events(EVENTS.lockAcquired)).toEqual([]);
  });

  it.skipIf(!rabbitmqctl('status'))(
    'a leader whose vhost is deleted hands over, naming the vhost, instead of keeping the lock',
    async () => {
      const vhost = uniqueName('tsbeat-gone');
      expect(rabbitmqctl('add_vhost', vhost)).toBe(true);
      vhosts.push(vhost);
      expect(rabbitmqctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*')).toBe(true);
      const beat = fleet.spawn({ config: configFile(vhost) });
      await beat.waitForEvent(EVENTS.fire, 20_000);
      const from = beat.logs.length;
      expect(rabbitmqctl('delete_vhost', vhost)).toBe(true);
      const lost = await beat.waitForEvent(EVENTS.lockLost, 20_000, from);
      expect(String(lost['reason'])).toContain(`refused to open virtual host "${vhost}"`);
    },
  );
});
