/**
 * The entry verbs, once for every door: put (one entry or several, all or none) and delete, each a
 * write of the runtime store's script with its audit event (the operator's `who` and note, the
 * deployment's audit settings). The store checks every entry as `beat run` would run it.
 */
import type { RedisEntryStore, WriteResult } from '../redis/entry-store.js';
import type { AuditContext } from '../redis/audit-log.js';
import { auditBy } from './operator.js';
import type { Operator } from './operator.js';

export interface EntryStores {
  readonly store: Pick<RedisEntryStore, 'write'>;
  /** The audit trail's cap and the log its `beat.audit` lines go to (beat run's; the CLI and the client have none). */
  readonly auditSettings?: Omit<AuditContext, 'who' | 'note'>;
}

export interface EntryPut {
  readonly name: string;
  readonly entry: unknown;
  /** Apply only to that stored version (0: only if none), else ENTRY_CONFLICT. */
  readonly ifVersion?: number;
}

/** Creates or replaces the entries, all or none; `source` names where they came from in the problems' paths. */
export function putEntries(
  stores: EntryStores,
  by: Operator,
  puts: readonly EntryPut[],
  options: { readonly nowMs: number; readonly source?: string },
): Promise<WriteResult> {
  return stores.store.write(
    puts.map((p) => ({
      op: 'put' as const,
      name: p.name,
      entry: p.entry,
      ...(p.ifVersion === undefined ? {} : { ifVersion: p.ifVersion }),
    })),
    { ...options, audit: { ...stores.auditSettings, ...auditBy(by) } },
  );
}

/** Deletes an entry (its run history too, unless `keepHistory`); false when there was none. */
export async function deleteEntry(
  stores: EntryStores,
  by: Operator,
  name: string,
  options: { readonly nowMs: number; readonly keepHistory: boolean; readonly ifVersion?: number },
): Promise<boolean> {
  const { ifVersion, ...rest } = options;
  const { outcomes } = await stores.store.write([{ op: 'delete', name, ...(ifVersion === undefined ? {} : { ifVersion }) }], {
    ...rest,
    audit: { ...stores.auditSettings, ...auditBy(by) },
  });
  return outcomes[0] === 'deleted';
}
