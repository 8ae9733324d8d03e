/**
 * The JSON the dashboard's own API (/ui/api/…) answers, shared by the server (src/dashboard/) and
 * the page (src/ui/). Types only, importing only the views' types (control/entry-view-schema.ts,
 * audit-event-view.ts, dead-letter-view.ts: zod and types alone): the page's bundle takes none of the
 * server's code.
 */
import type { AttemptView, EntryView } from '../control/entry-view-schema.js';
import type { AuditEventView, AuditPage } from '../control/audit-event-view.js';
import type { DeadLetterView } from '../control/dead-letter-view.js';

export type { AttemptView, AuditEventView, AuditPage, DeadLetterView, EntryView };

/** The states the list filters by (the entry set and the paused set tell them). */
export type EntryStateName = 'active' | 'paused' | 'disabled' | 'invalid';
/** A row's state as `beat status` says it: also `finished`, an entry that made its maxRuns (a one-off that ran). */
export type RowStateName = EntryStateName | 'finished';

/**
 * One line of the entry list: the entry's view, whole, and what the list adds to it (the row's
 * state, the next run in epoch ms, the kept history's results, the problems).
 */
export interface RowWire {
  readonly name: string;
  /** file | store | redbeat | django */
  readonly origin: string;
  readonly state: RowStateName;
  /** The view's `nextRun` as epoch ms; null when none comes. */
  readonly nextMs: number | null;
  /**
   * What the kept run history says (src/dashboard/run-results.ts): set on the rows of a page when
   * the deployment follows outcomes; null otherwise.
   */
  readonly result: ResultWire | null;
  /** Why an invalid runtime entry does not run, or why a valid one's runs are refused (path `publish`). */
  readonly problems: readonly ProblemWire[];
  /** The entry as `beat status --json` and `/status` show it; null for an invalid runtime entry, which does not run. */
  readonly view: EntryView | null;
}

/** One run of an entry's history (the fields of `beat history --json`, with the instants as epoch ms too). */
export interface RunWire {
  readonly taskId: string;
  /** PENDING, STARTED, RETRY, SUCCESS, FAILURE, REVOKED, unknown */
  readonly state: string;
  readonly slot: string;
  readonly slotMs: number;
  readonly publishedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly finishedAtMs: number | null;
  readonly runtimeSeconds: number | null;
  /** The exception's first line, or null. */
  readonly exception: string | null;
  /**
   * What made the run: the record's `origin` where it has one (schedule, trigger, backfill); else
   * schedule when its task id is its slot's, trigger when not (a manual run's id is random).
   */
  readonly by: 'schedule' | 'trigger' | 'backfill';
  /** A canvas run's tasks (a chain's steps, a group's members, a chord's header and body), each with its state; absent for a run of one task. */
  readonly parts?: readonly PartWire[];
}

/**
 * A slot of an entry's history (control/slot-view.ts): its last attempt's run, and the attempts
 * the history keeps, oldest first (`beat history --json`'s slot).
 */
export interface SlotWire extends RunWire {
  /** The slot's own task id (its first attempt's). */
  readonly slotTaskId: string;
  /** Attempts run, the first included (the last attempt's number). */
  readonly attemptCount: number;
  /** Its retry policy's attempts; null without one. */
  readonly maxAttempts: number | null;
  readonly attempts: readonly AttemptView[];
}

/** One task of a canvas run (control/run-view.ts PartView). */
export interface PartWire {
  /** Where it is in the entry's canvas: `chain[1]`, `group[2].chain[0]`, `body`. */
  readonly path: string;
  readonly task: string;
  readonly id: string;
  readonly state: string;
  /** Its result is (part of) the run's. */
  readonly final: boolean;
  /** A final part's result once it succeeded, when kept. */
  readonly result?: unknown;
  /** The exception's first line, for a part that failed or was revoked. */
  readonly exception?: string;
}

/** An entry's results over the runs its history keeps. */
export interface ResultWire {
  /** The newest run that finished (SUCCESS, FAILURE, REVOKED or unknown), or null. */
  readonly last: {
    readonly state: string;
    /** When it finished, ISO in the entry's zone, and epoch ms; null when no finish time is known. */
    readonly at: string | null;
    readonly atMs: number | null;
    readonly runtimeSeconds: number | null;
    readonly exception: string | null;
  } | null;
  readonly lastSuccess: string | null;
  readonly lastFailure: string | null;
  /** The first of the FAILUREs that the newest finished runs are, when the newest is one; else null. */
  readonly failingSince: string | null;
  /** SUCCESS among the finished runs kept, 0 to 1; null when none finished. */
  readonly successRate: number | null;
  readonly finished: number;
  /** Runs kept (finished or not). */
  readonly kept: number;
  /** A run published and not finished yet. */
  readonly running: boolean;
  /** Failed runs in a row since its last success or resume (what pauseOnFailure counts); null when not known. */
  readonly failureStreak: number | null;
}

