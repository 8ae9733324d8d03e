/**
 * Runner.applyChanges takes a large change into its book in slices of BOOK_LOAD_SLICE (runner.ts)
 * entries, the event loop turned over between them (issue 66, finding 15): 9,000 new entries of a
 * bulk write went in as one task of 130 ms on an idle core, seconds on a loaded one, and the slots
 * due and /healthz waited for it. Real timers: what is counted is the turns of the loop.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/base/log.js';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import { parseConfig } from '../../src/config/load.js';
import { resolveEntry } from '../../src/config/resolve.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import type { StateStore } from '../../src/ports/state.js';
import { Runner } from '../../src/runtime/runner.js';

function storeEntry(name: string): ResolvedEntry {
  const parsed = parseEntryDefinition({ task: 't.bulk', schedule: 3600 });
  if (!parsed.ok) throw new Error(name);
  return resolveEntry(name, parsed.entry, { zone: 'UTC', deployment: 'default' }, 'store', undefined, undefined, {
    incarnation: 'i1',
    revision: '@1',
  });
}

const state: StateStore = {
  async load(names, nowMs) {
    return new Map(names.map((name) => [name, { seenMs: nowMs, runCount: 0 }]));
  },
};

let runner: Runner | undefined;

afterEach(async () => {
  await runner?.stop();
  runner = undefined;
});

describe('Runner.applyChanges', () => {
  it('takes 9,000 new entries into the book in slices, with turns of the event loop between them', async () => {
    runner = new Runner({
      config: parseConfig({ name: 'unit', beatSchedule: {} }, 'unit'),
      dispatcher: { dispatch: async (runs) => ({ fenced: false, outcomes: runs.map(() => 'published' as const) }) },
      state,
      clock: { now: () => Date.now() },
      logger: createLogger({ level: 'silent' }),
      messageEnv: { origin: 'gen1@unit', replyTo: '00000000-0000-4000-8000-000000000000' },
      lease: () => 'token-1',
      onFenced: () => undefined,
    });
    await runner.start([]);
    const entries = Array.from({ length: 9000 }, (_, i) => storeEntry(`new-${i}`));
    // Timers run once per turn of the loop.
    let turns = 0;
    const ticker = setInterval(() => (turns += 1), 0);
    try {
      await runner.applyChanges(entries, []);
    } finally {
      clearInterval(ticker);
    }
    expect(runner.entry('new-8999')?.name).toBe('new-8999');
    // Nine slices of 1,000 (at 10,000 a slice, one task and no turn).
    expect(turns).toBeGreaterThanOrEqual(5);
  });
});
