/**
 * Migration from RedBeat's own beat: an entry tsbeat has never seen, that RedBeat ran before, starts
 * from RedBeat's meta (last_run_at, total_run_count) instead of afresh, so that moving to tsbeat
 * neither runs it again at once nor skips its next run. The state is written only where tsbeat has
 * none of the entry's incarnation (seed-state.lua): tsbeat's own state of it, once it exists, always
 * wins; one of an incarnation deleted since (the entry saved again) is replaced.
 */
import type { Redis } from 'ioredis';
import { encodeEntryState } from '../redis/entry-state-codec.js';
import { withScripts } from '../redis/scripts.js';
import type { RedBeatSeed } from './source.js';

/** Entries per script call. */
const CHUNK = 1000;

export async function seedStates(client: Redis, stateKey: string, seeds: readonly RedBeatSeed[]): Promise<void> {
  const scripts = withScripts(client);
  for (let i = 0; i < seeds.length; i += CHUNK) {
    const args: string[] = [];
    for (const { name, lastRunMs, runCount, incarnation } of seeds.slice(i, i + CHUNK)) {
      // The last run as the last slot: the next slot is the schedule's first fire after it, as RedBeat's due_at computes it.
      const state = encodeEntryState({
        slotMs: lastRunMs,
        publishedAtMs: lastRunMs,
        runCount,
        ...(incarnation === undefined ? {} : { incarnation }),
      });
      args.push(name, state, incarnation ?? '');
    }
    await scripts.seedState(1, stateKey, String(args.length / 3), ...args);
  }
}
