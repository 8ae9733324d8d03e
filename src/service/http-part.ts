/**
 * HTTP (with --http only): the probes, /metrics, /status, the entries, backfill and audit APIs, and
 * the dashboard, on one server, the process's. What they tell of leading, stored state, control,
 * failing entries, missed slots, runs and the lock is the deployment's runtime's (deployment-runtime.ts).
 */
import type { Logger } from '../base/log.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { Dashboard } from '../dashboard/routes.js';
import { tokenDigest, tokensEqual as digestsEqual } from '../dashboard/sessions.js';
import { grantFor } from '../core/grants.js';
import type { ScopedEntry } from '../core/grants.js';
import { queueOf } from '../celery/routing.js';
import type { DeploymentStatus } from '../control/status.js';
import { OidcSignIn } from '../dashboard/oidc-sign-in.js';
import { ENV } from '../base/env.js';
import { DEFAULTS } from '../base/defaults.js';
import { findToken, mayWrite, tokensOf } from '../http/auth.js';
import type { ApiToken, HttpAccess } from '../http/auth.js';
import type { EntriesHandlers } from '../http/api-ports.js';
import { mayRead } from '../operations/operator.js';
import { startHttpServer } from '../http/server.js';
import type { HttpAddress } from '../http/server.js';
import type { BeatMetrics } from '../observe/metrics.js';
import type { Clock } from '../ports/clock.js';
import type { ClockGuard } from '../redis/clock-guard.js';
import type { RedisEntryStore } from '../redis/entry-store.js';
import type { SchedulerKeys } from '../redis/keys.js';
import type { ReplicaRegistry } from '../redis/replica-registry.js';
import { RedisRunHistory } from '../redis/run-history-store.js';
import { redisStatus } from '../redis/connect.js';
import type { RedisClient } from '../redis/connect.js';
import type { EntryCatalog } from '../runtime/entry-catalog.js';
import { auditReader } from './audit-reader.js';
import { apiDoor } from './api-door.js';
import type { Connections } from './connections.js';
import { bookedSlots, dashboardSources } from './dashboard-sources.js';
import { entryViews } from '../operations/read-verbs.js';
import { backfillProgressOf, requestBackfill } from '../operations/backfill-verbs.js';
import type { BackfillDoor } from '../operations/backfill-verbs.js';
import { entriesHandlers } from './entries-handlers.js';
import { planHandlers } from './plan-handlers.js';
import { entryNamedIn } from './in-force-view.js';
import type { AuditSettings, InForce } from './in-force-view.js';
import type { DeploymentRuntime } from './deployment-runtime.js';
import { probes, scheduleMetrics } from './probes.js';
import { messageEnv } from './running.js';
import { RedisAlertOutbox } from '../redis/alert-outbox.js';

export interface HttpPart {
  readonly address: HttpAddress;
  close(): Promise<void>;
}

interface Made {
  /** The deployment's keys (the audit trail's). */
  readonly keys: SchedulerKeys;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly instanceId: string;
  readonly access: HttpAccess;
  readonly connections: Connections;
  readonly catalog: EntryCatalog;
  readonly entryStore: RedisEntryStore;
  readonly clockGuard: ClockGuard;
  readonly replicas: ReplicaRegistry;
  /** The deployment's runtime, whose control, failures, missed slots, runs and lock the parts below read. */
  readonly runtime: DeploymentRuntime;
  readonly inForce: InForce;
  readonly audit: AuditSettings;
}

