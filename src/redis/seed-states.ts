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
 * itself or an older slot, and adopting it is a no-op. A record at or before tsbeat's last publish
 * time P (plus SEED_OWN_RECORD_MARGIN_MS) is never newer, even when that publish was later than
 * the next fire: it is tsbeat's own run written back (src/redbeat/write-back.ts and
 * src/service/django-write-back.ts write P itself, which a database may truncate, taken when the
 * publish is reported, which may be moments after its state stored P), or a run older than
 * tsbeat's last. A reset (a re-enabled django row) replaces any older
 * slot. Where tsbeat has no state of the entry's incarnation
 * (or one without a slot: seen, never run), the seed is written as it is. An anchor (a django row
 * without last_run_at: its date_changed) is written as the first sighting where tsbeat has no state
 * of the incarnation at all, so that it moves the grid without counting a slot as published (a
 * backfill finds the slots before it unpublished); against a slot of tsbeat's it is compared as a
 * run (a re-enable or an edit since tsbeat ran the row).
 *
 * The decision reads the stored states here (the next fire needs the schedule, which Lua does not
 * compute), and seed-state.lua writes under it: it replaces a state only while its slot is still at
 * most the one decided on, so that a run tsbeat published meanwhile is never taken back.
 */
import type { RedisClient } from './connect.js';
import type { SchedulerKeys } from './keys.js';
import { resolveSchedule } from '../config/entry-schedule.js';
import type { EntryScope } from '../config/resolve.js';
import { nextFires } from '../core/schedule.js';
import type { SeedState } from '../ports/seeds.js';
import type { EntryState } from '../ports/state.js';
import { encodeEntryState, readEntryState } from './entry-state-codec.js';
import { withScripts } from './scripts.js';

/**
 * Cut-over adoption (redis/seed-states.ts): another scheduler's last run at most this after tsbeat's
 * own last publish is tsbeat's run written back (its time is taken when the publish is reported,
 * which may be moments after the state stored it), never a newer run of the other scheduler, even
 * when that publish was late.
 */
const SEED_OWN_RECORD_MARGIN_MS = 1000;

export type { SeedState } from '../ports/seeds.js';

/** What to do with one seed, given tsbeat's stored state. */
export type SeedDecision =
  /**
   * Write it only where there is no state of its incarnation (nothing stored, or, for a run,
   * nothing with a slot; an anchor never replaces a first sighting tsbeat recorded).
   */
  | { readonly write: 'where-none' }
  /** Replace the stored state while its slot is still at most `slotMs` (what was compared). */
  | { readonly write: 'replace'; readonly slotMs: number }
  /** Keep what is stored: its slot is the other record's, or newer. */
  | { readonly write: 'keep' };

/** Entries per script call. */
const CHUNK = 1000;

/**
 * The decision for one seed. `stored` is tsbeat's state of the entry (undefined: none or
 * unreadable); `scope` the config's zone, for an entry without its own, and name (for hashed times).
 */
export function seedDecision(seed: SeedState, stored: EntryState | undefined, scope: EntryScope): SeedDecision {
  // Another incarnation's state is none for this one (seed-state.lua's fence decides older or newer).
  if (stored === undefined || stored.slotMs === undefined) return { write: 'where-none' };
  if (stored.incarnation !== undefined && seed.incarnation !== undefined && stored.incarnation !== seed.incarnation) {
    return { write: 'where-none' };
  }
  // An anchor against a slot of tsbeat's: the row's date_changed moved since tsbeat first saw it,
  // by a re-enable (save() of the disabled row cleared last_run_at) or an edit, which cannot be told
  // apart from here: counted as a run, as ModelEntry counts it.
  const { slotMs } = stored;
  if (seed.lastRunMs <= slotMs) return { write: 'keep' };
  if (seed.reset === true) return { write: 'replace', slotMs };
  if (seed.entry === undefined) return { write: 'keep' };
  // At or before tsbeat's last publish (within the margin): tsbeat's own run written back, or a run
  // older than tsbeat's last; either way tsbeat's record is the newer.
  if (stored.publishedAtMs !== undefined && seed.lastRunMs <= stored.publishedAtMs + SEED_OWN_RECORD_MARGIN_MS) {
    return { write: 'keep' };
  }
  const zone = seed.entry.timezone ?? scope.zone;
  const schedule = resolveSchedule(seed.entry.schedule, seed.entry, zone, { deployment: scope.deployment, name: seed.name });
  const next = nextFires(schedule, { zone, afterMs: slotMs, anchorMs: slotMs }, 1)[0];
  // No fire after S: the schedule ran out under tsbeat; nothing newer can have run.
  if (next === undefined || next > seed.lastRunMs) return { write: 'keep' };
  return { write: 'replace', slotMs };
}

/**
 * Writes the seeds tsbeat's stored states do not outrank (see above); returns how many were written.
 * Into an empty state, the seeds with a slot go first: a chunk of anchors alone starts the record
 * of passed-over slots at 0 (seed-state.lua), which must not happen before another scheduler's
 * last runs of the same call are in.
 */
export async function seedStates(
  client: RedisClient,
  keys: Pick<SchedulerKeys, 'state' | 'passedSince'>,
  seeds: readonly SeedState[],
  scope: EntryScope,
): Promise<number> {
  const scripts = withScripts(client);
  const stateKey = keys.state;
  const ordered = [...seeds.filter((seed) => seed.anchor !== true), ...seeds.filter((seed) => seed.anchor === true)];
  let written = 0;
  for (let i = 0; i < ordered.length; i += CHUNK) {
    const chunk = ordered.slice(i, i + CHUNK);
    const stored = await client.hmget(stateKey, ...chunk.map((s) => s.name));
    const args: string[] = [];
    chunk.forEach((seed, j) => {
      const decision = seedDecision(seed, readEntryState(stored[j]), scope);
      if (decision.write === 'keep') return;
      const { name, lastRunMs, runCount, incarnation } = seed;
      // The last run as the last slot: the next slot is the schedule's first fire after it. An
      // anchor as the first sighting: the same next slot, and no slot counted as published.
      const anchor = seed.anchor === true && decision.write === 'where-none';
      const state = encodeEntryState({
        ...(anchor ? { seenMs: lastRunMs } : { slotMs: lastRunMs, publishedAtMs: lastRunMs }),
        runCount,
        ...(incarnation === undefined ? {} : { incarnation }),
      });
      args.push(name, state, incarnation ?? '', decision.write === 'replace' ? String(decision.slotMs) : '');
    });
    if (args.length === 0) continue;
    const replies = await scripts.seedState(2, stateKey, keys.passedSince, String(args.length / 4), ...args);
    written += replies.filter((r) => r === 1).length;
  }
  return written;
}
