/**
 * Judges the leader's looks at its queues (ports/consumers.ts): a queue is unconsumed once, for
 * `unconsumedAfterMs`, every look found that nobody reads it. Pure: the looks and the time are
 * arguments.
 *
 * What a look says of a queue, strongest first:
 * - its consumers, when known (the workers' answers to `active_queues`, RabbitMQ's count): 0 is
 *   "nobody reads it", more is "read";
 * - else its depth: messages waiting and none taken since the last look (the depth did not fall,
 *   none in flight) is "nobody reads it"; an empty queue, one that shrank, or one whose messages
 *   some consumer holds (SQS's in-flight count) is "read";
 * - else nothing (no worker answered and the broker keeps no count): the judgement stands.
 * A queue that is read again clears its flag at the next look.
 */
import type { ConsumerLook, QueueLook, UnconsumedQueue } from '../ports/consumers.js';

export type QueueChange =
  { readonly kind: 'unconsumed'; readonly queue: UnconsumedQueue } | { readonly kind: 'consumed'; readonly queue: string };

interface Watched {
  /** Since when every look found nobody reading it; undefined while it is read. */
  idleSinceMs: number | undefined;
  lastDepth: number | undefined;
  /** What was last reported unconsumed (reason and depth), undefined when not flagged. */
  flagged: UnconsumedQueue | undefined;
}

const runs = (n: number): string => `${n} run${n === 1 ? '' : 's'}`;

/** "nobody reads it" (with the reason), "read", or undefined when the look cannot tell. */
function verdict(look: QueueLook, lastDepth: number | undefined): { idle: true; reason: string } | { idle: false } | undefined {
  const { queue, consumers, depth, inFlight } = look;
  if (consumers !== undefined) {
    if (consumers > 0) return { idle: false };
    const waiting = depth !== undefined && depth > 0 ? ` (${runs(depth)} waiting)` : '';
    return { idle: true, reason: `no worker consumes queue ${queue}${waiting}` };
  }
  if (inFlight !== undefined && inFlight > 0) return { idle: false };
  if (depth === undefined) return undefined;
  if (depth === 0 || (lastDepth !== undefined && depth < lastDepth)) return { idle: false };
  return { idle: true, reason: `${runs(depth)} waiting in queue ${queue} and none taken` };
}

export class ConsumerWatch {
  private readonly watched = new Map<string, Watched>();

  constructor(private readonly unconsumedAfterMs: number) {}

  /** The queues flagged now. */
  unconsumed(): UnconsumedQueue[] {
    return [...this.watched.values()].flatMap((w) => (w.flagged === undefined ? [] : [w.flagged]));
  }

  /**
   * Takes one look at `nowMs`; returns what changed: queues newly flagged (or whose reason or depth
   * changed), and flagged queues now read or no longer published to (absent from the look).
   */
  observe(look: ConsumerLook, nowMs: number): QueueChange[] {
    const changes: QueueChange[] = [];
    const looked = new Set<string>();
    for (const q of look.queues) {
      looked.add(q.queue);
      let w = this.watched.get(q.queue);
      if (w === undefined) {
        w = { idleSinceMs: undefined, lastDepth: undefined, flagged: undefined };
        this.watched.set(q.queue, w);
      }
      const v = verdict(q, w.lastDepth);
      if (q.depth !== undefined) w.lastDepth = q.depth;
      if (v === undefined) continue;
      if (!v.idle) {
        w.idleSinceMs = undefined;
        if (w.flagged !== undefined) changes.push({ kind: 'consumed', queue: q.queue });
        w.flagged = undefined;
        continue;
      }
      w.idleSinceMs ??= nowMs;
      if (nowMs - w.idleSinceMs < this.unconsumedAfterMs) continue;
      const flag: UnconsumedQueue = {
        queue: q.queue,
        reason: v.reason,
        sinceMs: w.idleSinceMs,
        ...(q.depth === undefined ? {} : { depth: q.depth }),
      };
      if (w.flagged?.reason !== flag.reason || w.flagged.depth !== flag.depth) changes.push({ kind: 'unconsumed', queue: flag });
      w.flagged = flag;
    }
    for (const [queue, w] of this.watched) {
      if (looked.has(queue)) continue;
      if (w.flagged !== undefined) changes.push({ kind: 'consumed', queue });
      this.watched.delete(queue);
    }
    return changes;
  }
}