/** Serves on `address` when there is one (metrics are made exactly then); else nothing. */
export async function startHttp(
  options: Made & { metrics: BeatMetrics | undefined; address: HttpAddress | undefined },
): Promise<HttpPart | undefined> {
  const { metrics } = options;
  if (metrics === undefined || options.address === undefined) return undefined;
  const { keys, logger: log, clock, instanceId, connections, runtime } = options;
  const { supervisor } = runtime;
  const reads = readsOf(options);
  metrics.readScheduleFrom(scheduleMetrics(supervisor, options.catalog, reads.control));
  const answers = probes({
    instanceId,
    clock,
    supervisor,
    redis: stateStatus(connections.state),
    clockGuard: options.clockGuard,
    publishing: connections.publishing,
    watch: runtime.watch,
    ...reads,
    replicas: options.replicas,
    catalog: options.catalog,
    sourceTrouble: () => connections.django?.health().reason,
  });
  const entries = entriesApi(options, reads);
  const status = answers.status;
  const dashboard = makeDashboard(options, reads, await oidcSignIn(options));
  const scopeOf = entryScopeIn(options);
  const server = await startHttpServer(
    options.address,
    {
      metrics,
      ...answers,
      // Only the entries the caller's grants may read; the deployment's own parts (leader, replicas,
      // warnings) stay, and the runtime entries that do not run only for a reader of the whole deployment.
      status: async (page, by) => {
        const whole = (await status(page)) as DeploymentStatus;
        if (by === undefined) return whole;
        return {
          ...whole,
          entries: whole.entries.filter((e) => mayRead(by, { name: e.name, owner: e.owner ?? undefined, labels: e.labels })),
          entryProblems: whole.entryProblems.filter((p) => mayRead(by, { name: p.name })),
        };
      },
      entries,
      audit: auditReader(connections.state, keys, scopeOf),
      plans: planHandlers({
        store: options.entryStore,
        client: connections.state,
        keys,
        zone: () => options.inForce.config().timezone,
        deployment: options.inForce.config().name,
        now: () => options.clock.now(),
        audit: options.audit,
      }),
      door: apiDoor({
        control: reads.control,
        runs: reads.runs,
        findEntry: entryNamedIn(options.inForce, options.catalog),
        entries: () => [...options.inForce.config().entries, ...options.catalog.entries()],
        config: () => options.inForce.config(),
        now: () => options.clock.now(),
      }),
      access: options.access,
      dashboard: dashboard.routes(),
      session: (req) => dashboard.sessionOf(req),
      recheckSession: (req) => dashboard.recheck(req),
      scopeOf,
      readableQueues: (grants) => {
        const config = options.inForce.config();
        const queues = new Set<string>();
        for (const entry of [...config.entries, ...options.catalog.entries()])
          if (grantFor(grants, 'read', entry) !== undefined) queues.add(queueOf(entry.task, entry.options, config));
        return queues;
      },
    },
    log,
  );
  return { address: server.address, close: () => server.close() };
}

type Reads = ReturnType<typeof readsOf>;

/** What the endpoints read and ask of the entries: the runtime's stores. */
/** The state Redis's status as readiness and the dashboard show it: a cluster's unserved deployment slot too (connect.ts). */
function stateStatus(client: RedisClient): { readonly status: string } {
  return {
    get status() {
      return redisStatus(client);
    },
  };
}

function readsOf(options: Made) {
  const { runtime, connections } = options;
  return {
    states: runtime.states,
    control: runtime.control,
    runs: new RedisRunHistory(connections.state, runtime.keys),
    failures: runtime.failures,
    unconsumed: runtime.unconsumed,
    alertOutbox: new RedisAlertOutbox(connections.state, runtime.keys),
    /** The reports of the entries' slots that never ran. */
    missed: runtime.missedSlots,
  };
}

type EntriesApi = ReturnType<typeof entriesHandlers> & Required<Pick<EntriesHandlers, 'backfill' | 'backfillProgress'>>;

/** /api/entries and the backfill requests. */
function entriesApi(options: Made, reads: Reads): EntriesApi {
  const { clock, audit, inForce } = options;
  const findEntry = entryNamedIn(inForce, options.catalog);
  const backfills: BackfillDoor = {
    findEntry,
    config: () => inForce.config(),
    states: reads.states,
    control: reads.control,
    now: () => clock.now(),
    waitMs: DEFAULTS.dashboardTriggerWaitMs,
  };
  return {
    ...entriesHandlers({
      store: options.entryStore,
      client: options.connections.state,
      staticNames: staticNamesOf(() => inForce.config()),
      now: () => clock.now(),
      failures: reads.failures,
      audit,
      view: async (name) => {
        const entry = findEntry(name);
        if (entry === undefined) return null;
        const { supervisor } = options.runtime;
        const views = await entryViews(reads, {
          config: inForce.config(),
          entries: [entry],
          self: { instance: options.instanceId, role: supervisor.leading ? 'leader' : 'standby' },
          nowMs: clock.now(),
          nextSlots: bookedSlots(supervisor.runner),
        });
        return views.get(name) ?? null;
      },
    }),
    backfill: (name, body, by, note) => requestBackfill(backfills, { ...by, note }, name, body),
    backfillProgress: (name, id, by) => backfillProgressOf(backfills, by, name, id),
  };
}

