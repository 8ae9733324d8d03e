/**
 * What a write of the runtime entry store (entry-store.ts) is asked: its changes, its options, and
 * the write prepared (checked and encoded) before it is sent, so that an import prepares its next
 * chunk while Redis runs the one before.
 */
import type { AuditContext } from './audit-log.js';

/** One change asked of the store. */
export type EntryWrite = (
  | {
      readonly op: 'put';
      readonly name: string;
      readonly entry: unknown;
      /**
       * The entry's canonical JSON (canonicalEntryJson), from a writer that has its text already (an
       * import of lines in that form): taken as it is by a `checked` write, and `entry` may then be
       * left undefined (parsed from it for the audit only). Ignored by a write that checks.
       */
      readonly json?: string;
    }
  | { readonly op: 'delete'; readonly name: string }
) & {
  /** Apply only if the entry's stored version is this one (0: only if none is stored); else EntryConflictError. */
  readonly ifVersion?: number;
};

export interface WriteOptions {
  readonly nowMs: number;
  readonly keepHistory?: boolean;
  readonly source?: string;
  readonly audit?: AuditContext;
  /**
   * The writes were checked as this write would check them (entry-files.ts entryChecker, given
   * this store's queue names context), and have not changed since: an import's second pass
   * over a file whose chunk has the digest its first pass checked. Not checked again.
   */
  readonly checked?: boolean;
  /**
   * The writes, counted from the first, that this write's audit leaves out because later writes
   * of the same import will have trimmed them from the capped stream anyway (an import in chunks).
   */
  readonly unaudited?: number;
}

/** A write checked and encoded (RedisEntryStore.prepare), not yet sent. */
export interface PreparedWrite {
  readonly writes: readonly EntryWrite[];
  /** The script's ARGV from its fifth: the (op, name, entry JSON) triples. */
  readonly args: string[];
  readonly options: WriteOptions;
}
