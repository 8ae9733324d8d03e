/**
 * The contract of the stored state, on the shared Redis (DB 10, this file's only DB, keys under
 * `lua-contract:`): every Lua script that reads an entry's state, and the TypeScript reader, are fed
 * the same table of values (test/support/entry-state-values.ts: readable, corrupt, missing) and must
 * each do what its header documents for the state the codec reads from it, an unreadable value
 * being exactly a missing one. A key of the wrong type is refused, by every script, with an error
 * naming it, and nothing is written (every key compared by TYPE and DUMP before and after).
 * Also: the Lua decode agrees with the TypeScript codec on every value, and the publish script's
 * fast path with the Lua decode.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/base/defaults.js';
import { packArgs } from '../../src/kombu/redis-envelope.js';
import {
  MAX_RUN_COUNT,
  UNREADABLE,
  decodeEntryState,
  encodeEntryState,
  firstSighting,
  publishedStateAfterSlot,
} from '../../src/redis/entry-state-codec.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { assembleLua } from '../../src/redis/lua-includes.js';
import { readLuaFragment, withScripts } from '../../src/redis/scripts.js';
import { RedisStateStore } from '../../src/redis/state-store.js';
import type { EntryState } from '../../src/ports/state.js';
import { S0, STATE_VALUES } from '../support/entry-state-values.js';

const redis = new Redis('redis://127.0.0.1:6379/10');
const scripts = withScripts(redis);
const keys = schedulerKeys('lua-contract', 'c');
const QUEUE = 'lua-contract:queue';
const TOKEN = 'leader-token';
const ENTRY = 'e';
const RUN_SLOT = S0 + 1000;
const AT = S0 + 2000;
const TASK_ID = 'task-id';
const REQUEST = JSON.stringify({ entry: ENTRY, id: TASK_ID, at: AT });
const PAYLOAD = 'payload';
const CONFIRMED = keys.triggered(TASK_ID);
/** Another entry's state, which no script may touch. */
const OTHER = { field: 'other', text: `{"slot":${S0},"at":${S0},"id":"o","n":3}` };

beforeEach(async () => {
  await redis.flushdb();
});

afterAll(async () => {
  await redis.flushdb();
  redis.disconnect();
});

/** Every key of the DB: its type and DUMP (hex), and whether it expires. */
async function snapshot(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const key of (await redis.keys('*')).sort()) {
    const [type, dump, ttl] = await Promise.all([redis.type(key), redis.dumpBuffer(key), redis.pttl(key)]);
    out.set(key, `${type} ${dump?.toString('hex') ?? ''} ${ttl > 0 ? 'expires' : 'stays'}`);
  }
  return out;
}

/** The scene every script runs in: the fence held, the request pending, the entry's value (if any) and another entry's. */
async function scene(text: string | undefined): Promise<void> {
  await redis.set(keys.fence, TOKEN);
  await redis.rpush(keys.triggers, REQUEST);
  await redis.hset(keys.state, OTHER.field, OTHER.text);
  if (text !== undefined) await redis.hset(keys.state, ENTRY, text);
}

/** What a script did: its reply, and every key after it but the state hash, and that hash's fields. */
interface Outcome {
  reply: unknown;
  state: Record<string, string>;
  others: Map<string, string>;
}

type Call = () => Promise<unknown>;

/** commit-trigger.lua's call; `refusal`: the broker's answer to a message it refused (ARGV[7]). */
const commitTrigger = (...refusal: string[]): Promise<number> =>
  scripts.commitTrigger(
    5,
    keys.fence,
    keys.state,
    keys.triggers,
    CONFIRMED,
    keys.entries,
    TOKEN,
    String(AT),
    REQUEST,
    ENTRY,
    TASK_ID,
    '',
    ...refusal,
  );

