/**
 * What the dashboard is handed by the service: its sources of entries, status, runs and control. Declared apart from the routes, so that the
 * modules the routes use can name them without importing the routes.
 */
import type { MessageEnv } from '../celery/message.js';
import type { Grant } from '../core/grants.js';
import type { ReplicaStatus } from '../control/replicas.js';
import type { GroupStatus } from '../control/status.js';
import type { ResolvedEntry } from '../config/resolve.js';
import type { ControlStores } from '../operations/control-verbs.js';
import type { FinishedRuns, RunRecord } from '../ports/outcomes.js';
import type { LastState } from './run-results.js';
import type { MissedSlotsReport } from './day-strip.js';
import type { EntrySet, RunColumns } from './entry-rows.js';
import type { EntryView } from '../control/entry-view-schema.js';

export interface DeploymentView {
  readonly deployment: string;
  readonly role: string;
  readonly leader: { readonly instance: string; readonly since: string } | null;
  readonly lockExpiresInMs: number | null;
  /** The live replicas of the registry, the leader first. */
  readonly replicas: readonly ReplicaStatus[];
  readonly redis: string;
  readonly broker: string;
  readonly warnings: readonly string[];
}

export interface DashboardSources {
  readonly instanceId: string;
  readonly version: string;
  now(): number;
  /**
   * The entries in force and the invalid ones, as the service holds them now: the same object until
   * they change (the list's index is made again only then). Synchronous and cheap.
   */
  entrySet(): EntrySet;
  /** The paused entries (a small set: only those paused). */
  paused(): Promise<ReadonlySet<string>>;
  /** The status of the named entries only (a page's rows), their next fires from the leader's book when it leads. */
  status(names: readonly string[]): Promise<ReadonlyMap<string, EntryView>>;
  /**
   * Every entry's next fire, last run and run count (the list's next, last and runs sorts, the
   * timeline): one pass over all entries, taken in slices that yield to the event loop.
   */
  runColumns(): Promise<ReadonlyMap<string, RunColumns>>;
  deployment(): Promise<DeploymentView>;
  /** The control store the page's actions go through (src/operations/control-verbs.ts). */
  readonly control: ControlStores;
  readonly messageEnv: MessageEnv;
  /**
   * The runs kept of the named entries (their histories in Redis, as `beat history` reads them),
   * newest first, at most `limit` each; undefined when the deployment keeps no outcomes (no
   * resultBackend, no taskEvents). Absent: none are shown.
   */
  runs?(entries: readonly string[], limit: number): Promise<ReadonlyMap<string, readonly RunRecord[]> | undefined>;
  /** The named entries' finished runs at a glance (the finished hash); undefined when the deployment keeps no outcomes. */
  finished?(entries: readonly string[]): Promise<ReadonlyMap<string, FinishedRuns> | undefined>;
  /** The failing entries and their failed runs in a row (an index: only those are read); undefined without outcomes. */
  failureStreaks?(): Promise<ReadonlyMap<string, number> | undefined>;
  /** Every entry's newest finished state (the list's result sort), read in bounded batches; undefined without outcomes. */
  lastStates?(): Promise<ReadonlyMap<string, LastState> | undefined>;
  /**
   * A RedBeat or django entry as its source holds it (RedBeat's `definition` JSON, the django row's
   * fields), with where; null when the source has it no more or cannot be read now.
   */
  written?(name: string, origin: string): Promise<{ readonly source: string; readonly definition: unknown } | null>;
  /** The leaders' reports of the named entries' slots that never ran (missed, skipped by overlap, paused), newest first. */
  missed?(entries: readonly string[]): Promise<ReadonlyMap<string, readonly MissedSlotsReport[]>>;
  /** The concurrency groups of `entries` (their limits, runs in flight and waiting), as `beat status` counts them; absent: none shown. */
  groups?(entries: readonly ResolvedEntry[]): Promise<readonly GroupStatus[]>;
  /** The API token (`--api-token-file`, BEAT_API_TOKEN); undefined: no writes at all. */
  apiToken(): string | undefined;
  /**
   * The name of the configured token that may write and is `token`, if any (several named tokens
   * in --api-token-file); without it, the login compares with apiToken() and names the session "api".
   */
  writeTokenName?(token: string): string | undefined;
  /**
   * The grants of the configured token that may sign in whose SHA-256 (hex) is `digest`, as the
   * tokens file says now; undefined when no such token is configured any more (a token's session
   * then ends).
   */
  tokenGrants?(digest: string): readonly Grant[] | undefined;
  /**
   * A runtime entry as it was written (what the page's editor starts from, which saves it through
   * /api), or undefined. Absent: runtime entries cannot be created, edited or deleted from the page.
   */
  readonly storedEntry?: (name: string) => Promise<unknown>;
}
