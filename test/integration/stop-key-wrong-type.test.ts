/**
 * A stop key of the wrong type (issue 66): a message pushed onto `<prefix>:{<name>}:stop` as if it
 * were a queue made it a list. The publishing scripts stop on the key's existence, so nothing was
 * published, while /readyz said "ok: leading" and `beat resume --all` failed with WRONGTYPE. Here,
 * with a real `beat run` on a private redis-server: /readyz says the deployment is stopped and what
 * the key holds, `beat status` says it first, `beat resume --all` deletes the list (its audit event
 * naming what it removed), and the entry publishes again (counted on kombu's `celery` list).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import { runCli } from '../support/cli.js';
import { httpPortOf, httpRequest, startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const NAME = 'wrong-stop';
const keys = schedulerKeys('tsbeat', NAME);

describe('a stop key of the wrong type', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
  });

  afterAll(async () => {
    await fleet.killAll();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it('is a stop that /readyz and beat status name, with what the key holds; beat resume --all deletes it and runs publish again', async () => {
    const config = dir.write('beat.json', {
      name: NAME,
      broker: { url: server.url(0) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: { every: { task: 't.every', schedule: 1 } },
    });
    const cli = (...argv: string[]) => runCli([...argv, '--config', config], { now: Date.now() });
    const beat = fleet.spawn({ config, label: 'leader', args: ['--http', '127.0.0.1:0'] });
    const port = await httpPortOf(beat);
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
    await waitUntil(
      'a first run',
      async () => ((await redis.llen('celery')) > 0 ? true : undefined),
      10_000,
      () => fleet.dump(),
    );

    // What a canvas step's queue named `tsbeat:{wrong-stop}:stop` did before queue names were checked.
    await redis.lpush(keys.stop, '{"body": "a task message"}');
    await beat.waitForLog('the leader reads the stop', (l) => l.event === EVENTS.deploymentStop && l['cleared'] !== true, 5000);
    const baseline = await redis.llen('celery');
    await sleep(2000);
    expect(await redis.llen('celery'), fleet.dump()).toBe(baseline);

    // Loopback is trusted: the detailed reason.
    const ready = await httpRequest(port, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toContain('DEPLOYMENT STOPPED by unknown (the stop key holds a list of 1 item, not the value tsbeat writes)');
    expect(ready.body).toContain("resume with 'beat resume --all'");
    const status = await cli('status');
    expect(status.stdout.split('\n')[0]).toContain('DEPLOYMENT STOPPED by unknown (the stop key holds a list of 1 item');

    const resumed = await cli('resume', '--all', '--note', 'issue 66');
    expect(resumed, resumed.stderr).toMatchObject({ code: 0 });
    expect(resumed.stdout).toContain(`resumed the deployment ${NAME} (stopped by unknown (the stop key holds a list of 1 item`);
    expect(await redis.exists(keys.stop)).toBe(0);
    const audit = JSON.parse((await cli('audit', '--json')).stdout) as { action: string; note?: string; changes: { before?: string }[] }[];
    expect(audit.find((e) => e.action === 'resume-all')).toMatchObject({
      note: 'issue 66',
      changes: [{ before: expect.stringContaining('the stop key holds a list of 1 item') as unknown }],
    });

    await waitUntil(
      'a run after the resume',
      async () => ((await redis.llen('celery')) > baseline ? true : undefined),
      5000,
      () => fleet.dump(),
    );
    expect((await httpRequest(port, '/readyz')).body).not.toContain('DEPLOYMENT STOPPED');
  }, 60_000);
});