const CALLS = {
  'publish-fenced': () =>
    scripts.publishFenced(
      5,
      keys.fence,
      keys.state,
      keys.entries,
      keys.stop,
      QUEUE,
      packArgs([
        TOKEN,
        String(DEFAULTS.maxClockSkewMs),
        '1',
        ENTRY,
        String(RUN_SLOT),
        publishedStateAfterSlot(String(AT), TASK_ID),
        '', // a config-file entry: no revision to check
        '1',
        'list',
        '5',
        '1',
        '1',
        PAYLOAD,
      ]).bytes,
    ),
  'claim-fenced': () =>
    scripts.claimFenced(
      4,
      keys.fence,
      keys.state,
      keys.entries,
      keys.stop,
      TOKEN,
      String(DEFAULTS.maxClockSkewMs),
      '1',
      ENTRY,
      String(RUN_SLOT),
      '',
    ),
  'commit-fenced': () =>
    scripts.commitFenced(3, keys.fence, keys.state, keys.entries, TOKEN, String(AT), '1', ENTRY, String(RUN_SLOT), TASK_ID, ''),
  'trigger-fenced': () =>
    scripts.triggerFenced(
      7,
      keys.fence,
      keys.state,
      keys.triggers,
      CONFIRMED,
      keys.entries,
      keys.stop,
      QUEUE,
      TOKEN,
      String(AT),
      REQUEST,
      ENTRY,
      TASK_ID,
      '1',
      '0',
      '', // a config-file entry: no revision to check
      '7',
      PAYLOAD,
    ),
  'claim-trigger': () => scripts.claimTrigger(3, keys.fence, keys.triggers, keys.stop, TOKEN, REQUEST),
  'commit-trigger': () => commitTrigger(),
  'record-seen': () => scripts.recordSeen(3, keys.state, keys.entries, keys.passedSince, firstSighting(AT), '1', ENTRY, ''),
  'leader-info': () => scripts.leaderInfo(2, keys.fence, keys.leader, TOKEN, 'configHash', 'abc'),
} satisfies Record<string, Call>;
type ScriptName = keyof typeof CALLS;

async function run(name: ScriptName): Promise<Outcome> {
  const reply = await CALLS[name]();
  const state = await redis.hgetall(keys.state);
  const others = await snapshot();
  others.delete(keys.state);
  return { reply, state, others };
}

/** The keys but the state hash after the scene, with `changes` applied (undefined: the key is gone). */
async function othersAfter(changes: Record<string, string | undefined>): Promise<Map<string, string>> {
  const saved = await snapshot();
  saved.delete(keys.state);
  const expected = new Map(saved);
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) expected.delete(key);
    else expected.set(key, value);
  }
  return expected;
}

/** The state a manual run writes over `state` (trigger-fenced and commit-trigger). */
function afterManualRun(state: EntryState | undefined): EntryState {
  const seenMs = state?.seenMs ?? (state?.slotMs === undefined ? AT : undefined);
  return {
    ...(state?.slotMs === undefined ? {} : { slotMs: state.slotMs }),
    ...(seenMs === undefined ? {} : { seenMs }),
    publishedAtMs: AT,
    lastRunTriggered: true,
    lastTaskId: TASK_ID,
    runCount: Math.min((state?.runCount ?? 0) + 1, MAX_RUN_COUNT),
    manualRuns: Math.min((state?.manualRuns ?? 0) + 1, MAX_RUN_COUNT),
    ...(state?.incarnation === undefined ? {} : { incarnation: state.incarnation }),
  };
}

const CASES = [{ label: 'missing', text: undefined as string | undefined, state: undefined as EntryState | undefined }].concat(
  STATE_VALUES.map((v) => ({ label: v.label, text: v.text, state: v.state === UNREADABLE ? undefined : v.state })),
);