export interface ProblemWire {
  readonly path: string;
  readonly message: string;
}

export interface PageWire {
  readonly nowMs: number;
  /** Entries in the deployment, and those that the query matched. */
  readonly total: number;
  readonly matched: number;
  readonly offset: number;
  readonly limit: number;
  readonly rows: readonly RowWire[];
}

export interface FireWire {
  readonly at: string;
  readonly atMs: number;
  /** Set when the zone's UTC offset differs from the previous instant's: a DST change lies between. */
  readonly offsetChange: string | null;
}

export interface DetailWire {
  readonly row: RowWire;
  /** The entry's definition as tsbeat resolved it (args, kwargs, options, catch-up, jitter). */
  readonly definition: Readonly<Record<string, unknown>>;
  /**
   * The entry as its author wrote it, and where: the config file's entry, the runtime store's
   * record, RedBeat's `definition` JSON or django-celery-beat's row; null when it cannot be read now.
   */
  readonly written: { readonly source: string; readonly definition: unknown } | null;
  readonly fires: readonly FireWire[];
  /** The Celery message of its next run, as `beat run --dry-run` prints it; or why it cannot be rendered. */
  readonly message: unknown;
  /** The slots of the runs its history keeps, newest first; null when the deployment keeps no outcomes (no resultBackend, no taskEvents). */
  readonly history: readonly SlotWire[] | null;
  /** What those runs say; null with the history. */
  readonly result: ResultWire | null;
  /** Runtime entries may be edited and deleted through the entries API. */
  readonly editable: boolean;
  /** A runtime-store entry as it was written: what its editor starts from. */
  readonly stored?: unknown;
}

/**
 * What became of a slot: from the run history (succeeded, failed, running, unknown; unconsumed: still
 * PENDING on a queue the leader flagged as read by nobody) or the leader's reports of slots that never ran.
 */
export type SlotKind = 'succeeded' | 'failed' | 'running' | 'unconsumed' | 'unknown' | 'skipped' | 'missed' | 'paused';

/** A cell of a strip: its gravest kind (its colour), and how many of its slots were of each kind. */
export interface StripCellWire {
  readonly kind: SlotKind;
  readonly counts: Readonly<Partial<Record<SlotKind, number>>>;
}

/** The past day (or hour) of the named entries: one strip of cells each, null where nothing is recorded. */
export interface StripsWire {
  readonly nowMs: number;
  readonly startMs: number;
  readonly bucketMs: number;
  readonly cells: number;
  /** By entry name; an entry the deployment keeps nothing of (no outcomes followed) is absent. */
  readonly strips: Readonly<Record<string, readonly (StripCellWire | null)[]>>;
  /** False when the deployment follows no outcomes: only the reports of slots that never ran are shown. */
  readonly outcomes: boolean;
}

export interface TimelineWire {
  readonly startMs: number;
  readonly bucketMs: number;
  readonly counts: readonly number[];
  /** Entries some of whose runs were not counted: their schedule fires too often to count here (see the server). */
  readonly capped: number;
  /** The busiest second (epoch ms of its start) and its runs: the earliest of equals; runs 0 when nothing runs. */
  readonly peakSecond: { readonly atMs: number; readonly runs: number };
}

/** One `beat run` process of the deployment, from the replicas registry (src/control/replicas.ts's ReplicaStatus). */
/** A concurrency group as the overview shows it (control/status.ts GroupStatus, which the page cannot import). */
export interface GroupWire {
  readonly group: string;
  readonly limit: number;
  /** Its entries' runs published and not final, from their histories. */
  readonly running: number;
  /** Its runs waiting for a place. */
  readonly waiting: number;
  readonly entries: number;
}

export interface ReplicaWire {
  readonly instance: string;
  /** From the lock: the replica it names leads. */
  readonly role: 'leader' | 'standby';
  readonly host: string;
  readonly pid: number;
  readonly version: string;
  readonly startedAt: string;
  readonly lastHeartbeat: string;
  readonly heartbeatAgeMs: number;
  /** Where it serves HTTP (`host:port`), or null. */
  readonly http: string | null;
}

export type ActionsMode = 'off' | 'login' | 'on';

/**
 * `GET /ui/session`, open to every client (it shows no entries): how this browser may get in, and who
 * it is in as. What the page offers when it may not read the overview yet (off loopback, signed out).
 */
export interface SessionWire {
  readonly actions: ActionsMode;
  readonly signIn: boolean;
  readonly login: boolean;
  readonly who: string | null;
  readonly grants: string | null;
}

