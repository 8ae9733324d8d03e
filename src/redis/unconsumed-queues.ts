/**
 * The schedule's queues that nobody consumes, as the leader last found them, kept in Redis
 * (`unconsumed`, see keys.ts) for `beat status`, `/status` and the dashboard, which may run in other
 * processes. The leader owns the hash: it empties it when it begins leading (its consumer check
 * finds a queue again within consumers.unconsumedAfter), writes a queue when it is flagged and
 * removes it when the queue is consumed again.
 */
import type { RedisClient } from './connect.js';
import { NO_EVENTS } from '../ports/events.js';
import type { SchedulerEvents } from '../ports/events.js';
import type { UnconsumedQueue } from '../ports/consumers.js';
import type { SchedulerKeys } from './keys.js';
import { typedKeys } from './keys.js';
import { nameWrongType } from './server-errors.js';
import { storedObject } from '../base/stored-object.js';

export class RedisUnconsumedQueues {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: Pick<SchedulerKeys, 'unconsumed'>,
    /** A write that failed (status only: the schedule does not depend on it). */
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** The leader's sink: what it reports, written through, fire-and-forget. */
  events(): SchedulerEvents {
    const key = this.keys.unconsumed;
    const done = (write: Promise<unknown>): void => void write.catch(this.onError);
    return {
      ...NO_EVENTS,
      leadershipChanged: (leading) => {
        if (leading) done(this.client.del(key));
      },
      queueUnconsumed: (queue) => done(this.client.hset(key, queue.queue, encodeUnconsumed(queue))),
      queueConsumed: (queue) => done(this.client.hdel(key, queue)),
    };
  }

  /** Every unconsumed queue, by name (an unreadable record is skipped). */
  async read(): Promise<Map<string, UnconsumedQueue>> {
    let all: Record<string, string>;
    try {
      all = await this.client.hgetall(this.keys.unconsumed);
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['unconsumed']));
    }
    const out = new Map<string, UnconsumedQueue>();
    for (const [queue, text] of Object.entries(all)) {
      const record = decodeUnconsumed(queue, text);
      if (record !== undefined) out.set(queue, record);
    }
    return out;
  }
}

export function encodeUnconsumed(q: UnconsumedQueue): string {
  return JSON.stringify({ reason: q.reason, since: q.sinceMs, ...(q.depth === undefined ? {} : { depth: q.depth }) });
}

export function decodeUnconsumed(queue: string, text: string): UnconsumedQueue | undefined {
  const { reason, since, depth } = storedObject(text) ?? {};
  if (typeof reason !== 'string' || typeof since !== 'number') return undefined;
  return { queue, reason, sinceMs: since, ...(typeof depth === 'number' ? { depth } : {}) };
}
