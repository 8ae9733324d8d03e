/**
 * A queued replay that the leader cannot publish (issue 70): its item comes back to the list, in the
 * step that drops the request, rather than leaving with it for good. The control loop with a real
 * ControlStore on a private redis-server as its source (the publisher a recorder: nothing here is
 * published); the verbs as every door calls them. A replay is refused while the deployment is
 * stopped, nothing taken, even when the stop is set after the caller's own look at it.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/base/log.js';
import { deadLetterId, slotTaskId } from '../../src/celery/task-id.js';
import { parseConfig } from '../../src/config/load.js';
import type { TriggerPublisher } from '../../src/ports/control-source.js';
import { TriggerResult } from '../../src/ports/control-source.js';
import type { DeadLetter } from '../../src/ports/outcomes.js';
import { ControlStore } from '../../src/redis/control-store.js';
import { encodeDeadLetter } from '../../src/redis/dead-letter-codec.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import type { SchedulerKeys } from '../../src/redis/keys.js';
import { discardDeadLetters, replayDeadLetters } from '../../src/operations/dead-letter-verbs.js';
import { parseSelector } from '../../src/core/label-selector.js';
import { AuditLog } from '../../src/redis/audit-log.js';
import { ControlLoop } from '../../src/runtime/control-loop.js';
import { startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const ENV = { origin: 'gen1@it', replyTo: '00000000-0000-4000-8000-000000000000' };
const CLI = { who: 'tester@it' };

function letter(entry: string, slotMs: number): DeadLetter {
  const retryOf = slotTaskId('it', entry, slotMs);
  return {
    id: deadLetterId(entry, retryOf),
    entry,
    slotMs,
    taskId: retryOf,
    retryOf,
    attempts: 1,
    end: 'failure',
    exception: 'ValueError: boom',
    atMs: slotMs + 500,
  };
}

async function putLetter(client: Redis, keys: SchedulerKeys, d: DeadLetter): Promise<void> {
  await client.hset(keys.deadLetterItems, d.id, encodeDeadLetter(d));
  await client.zadd(keys.deadLetters, d.atMs, d.id);
}

/** A publisher that records what reaches it and answers `result`. */
function recorder(result: TriggerResult = TriggerResult.Published): TriggerPublisher & { texts: string[] } {
  const texts: string[] = [];
  return { texts, publishTrigger: (_m, text) => (texts.push(text), Promise.resolve(result)) };
}

