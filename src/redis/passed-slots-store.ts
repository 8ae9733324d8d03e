/**
 * The record of passed-over slots that `beat backfill` checks (includes/passed-ranges.lua): the
 * schedule publishes an entry's slots in order, so of the slots at or before its stored slot only
 * those the leader passed over were not published. They are rare, and the leader reports them
 * anyway (SchedulerEvents.missed): this sink writes each report that has a last slot as a range,
 * after the wake-up that made it (lua/record-passed.lua, fenced), never inside a publish, so that
 * a normal publish pays nothing.
 *
 * What a crash or a failed write between the publish and the record costs: the range is lost, and
 * once the schedule moves past it a backfill takes those slots for published and skips them (an
 * under-fill, never a duplicate). What a failover costs: begin() cuts the ranges the last leader
 * recorded above an entry's stored slot (this leader may publish into them), before it schedules.
 */
import type { RedisClient } from './connect.js';
import { pushAll } from '../base/chunks.js';
import { DEFAULTS } from '../base/defaults.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { NO_EVENTS } from '../ports/events.js';
import { typedKeys } from './keys.js';
import { nameWrongType } from './server-errors.js';
import type { MissedSlots, SchedulerEvents } from '../ports/events.js';
import type { SchedulerKeys } from './keys.js';
import { withScripts } from './scripts.js';

type PassedKeys = Pick<SchedulerKeys, 'fence' | 'state' | 'entries' | 'passed' | 'passedFloor' | 'passedOpen' | 'passedSince'>;

/** Reports per script call, and open marks per clip call. */
const CHUNK = 500;
const LOG_EVERY_MS = 60_000;

export class RedisPassedSlots {
  private loggedAtMs = -Infinity;
  private queued: MissedSlots[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly client: RedisClient,
    private readonly keys: PassedKeys,
    private readonly logger: Logger,
    /** The leader's fence token, or undefined when this instance does not lead (nothing is written then). */
    private readonly token: () => string | undefined,
    /** lock.maxClockSkew: how far a leader's clock may be from the state Redis's. */
    private readonly maxClockSkewMs: number,
  ) {}

  /** A scheduler events sink that records each report of slots passed over for good. */
  get events(): SchedulerEvents {
    return { ...NO_EVENTS, missed: (missed) => void this.record(missed) };
  }

  /** Queues a report; those of one wake-up are written together after it. One without a last slot is not recorded. */
  record(missed: MissedSlots): Promise<void> {
    if (missed.lastSlotMs === undefined || missed.lastSlotMs < missed.firstSlotMs) return Promise.resolve();
    this.queued.push(missed);
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
    return this.flushing;
  }

  /**
   * Before this instance schedules as leader: sets passed-since (first writer wins; now plus twice
   * the clock skew, past any slot an earlier leader without this record may have passed over; 0 in
   * a deployment where nothing ran yet) and
   * cuts every range recorded above its entry's stored slot by another leader (lua/passed-clip.lua).
   */
  async begin(nowMs: number): Promise<void> {
    const token = this.token();
    if (token === undefined) return;
    const { keys } = this;
    const since = String(nowMs + 2 * this.maxClockSkewMs);
    const scripts = withScripts(this.client);
    let cursor = '0';
    let first = true;
    do {
      const [next, flat] = await this.client.hscan(keys.passedOpen, cursor, 'COUNT', CHUNK);
      cursor = next;
      const names = flat.filter((_, i) => i % 2 === 0);
      if (names.length === 0 && !first) continue;
      first = false;
      const call = [keys.fence, keys.state, keys.passedOpen, keys.passedSince];
      for (const name of names) call.push(keys.passed(name));
      call.push(token, since);
      pushAll(call, names);
      const reply = await scripts.passedClip(4 + names.length, call).catch(async (error: unknown) => {
        // A WRONGTYPE names the script, not the key: name the key and its fix as every fenced script's failure does.
        throw await nameWrongType(this.client, error, typedKeys(keys, ['fence', 'state', 'passedOpen', 'passedSince']));
      });
      if (reply[0] === -1) return;
    } while (cursor !== '0');
  }

  private async flush(): Promise<void> {
    const reports = this.queued;
    this.queued = [];
    this.flushing = undefined;
    const token = this.token();
    if (token === undefined) return;
    const { keys } = this;
    try {
      const scripts = withScripts(this.client);
      for (let from = 0; from < reports.length; from += CHUNK) {
        const chunk = reports.slice(from, from + CHUNK);
        const call = [keys.fence, keys.state, keys.entries, keys.passedFloor, keys.passedOpen];
        for (const r of chunk) call.push(keys.passed(r.entry.name));
        call.push(token, String(DEFAULTS.passedRangesKept), String(chunk.length));
        for (const r of chunk) call.push(r.entry.name, r.entry.revision ?? '', String(r.firstSlotMs), String(r.lastSlotMs));
        const reply = await scripts.recordPassed(5 + chunk.length, call);
        // Fenced: another leader decides these slots now, and records what it passes over itself.
        if (reply[0] === -1) return;
      }
    } catch (error) {
      const now = performance.now();
      if (now - this.loggedAtMs < LOG_EVERY_MS) return;
      this.loggedAtMs = now;
      this.logger.warn(
        { event: EVENTS.passedRecordFailed, err: error },
        'could not record passed-over slots for backfills: a backfill takes them for published (it skips them)',
      );
    }
  }
}
