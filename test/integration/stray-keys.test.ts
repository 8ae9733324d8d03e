/**
 * Values of another type (or not tsbeat's JSON) at tsbeat's own keys, written by something else.
 * Before: a fence of the wrong type made the leader keep the lock and fail every publish with a
 * WRONGTYPE naming the script's hash; a leader key of the wrong type blocked every lock attempt
 * unnamed; state/paused/resumed keys of the wrong type all read "could not load the schedule state";
 * a state field that is not JSON was re-anchored silently. Each must name its key and the fix, and
 * a leader that cannot publish must hand over.
 * Redis: a private redis-server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { readEntryState } from '../../src/redis/entry-state-codec.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import type { SchedulerKeys } from '../../src/redis/keys.js';
import { FAST_LOCK, errText } from '../support/beat-process.js';
import { beatSuite } from '../support/beat-suite.js';
import { killCliChildren, runBeatCli, uniqueName } from '../support/ops.js';

describe('stray values at tsbeat keys are named, and a leader that cannot publish hands over', () => {
  const suite = beatSuite();
  const { fleet, dir } = suite;

  afterEach(async () => {
    await fleet.killAll();
    killCliChildren();
  });

  function deployment(): { file: string; keys: SchedulerKeys } {
    const name = uniqueName('stray');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: suite.redis.url(0) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: { tick: { task: 't.tick', schedule: 1 } },
    });
    return { file, keys: schedulerKeys('tsbeat', name) };
  }

  it('a fence holding a hash: the publish failure names the key and its fix, the leader hands over, and publishing resumes once the fence is rewritten', async () => {
    const { file, keys } = deployment();
    const beat = fleet.spawn({ config: file });
    await beat.waitForEvent(EVENTS.fire, 10_000);
    const from = beat.logs.length;
    await suite.client.multi().del(keys.fence).hset(keys.fence, 'stray', 'value').exec();
    const failed = await beat.waitForLog(
      'a publish failure naming the fence',
      (l) => l.event === EVENTS.publishRetry && errText(l).includes(keys.fence),
      10_000,
      from,
    );
    expect(errText(failed)).toContain(`key ${keys.fence} holds a hash, where tsbeat keeps a string (WRONGTYPE`);
    expect(errText(failed)).toContain(`DEL ${keys.fence}`);
    const lost = await beat.waitForEvent(EVENTS.lockLost, 5_000, from);
    expect(String(lost['reason'])).toContain('cannot publish');
    // Taking the lock again writes the fence (SET replaces the hash): publishing goes on.
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000, from);
    await beat.waitForLog('a fire after the handover', (l) => l.event === EVENTS.fire, 10_000, beat.logs.indexOf(lost));
    expect(await suite.client.type(keys.fence)).toBe('string');
  });

  it('a leader key holding a string no longer blocks every lock attempt: taking the lock replaces it, as the fence', async () => {
    const { file, keys } = deployment();
    await suite.client.set(keys.leader, 'stray');
    const beat = fleet.spawn({ config: file });
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
    await beat.waitForEvent(EVENTS.fire, 10_000);
    expect(await suite.client.type(keys.leader)).toBe('hash');
    expect(beat.events(EVENTS.redisRefused)).toEqual([]);
  });

  it('a state key holding a string: run stands by naming the key; status exits 1 naming it', async () => {
    const { file, keys } = deployment();
    await suite.client.set(keys.state, 'stray');
    const beat = fleet.spawn({ config: file });
    const failed = await beat.waitForLog(
      'the state load failure',
      (l) => l.event === EVENTS.stateLoadFailed && errText(l).includes(keys.state),
      10_000,
    );
    expect(errText(failed)).toContain(`key ${keys.state} holds a string, where tsbeat keeps a hash`);
    const r = await runBeatCli(['status', '--wide', '--config', file]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`key ${keys.state} holds a string, where tsbeat keeps a hash`);
  });

  it.each([
    ['paused', 'status', []],
    ['paused', 'pause', ['tick']],
    ['resumed', 'status', []],
    ['resumed', 'resume', ['tick']],
  ] as const)('a %s key holding a list: beat %s exits 1 naming the key and the fix', async (key, command, args) => {
    const { file, keys } = deployment();
    await suite.client.rpush(keys[key], 'stray');
    const r = await runBeatCli([command, ...args, '--config', file]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`key ${keys[key]} holds a list, where tsbeat keeps a ${key === 'paused' ? 'set' : 'hash'} (WRONGTYPE`);
    expect(r.stderr).toContain(`DEL ${keys[key]}`);
  });

  it('a state field that is not JSON: run says which key and entry start afresh', async () => {
    const { file, keys } = deployment();
    await suite.client.hset(keys.state, 'tick', 'not json');
    const beat = fleet.spawn({ config: file });
    const line = await beat.waitForEvent(EVENTS.stateUnreadable, 10_000);
    expect(line).toMatchObject({ key: keys.state, entry: 'tick' });
    expect(String(line.msg)).toContain('"not json"');
    expect(String(line.msg)).toContain('the value is replaced by a first sighting');
    // Replaced as said: the next reader finds a first sighting, not the stray text.
    await expect
      .poll(async () => readEntryState(await suite.client.hget(keys.state, 'tick'))?.runCount, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(0);
  });
});
