/**
 * A RunHistory in memory, newest first, as the Redis one behaves (a final record is never replaced,
 * but a REVOKED by a SUCCESS or FAILURE: lua/run-history.lua), for driving the tracker.
 */
import { isFinal } from '../../src/ports/outcomes.js';
import type { RunHistory, RunRecord } from '../../src/ports/outcomes.js';

export function memoryHistory(): RunHistory & { lists: Map<string, RunRecord[]> } {
  const lists = new Map<string, RunRecord[]>();
  const update = (entry: string, record: RunRecord): void => {
    const list = lists.get(entry) ?? [];
    const at = list.findIndex((r) => r.taskId === record.taskId);
    const current = list[at];
    const endsRevoked = current?.state === 'REVOKED' && (record.state === 'SUCCESS' || record.state === 'FAILURE');
    if (current !== undefined && (!isFinal(current.state) || endsRevoked)) list[at] = record;
  };
  return {
    lists,
    recordPublished: async (runs) => {
      // A run already recorded is left as it is, as run-history.lua's push leaves it.
      for (const { entry, record } of runs) {
        const list = lists.get(entry) ?? [];
        if (!list.some((r) => r.taskId === record.taskId)) lists.set(entry, [record, ...list]);
      }
    },
    update: async (entry, record) => update(entry, record),
    recordChanges: async (runs) => {
      for (const { entry, record } of runs) update(entry, record);
    },
    pending: async () => [...lists].flatMap(([entry, list]) => list.filter((r) => !isFinal(r.state)).map((record) => ({ entry, record }))),
    list: async (entry, limit) => (lists.get(entry) ?? []).slice(0, limit),
    latest: async () => new Map(),
    finished: async () => new Map(),
  };
}