describe.each(CASES.map((c) => [c.label, c] as const))('a stored value: %s', (_label, value) => {
  const fresh = !(value.state?.slotMs !== undefined && value.state.slotMs >= RUN_SLOT);
  const count = value.state?.runCount ?? 0;
  /** The count after one more run: it stops at the largest (includes/entry-state.lua countText). */
  const next = Math.min(count + 1, MAX_RUN_COUNT);
  /** The manual runs, kept across a scheduled run: what follows the count in the state written. */
  const manual = value.state?.manualRuns;
  const tail = manual === undefined ? '' : `,"t":${manual}`;
  /** The first sighting, kept by a run: written after the slot. */
  const seen = value.state?.seenMs;
  const seenText = seen === undefined ? ',' : `,"seen":${seen},`;
  const before = (): Record<string, string> => ({
    [OTHER.field]: OTHER.text,
    ...(value.text === undefined ? {} : { [ENTRY]: value.text }),
  });

  it("publish-fenced: fresh unless its slot is at or after the run's; pushes and writes the state with the count on", async () => {
    await scene(value.text);
    const list = fresh ? await lineOfList([PAYLOAD]) : undefined;
    const expected = await othersAfter(fresh ? { [QUEUE]: list } : {});
    const outcome = await run('publish-fenced');
    expect(outcome.reply).toEqual([1, fresh ? 1 : 0]);
    expect(outcome.state).toEqual({
      ...before(),
      ...(fresh ? { [ENTRY]: `{"slot":${RUN_SLOT}${seenText}${publishedStateAfterSlot(String(AT), TASK_ID)}${next}${tail}}` } : {}),
    });
    expect(outcome.others).toEqual(expected);
  });

  it('claim-fenced: the same freshness; writes nothing', async () => {
    await scene(value.text);
    const expected = await othersAfter({});
    const outcome = await run('claim-fenced');
    expect(outcome.reply).toEqual([1, fresh ? 1 : 0]);
    expect(outcome.state).toEqual(before());
    expect(outcome.others).toEqual(expected);
  });

  it('commit-fenced: the same freshness; writes the state as publish-fenced does', async () => {
    await scene(value.text);
    const expected = await othersAfter({});
    const outcome = await run('commit-fenced');
    expect(outcome.reply).toEqual([1, fresh ? 1 : 0]);
    const written = encodeEntryState({
      slotMs: RUN_SLOT,
      ...(seen === undefined ? {} : { seenMs: seen }),
      publishedAtMs: AT,
      lastTaskId: TASK_ID,
      runCount: next,
      ...(manual === undefined ? {} : { manualRuns: manual }),
    });
    expect(outcome.state).toEqual({ ...before(), ...(fresh ? { [ENTRY]: written } : {}) });
    expect(outcome.others).toEqual(expected);
  });

  it('trigger-fenced: publishes, removes the request, keeps the slot, counts on', async () => {
    await scene(value.text);
    const list = await lineOfList([PAYLOAD]);
    const expected = await othersAfter({ [QUEUE]: list, [keys.triggers]: undefined });
    const outcome = await run('trigger-fenced');
    expect(outcome.reply).toBe(1);
    const { [ENTRY]: written, ...rest } = outcome.state;
    expect(rest).toEqual({ [OTHER.field]: OTHER.text });
    expect(decodeEntryState(written ?? '')).toEqual(afterManualRun(value.state));
    expect(outcome.others.get(CONFIRMED)).toMatch(/^string .* expires$/);
    outcome.others.delete(CONFIRMED);
    expect(outcome.others).toEqual(expected);
  });

  it('commit-trigger: the same state as trigger-fenced', async () => {
    await scene(value.text);
    const expected = await othersAfter({ [keys.triggers]: undefined });
    const outcome = await run('commit-trigger');
    expect(outcome.reply).toBe(1);
    const { [ENTRY]: written, ...rest } = outcome.state;
    expect(rest).toEqual({ [OTHER.field]: OTHER.text });
    expect(decodeEntryState(written ?? '')).toEqual(afterManualRun(value.state));
    expect(outcome.others.get(CONFIRMED)).toMatch(/^string .* expires$/);
    outcome.others.delete(CONFIRMED);
    expect(outcome.others).toEqual(expected);
  });

  it('claim-trigger: does not read the state; the request is pending', async () => {
    await scene(value.text);
    const expected = await othersAfter({});
    const outcome = await run('claim-trigger');
    expect(outcome.reply).toBe(1);
    expect(outcome.state).toEqual(before());
    expect(outcome.others).toEqual(expected);
  });

  it('record-seen: a first sighting replaces a missing or unreadable value, and only those', async () => {
    await scene(value.text);
    const expected = await othersAfter({});
    const outcome = await run('record-seen');
    expect(outcome.reply).toEqual([value.state === undefined ? 1 : 0]);
    expect(outcome.state).toEqual({ ...before(), ...(value.state === undefined ? { [ENTRY]: firstSighting(AT) } : {}) });
    expect(outcome.others).toEqual(expected);
  });

  it('the TypeScript reader: the same state, or (missing, unreadable) a first sighting from now; an unreadable value is reported', async () => {
    await scene(value.text);
    const reported: string[] = [];
    const states = await new RedisStateStore(redis, keys, ({ field }) => reported.push(field)).load([ENTRY], AT);
    expect(states.get(ENTRY)).toEqual(value.state ?? { seenMs: AT, runCount: 0 });
    expect(reported).toEqual(value.text !== undefined && value.state === undefined ? [ENTRY] : []);
    expect(await redis.hget(keys.state, ENTRY)).toBe(value.state === undefined ? firstSighting(AT) : value.text);
  });
});