export interface OverviewWire {
  readonly deployment: string;
  readonly version: string;
  readonly nowMs: number;
  /** This replica; its role is leader while it leads. */
  readonly self: { readonly instance: string; readonly role: string };
  /** Who holds the lock; null when nobody does. */
  readonly leader: { readonly instance: string; readonly since: string } | null;
  /** The deployment-wide stop (`beat pause --all`): who, since when (ISO), why; null when it is not stopped. */
  readonly stopped: { readonly by: string; readonly since: string; readonly note: string | null } | null;
  /** The lock's time to live, ms; null when nobody holds it. */
  readonly lockExpiresInMs: number | null;
  /** Every replica whose heartbeat counts, the leaders first, then the standbys. */
  readonly replicas: readonly ReplicaWire[];
  readonly redis: string;
  readonly broker: string;
  readonly warnings: readonly string[];
  readonly counts: {
    readonly entries: number;
    readonly active: number;
    readonly paused: number;
    readonly disabled: number;
    readonly invalid: number;
  };
  /**
   * Each concurrency group (`beat status`'s `groups`): its limit, runs in flight and waiting, and how
   * many entries it has; a session scoped by its grants sees only the groups whose entries it may all
   * read (a group's counts mix its entries' runs).
   */
  readonly groups: readonly GroupWire[];
  /** off: no API token (nor sign-on) configured; login: one is, this browser has no session; on: logged in. */
  readonly actions: ActionsMode;
  /** The session's CSRF token, sent back in the x-csrf-token header of every write. */
  readonly csrf: string | null;
  /** Single sign-on is configured (auth.oidc): the page offers "Sign in" (/ui/sign-in). */
  readonly signIn: boolean;
  /** An API token that may write is configured: the page offers the token's login form. */
  readonly login: boolean;
  /** Who the session belongs to (`dashboard:<token name>`, `sso:<subject> <e-mail>`); null without one. */
  readonly who: string | null;
  /** A signed-in person's grants as the tokens file writes them (`operator@team=billing`); null otherwise. */
  readonly grants: string | null;
  /** Whether runtime entries can be created, edited and deleted here. */
  readonly entriesApi: boolean;
}

/** What a plan does to an entry (control/entry-plan.ts's PlanAction). */
export type PlanActionWire = 'add' | 'change' | 'remove' | 'unchanged' | 'conflict';

/** An entry of a plan as POST /api/plan answers it (control/entry-plan.ts's PlanItem). */
export interface PlanItemWire {
  readonly name: string;
  readonly action: PlanActionWire;
  readonly changes?: readonly { readonly path: string; readonly before?: string; readonly after?: string }[];
  readonly kind?: { readonly before: string; readonly after: string };
  /** The next fires (ISO-8601, in the entry's zone) now and after the apply. */
  readonly firesBefore?: readonly string[];
  readonly firesAfter?: readonly string[];
  readonly dropped?: readonly string[];
  /** A conflict's holder: another owner, or null for an entry with none. */
  readonly heldBy?: string | null;
  readonly version: number;
}

/** A load of a plan's side (control/entries-load.ts's LoadReport, less its minutes, which the page does not draw). */
export interface PlanLoadWire {
  readonly from: string;
  readonly to: string;
  readonly total: number;
  readonly peakMinute: { readonly at: string; readonly runs: number };
  readonly peakSecond: { readonly at: string; readonly runs: number };
  readonly capped: number;
}

/**
 * POST /api/plan's answer (control/entry-plan.ts's EntryPlan; test/integration/dashboard-plan.test.ts
 * holds the two assignable); POST /api/apply's adds the store's `version`.
 */
export interface PlanWire {
  readonly owner: string;
  /** What the apply sends back as planDigest: a store changed since is 409 PLAN_STALE. */
  readonly digest: string;
  readonly counts: Readonly<Record<PlanActionWire, number>>;
  readonly entries: readonly PlanItemWire[];
  readonly load?: { readonly horizonMs: number; readonly before: PlanLoadWire; readonly after: PlanLoadWire };
}

/** Every error the dashboard's API answers. */
export interface ErrorWire {
  readonly error: string;
  readonly code: string;
  readonly problems?: readonly ProblemWire[];
}

/**
 * The overlap policies the backfill form offers: core/backfill-overlap.ts's BACKFILL_OVERLAPS
 * (this module imports nothing; test/unit/backfill-overlap.test.ts holds the two lists equal).
 */
export const BACKFILL_OVERLAP_NAMES = ['allowAll', 'skip', 'bufferOne', 'bufferAll', 'cancelOther', 'terminateOther'] as const;
