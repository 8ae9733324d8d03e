/**
 * The TypeScript codec of the stored state against the table the Lua scripts are fed too
 * (test/support/entry-state-values.ts; the scripts' side is test/integration/lua-contract.test.ts).
 */
import { describe, expect, it } from 'vitest';
import {
  UNREADABLE,
  decodeEntryState,
  encodeEntryState,
  firstSighting,
  publishedStateAfterSlot,
  readEntryState,
} from '../../src/redis/entry-state-codec.js';
import type { EntryState } from '../../src/ports/state.js';
import { S0, STATE_VALUES } from '../support/entry-state-values.js';

describe('decodeEntryState', () => {
  it.each(STATE_VALUES.map((v) => [v.label, v] as const))('%s', (_label, value) => {
    expect(decodeEntryState(value.text)).toEqual(value.state);
    expect(readEntryState(value.text)).toEqual(value.state === UNREADABLE ? undefined : value.state);
  });

  it('a missing value is no state', () => {
    expect(readEntryState(null)).toBeUndefined();
    expect(readEntryState(undefined)).toBeUndefined();
  });
});

describe('encodeEntryState', () => {
  const states: EntryState[] = [
    { runCount: 0 },
    { seenMs: S0, runCount: 0 },
    { slotMs: S0, publishedAtMs: S0 + 3, lastTaskId: 'id "é" /', runCount: 9 },
    { slotMs: S0, seenMs: S0 - 1, publishedAtMs: S0 + 1, lastRunTriggered: true, lastTaskId: 'm', runCount: 2 },
  ];

  it.each(states.map((s) => [JSON.stringify(s), s] as const))('reads back what it writes: %s', (_label, state) => {
    expect(decodeEntryState(encodeEntryState(state))).toEqual(state);
  });

  it("writes the members in one order, the count last; the publish script's state and first sighting are that text", () => {
    expect(encodeEntryState({ slotMs: S0, seenMs: 1, publishedAtMs: 2, lastRunTriggered: true, lastTaskId: 'i', runCount: 3 })).toBe(
      `{"slot":${S0},"seen":1,"at":2,"by":"trigger","id":"i","n":3}`,
    );
    expect(`{"slot":${S0},${publishedStateAfterSlot('5', 'task')}7}`).toBe(
      encodeEntryState({ slotMs: S0, publishedAtMs: 5, lastTaskId: 'task', runCount: 7 }),
    );
    expect(firstSighting(S0)).toBe(`{"seen":${S0},"n":0}`);
  });

  it('drops resumedAtMs, which lives in its own hash', () => {
    expect(encodeEntryState({ runCount: 1, resumedAtMs: 5 })).toBe('{"n":1}');
  });
});