/** The snapshot line of the queue list holding `items` (built on a scratch key, then renamed away). */
async function lineOfList(items: string[]): Promise<string> {
  const scratch = 'lua-contract:scratch';
  await redis.rpush(scratch, ...items);
  const line = (await snapshot()).get(scratch) ?? '';
  await redis.del(scratch);
  return line;
}

describe('a key of the wrong type is refused before anything is written, naming the key', () => {
  const ROLES: Record<ScriptName, string[]> = {
    // (The entries hash refuses the runtime entries' runs only: hostile-redis.test.ts, where the config file's keep firing.)
    'publish-fenced': [keys.fence, keys.state],
    'claim-fenced': [keys.fence, keys.state, keys.entries],
    'commit-fenced': [keys.fence, keys.state, keys.entries],
    'trigger-fenced': [keys.fence, keys.state, keys.triggers, keys.entries],
    'claim-trigger': [keys.fence, keys.triggers],
    'commit-trigger': [keys.fence, keys.state, keys.triggers, keys.entries],
    'record-seen': [keys.state, keys.entries, keys.passedSince],
    'leader-info': [keys.fence, keys.leader],
  };
  const cases = Object.entries(ROLES).flatMap(([name, roles]) => roles.map((key) => [name as ScriptName, key] as const));

  it.each(cases)('%s, %s holding a set', async (name, key) => {
    await scene(`{"slot":${S0},"n":1}`);
    await redis.del(key);
    await redis.sadd(key, 'stray');
    const before = await snapshot();
    const error = await CALLS[name]().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toContain(`WRONGTYPE ${name}: ${key} holds a set`);
    expect(message).toContain('nothing was written');
    expect(await snapshot()).toEqual(before);
  });
});

describe("the entry fence: a run's revision against the stored record (every script that writes or claims an entry's run)", () => {
  const REVISION = '5';
  const RECORDS: [label: string, record: string | undefined, same: boolean][] = [
    ['the same version', `{"v":5,"i":2,"created":1,"updated":1,"entry":{"schedule":1,"task":"t"}}`, true],
    ['a record written before incarnations, the same version', `{"v":5,"created":1,"updated":1,"entry":{}}`, true],
    ['edited since (another version)', `{"v":6,"i":2,"created":1,"updated":1,"entry":{"schedule":2,"task":"t"}}`, false],
    ['deleted (no record)', undefined, false],
    ['not a record', 'garbage', false],
  ];
  const calls = {
    'publish-fenced': () =>
      scripts.publishFenced(
        ...[5, keys.fence, keys.state, keys.entries, keys.stop, QUEUE],
        packArgs([
          ...[TOKEN, String(DEFAULTS.maxClockSkewMs), '1', ENTRY, String(RUN_SLOT)],
          ...[publishedStateAfterSlot(String(AT), TASK_ID), REVISION, '1', 'list', '5', '1', '1', PAYLOAD],
        ]).bytes,
      ),
    'claim-fenced': () =>
      scripts.claimFenced(
        4,
        keys.fence,
        keys.state,
        keys.entries,
        keys.stop,
        TOKEN,
        String(DEFAULTS.maxClockSkewMs),
        '1',
        ENTRY,
        String(RUN_SLOT),
        REVISION,
      ),
    'commit-fenced': () =>
      scripts.commitFenced(3, keys.fence, keys.state, keys.entries, TOKEN, String(AT), '1', ENTRY, String(RUN_SLOT), TASK_ID, REVISION),
    'record-seen': () => scripts.recordSeen(3, keys.state, keys.entries, keys.passedSince, firstSighting(AT), '1', ENTRY, REVISION),
    'trigger-fenced': () =>
      scripts.triggerFenced(
        ...[
          7,
          keys.fence,
          keys.state,
          keys.triggers,
          CONFIRMED,
          keys.entries,
          keys.stop,
          QUEUE,
          TOKEN,
          String(AT),
          REQUEST,
          ENTRY,
          TASK_ID,
        ],
        ...['1', '0', REVISION, '7', PAYLOAD],
      ),
  };
  const cases = Object.keys(calls).flatMap((name) => RECORDS.map(([label, record, same]) => [name, label, record, same] as const));

  it.each(cases)('%s, %s', async (name, _label, record, same) => {
    await scene(undefined);
    if (record !== undefined) await redis.hset(keys.entries, ENTRY, record);
    const before = await snapshot();
    const reply = await calls[name as keyof typeof calls]();
    const code = same ? 1 : 2;
    expect(reply).toEqual(name === 'trigger-fenced' ? code : name === 'record-seen' ? [code] : [1, code]);
    if (!same) expect(await snapshot()).toEqual(before);
    else if (name === 'record-seen') expect(await redis.hget(keys.state, ENTRY)).toBe(firstSighting(AT));
    else if (name === 'trigger-fenced')
      expect(decodeEntryState((await redis.hget(keys.state, ENTRY)) ?? '')).toEqual(afterManualRun(undefined));
    else if (name !== 'claim-fenced')
      expect(decodeEntryState((await redis.hget(keys.state, ENTRY)) ?? '')).toMatchObject({ slotMs: RUN_SLOT });
  });
});

