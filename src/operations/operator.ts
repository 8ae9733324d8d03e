/**
 * Who asks for an operation, and why. Every operator verb (src/operations/) takes one and hands it to
 * the store's write as the audit event's `who` and `note`: the one place where a door's caller (a
 * token's name, a dashboard session's, the CLI's or the client's `user@host`) becomes the record.
 */
import type { Grant } from '../core/grants.js';
import type { AuditContext } from '../redis/audit-log.js';

export interface Operator {
  /** A token's name, `dashboard:<token name>`, or `user@host` (redis/audit-log.ts localActor()). */
  readonly who: string;
  /** Why, in one line (base/note-text.ts): each door checks it where it reads it. */
  readonly note?: string | undefined;
  /**
   * What the caller may do (core/grants.ts): a token's grants from the tokens file, a signed-in
   * person's from the config's claim mapping. Undefined for the CLI, which writes to Redis with the
   * machine's own credentials and so holds every role.
   */
  readonly grants?: readonly Grant[] | undefined;
}

/** The operator as the stores' audited writes take it (their cap and log come from the store's own settings). */
export function auditBy(by: Operator): AuditContext {
  return { who: by.who, note: by.note };
}
