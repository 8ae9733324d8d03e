/**
 * An entry's `spread`: a stable offset in [0, spread) added to every slot of its schedule, so that
 * entries written alike (4,000 entries at `0 0 * * *`) run spread over the window, each at the same
 * offset every time, on every replica (docs/schedules.md, "Hashed times"). The offset is in whole
 * seconds, from the hash that also resolves Jenkins' `H` (cron/hashed.ts), of the deployment and
 * the entry's name; nextFires applies it (schedule.ts), so every reader sees the moved slots.
 */
import { stableHash } from './cron/index.js';
import { nextFires } from './schedule.js';
import type { Schedule } from './types.js';

/** The offset of entry `name` of `deployment` within a spread of `spreadMs` (at least a second): whole seconds below it. */
export function spreadOffsetMs(deployment: string, name: string, spreadMs: number): number {
  const seconds = Math.floor(spreadMs / 1000);
  return Math.floor((stableHash(`${deployment}\u0000${name}\u0000spread`) / 0x1_0000_0000) * seconds) * 1000;
}

/** Slots looked at for the shortest period of a schedule that is not a plain interval. */
const GAP_SLOTS = 64;
/** Where they are looked for: a fixed instant, so that a check says the same on every day (2001-01-01T00:00Z). */
const GAP_FROM_MS = Date.UTC(2001, 0, 1);

/**
 * The shortest time between two slots of `schedule` in `zone`, as far as its next GAP_SLOTS slots
 * show it (a plain interval: its length); undefined when it has fewer than two (clocked).
 */
export function shortestPeriodMs(schedule: Schedule, zone: string): number | undefined {
  if (schedule.kind === 'interval' && !schedule.relative) return schedule.everyMs;
  if (schedule.kind === 'clocked') return undefined;
  const fires = nextFires({ ...schedule, offsetMs: 0 }, { zone, afterMs: GAP_FROM_MS }, GAP_SLOTS);
  let shortest: number | undefined;
  for (let i = 1; i < fires.length; i += 1) {
    const gap = (fires[i] as number) - (fires[i - 1] as number);
    if (shortest === undefined || gap < shortest) shortest = gap;
  }
  return shortest;
}
