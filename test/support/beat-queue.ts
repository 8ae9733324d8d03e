/**
 * Reading what `beat run` published: the kombu envelopes in a Redis queue list, decoded to
 * (entry, slot, task id), and the checks every exactly-once test makes on them.
 */
import type { Redis } from 'ioredis';
import { parseIsoInstant } from '../../src/celery/time.js';
import { slotTaskId } from '../../src/celery/task-id.js';

export interface QueuedRun {
  readonly entry: string;
  readonly task: string;
  readonly id: string;
  /** `beat_scheduled_at`, epoch ms. */
  readonly slotMs: number;
}

interface Envelope {
  readonly body: string;
  readonly headers: { readonly id: string; readonly task: string; readonly beat_entry: string; readonly beat_scheduled_at: string };
  readonly properties: { readonly body_encoding: string };
}

export function decodeEnvelope(text: string): QueuedRun {
  const envelope = JSON.parse(text) as Envelope;
  // The body must decode too: a torn or half-written envelope would fail here.
  JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8'));
  const slotMs = parseIsoInstant(envelope.headers.beat_scheduled_at);
  if (slotMs === undefined) throw new Error(`bad beat_scheduled_at ${JSON.stringify(envelope.headers.beat_scheduled_at)}`);
  return { entry: envelope.headers.beat_entry, task: envelope.headers.task, id: envelope.headers.id, slotMs };
}

/** Every message in a queue list, oldest first (LPUSH puts the newest at the head). */
export async function readQueue(redis: Redis, queue = 'celery'): Promise<QueuedRun[]> {
  const raw = await redis.lrange(queue, 0, -1);
  return raw.reverse().map(decodeEnvelope);
}

export function byEntry(runs: readonly QueuedRun[]): Map<string, QueuedRun[]> {
  const out = new Map<string, QueuedRun[]>();
  for (const run of runs) {
    const list = out.get(run.entry) ?? [];
    list.push(run);
    out.set(run.entry, list);
  }
  for (const list of out.values()) list.sort((a, b) => a.slotMs - b.slotMs);
  return out;
}

export interface SlotReport {
  readonly entry: string;
  readonly count: number;
  readonly firstMs: number;
  readonly lastMs: number;
  /** Slots published more than once (by beat_scheduled_at). */
  readonly duplicateSlots: number[];
  /** Task ids seen more than once. */
  readonly duplicateIds: string[];
  /** Slots on the grid between first and last that were never published. */
  readonly missingSlots: number[];
  /** Slots off the grid (not first + k·interval). */
  readonly offGrid: number[];
  /** Messages whose id is not the slot id of (entry, slot). */
  readonly wrongIds: string[];
}

/** Checks one entry's runs against an interval grid: every slot from the first to the last exactly once. */
/** `deployment` is the config's `name`: part of every slot's task id. */
export function checkSlots(entry: string, runs: readonly QueuedRun[], intervalMs: number, deployment: string): SlotReport {
  const slots = runs.map((r) => r.slotMs).sort((a, b) => a - b);
  const firstMs = slots[0] ?? Number.NaN;
  const lastMs = slots[slots.length - 1] ?? Number.NaN;
  const seenSlots = new Map<number, number>();
  for (const s of slots) seenSlots.set(s, (seenSlots.get(s) ?? 0) + 1);
  const seenIds = new Map<string, number>();
  for (const r of runs) seenIds.set(r.id, (seenIds.get(r.id) ?? 0) + 1);
  const missingSlots: number[] = [];
  for (let s = firstMs; s <= lastMs; s += intervalMs) if (!seenSlots.has(s)) missingSlots.push(s);
  return {
    entry,
    count: runs.length,
    firstMs,
    lastMs,
    duplicateSlots: [...seenSlots].filter(([, n]) => n > 1).map(([s]) => s),
    duplicateIds: [...seenIds].filter(([, n]) => n > 1).map(([id]) => id),
    missingSlots,
    offGrid: slots.filter((s) => (s - firstMs) % intervalMs !== 0),
    wrongIds: runs.filter((r) => r.id !== slotTaskId(deployment, r.entry, r.slotMs)).map((r) => r.id),
  };
}

/** Duplicate (entry, slot) pairs and duplicate task ids across all runs, whatever the schedule. */
export function duplicates(runs: readonly QueuedRun[]): { slots: string[]; ids: string[] } {
  const slots = new Map<string, number>();
  const ids = new Map<string, number>();
  for (const r of runs) {
    const key = `${r.entry}@${new Date(r.slotMs).toISOString()}`;
    slots.set(key, (slots.get(key) ?? 0) + 1);
    ids.set(r.id, (ids.get(r.id) ?? 0) + 1);
  }
  return { slots: [...slots].filter(([, n]) => n > 1).map(([k]) => k), ids: [...ids].filter(([, n]) => n > 1).map(([k]) => k) };
}
