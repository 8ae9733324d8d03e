/**
 * What `Entries` (entries-client.ts) asks of the way it reaches a deployment: straight to its state
 * Redis (store-transport.ts), or through `beat run --http`'s /api with a token (api-transport.ts).
 * Both answer in the same shapes and refuse with the same codes (src/base/errors.ts), so that a
 * caller handles both alike; `Entries` checks what it can before either (a note, a horizon) and
 * builds its handles on these.
 */
import type { ConfigProblem } from '../base/errors.js';
import type { EntryInput } from '../config/schema.js';
import type { AuditEventView } from '../control/audit-event-view.js';
import type { DeploymentStopView } from '../control/deployment-stop.js';
import type { EntryPlan } from '../control/entry-plan.js';
import type { VerbAnswer, VerbInput, VerbName } from '../operations/door.js';
import type { BackfillBody, BackfillResult, BackfillSlotsPage } from '../operations/backfill-verbs.js';

/**
 * A stored runtime entry: what `GET /api/entries/NAME` answers besides its `view` (the entry as
 * `/status` shows it, control/entry-view-schema.ts), which takes the deployment's config to compute
 * and the Redis path does not have; `beat status --json` and the API give it.
 */
export interface EntryRecord {
  readonly name: string;
  /** The entry as written. */
  readonly entry: unknown;
  /** The store's version of its last change. */
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** Why the scheduler does not run it (written by hand or another tsbeat version), if it does not. */
  readonly problems?: readonly ConfigProblem[];
}

export type SetOutcome = 'created' | 'updated' | 'unchanged';

/** Which audit events: `limit` (default 50) older than `before` (an event's id), newest first. */
export interface AuditQuery {
  readonly limit?: number;
  readonly before?: string;
}

/** The deployment at a glance: its stop, its leader, the entries paused (those the caller may read, through the API). */
export interface DeploymentBrief {
  readonly stopped: DeploymentStopView | null;
  readonly leader: { readonly instance: string; readonly since: string } | null;
  readonly paused: readonly string[];
}

export interface EntriesTransport {
  /**
   * Writes every entry or none (ENTRY_INVALID with every problem): the store's version and each
   * entry's outcome, in order. `ifVersion`: only if the entry is still at that version (0: only if
   * there is none), else ENTRY_CONFLICT and nothing written.
   */
  put(
    entries: readonly { readonly name: string; readonly entry: EntryInput; readonly ifVersion?: number }[],
    note: string | undefined,
  ): Promise<{ version: number; outcomes: SetOutcome[] }>;
  /** Undefined when there is none (or, through the API, one outside the token's grants). */
  get(name: string): Promise<EntryRecord | undefined>;
  list(options: { readonly after?: string; readonly limit?: number; readonly selector?: string }): Promise<EntryRecord[]>;
  /** False when there was no such entry; `ifVersion` as put's. */
  remove(name: string, keepHistory: boolean, note: string | undefined, ifVersion?: number): Promise<boolean>;
  plan(owner: string, entries: Readonly<Record<string, EntryInput>>, horizonMs: number): Promise<EntryPlan>;
  apply(
    owner: string,
    entries: Readonly<Record<string, EntryInput>>,
    planDigest: string | undefined,
    note: string | undefined,
  ): Promise<EntryPlan & { version: number }>;
  /** Runs a verb of the table (operations/door.ts VERBS: pause, resume, trigger, the dead letters); `note`: why, kept by its audit event. */
  invoke<V extends VerbName>(verb: V, input: VerbInput<V>, note: string | undefined): Promise<VerbAnswer<V>>;
  /**
   * A backfill of the entry's slots in a past range queued for the leader and waited for up to
   * `waitMs` (left queued after it: `backfillProgress` reads on), or with `dryRun` a page of them.
   */
  backfill(name: string, body: BackfillBody, waitMs: number): Promise<BackfillResult | BackfillSlotsPage>;
  backfillProgress(name: string, id: string): Promise<BackfillResult>;
  audit(query: AuditQuery & { readonly entry?: string }): Promise<AuditEventView[]>;
  status(): Promise<DeploymentBrief>;
  version(): Promise<number>;
  close(): Promise<void>;
}