describe("a queue key of another type is the entry's fault: its run is refused, the rest is whole", () => {
  it('publish-fenced: code 3 and the key with its type; nothing pushed or stored', async () => {
    await scene(`{"slot":${S0},"n":1}`);
    await redis.sadd(QUEUE, 'stray');
    const before = await snapshot();
    expect(await CALLS['publish-fenced']()).toEqual([1, 3, QUEUE, 'set']);
    expect(await snapshot()).toEqual(before);
  });

  it('trigger-fenced: { 3, key, type }; the request is removed (it would be refused again) and the CLI told; nothing pushed, the state as it was', async () => {
    await scene(`{"slot":${S0},"n":1}`);
    await redis.sadd(QUEUE, 'stray');
    const before = await snapshot();
    expect(await CALLS['trigger-fenced']()).toEqual([3, QUEUE, 'set']);
    const after = await snapshot();
    expect(after.get(keys.triggers)).toBeUndefined();
    expect(await redis.get(CONFIRMED)).toBe(`refused ${QUEUE} set`);
    after.delete(CONFIRMED);
    before.delete(keys.triggers);
    expect(after).toEqual(before);
  });

  it("commit-trigger with the broker's refusal: the request is removed and the CLI told why; the state as it was", async () => {
    await scene(`{"slot":${S0},"n":1}`);
    const before = await snapshot();
    const why = 'the broker closed the channel on this message: NOT_FOUND - no exchange; mend the route';
    const call = (): Promise<number> => commitTrigger(why);
    expect(await call()).toBe(3);
    const after = await snapshot();
    expect(after.get(keys.triggers)).toBeUndefined();
    expect(await redis.get(CONFIRMED)).toBe(`refused: ${why}`);
    expect(await redis.pttl(CONFIRMED)).toBeGreaterThan(0);
    after.delete(CONFIRMED);
    before.delete(keys.triggers);
    expect(after).toEqual(before);
    // Withdrawn meanwhile (the CLI gave up): nothing written.
    await redis.del(CONFIRMED);
    expect(await call()).toBe(0);
    expect(await redis.exists(CONFIRMED)).toBe(0);
    // Fenced: nothing written, the request stays.
    await redis.rpush(keys.triggers, REQUEST);
    await redis.set(keys.fence, 'another');
    expect(await call()).toBe(-1);
    expect(await redis.llen(keys.triggers)).toBe(1);
    expect(await redis.exists(CONFIRMED)).toBe(0);
  });
});

