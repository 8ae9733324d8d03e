/**
 * Migration from RedBeat's own beat: an entry tsbeat has never seen, that RedBeat ran before, starts
 * from RedBeat's meta (last_run_at, total_run_count) instead of afresh, so that moving to tsbeat
 * neither runs it again at once nor skips its next run. The state is written only where tsbeat has
 * none (HSETNX, first writer wins): tsbeat's own state, once it exists, always wins.
 */
import type { Redis } from 'ioredis';
import { encodeEntryState } from '../redis/entry-state-codec.js';
import type { RedBeatSeed } from './source.js';

export async function seedStates(client: Redis, stateKey: string, seeds: readonly RedBeatSeed[]): Promise<void> {
  const pipeline = client.pipeline();
  for (const { name, lastRunMs, runCount } of seeds) {
    // The last run as the last slot: the next slot is the schedule's first fire after it, as RedBeat's due_at computes it.
    pipeline.hsetnx(stateKey, name, encodeEntryState({ slotMs: lastRunMs, publishedAtMs: lastRunMs, runCount }));
  }
  const replies = (await pipeline.exec()) ?? [];
  const failed = replies.find(([error]) => error !== null);
  if (failed) throw failed[0] as Error;
}
