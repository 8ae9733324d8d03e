/**
 * Task ids. A scheduled run gets a name-based id (UUID v5) so that the same (deployment, entry,
 * slot) published twice — by a retry, or by two replicas racing — carries the same id, and a worker
 * or result backend can recognise the duplicate. The deployment is part of the name: two
 * deployments on one broker may well have an entry of the same name due at the same slot, and
 * those are different runs (deduplicating by id, or one result key, must not merge them).
 * A manual trigger is not a slot: it gets a random id.
 *
 * The id can be recomputed anywhere, e.g. in Python:
 *
 *   uuid.uuid5(uuid.UUID('bd3166c1-dfde-4cc5-a1f7-98fa3cc11ff8'), f"{deployment}\n{entry_name}\n{slot_ms}")
 *
 * where `deployment` is the config's `name` and `slot_ms` the slot instant in integer epoch
 * milliseconds, written in decimal.
 */
import { randomUUID } from 'node:crypto';
import { uuidV5OfBytes } from '../base/uuid-v5.js';

/**
 * tsbeat's namespace for slot ids, drawn at random once. Never change it: every id derived from it
 * would change, and a slot published before and after the change would no longer be recognised.
 */
export const SLOT_ID_NAMESPACE = 'bd3166c1-dfde-4cc5-a1f7-98fa3cc11ff8';

function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new TypeError(`not a UUID: ${JSON.stringify(uuid)}`);
  return Buffer.from(hex, 'hex');
}

/** RFC 4122 / 9562 name-based UUID, version 5 (SHA-1), as Python's `uuid.uuid5`. */
export function uuidV5(namespace: string, name: string): string {
  return uuidV5OfBytes(Buffer.concat([uuidBytes(namespace), Buffer.from(name, 'utf8')]));
}

const NAMESPACE_BYTES = uuidBytes(SLOT_ID_NAMESPACE);

/**
 * The id of one scheduled run of an entry of a deployment. Neither deployment nor entry names can
 * contain control characters (the config schema refuses them), so the newlines make the split
 * unambiguous.
 */
export function slotTaskId(deployment: string, entryName: string, slotMs: number): string {
  return uuidV5OfBytes(Buffer.concat([NAMESPACE_BYTES, Buffer.from(`${deployment}\n${entryName}\n${Math.floor(slotMs)}`, 'utf8')]));
}

/** A fresh random id (uuid4, lowercase, as kombu's `uuid()`), for manual triggers. */
export function randomTaskId(): string {
  return randomUUID();
}

/** A UUID's text, as uuid.UUID takes it for a namespace (any version, either case). */
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `id` can be the namespace of its attempts' ids: a manual run's id comes from Redis and may be any text. */
export function derivesAttempts(id: string): boolean {
  return UUID_TEXT.test(id);
}

/**
 * The task id of a slot's attempt `attempt` (issue 70, core/retry.ts): attempt 1 is the slot's own
 * run and keeps its id; a later one is UUID v5 in the slot id's namespace of `attempt\n<n>`, so that
 * every replica derives the same id for the same (entry, slot, attempt), as for canvas parts. In
 * Python: `uuid.uuid5(uuid.UUID(slot_id), f"attempt\n{n}")`.
 */
export function attemptTaskId(slotId: string, attempt: number): string {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be a whole number of at least 1, got ${attempt}`);
  return attempt === 1 ? slotId : uuidV5(slotId, `attempt\n${attempt}`);
}

/** The dead letter id of a slot (issue 70), from its own task id: UUID v5 of `dead-letter` in that id's namespace (else in the slot ids' namespace, of entry and id). */
export function deadLetterId(entry: string, retryOf: string): string {
  return derivesAttempts(retryOf) ? uuidV5(retryOf, 'dead-letter') : uuidV5(SLOT_ID_NAMESPACE, `dead-letter\n${entry}\n${retryOf}`);
}

/** The task id a replay of dead letter `id` is published under: the same on every door and replica, so one replay is one run. */
export function replayTaskId(id: string): string {
  return derivesAttempts(id) ? uuidV5(id, 'replay') : uuidV5(SLOT_ID_NAMESPACE, `replay\n${id}`);
}