describe("the entry fence of an entry with no record (RedBeat, django): the run's incarnation against its state's", () => {
  const MINE = 'r1500';
  const FENCE = `@${MINE}`;
  // The stored slot is after the run's, so that a state taken for this incarnation's makes the run stale.
  const LATER = RUN_SLOT + 5000;
  const STATES: [label: string, text: string | undefined, verdict: 'fresh' | 'own' | 'superseded'][] = [
    ['no state', undefined, 'fresh'],
    ['its own incarnation', `{"slot":${S0},"g":"${MINE}","n":3}`, 'own'],
    ['its own incarnation, slot after the run', `{"slot":${LATER},"g":"${MINE}","n":3}`, 'own'],
    ['a state written before incarnations (adopted)', `{"slot":${S0},"n":3}`, 'own'],
    ['an older incarnation (a shorter number)', `{"slot":${LATER},"g":"r999","n":3}`, 'fresh'],
    ['an older incarnation', `{"slot":${LATER},"g":"r1499","n":3}`, 'fresh'],
    ["another source's entry of the name", `{"slot":${LATER},"g":"d5000","n":3}`, 'fresh'],
    ['a newer incarnation (the run was read before a re-creation)', `{"slot":${S0},"g":"r1501","n":3}`, 'superseded'],
    ['a newer incarnation (a longer number)', `{"slot":${S0},"g":"r10000","n":3}`, 'superseded'],
  ];
  const calls = {
    'publish-fenced': () =>
      scripts.publishFenced(
        ...[5, keys.fence, keys.state, keys.entries, keys.stop, QUEUE],
        packArgs([
          ...[TOKEN, String(DEFAULTS.maxClockSkewMs), '1', ENTRY, String(RUN_SLOT)],
          ...[publishedStateAfterSlot(String(AT), TASK_ID, MINE), FENCE, '1', 'list', '5', '1', '1', PAYLOAD],
        ]).bytes,
      ),
    'claim-fenced': () =>
      scripts.claimFenced(
        4,
        keys.fence,
        keys.state,
        keys.entries,
        keys.stop,
        TOKEN,
        String(DEFAULTS.maxClockSkewMs),
        '1',
        ENTRY,
        String(RUN_SLOT),
        FENCE,
      ),
    'commit-fenced': () =>
      scripts.commitFenced(3, keys.fence, keys.state, keys.entries, TOKEN, String(AT), '1', ENTRY, String(RUN_SLOT), TASK_ID, FENCE),
    'record-seen': () => scripts.recordSeen(3, keys.state, keys.entries, keys.passedSince, firstSighting(AT), '1', ENTRY, FENCE),
    'trigger-fenced': () =>
      scripts.triggerFenced(
        ...[
          7,
          keys.fence,
          keys.state,
          keys.triggers,
          CONFIRMED,
          keys.entries,
          keys.stop,
          QUEUE,
          TOKEN,
          String(AT),
          REQUEST,
          ENTRY,
          TASK_ID,
        ],
        ...['1', '0', FENCE, '7', PAYLOAD],
      ),
    'commit-trigger': () =>
      scripts.commitTrigger(
        5,
        keys.fence,
        keys.state,
        keys.triggers,
        CONFIRMED,
        keys.entries,
        TOKEN,
        String(AT),
        REQUEST,
        ENTRY,
        TASK_ID,
        FENCE,
      ),
  };
  const cases = Object.keys(calls).flatMap((name) => STATES.map(([label, text, verdict]) => [name, label, text, verdict] as const));

  it.each(cases)('%s, %s', async (name, _label, text, verdict) => {
    await scene(text);
    const stored = text === undefined ? undefined : decodeEntryState(text);
    const own = verdict === 'own' && stored !== undefined && stored !== UNREADABLE ? stored : undefined;
    const before = await snapshot();
    const reply = await calls[name as keyof typeof calls]();
    const after = await redis.hget(keys.state, ENTRY);
    const state = after === null ? undefined : decodeEntryState(after);
    if (verdict === 'superseded') {
      expect(reply).toEqual(name === 'record-seen' ? [2] : name === 'trigger-fenced' || name === 'commit-trigger' ? 2 : [1, 2]);
      if (name !== 'commit-trigger') expect(await snapshot()).toEqual(before);
      else expect(after).toBe(text ?? null); // the message is out: the request goes, the state stays
      return;
    }
    // A scheduled run is stale only against its own incarnation's later slot.
    const stale = own?.slotMs !== undefined && own.slotMs >= RUN_SLOT;
    if (name === 'record-seen') {
      expect(reply).toEqual([own === undefined ? 1 : 0]);
      expect(state).toEqual(own ?? { seenMs: AT, incarnation: MINE, runCount: 0 });
    } else if (name === 'claim-fenced') {
      expect(reply).toEqual([1, stale ? 0 : 1]);
      expect(await snapshot()).toEqual(before);
    } else if (name === 'trigger-fenced' || name === 'commit-trigger') {
      expect(reply).toBe(1);
      expect(state).toEqual({ ...afterManualRun(own), incarnation: MINE });
    } else {
      expect(reply).toEqual([1, stale ? 0 : 1]);
      if (stale) expect(after).toBe(text);
      else
        expect(state).toEqual({
          slotMs: RUN_SLOT,
          publishedAtMs: AT,
          lastTaskId: TASK_ID,
          incarnation: MINE,
          runCount: (own?.runCount ?? 0) + 1,
        });
    }
  });
});

