/**
 * The JSON the dashboard's own API (/ui/api/…) answers, shared by the server (src/dashboard/) and
 * the page (src/ui/). Types only, importing nothing: the page's bundle takes none of the server's code.
 */

export type EntryStateName = 'active' | 'paused' | 'disabled' | 'invalid';

/** One line of the entry list. */
export interface RowWire {
  readonly name: string;
  /** file | store | redbeat | django */
  readonly origin: string;
  readonly task: string;
  /** The queue its messages go to ('' when a route names an exchange and no queue). */
  readonly queue: string;
  /** The schedule in words, as `beat status` says it. */
  readonly schedule: string;
  readonly zone: string;
  readonly state: EntryStateName;
  /** The next fire, ISO with the entry's offset, and as epoch ms; null when none comes. */
  readonly next: string | null;
  readonly nextMs: number | null;
  /** The last run (its slot, or when a manual run was published), ISO; null before any. */
  readonly last: string | null;
  readonly lastBy: 'schedule' | 'trigger' | null;
  readonly runCount: number;
  /**
   * What the status JSON says of the last run's outcome, when it says anything (fields that
   * `/status` adds for an entry beyond the ones above, copied as they are).
   */
  readonly outcome: Readonly<Record<string, unknown>> | null;
  /** Why an invalid runtime entry does not run, or why a valid one's runs are refused (path `publish`). */
  readonly problems: readonly ProblemWire[];
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
  readonly fires: readonly FireWire[];
  /** The Celery message of its next run, as `beat run --dry-run` prints it; or why it cannot be rendered. */
  readonly message: unknown;
  /** Run history from the status JSON, when it has one. */
  readonly history: readonly unknown[] | null;
  /** Runtime entries may be edited and deleted through the entries API. */
  readonly editable: boolean;
  /** A runtime-store entry as it was written: what its editor starts from. */
  readonly stored?: unknown;
}

export interface TimelineWire {
  readonly startMs: number;
  readonly bucketMs: number;
  readonly counts: readonly number[];
  /** Entries left out because their schedule fires too often to count here (see the server). */
  readonly capped: number;
}

/** One `beat run` process of the deployment, from the replicas registry (src/control/replicas.ts's ReplicaStatus). */
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

export interface OverviewWire {
  readonly deployment: string;
  readonly version: string;
  readonly nowMs: number;
  readonly self: { readonly instance: string; readonly role: string };
  readonly leader: { readonly instance: string; readonly since: string } | null;
  /** The lock's time to live, ms; null when nobody holds it. */
  readonly lockExpiresInMs: number | null;
  /** Every replica whose heartbeat counts, the leader first, then the standbys. */
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
  /** off: no API token configured; login: one is, this browser has no session; on: logged in. */
  readonly actions: ActionsMode;
  /** The session's CSRF token, sent back in the x-csrf-token header of every write. */
  readonly csrf: string | null;
  /** Whether runtime entries can be created, edited and deleted here. */
  readonly entriesApi: boolean;
}

/** Every error the dashboard's API answers. */
export interface ErrorWire {
  readonly error: string;
  readonly code: string;
  readonly problems?: readonly ProblemWire[];
}
