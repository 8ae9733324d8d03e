/**
 * What the HTTP API asks of the service: the probes, the status, the entries store, the control
 * verbs, plans and the audit trail. The service implements them (src/service/*-handlers.ts, over
 * src/operations/); src/http/ only speaks HTTP, so a route never reaches a store itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Hono } from 'hono';
import type { ConfigProblem } from '../base/errors.js';
import type { BeatMetrics } from '../observe/metrics.js';
import type { Grant, ScopedEntry } from '../core/grants.js';
import type { AuditEventView } from '../control/audit-event-view.js';
import type { Door } from '../operations/door.js';
import type { EntryView } from '../control/entry-view-schema.js';
import type { Caller, HttpAccess } from './auth.js';

export interface Probe {
  readonly ok: boolean;
  readonly reason: string;
  /**
   * The reason as a client that may not read the schedule is told it (no token, not trusted
   * loopback): the same verdict and cause, without Redis hosts, key names or settings (the probe is
   * open to anyone who reaches the port).
   * Absent: the reason holds none.
   */
  readonly brief?: string;
}

/** An entry of the store as the API shows it. */
export interface ApiEntry {
  readonly name: string;
  readonly entry: unknown;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Why the scheduler does not run it, if it does not. */
  readonly problems?: readonly ConfigProblem[];
  /** `GET /api/entries/NAME` only: the entry as `/status` shows it (its view); null when it does not run. */
  readonly view?: EntryView | null;
}

/**
 * What the API asks of the store. Failures are BeatErrors: ENTRY_INVALID (a ConfigError with the
 * problems), ENTRY_IS_STATIC, UNKNOWN_ENTRY, REDIS_UNAVAILABLE and the other Redis refusals, and
 * FORBIDDEN (403) when the caller's grants do not allow the change. `by`: who calls (a token's name
 * and grants, http/auth.ts callerOf), recorded by the audit with the grant used and `note`
 * (X-Beat-Note); the reads show only what its grants may read.
 */
export interface EntriesHandlers {
  /**
   * Up to `limit` entries whose names sort after `after`, and the cursor of the next page when there
   * is one. With `selector` (a label selector's text; one that does not parse is API_BAD_REQUEST
   * naming the character), only the entries of the page it selects: a page may then hold fewer.
   */
  list(
    after: string | undefined,
    limit: number,
    selector: string | undefined,
    by: Caller,
  ): Promise<{ entries: readonly ApiEntry[]; next?: string }>;
  /** Undefined also for an entry outside the caller's grants: it is not told that one exists. */
  get(name: string, by: Caller): Promise<ApiEntry | undefined>;
  /** `ifVersion`: apply only to that stored version (0: only if none), else ENTRY_CONFLICT. */
  put(name: string, entry: unknown, by: Caller, ifVersion?: number, note?: string): Promise<{ created: boolean; entry: ApiEntry }>;
  putMany(
    entries: Readonly<Record<string, unknown>>,
    by: Caller,
    note?: string,
  ): Promise<{ version: number; outcomes: Record<string, string> }>;
  /** How deep an entry's args and kwargs may nest now (the config's entryLimits.maxDepth); a body may nest 4 more. */
  entryMaxDepth?(): number;
  /** False when there was no such entry. */
  remove(name: string, keepHistory: boolean, by: Caller, ifVersion?: number, note?: string): Promise<boolean>;
  /** `POST /api/entries/NAME/backfill` (operations/backfill-verbs.ts requestBackfill): the status and body to answer. */
  backfill?(name: string, body: unknown, by: Caller, note?: string): Promise<{ status: number; body: unknown }>;
  /** `GET /api/entries/NAME/backfill/ID`: a backfill request's progress. */
  backfillProgress?(name: string, id: string, by: Caller): Promise<{ status: number; body: unknown }>;
}

/** A plan request's fields, checked for their types (the handlers check the entries and the owner's name). */
export interface PlanRequest {
  readonly owner: string;
  readonly entries: Readonly<Record<string, unknown>>;
  readonly planDigest?: string;
  /** The window of the load the plan counts, ms (its `horizon` query); the default without. */
  readonly horizonMs?: number;
}