describe('a queued replay the leader drops puts its item back', () => {
  let server: PrivateRedis;
  let client: Redis;

  beforeAll(async () => {
    server = await startPrivateRedis();
    client = server.client(0);
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
  });

  /** Runs the control loop at `now` over the store until the triggers list is empty. */
  async function lead(
    keys: SchedulerKeys,
    store: ControlStore,
    config: ReturnType<typeof parseConfig>,
    now: number,
    publisher: TriggerPublisher,
  ) {
    const loop = new ControlLoop({
      config,
      source: store,
      publisher,
      messageEnv: ENV,
      logger: silentLogger,
      now: () => now,
      lease: () => 'token',
      onPaused: () => undefined,
      intervalMs: 10,
    });
    loop.start();
    try {
      await vi.waitFor(async () => expect(await client.llen(keys.triggers)).toBe(0), { timeout: 5000 });
    } finally {
      await loop.stop();
    }
  }

  it('puts the item back when the leader finds its request too old', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('dl-old'));
    const store = new ControlStore(client, keys);
    const d = letter('job', Date.parse('2026-11-27T00:00:00Z'));
    await putLetter(client, keys, d);
    const asked = Date.parse('2026-11-27T01:00:00Z');
    await replayDeadLetters(
      store,
      CLI,
      { id: d.id },
      () => undefined,
      asked,
      () => true,
    );
    expect(await client.zcard(keys.deadLetters)).toBe(0);
    const config = parseConfig({ name: 'it', beatSchedule: { job: { task: 't.job', schedule: 60 } } }, 'it');
    const publisher = recorder();
    // The leader comes back an hour later: the request is past the age limit.
    await lead(keys, store, config, asked + 3_600_000, publisher);
    expect(publisher.texts).toEqual([]);
    expect(await store.deadLetters()).toEqual([d]);
  });

  it("puts the item back when the leader's config no longer has its entry", async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('dl-gone'));
    const store = new ControlStore(client, keys);
    const d = letter('job', Date.parse('2026-11-27T00:00:00Z'));
    await putLetter(client, keys, d);
    const asked = Date.parse('2026-11-27T01:00:00Z');
    await replayDeadLetters(
      store,
      CLI,
      { id: d.id },
      () => undefined,
      asked,
      () => true,
    );
    const config = parseConfig({ name: 'it', beatSchedule: { other: { task: 't.other', schedule: 60 } } }, 'it');
    const publisher = recorder();
    await lead(keys, store, config, asked + 60_000, publisher);
    expect(publisher.texts).toEqual([]);
    expect(await store.deadLetters()).toEqual([d]);
  });

  it('puts the item back when the leader refuses the replay', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('dl-refused'));
    const store = new ControlStore(client, keys);
    const d = letter('job', Date.parse('2026-11-27T00:00:00Z'));
    await putLetter(client, keys, d);
    const asked = Date.parse('2026-11-27T01:00:00Z');
    await replayDeadLetters(
      store,
      CLI,
      { id: d.id },
      () => undefined,
      asked,
      () => true,
    );
    const config = parseConfig({ name: 'it', beatSchedule: { job: { task: 't.job', schedule: 60 } } }, 'it');
    // The refusing script removed the request and said so (as trigger-fenced.lua's reply 3 does).
    const refusing: TriggerPublisher = {
      publishTrigger: async (m, text) => {
        await client.lrem(keys.triggers, 1, text);
        await client.set(keys.triggered(m.id), 'refused q-job string');
        return TriggerResult.Refused;
      },
    };
    await lead(keys, store, config, asked + 1000, refusing);
    await vi.waitFor(async () => expect(await store.deadLetters()).toEqual([d]), { timeout: 5000 });
  });

  it('keeps the request, and the item off the list, when a publish fails before its script ran', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('dl-failed'));
    const store = new ControlStore(client, keys);
    const d = letter('job', Date.parse('2026-11-27T00:00:00Z'));
    await putLetter(client, keys, d);
    const asked = Date.parse('2026-11-27T01:00:00Z');
    await replayDeadLetters(
      store,
      CLI,
      { id: d.id },
      () => undefined,
      asked,
      () => true,
    );
    const config = parseConfig({ name: 'it', beatSchedule: { job: { task: 't.job', schedule: 60 } } }, 'it');
    let calls = 0;
    const failing: TriggerPublisher = {
      publishTrigger: () => {
        calls += 1;
        return Promise.reject(new Error('connection reset'));
      },
    };
    const loop = new ControlLoop({
      config,
      source: store,
      publisher: failing,
      messageEnv: ENV,
      logger: silentLogger,
      now: () => asked + 1000,
      lease: () => 'token',
      onPaused: () => undefined,
      intervalMs: 10,
    });
    loop.start();
    try {
      await vi.waitFor(() => expect(calls).toBeGreaterThanOrEqual(2), { timeout: 5000 });
    } finally {
      await loop.stop();
    }
    // Still pending for the next try: the replay is not lost, nor is its item back beside it.
    expect(await client.llen(keys.triggers)).toBe(1);
    expect(await store.deadLetters()).toEqual([]);
  });

  it('refuses a replay while the deployment is stopped, nothing taken, even when the stop comes after the look', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('dl-stop'));
    const store = new ControlStore(client, keys);
    const d = letter('job', Date.parse('2026-11-27T00:00:00Z'));
    await putLetter(client, keys, d);
    await store.stopDeployment(Date.now(), CLI);
    // The caller's own look at the stop saw none (the stop set just after it).
    vi.spyOn(store, 'deploymentStop').mockResolvedValueOnce(undefined);
    await expect(
      replayDeadLetters(
        store,
        CLI,
        { id: d.id },
        () => undefined,
        Date.now(),
        () => true,
      ),
    ).rejects.toMatchObject({
      code: 'DEPLOYMENT_STOPPED',
    });
    expect(await store.deadLetters()).toEqual([d]);
    expect(await client.llen(keys.triggers)).toBe(0);
  });

  it('refuses to replay an item whose entry was deleted and created again since its run, and replays one edited since', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('dl-again'));
    const store = new ControlStore(client, keys);
    // Published under version 3 of the entry's record (created at version 3).
    const d: DeadLetter = { ...letter('job', Date.parse('2026-11-27T00:00:00Z')), revision: '3' };
    await putLetter(client, keys, d);
    // Deleted and created again: the record's incarnation is 5 now.
    await client.hset(keys.entries, 'job', '{"v":5,"i":5,"created":1,"updated":1,"entry":{"task":"t.job","schedule":60}}');
    await expect(
      replayDeadLetters(
        store,
        CLI,
        { id: d.id },
        () => undefined,
        Date.now(),
        () => true,
      ),
    ).rejects.toMatchObject({
      code: 'UNKNOWN_ENTRY',
      message: expect.stringContaining('created again since its run') as unknown,
    });
    expect(await store.deadLetters()).toEqual([d]);
    expect(await client.llen(keys.triggers)).toBe(0);
    // Only edited since (version 7 of incarnation 3): replayed.
    await client.hset(keys.entries, 'job', '{"v":7,"i":3,"created":1,"updated":2,"entry":{"task":"t.job","schedule":30}}');
    await replayDeadLetters(
      store,
      CLI,
      { id: d.id },
      () => undefined,
      Date.now(),
      () => true,
    );
    expect(await store.deadLetters()).toEqual([]);
    expect(await client.llen(keys.triggers)).toBe(1);
  });

  it("names the items in a selection's one audit event, replay and discard", async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('dl-audit'));
    const store = new ControlStore(client, keys);
    const replayed = [letter('job', Date.parse('2026-11-27T00:00:00Z')), letter('job', Date.parse('2026-11-27T00:01:00Z'))];
    const discarded = letter('other', Date.parse('2026-11-27T00:02:00Z'));
    for (const d of [...replayed, discarded]) await putLetter(client, keys, d);
    const parsed = parseSelector('team=a');
    const other = parseSelector('team=b');
    if (!parsed.ok || !other.ok) throw new Error('selector');
    const scopeOf = (entry: string) => ({ name: entry, labels: { team: entry === 'job' ? 'a' : 'b' } });
    await replayDeadLetters(store, CLI, { selector: parsed.selector }, scopeOf, Date.now(), () => true);
    await discardDeadLetters(store, CLI, { selector: other.selector }, scopeOf, Date.now());
    const events = await new AuditLog(client, keys).read({ limit: 10 });
    const byAction = new Map(events.map((e) => [e.action, e]));
    expect(byAction.get('dead-letter-replay')).toMatchObject({ selector: 'team=a', entries: ['job'], items: replayed.map((d) => d.id) });
    expect(byAction.get('dead-letter-discard')).toMatchObject({ selector: 'team=b', entries: ['other'], items: [discarded.id] });
  });
});