describe('the Lua decode (includes/entry-state.lua)', () => {
  // Per value: the decoded members ('=' and the value, '' when absent; numbers as %.17g), then the fast path's slot and count.
  const probe = assembleLua(
    'decode-probe',
    [
      '--- @include "entry-state"',
      'local function shown(v) if v == nil then return "" end if type(v) == "number" then return "=" .. string.format("%.17g", v) end return "=" .. v end',
      'local out = {}',
      'for i, text in ipairs(ARGV) do',
      '  local s = decodeState(text)',
      '  local slot, n, t, g, seen = storedSlotAndCount(text)',
      '  if s then out[i] = { "state", shown(s.slot), shown(s.seen), shown(s.at), shown(s.by), shown(s.id), shown(s.n), shown(slot), shown(n), shown(s.t), shown(t), shown(s.g), shown(g), shown(seen) }',
      '  else out[i] = { "unreadable", "", "", "", "", "", "", shown(slot), shown(n), "", shown(t), "", shown(g), shown(seen) } end',
      'end',
      'return out',
    ].join('\n'),
    readLuaFragment,
  );

  it('reads every value of the table as the TypeScript codec does, and the fast path as the full decode', async () => {
    const replies = (await redis.eval(probe, 0, ...STATE_VALUES.map((v) => v.text))) as string[][];
    const num = (s: string | undefined) => (s === undefined || s === '' ? undefined : Number(s.slice(1)));
    const str = (s: string | undefined) => (s === undefined || s === '' ? undefined : s.slice(1));
    STATE_VALUES.forEach((value, i) => {
      const [kind, slot, seen, at, by, id, n, fastSlot, fastN, t, fastT, g, fastG, fastSeen] = replies[i] as string[];
      let lua: EntryState | 'unreadable' = UNREADABLE;
      if (kind === 'state') {
        lua = {
          runCount: num(n) as number,
          ...(num(slot) === undefined ? {} : { slotMs: num(slot) }),
          ...(num(seen) === undefined ? {} : { seenMs: num(seen) }),
          ...(num(at) === undefined ? {} : { publishedAtMs: num(at) }),
          ...(str(id) === undefined ? {} : { lastTaskId: str(id) }),
          ...(str(by) === 'trigger' ? { lastRunTriggered: true } : {}),
          ...(num(t) === undefined ? {} : { manualRuns: num(t) }),
          ...(str(g) === undefined ? {} : { incarnation: str(g) }),
        };
      }
      expect({ label: value.label, state: lua }).toEqual({ label: value.label, state: value.state });
      const decoded = value.state === UNREADABLE ? undefined : value.state;
      expect({ label: value.label, slot: num(fastSlot), n: num(fastN), t: num(fastT), g: str(fastG), seen: num(fastSeen) }).toEqual({
        label: value.label,
        slot: decoded?.slotMs,
        n: decoded?.runCount ?? 0,
        t: decoded?.manualRuns,
        g: decoded?.incarnation,
        seen: decoded?.seenMs,
      });
    });
  });
});

describe('the deployment-wide stop (includes/stop.lua): the stop key set, every publishing script publishes and writes nothing', () => {
  const STOPPED = {
    'publish-fenced': [-3],
    'claim-fenced': [-3],
    'trigger-fenced': -3,
    'claim-trigger': -3,
  } as const satisfies Partial<Record<ScriptName, unknown>>;

  it.each(Object.entries(STOPPED))('%s answers stopped', async (name, stopped) => {
    await scene(`{"slot":${S0},"n":1}`);
    await redis.set(keys.stop, JSON.stringify({ by: 'ops', at: AT, note: 'incident 4711' }));
    const before = await snapshot();
    expect(await CALLS[name as ScriptName]()).toEqual(stopped);
    expect(await snapshot()).toEqual(before);
    expect(await redis.llen(QUEUE)).toBe(0);
    // Lifted: the same call publishes (claims say fresh, pending).
    await redis.del(keys.stop);
    expect(await CALLS[name as ScriptName]()).not.toEqual(stopped);
  });

  it('the commit scripts record what a broker outside Redis already confirmed, stop or not', async () => {
    await scene(`{"slot":${S0},"n":1}`);
    await redis.set(keys.stop, JSON.stringify({ by: 'ops', at: AT }));
    expect(await CALLS['commit-fenced']()).toEqual([1, 1]);
    expect(await redis.hget(keys.state, ENTRY)).toContain(`"slot":${RUN_SLOT}`);
    expect(await CALLS['commit-trigger']()).toBe(1);
  });
});
