/**
 * Cut-over adoption: an entry of a source another scheduler ran (RedBeat's beat, DatabaseScheduler)
 * takes its last run from that scheduler's record (RedBeat's meta, the django row's last_run_at),
 * so that moving to tsbeat, or back to it, neither runs a slot again nor skips the next one.
 *
 * Whichever record is newer wins, compared by slot: the other scheduler's last run at L stands for
 * the latest slot at or before L. It is newer than tsbeat's stored last slot S exactly when the
 * schedule's next fire after S is at or before L (the other scheduler ran that fire, or a later
 * one). Then the stored state is replaced by the seed (its slot L: the next fire is the schedule's
 * first after L, as RedBeat's due_at and ModelEntry.is_due compute it). Otherwise L stands for S
 * itself or an older slot, and adopting it is a no-op: in particular tsbeat's own runs written back
 * (src/redbeat/write-back.ts, src/django/write-back.ts), stamped at or just after S's publish. A
 * record within DEFAULTS.seedOwnRecordMarginMs of tsbeat's last publish is tsbeat's own even when
 * that publish was later than the next fire. A reset (a re-enabled django row) replaces any older
 * slot. Where tsbeat has no state of the entry's incarnation
 * (or one without a slot: seen, never run), the seed is written as it is.
 *
 * The decision reads the stored states here (the next fire needs the schedule, which Lua does not
 * compute), and seed-state.lua writes under it: it replaces a state only while its slot is still at
 * most the one decided on, so that a run tsbeat published meanwhile is never taken back.
 */
import type { Redis } from 'ioredis';
import { DEFAULTS } from '../base/defaults.js';
import { resolveSchedule } from '../config/resolve.js';
import { nextFires } from '../core/schedule.js';
import type { SeedState } from '../ports/seeds.js';
import type { EntryState } from '../ports/state.js';
import { encodeEntryState, readEntryState } from './entry-state-codec.js';
import { withScripts } from './scripts.js';

export type { SeedState } from '../ports/seeds.js';

/** What to do with one seed, given tsbeat's stored state. */
export type SeedDecision =
  /** Write it only where there is no state of its incarnation (nothing stored, or nothing with a slot). */
  | { readonly write: 'where-none' }
  /** Replace the stored state while its slot is still at most `slotMs` (what was compared). */
  | { readonly write: 'replace'; readonly slotMs: number }
  /** Keep what is stored: its slot is the other record's, or newer. */
  | { readonly write: 'keep' };

/** Entries per script call. */
const CHUNK = 1000;

/**
 * The decision for one seed. `stored` is tsbeat's state of the entry (undefined: none or
 * unreadable); `defaultZone` the config's zone, for an entry without its own.
 */
export function seedDecision(seed: SeedState, stored: EntryState | undefined, defaultZone: string): SeedDecision {
  // Another incarnation's state is none for this one (seed-state.lua's fence decides older or newer).
  if (stored === undefined || stored.slotMs === undefined) return { write: 'where-none' };
  if (stored.incarnation !== undefined && seed.incarnation !== undefined && stored.incarnation !== seed.incarnation) {
    return { write: 'where-none' };
  }
  const { slotMs } = stored;
  if (seed.lastRunMs <= slotMs) return { write: 'keep' };
  if (seed.reset === true) return { write: 'replace', slotMs };
  if (seed.entry === undefined) return { write: 'keep' };
  if (stored.publishedAtMs !== undefined && Math.abs(seed.lastRunMs - stored.publishedAtMs) <= DEFAULTS.seedOwnRecordMarginMs) {
    return { write: 'keep' };
  }
  const zone = seed.entry.timezone ?? defaultZone;
  const schedule = resolveSchedule(seed.entry.schedule, seed.entry.relative, zone);
  const next = nextFires(schedule, { zone, afterMs: slotMs, anchorMs: slotMs }, 1)[0];
  // No fire after S: the schedule ran out under tsbeat; nothing newer can have run.
  if (next === undefined || next > seed.lastRunMs) return { write: 'keep' };
  return { write: 'replace', slotMs };
}

/** Writes the seeds tsbeat's stored states do not outrank (see above); returns how many were written. */
export async function seedStates(client: Redis, stateKey: string, seeds: readonly SeedState[], defaultZone: string): Promise<number> {
  const scripts = withScripts(client);
  let written = 0;
  for (let i = 0; i < seeds.length; i += CHUNK) {
    const chunk = seeds.slice(i, i + CHUNK);
    const stored = await client.hmget(stateKey, ...chunk.map((s) => s.name));
    const args: string[] = [];
    chunk.forEach((seed, j) => {
      const decision = seedDecision(seed, readEntryState(stored[j]), defaultZone);
      if (decision.write === 'keep') return;
      const { name, lastRunMs, runCount, incarnation } = seed;
      // The last run as the last slot: the next slot is the schedule's first fire after it.
      const state = encodeEntryState({
        slotMs: lastRunMs,
        publishedAtMs: lastRunMs,
        runCount,
        ...(incarnation === undefined ? {} : { incarnation }),
      });
      args.push(name, state, incarnation ?? '', decision.write === 'replace' ? String(decision.slotMs) : '');
    });
    if (args.length === 0) continue;
    const replies = await scripts.seedState(1, stateKey, String(args.length / 4), ...args);
    written += replies.filter((r) => r === 1).length;
  }
  return written;
}