export interface PlanHandlers {
  /** The plan, as `beat plan --json` prints it; FORBIDDEN (403) when `by` could not apply it. */
  plan(request: PlanRequest, by: Caller): Promise<unknown>;
  /** Applies it: the plan applied and the store's version. Refusals are BeatErrors (OWNER_CONFLICT, PLAN_STALE: 409). */
  apply(request: PlanRequest, by: Caller, note: string | undefined): Promise<unknown>;
}

/** Up to `limit` events older than `before`, newest first, of one entry or all, by `who` or anyone, of the entries the caller may read. */
export type AuditReader = (
  query: { entry?: string; who?: string; limit: number; before?: string },
  by: Caller,
) => Promise<readonly AuditEventView[]>;

export interface DashboardSession {
  /** `dashboard:<token name>` or `sso:<subject> <e-mail>`. */
  readonly who: string;
  /** Its grants as they are now: its token's as the tokens file says, or a signed-in person's claim's as auth.oidc.roles maps it. */
  readonly grants: readonly Grant[];
  /** Why it may not write (no CSRF token, another Origin, actions off), if it may not (403). */
  readonly writeRefusal?: string;
  /** Why it may not write now: the identity provider did not answer its sign-in's last recheck (503, ISSUER_UNREACHABLE). */
  readonly writeUnavailable?: string;
}

export interface HttpHandlers {
  health(): Probe;
  ready(): Promise<Probe>;
  /** One page of the status: entries `offset` to `offset + limit` (and `next`, the offset of the next page, when there are more). */
  status(page?: { offset: number; limit: number }, by?: Caller): Promise<unknown>;
  readonly metrics: BeatMetrics;
  /** The audit trail (GET /api/audit); without it, 404. */
  readonly audit?: AuditReader;
  /** The runtime entries API; without it /api/entries is 404. */
  readonly entries?: EntriesHandlers;
  /** POST /api/plan and /api/apply; without them, 404. */
  readonly plans?: PlanHandlers;
  /** Where the verb table's routes (operations/verb-routes.ts: pause, resume, trigger, the stop, an entry's history, the dead letters) act; without it, 404. */
  readonly door?: Door;
  /** Who may read the schedule and write entries (no token: writes are refused, reads are loopback-only). */
  readonly access?: HttpAccess;
  /**
   * The dashboard session the request carries, if any: a credential, as a token is. `who` names it
   * (`dashboard:<token name>`) in the logs and the audit; `writeRefusal` says why it may not write
   * (its CSRF token not sent back, another Origin), absent when it may.
   */
  readonly session?: (req: IncomingMessage) => DashboardSession | undefined;
  /**
   * Run before any route answers a request that carries a session cookie: a signed-in session's
   * standing at the identity provider, checked again when due (ended there when revoked).
   */
  readonly recheckSession?: (req: IncomingMessage) => Promise<void>;
  /**
   * An entry's owner and labels, as a grant's scope is checked against them (undefined: no such
   * entry): what narrows /metrics' per-entry series to a token's read scope.
   */
  readonly scopeOf?: (entry: string) => ScopedEntry | undefined;
  /**
   * The queues the entries `grants` may read publish to: what keeps a per-queue series of /metrics
   * for a scoped reader (without it, none is kept for one).
   */
  readonly readableQueues?: (grants: readonly Grant[]) => ReadonlySet<string>;
  /** More routes (the dashboard's), mounted before /api's. */
  readonly dashboard?: Hono<ApiEnv>;
}

/**
 * What every route of the server has (@hono/node-server's bindings): Node's own request and
 * response, and the caller's grants (its token's, its session's, or a viewer of the whole
 * deployment let in by the read rule), which narrow what a read shows.
 */
export type ApiEnv = {
  Bindings: { incoming: IncomingMessage; outgoing: ServerResponse };
  Variables: { grants: readonly Grant[] };
};
