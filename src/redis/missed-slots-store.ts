/**
 * The slots that never ran, as the leader reports them (missed past the catch-up policy, skipped by
 * an overlap policy, passed while paused), kept per entry in Redis so that every replica's dashboard
 * can colour its day strips alike: `missed:<entry>` (keys.ts), a list of compact JSON reports
 *   {"first": the first slot (epoch ms), "n": how many slots from it, "why": the reason, "at": when found}
 * newest first, at most DEFAULTS.missedSlotsKept, expiring MISSED_SLOTS_TTL_MS after the last.
 * Reports are written after the wake-up that made them, never awaited by the publish: a write that
 * fails is logged (once a minute at most) and its reports are lost, as a metric sample would be.
 */
import type { RedisClient } from './connect.js';
import { DEFAULTS } from '../base/defaults.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { NO_EVENTS } from '../ports/events.js';
import type { SchedulerEvents } from '../ports/events.js';
import type { SchedulerKeys } from './keys.js';
import { storedObject } from '../base/stored-object.js';

/** An entry's list of those reports expires this long after its last report: the strips look back a day. */
const MISSED_SLOTS_TTL_MS = 25 * 3_600_000;

export interface MissedReport {
  readonly firstSlotMs: number;
  readonly count: number;
  /** A MissedReason; as read back, whatever the list holds (a reason of a later version shows as missed). */
  readonly reason: string;
  readonly atMs: number;
}

/** Entries read per pipeline. */
const CHUNK = 500;
const LOG_EVERY_MS = 60_000;

export function decodeMissed(text: string): MissedReport | undefined {
  const { first, n, why, at } = storedObject(text) ?? {};
  if (typeof first !== 'number' || typeof n !== 'number' || typeof why !== 'string' || typeof at !== 'number') return undefined;
  return { firstSlotMs: first, count: n, reason: why, atMs: at };
}

export class RedisMissedSlots {
  private loggedAtMs = -Infinity;
  /** Reports not written yet: a failover of many entries reports them all in one wake-up. */
  private queued: { entry: string; text: string }[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly client: RedisClient,
    private readonly keys: Pick<SchedulerKeys, 'missed'>,
    private readonly logger: Logger,
  ) {}

  /** A scheduler events sink that records each report of missed slots. */
  get events(): SchedulerEvents {
    return {
      ...NO_EVENTS,
      missed: ({ entry, count, reason, firstSlotMs, atMs }) => void this.record(entry.name, { firstSlotMs, count, reason, atMs }),
    };
  }

  /** Queues a report; the reports of one wake-up are written together, in pipelines of CHUNK, after it. */
  record(entry: string, report: MissedReport): Promise<void> {
    const text = JSON.stringify({ first: report.firstSlotMs, n: report.count, why: report.reason, at: report.atMs });
    this.queued.push({ entry, text });
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
    return this.flushing;
  }

  private async flush(): Promise<void> {
    const reports = this.queued;
    this.queued = [];
    this.flushing = undefined;
    try {
      for (let from = 0; from < reports.length; from += CHUNK) {
        const pipeline = this.client.pipeline();
        for (const { entry, text } of reports.slice(from, from + CHUNK)) {
          const key = this.keys.missed(entry);
          pipeline
            .lpush(key, text)
            .ltrim(key, 0, DEFAULTS.missedSlotsKept - 1)
            .pexpire(key, MISSED_SLOTS_TTL_MS);
        }
        for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
      }
    } catch (error) {
      const now = performance.now();
      if (now - this.loggedAtMs < LOG_EVERY_MS) return;
      this.loggedAtMs = now;
      this.logger.warn({ event: EVENTS.missedRecordFailed, err: error }, 'could not record missed slots for the dashboard');
    }
  }

  /** Each named entry's reports, newest first (entries without any are left out). */
  async recent(entries: readonly string[]): Promise<Map<string, MissedReport[]>> {
    const out = new Map<string, MissedReport[]>();
    for (let from = 0; from < entries.length; from += CHUNK) {
      const chunk = entries.slice(from, from + CHUNK);
      const pipeline = this.client.pipeline();
      for (const entry of chunk) pipeline.lrange(this.keys.missed(entry), 0, -1);
      const replies = (await pipeline.exec()) ?? [];
      replies.forEach(([error, items], i) => {
        if (error) throw error;
        const reports = (items as string[]).map(decodeMissed).filter((r): r is MissedReport => r !== undefined);
        if (reports.length > 0) out.set(chunk[i]!, reports);
      });
    }
    return out;
  }
}
