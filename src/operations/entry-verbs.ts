/**
 * The entry verbs, once for every door: put (one entry or several, all or none) and delete, each a
 * write of the runtime store's script with its audit event (the operator's `who`, grant and note,
 * the deployment's audit settings). The store checks every entry as `beat run` would run it; the
 * caller's grants are decided first, on each entry as it is stored and as the write would leave it.
 */
import { deploymentGrant } from '../core/grants.js';
import type { Grant, ScopedEntry } from '../core/grants.js';
import { EntryConflictError } from '../redis/entry-store.js';
import type { RedisEntryStore, StoredEntry, WriteResult } from '../redis/entry-store.js';
import type { AuditContext } from '../redis/audit-log.js';
import { auditBy, authorize, authorizeOwner, forbidden, mayRead, scopedEntry } from './operator.js';
import { ownerOf } from '../control/entry-plan.js';
import type { Operator } from './operator.js';

export interface EntryStores {
  readonly store: Pick<RedisEntryStore, 'write' | 'get'>;
  /** The audit trail's cap and the log its `beat.audit` lines go to (beat run's; the CLI and the client have none). */
  readonly auditSettings?: Omit<AuditContext, 'who' | 'note'>;
}

export interface EntryPut {
  readonly name: string;
  readonly entry: unknown;
  /** Apply only to that stored version (0: only if none), else ENTRY_CONFLICT. */
  readonly ifVersion?: number;
}

/**
 * The stored entries of `names` and the grant deciding on them, for a caller with grants; nothing
 * for one without (the CLI). `pin`: the caller's grants are scoped, so each write is held to the
 * version decided on (0: none), and an entry that another writer moves between this read and the
 * script (into another team's labels) makes the write ENTRY_CONFLICT instead of slipping through.
 */
async function decided(
  stores: EntryStores,
  by: Operator,
  names: readonly string[],
  after: (stored: ReadonlyMap<string, StoredEntry>) => readonly ScopedEntry[],
): Promise<{ grant?: Grant; stored: ReadonlyMap<string, StoredEntry>; pin: boolean; hidden?: string }> {
  if (by.grants === undefined) return { stored: new Map(), pin: false };
  // A grant on the whole deployment covers every entry as it is and as it would be: nothing to read
  // (an import of many entries costs no read of each).
  const wide = deploymentGrant(by.grants, 'edit');
  if (wide !== undefined) return { grant: wide, stored: new Map(), pin: false };
  const found = await Promise.all(names.map((name) => stores.store.get(name)));
  const stored = new Map<string, StoredEntry>();
  for (const entry of found) if (entry !== undefined) stored.set(entry.name, entry);
  // An entry the caller may not read is the verb's to answer (as absent, or its name as taken),
  // before any refusal could describe it.
  const hidden = [...stored.values()].find((s) => !mayRead(by, scopedEntry(s.name, s.entry)));
  if (hidden !== undefined) return { stored, pin: true, hidden: hidden.name };
  const before = [...stored.values()].map((s) => scopedEntry(s.name, s.entry));
  const grant = authorize(by, 'edit', [...before, ...after(stored)]);
  return { ...(grant === undefined ? {} : { grant }), stored, pin: true };
}

/**
 * The version a scoped caller's write of `name` is held to: the one its grants were decided on (0:
 * none). The caller's own If-Match (`given`) cannot replace it, or a version guessed ahead (the one
 * another writer's move into another team makes) would let the write land past the decision: one
 * that differs is ENTRY_CONFLICT (412), as a stale If-Match is, nothing written.
 */
function pinned(name: string, stored: ReadonlyMap<string, StoredEntry>, given: number | undefined): number {
  const decidedOn = stored.get(name)?.version ?? 0;
  if (given !== undefined && given !== decidedOn) throw new EntryConflictError(name, given, decidedOn);
  return decidedOn;
}

/** Creates or replaces the entries, all or none; `source` names where they came from in the problems' paths. */
export async function putEntries(
  stores: EntryStores,
  by: Operator,
  puts: readonly EntryPut[],
  options: { readonly nowMs: number; readonly source?: string },
): Promise<WriteResult> {
  const { grant, stored, pin, hidden } = await decided(
    stores,
    by,
    puts.map((p) => p.name),
    () => puts.map((p) => scopedEntry(p.name, p.entry)),
  );
  // The name is taken, which the caller must hear to choose another; by what, it does not learn.
  if (hidden !== undefined)
    throw forbidden(by, `the name "${hidden}" is taken by an entry outside the caller's grants; choose another name`);
  // An entry whose body sets `owner` is written as that owner: a scoped caller needs its editor grant
  // (owner=OWNER) or the deployment's, whatever the entry's labels (as an apply for that owner does).
  if (pin) for (const owner of new Set(puts.flatMap((p) => ownerOf(p.entry) ?? []))) authorizeOwner(by, 'edit', owner);
  return stores.store.write(
    puts.map((p) => {
      const ifVersion = pin ? pinned(p.name, stored, p.ifVersion) : p.ifVersion;
      return { op: 'put' as const, name: p.name, entry: p.entry, ...(ifVersion === undefined ? {} : { ifVersion }) };
    }),
    { ...options, audit: { ...stores.auditSettings, ...auditBy(by, grant) } },
  );
}

/** Deletes an entry (its run history too, unless `keepHistory`); false when there was none. */
export async function deleteEntry(
  stores: EntryStores,
  by: Operator,
  name: string,
  options: { readonly nowMs: number; readonly keepHistory: boolean; readonly ifVersion?: number },
): Promise<boolean> {
  const { ifVersion: given, ...rest } = options;
  const { grant, stored, pin, hidden } = await decided(stores, by, [name], () => []);
  // One the caller may not read is answered as one that does not exist.
  if (hidden !== undefined) return false;
  // A scoped caller deleting what does not exist: answered as the store answers it (false), after
  // the decision, which an absent entry gives to any editor.
  const ifVersion = pin ? pinned(name, stored, given) : given;
  if (pin && ifVersion === 0 && given === undefined) return false;
  const { outcomes } = await stores.store.write([{ op: 'delete', name, ...(ifVersion === undefined ? {} : { ifVersion }) }], {
    ...rest,
    audit: { ...stores.auditSettings, ...auditBy(by, grant) },
  });
  return outcomes[0] === 'deleted';
}