/**
 * The dashboard's single sign-on, when the config has auth.oidc: openid-client loaded only then
 * (OidcSignIn.start); the provider read now, and the start refused (exit 2) when it cannot be. The roles
 * (and the provider) are read from the config in force, so that a reload changes them.
 */
async function oidcSignIn(options: Made): Promise<OidcSignIn | undefined> {
  const config = options.inForce.config();
  if (config.oidc === undefined) return undefined;
  return OidcSignIn.start({
    settings: () => options.inForce.config().oidc,
    source: config.written?.source ?? 'the config',
    secretFromEnv: process.env[ENV.oidcClientSecret],
    now: () => options.clock.now(),
    logger: options.logger,
  });
}

function makeDashboard(options: Made, reads: Reads, signIn: OidcSignIn | undefined): Dashboard {
  const { clock, instanceId, connections, runtime, access } = options;
  const { redbeat, django } = connections;
  return new Dashboard(
    dashboardSources({
      instanceId,
      clock,
      supervisor: runtime.supervisor,
      catalog: options.catalog,
      states: reads.states,
      failures: reads.failures,
      unconsumed: reads.unconsumed,
      control: reads.control,
      replicas: options.replicas,
      redis: stateStatus(connections.state),
      lockClient: connections.lockClients[0] ?? connections.state,
      lockKey: runtime.keys.lock,
      runs: reads.runs,
      ...(redbeat === undefined ? {} : { redbeat: redbeat.source }),
      ...(django === undefined ? {} : { django }),
      missed: reads.missed,
      publishing: connections.publishing,
      watch: runtime.watch,
      messageEnv: messageEnv(),
      // The page offers its token login while some token may sign in (actsInDashboard).
      apiToken: () => tokensOf(access).find(actsInDashboard)?.token,
      ...(access.tokens === undefined
        ? {}
        : {
            writeTokenName: (token: string) => {
              const found = findToken(token, tokensOf(access));
              return found !== undefined && actsInDashboard(found) ? found.name : undefined;
            },
          }),
      // A session's token as the tokens file has it now, whatever its grants became (a token narrowed
      // to viewer keeps its sessions reading); a token gone or given another secret: none.
      tokenGrants: (digest: string) => tokensOf(access).find((t) => digestsEqual(tokenDigest(t.token), digest))?.grants,
      storedEntry: async (name: string) => (await options.entryStore.get(name))?.entry,
    }),
    options.logger,
    signIn,
  );
}

/**
 * Whether a token may sign in to the dashboard's actions: one that may change something. The page's
 * actions are /api's calls, decided on the session's grants (its token's, read at each call) as the
 * token's own calls are.
 */
function actsInDashboard(token: ApiToken): boolean {
  return mayWrite(token);
}

/** Each entry's owner and labels by name, as a grant's scope is checked against them (the audit trail's reads). */
function entryScopeIn(options: Made): (name: string) => ScopedEntry | undefined {
  const find = entryNamedIn(options.inForce, options.catalog);
  return (name) => {
    const entry = find(name);
    return entry === undefined ? undefined : { name, owner: entry.owner, labels: entry.labels };
  };
}

/** The config file's entry names, computed again only after a reload. */
function staticNamesOf(config: () => ResolvedConfig): () => ReadonlySet<string> {
  let seen: ResolvedConfig | undefined;
  let names: ReadonlySet<string> = new Set();
  return () => {
    const now = config();
    if (now !== seen) {
      seen = now;
      names = new Set(now.entries.map((e) => e.name));
    }
    return names;
  };
}
